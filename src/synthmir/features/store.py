"""The HDF5 feature store: extract a shard's features, merge the shards, read them back.

One file per (dataset, feature set) holds ``features`` float32 (clips, frames, bins), one clip
a chunk (its ``sample_rate`` attribute is the audio's rate), ``bin_midi`` (the MIDI pitch of
each bin), ``clip_id``, every column of the clip table under ``labels/``, the feature
parameters as file attributes and, for music datasets, ``frame_notes`` uint8 (clips, frames,
128): the MIDI pitches sounding at each frame (:mod:`synthmir.features.frame_labels`).
This module is the only one that knows that layout: everything else reads through
:class:`FeatureStore`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

import synthmir
from synthmir.audio import decode
from synthmir.errors import SynthmirError
from synthmir.features.frame_labels import clip_frame_notes, fold_pitch_classes
from synthmir.features.pitchgram import FeatureParams, bin_midi, compute_features
from synthmir.layout import atomic_path
from synthmir.logs import announce_read

log = logging.getLogger(__name__)

# lzf: cheap to write for most of the size gain; gzip compresses a little more at twice the
# write time, and shuffle gains nothing on pitchgrams. lzf ships with h5py.
_COMPRESSION = {"compression": "lzf"}
_WRITE_BLOCK = 64  # clips buffered per HDF5 write in extract_shard
_COPY_BLOCK = 4096  # rows copied at a time by merge_shards for 1-D datasets


def _read_h5(path: str | os.PathLike) -> h5py.File:
    announce_read(path)  # libhdf5 opens the file itself, unseen by Python's audit hooks
    return h5py.File(path, "r")


def _file_attrs(params: FeatureParams) -> dict[str, Any]:
    """Attributes every part and merged file carries; parts must agree on all of them."""
    return {
        **params.to_dict(),
        "window": "hann",
        "framing": "centred, zero-padded by block_size // 2; frames = 1 + n_samples // hop",
        "scale": "power dB re full-scale sine, floor_db -> 0, 0 dB -> 1",
        "synthmir_version": synthmir.__version__,
    }


def _read_mono(path: Path) -> tuple[np.ndarray, int]:
    """float32 (n_samples,) mono samples and the sample rate (Hz) of an audio file."""
    try:
        return decode(path)
    except SynthmirError as exc:
        raise SynthmirError(f"cannot read audio {path}: {exc}; re-run the render step") from exc


def _column_values(column: pd.Series) -> np.ndarray:
    """A table column as an array h5py stores: numbers and bools as is, the rest as str."""
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(column):
        return column.to_numpy(dtype=np.float64)
    return np.array(["" if pd.isna(v) else str(v) for v in column], dtype=object)


def _create_1d(group: h5py.Group, name: str, dtype: Any, n: int) -> h5py.Dataset:
    if "/" in name:
        raise SynthmirError(f"table column {name!r} contains '/'; rename the column")
    return group.create_dataset(
        name, shape=(n,), dtype=dtype, chunks=(min(max(n, 1), _COPY_BLOCK),), maxshape=(None,)
    )


def _write_labels(h5: h5py.File, table: pd.DataFrame) -> None:
    """clip_id and every table column (under ``labels/``, in table order)."""
    n = len(table)
    str_dtype = h5py.string_dtype("utf-8")
    _create_1d(h5, "clip_id", str_dtype, n)[:] = _column_values(table["clip_id"].astype(str))
    group = h5.create_group("labels", track_order=True)
    for name in table.columns:
        values = _column_values(table[name])
        dtype = str_dtype if values.dtype == object else values.dtype
        _create_1d(group, str(name), dtype, n)[:] = values


def _create_features(h5: h5py.File, n_clips: int, n_frames: int, n_bins: int) -> h5py.Dataset:
    """The (clips, frames, bins) float32 dataset, one clip a chunk (read one clip, get one)."""
    if n_clips == 0 or n_frames == 0:
        return h5.create_dataset("features", shape=(n_clips, n_frames, n_bins), dtype=np.float32)
    return h5.create_dataset(
        "features",
        shape=(n_clips, n_frames, n_bins),
        dtype=np.float32,
        chunks=(1, n_frames, n_bins),
        **_COMPRESSION,
    )


def extract_shard(manifest_csv: str, dataset_dir: str, out_h5: str, params: dict,
                  frame_labels: bool = False) -> None:
    """Compute features for every clip of a manifest and write them as one part file.

    Parameters
    ----------
    manifest_csv : str
        CSV with at least ``clip_id`` and ``file`` (audio path relative to
        ``dataset_dir``); every column is copied to ``labels/``.
    dataset_dir : str
        Folder the ``file`` paths are relative to.
    out_h5 : str
        Part file to write (atomically).
    params : dict
        The feature config section (keys as :class:`FeatureParams` fields).
    frame_labels : bool
        Also write ``frame_notes`` from each clip's MIDI file (manifest columns ``midi``
        and ``preroll_s``: seconds of the file before the clip starts).

    Raises
    ------
    SynthmirError
        On bad parameters, a manifest without the needed columns, unreadable audio, or
        clips whose sample rate or frame count differ from the first clip's.
    """
    fp = FeatureParams.from_config(params)
    try:
        table = pd.read_csv(manifest_csv)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SynthmirError(f"cannot read manifest {manifest_csv}: {exc}") from exc
    missing = {"clip_id", "file", *(("midi", "preroll_s") if frame_labels else ())} - set(
        table.columns)
    if missing:
        raise SynthmirError(f"manifest {manifest_csv} lacks column(s) {', '.join(sorted(missing))}")

    n_clips = len(table)
    root = Path(dataset_dir)
    start = time.perf_counter()
    report_every = max(1, n_clips // 10)
    with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update(_file_attrs(fp))
        dset, sample_rate, block, block_start, frames = None, 0, [], 0, []
        for i, rel in enumerate(table["file"].astype(str)):
            audio, sr = _read_mono(root / rel)
            feats = compute_features(audio, sr, fp)
            if dset is None:
                sample_rate = sr
                dset = _create_features(h5, n_clips, feats.shape[0], feats.shape[1])
            elif sr != sample_rate or feats.shape != dset.shape[1:]:
                raise SynthmirError(
                    f"clip {table['clip_id'].iloc[i]} ({rel}) has {sr} Hz and "
                    f"{feats.shape[0]} frames, but the first clip has {sample_rate} Hz and "
                    f"{dset.shape[1]} frames; all clips of a dataset must share both"
                )
            block.append(feats)
            if frame_labels:
                frames.append(clip_frame_notes(
                    root / str(table["midi"].iloc[i]), float(table["preroll_s"].fillna(0).iloc[i]),
                    feats.shape[0], fp.hop, sr))
            if len(block) == _WRITE_BLOCK or i == n_clips - 1:
                dset[block_start : i + 1] = np.stack(block)
                block, block_start = [], i + 1
            if (i + 1) % report_every == 0 or i == n_clips - 1:
                elapsed = time.perf_counter() - start
                log.info("%s: %d/%d clips, %.0f clips/s", out_h5, i + 1, n_clips, (i + 1) / elapsed)
        if dset is None:
            dset = _create_features(h5, 0, 0, fp.n_bins())
        dset.attrs["sample_rate"] = sample_rate
        h5.create_dataset("bin_midi", data=bin_midi(fp, sample_rate or 44100))
        if frame_labels:
            h5.create_dataset("frame_notes", data=np.stack(frames) if frames else
                              np.zeros((0, 0, 128), np.uint8), **_COMPRESSION)
        _write_labels(h5, table)


def merge_shards(part_h5s: Sequence[str], out_h5: str) -> None:
    """Concatenate part files, in the given order, into one feature file.

    Feature chunks (one clip each) are copied still compressed, and 1-D datasets in
    blocks of rows, so peak memory does not grow with the number of clips.

    Raises
    ------
    SynthmirError
        If there are no parts, or the parts differ in attributes, frames, bins, sample
        rate or label columns.
    """
    if not part_h5s:
        raise SynthmirError("merge_shards needs at least one part file")
    parts = [_read_h5(p) for p in part_h5s]
    try:
        first = parts[0]
        attrs = dict(first.attrs)
        columns = list(first["labels"].keys())
        for path, part in zip(part_h5s, parts, strict=True):
            if _attrs_differ(dict(part.attrs), attrs):
                raise SynthmirError(
                    f"{path} was extracted with other feature parameters than {part_h5s[0]}; "
                    "re-run its extraction"
                )
            if list(part["labels"].keys()) != columns:
                raise SynthmirError(f"{path} has other label columns than {part_h5s[0]}")
        filled = [p for p in parts if p["features"].shape[0] > 0]
        ref = filled[0] if filled else first
        shape, sample_rate = ref["features"].shape[1:], ref["features"].attrs["sample_rate"]
        for path, part in zip(part_h5s, parts, strict=True):
            f = part["features"]
            if f.shape[0] > 0 and (f.shape[1:] != shape or f.attrs["sample_rate"] != sample_rate):
                raise SynthmirError(
                    f"{path} has features of shape {f.shape[1:]} at {f.attrs['sample_rate']} Hz, "
                    f"other parts {shape} at {sample_rate} Hz"
                )
        n_total = sum(p["features"].shape[0] for p in parts)

        with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as out:
            out.attrs.update(attrs)
            dset = _create_features(out, n_total, shape[0], shape[1])
            dset.attrs["sample_rate"] = sample_rate
            out.create_dataset("bin_midi", data=ref["bin_midi"][:])
            _copy_features(parts, dset)
            if all("frame_notes" in p for p in parts):
                out.create_dataset("frame_notes", data=np.concatenate(
                    [p["frame_notes"][:] for p in filled] or [first["frame_notes"][:]]),
                    **_COMPRESSION)
            str_dtype = h5py.string_dtype("utf-8")
            _copy_rows(parts, "clip_id", _create_1d(out, "clip_id", str_dtype, n_total))
            group = out.create_group("labels", track_order=True)
            for name in columns:
                # An empty part's columns are untyped (text); only filled parts decide.
                typed = [p["labels"][name] for p in filled] or [first["labels"][name]]
                dtype = _merged_dtype(typed, name)
                _copy_rows(parts, f"labels/{name}", _create_1d(group, name, dtype, n_total))
    finally:
        for part in parts:
            part.close()


def _attrs_differ(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return True
    return any(np.any(a[k] != b[k]) for k in a)


def _merged_dtype(columns: list[h5py.Dataset], name: str) -> Any:
    """One dtype for a label column across parts: str if all str, else promoted numbers.

    A text column that is empty in a part (a randomization no clip of that shard drew) is
    read by pandas as numbers, all NaN: it is text like the others.
    """
    is_str = [h5py.check_string_dtype(c.dtype) is not None for c in columns]
    if all(is_str):
        return h5py.string_dtype("utf-8")
    if any(is_str):
        empty = all(c.dtype.kind == "f" and np.isnan(c[()]).all()
                    for c, text in zip(columns, is_str, strict=True) if not text)
        if not empty:
            raise SynthmirError(f"label column {name!r} is text in some parts and numeric in "
                                "others")
        return h5py.string_dtype("utf-8")
    return np.result_type(*(c.dtype for c in columns))


def _copy_features(parts: list[h5py.File], dset: h5py.Dataset) -> None:
    """Copy each part's clip chunks raw (no decompress/recompress) when layouts match."""
    row = 0
    for part in parts:
        src = part["features"]
        n = src.shape[0]
        if n and src.chunks == dset.chunks and src.compression == dset.compression:
            for i in range(n):
                mask, chunk = src.id.read_direct_chunk((i, 0, 0))
                dset.id.write_direct_chunk((row + i, 0, 0), chunk, mask)
        else:
            for i in range(n):
                dset[row + i] = src[i]
        row += n


