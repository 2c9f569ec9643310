"""The hop-by-hop listener: the same decisions as predict_windows, lines, latencies.

Unit tests use synthetic audio and the toy models of tests/toy_model.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthmir.errors import SynthmirError
from synthmir.infer.classify import Classifier
from synthmir.infer.listen import Hop, Listener, listen
from synthmir.infer.sources import stdin_source
from synthmir.infer.windows import predict_windows
from tests.infer.test_sources import _Pipe, _wav_bytes
from tests.toy_model import SR, make_toy_model, sine


@pytest.fixture(scope="module")
def toy_harmony(tmp_path_factory) -> Classifier:
    return Classifier.load(make_toy_model(tmp_path_factory.mktemp("toy") / "toyharmony",
                                          multilabel=True))


def _chord_audio(seconds: float, freqs: list[float]) -> np.ndarray:
    return sum(sine(seconds, freq=f, amplitude=0.1) for f in freqs).astype(np.float32)


@pytest.mark.parametrize(("hop", "context", "block"), [(0.5, None, 4410), (0.25, 0.75, 999)])
def test_listener_decides_exactly_as_predict_windows(toy_harmony, hop, context, block):
    audio = np.concatenate([_chord_audio(1.0, [261.6, 329.6, 392.0]),
                            np.zeros(SR, np.float32),
                            _chord_audio(1.1, [220.0, 261.6, 329.6])])
    expected = predict_windows(toy_harmony, audio, SR, hop, context)
    listener = Listener(toy_harmony, SR, hop, context)
    hops: list[Hop] = []
    for start in range(0, audio.size, block):
        hops += listener.feed(audio[start : start + block], 0.0)
    hops += listener.flush(0.0)
    assert [h.end for h in hops] == pytest.approx(expected.ends.tolist())
    assert [h.start for h in hops] == pytest.approx(expected.starts.tolist())
    decided = expected.probabilities >= toy_harmony.threshold
    assert [h.pitch_classes for h in hops] == [
        tuple(int(k) for k in np.flatnonzero(row)) for row in decided
    ]
    assert [h.silent for h in hops] == expected.silent.tolist()
    assert any(h.silent for h in hops)


def test_listener_rejects_hops_longer_than_the_window(toy_harmony):
    with pytest.raises(SynthmirError, match="window"):
        Listener(toy_harmony, SR, 5.0)
    with pytest.raises(SynthmirError, match="context"):
        Listener(toy_harmony, SR, 0.5, 0.25)


def test_hop_lines():
    hop = Hop(0.0, 2.5, ["C", "E", "G"], (0, 4, 7), instrument="piano", latency=0.0123)
    assert hop.line() == "2.50\tC E G\tC\tpiano"
    assert hop.line(with_latency=True) == "2.50\tC E G\tC\tpiano\t12.3ms"
    assert Hop(0.0, 0.5, [], silent=True).line() == "0.50\t-\t-"


def test_listen_writes_a_line_per_hop_and_times_them(toy_harmony):
    audio = _chord_audio(1.2, [261.6, 329.6, 392.0])
    source = stdin_source(_Pipe(_wav_bytes(audio, SR, "FLOAT")), "auto", None, SR, 0.5)
    lines: list[str] = []
    stats = listen(source, Listener(toy_harmony, SR, 0.5), lines.append, with_latency=True)
    assert [line.split("\t")[0] for line in lines] == ["0.50", "1.00", "1.20"]
    assert all(line.endswith("ms") for line in lines)
    summary = stats.summary()
    assert summary["hops"] == 3 and 0 < summary["p50_ms"] <= summary["max_ms"]
