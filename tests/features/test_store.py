"""The HDF5 feature store: extract shards, merge them, read them back."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import synthmir
from synthmir.errors import SynthmirError
from synthmir.features.pitchgram import FeatureParams, compute_features
from synthmir.features.store import FeatureStore, extract_shard, merge_shards

SR = 44100


def sine(freq_hz: float, amplitude: float = 0.5, n: int = SR) -> np.ndarray:
    """float32 (n,) sine at ``freq_hz``."""
    return (amplitude * np.sin(2 * np.pi * freq_hz * np.arange(n) / SR)).astype(np.float32)


def peak_bin(features: np.ndarray) -> int:
    """Bin with the most energy over the interior frames (edge frames see padding)."""
    return int(features[2:-2].mean(axis=0).argmax())


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> tuple[Path, list[Path]]:
    """3 clips of 0.5 s as WAV in two shard manifests (2 + 1 clips)."""
    rows = []
    for i, (midi, family) in enumerate([(45, "piano"), (57, "organ"), (69, "guitar")]):
        rel = f"audio/shard{i // 2}/c{i:06d}.wav"
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        freq = 440.0 * 2 ** ((midi - 69) / 12)
        audio = sine(freq, n=SR // 2)
        sf.write(path, np.stack([audio, audio], axis=1) if i == 2 else audio, SR)
        rows.append(
            {"clip_id": f"c{i:06d}", "file": rel, "family": family, "pitch": midi, "gain": 0.5}
        )
    table = pd.DataFrame(rows)
    manifests = []
    for shard, part in enumerate([table.iloc[:2], table.iloc[2:]]):
        manifests.append(tmp_path / f"manifest{shard}.csv")
        part.to_csv(manifests[-1], index=False)
    return tmp_path, manifests


def test_extract_merge_and_read(tiny_dataset: tuple[Path, list[Path]]) -> None:
    root, manifests = tiny_dataset
    section = {"kind": "pitchgram", "bins_per_semitone": 1}
    parts = [root / f"part{i}.h5" for i in range(2)]
    for manifest, part in zip(manifests, parts, strict=True):
        extract_shard(str(manifest), str(root), str(part), section)
    out = root / "features" / "pitchgram.h5"
    merge_shards([str(p) for p in parts], str(out))
    assert not list(out.parent.glob(".*partial*"))

    with h5py.File(out, "r") as h5:
        assert h5["features"].shape == (3, 11, 115)
        assert h5["features"].dtype == np.float32
        assert h5["features"].chunks == (1, 11, 115)
        assert h5.attrs["synthmir_version"] == synthmir.__version__
        assert h5.attrs["block_size"] == 4096 and h5.attrs["kind"] == "pitchgram"
        assert list(h5["labels"]) == ["clip_id", "file", "family", "pitch", "gain"]

    with FeatureStore(str(out)) as store:
        assert len(store) == 3
        assert list(store.clip_ids) == ["c000000", "c000001", "c000002"]
        assert store.params == FeatureParams()
        assert store.sample_rate == SR
        assert list(store.labels["family"]) == ["piano", "organ", "guitar"]
        assert list(store.labels["pitch"]) == [45, 57, 69]
        assert store.bin_midi[0] == 21.0
        for i, midi in enumerate([45, 57, 69]):
            assert peak_bin(store[i]) == midi - 21
        assert store[0:2].shape == (2, 11, 115)
        np.testing.assert_array_equal(store[np.array([2, 0])], store[[2, 0]])
        np.testing.assert_array_equal(store[np.array([2, 0])][0], store[2])
        batches = list(store.iter_batches(2))
        assert [list(i) for i, _ in batches] == [[0, 1], [2]]
        assert batches[0][1].shape == (2, 11, 115)
        picked = list(store.iter_batches(2, indices=np.array([2, 1, 0])))
        np.testing.assert_array_equal(picked[0][1], store[[2, 1]])
        # Features straight from the audio match what was stored.
        audio, _ = sf.read(root / "audio/shard0/c000001.wav", dtype="float32")
        np.testing.assert_array_equal(store[1], compute_features(audio, SR, FeatureParams()))


def test_merge_rejects_mismatched_parts(tiny_dataset: tuple[Path, list[Path]]) -> None:
    root, manifests = tiny_dataset
    extract_shard(str(manifests[0]), str(root), str(root / "a.h5"), {})
    extract_shard(str(manifests[1]), str(root), str(root / "b.h5"), {"tuning_hz": 442.0})
    with pytest.raises(SynthmirError, match="other feature parameters"):
        merge_shards([str(root / "a.h5"), str(root / "b.h5")], str(root / "out.h5"))
    assert not (root / "out.h5").exists()


def test_a_text_column_empty_in_one_shard_merges(tiny_dataset) -> None:
    """pandas reads a column no clip of a shard filled (a randomization none drew) as NaN."""
    root, manifests = tiny_dataset
    for k, manifest in enumerate(manifests):
        table = pd.read_csv(manifest)
        table["codec"] = ["ogg", ""] if k == 0 else [""]
        table.to_csv(manifest, index=False)
    parts = [root / f"part{i}.h5" for i in range(2)]
    for manifest, part in zip(manifests, parts, strict=True):
        extract_shard(str(manifest), str(root), str(part), {})
    merge_shards([str(p) for p in parts], str(root / "merged.h5"))
    with h5py.File(root / "merged.h5") as h5:
        assert h5["labels/codec"].asstr()[...].tolist() == ["ogg", "", ""]


def test_empty_shard_merges(tiny_dataset: tuple[Path, list[Path]]) -> None:
    root, manifests = tiny_dataset
    empty = root / "empty.csv"
    pd.read_csv(manifests[0]).iloc[:0].to_csv(empty, index=False)
    extract_shard(str(empty), str(root), str(root / "e.h5"), {})
    extract_shard(str(manifests[1]), str(root), str(root / "b.h5"), {})
    merge_shards([str(root / "e.h5"), str(root / "b.h5")], str(root / "out.h5"))
    with FeatureStore(str(root / "out.h5")) as store:
        assert store.shape == (1, 11, 115)
        assert list(store.clip_ids) == ["c000002"]


def test_extract_errors(tiny_dataset: tuple[Path, list[Path]]) -> None:
    root, manifests = tiny_dataset
    with pytest.raises(SynthmirError, match="hop_size"):
        extract_shard(str(manifests[0]), str(root), str(root / "x.h5"), {"hop_size": 1})
    bad = root / "bad.csv"
    pd.DataFrame({"clip_id": ["x"], "file": ["audio/missing.wav"]}).to_csv(bad, index=False)
    with pytest.raises(SynthmirError, match="cannot read audio"):
        extract_shard(str(bad), str(root), str(root / "x.h5"), {})
    assert not (root / "x.h5").exists()
    no_file = root / "nofile.csv"
    pd.DataFrame({"clip_id": ["x"]}).to_csv(no_file, index=False)
    with pytest.raises(SynthmirError, match="file"):
        extract_shard(str(no_file), str(root), str(root / "x.h5"), {})