def _copy_rows(parts: list[h5py.File], name: str, dset: h5py.Dataset) -> None:
    text = h5py.check_string_dtype(dset.dtype) is not None
    row = 0
    for part in parts:
        src = part[name]
        empty = text and h5py.check_string_dtype(src.dtype) is None  # see _merged_dtype
        for lo in range(0, src.shape[0], _COPY_BLOCK):
            hi = min(lo + _COPY_BLOCK, src.shape[0])
            dset[row + lo : row + hi] = [""] * (hi - lo) if empty else src[lo:hi]
        row += src.shape[0]


class FeatureStore:
    """Read access to a feature file.

    Use as a context manager (``with FeatureStore(path) as store:``) or call ``close()``.
    ``store[rows]`` reads features; so do ``store.iter_batches`` and, for code that indexes
    rows itself (training streams batches from it), the store object as an array.

    Attributes
    ----------
    path : str
    clip_ids : np.ndarray
        str (n_clips,), in file order.
    params : FeatureParams
        The parameters the features were computed with (defaults for any not recorded).
    attributes : dict
        Every file attribute as a built-in value: the parameters and what describes them
        (window, framing, scale, version); saved with a trained model.
    labels : pandas.DataFrame
        Every column of the clip table, one row per clip, in file order.
    bin_midi : np.ndarray
        float64 (n_bins,), MIDI pitch of each bin centre (see :func:`bin_midi`).
    frame_notes : np.ndarray or None
        uint8 (n_clips, frames, 128): MIDI pitches sounding at each frame (music datasets).
    sample_rate : int or None
        Hz of the audio the features came from (0 for an empty file; None if not recorded).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        try:
            self._h5 = _read_h5(path)
        except OSError as exc:
            raise SynthmirError(f"cannot open feature file {path}: {exc}") from exc
        self._features = self._h5["features"]
        self.attributes = {k: _builtin(v) for k, v in self._h5.attrs.items()}
        names = {f.name for f in fields(FeatureParams)}
        self.params = FeatureParams.from_config(
            {k: v for k, v in self.attributes.items() if k in names}
        )
        rate = self._features.attrs.get("sample_rate")
        self.sample_rate = None if rate is None else int(rate)
        self.bin_midi = self._h5["bin_midi"][:] if "bin_midi" in self._h5 else None
        self.frame_notes = self._h5["frame_notes"][:] if "frame_notes" in self._h5 else None
        self.clip_ids = self._h5["clip_id"].asstr()[:].astype(str)
        labels = self._h5["labels"] if "labels" in self._h5 else {}
        self.labels = pd.DataFrame(
            {
                name: (
                    labels[name].asstr()[:].astype(str)
                    if h5py.check_string_dtype(labels[name].dtype)
                    else labels[name][:]
                )
                for name in labels
            }
        )

    @classmethod
    def open(cls, path: str) -> FeatureStore:
        return cls(path)

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._features.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(clips, frames, bins)."""
        return self._features.shape

    @property
    def frame_labels(self) -> np.ndarray | None:
        """uint8 (n_clips, frames, 12): the pitch classes of :attr:`frame_notes`."""
        return None if self.frame_notes is None else fold_pitch_classes(self.frame_notes)

    @property
    def nbytes(self) -> int:
        """Size of all features in memory, bytes."""
        return int(self._features.nbytes)

    def __getitem__(self, index: int | slice | np.ndarray) -> np.ndarray:
        """float32 features: (frames, bins) for an int, (k, frames, bins) otherwise.

        An index array may be in any order and hold repeats.
        """
        if isinstance(index, int | np.integer | slice):
            return self._features[index]
        index = np.asarray(index, dtype=np.intp)
        if index.ndim != 1:
            raise SynthmirError(f"index arrays must be 1-D, got shape {index.shape}")
        index = np.where(index < 0, index + len(self), index)
        unique, inverse = np.unique(index, return_inverse=True)
        if unique.size and (unique[0] < 0 or unique[-1] >= len(self)):
            raise IndexError(f"clip index out of range for {len(self)} clips")
        if unique.size == 0:
            return np.empty((0, *self._features.shape[1:]), dtype=np.float32)
        return self._features[unique][inverse]

    def iter_batches(
        self, batch_size: int, indices: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, features)`` batches of up to ``batch_size`` clips.

        Parameters
        ----------
        batch_size : int
            Clips per batch.
        indices : np.ndarray, optional
            Clip indices to visit, in this order; all clips in file order by default.

        Yields
        ------
        tuple of np.ndarray
            intp (k,) and float32 (k, frames, bins).
        """
        if batch_size < 1:
            raise SynthmirError(f"batch_size must be >= 1, got {batch_size}")
        order = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.intp)
        for lo in range(0, order.size, batch_size):
            batch = order[lo : lo + batch_size]
            if indices is None:
                yield batch, self._features[batch[0] : batch[-1] + 1]
            else:
                yield batch, self[batch]


def _builtin(value: Any) -> Any:
    """numpy array / scalar / bytes attribute -> the built-in (JSON) type."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
