"""Windows over a stream of samples: the same windows whatever the blocks."""

from __future__ import annotations

import numpy as np
import pytest

from synthmir.infer.stream import sliding_windows


def window_starts(n_samples: int, window: int, block: int) -> list[int]:
    """Where the windows of a stream of ``n_samples`` (in blocks of ``block``) start, checked
    against the samples each window holds."""
    samples = np.arange(n_samples, dtype=np.float32)
    blocks = [samples[k: k + block] for k in range(0, n_samples, block)]
    windows = list(sliding_windows(blocks, window))
    for start, chunk in windows:
        assert chunk.size == min(window, n_samples)
        np.testing.assert_array_equal(chunk, np.arange(start, start + chunk.size))
    return [start for start, _ in windows]


@pytest.mark.parametrize("block", [1, 37, 100, 5000])
def test_sliding_windows_cover_the_stream_whatever_its_blocks(block):
    assert window_starts(10, 100, block) == [0]
    assert window_starts(100, 100, block) == [0]
    starts = window_starts(1000, 100, block)
    assert starts[0] == 0 and starts[-1] == 900
    assert all(b - a == 50 for a, b in zip(starts, starts[1:], strict=False))
    assert window_starts(1010, 100, block)[-2:] == [900, 910]
