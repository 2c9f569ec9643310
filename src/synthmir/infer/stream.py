"""Windows over a stream of samples, keeping only the latest ones: how a recording of any
length is cut for the model without being held in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


def sliding_windows(stream: Iterable[np.ndarray], window: int
                    ) -> Iterator[tuple[int, np.ndarray]]:
    """Half-overlapping windows of ``window`` samples over a stream, the last ending with it.

    Windows start every ``window // 2`` samples while they fit; if the last one does not
    reach the end, one more ends there. A recording no longer than one window is one (short)
    window. Yields (start sample, window samples); only the latest samples are kept.
    """
    step = max(1, window // 2)
    buffer, offset, total, start = np.zeros(0, np.float32), 0, 0, 0  # buffer[0] is `offset`
    last_end = 0
    for block in stream:
        buffer = np.concatenate([buffer, block])
        total += block.size
        while start + window <= total:
            yield start, buffer[start - offset: start - offset + window]
            last_end, start = start + window, start + step
        keep_from = max(0, min(start, total - window))
        buffer, offset = buffer[keep_from - offset:], keep_from
    if not last_end:  # no full window: the whole (short) recording is one
        yield 0, buffer
    elif last_end < total:
        yield total - window, buffer[-window:]
