"""The pitchgram: pitch accuracy, dB scale, librosa agreement, kinds and parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthmir.errors import SynthmirError
from synthmir.features.pitchgram import (
    FeatureParams,
    bin_midi,
    compute_features,
    pitch_bin_index,
    to_unit_db,
)
from tests.reference import reference_pitchgram

SR = 44100


N_SAMPLES = 88200  # 2.0 s


SOUND_FONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


# librosa's own thresholding step warns about np.less(where=...) without out=.
pytestmark = pytest.mark.filterwarnings("ignore:'where' used without 'out':UserWarning")


def sine(freq_hz: float, amplitude: float = 0.5, n: int = N_SAMPLES) -> np.ndarray:
    """float32 (n,) sine at ``freq_hz``."""
    return (amplitude * np.sin(2 * np.pi * freq_hz * np.arange(n) / SR)).astype(np.float32)


def harmonic_tone(midi_pitches: list[int], seed: int) -> np.ndarray:
    """float32 (N_SAMPLES,) rendered-like notes: 10 partials, 1/h rolloff, decay, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_SAMPLES) / SR
    y = np.zeros(N_SAMPLES)
    for pitch in midi_pitches:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        attack = np.minimum(t / 0.01, 1.0)
        for h in range(1, 11):
            if f0 * h < SR / 2:
                decay = np.exp(-t * rng.uniform(0.5, 3.0) * h**0.5)
                phase = rng.uniform(0, 2 * np.pi)
                y += attack * decay * np.sin(2 * np.pi * f0 * h * t + phase) / h
    y *= 0.3 / len(midi_pitches)
    y += 1e-4 * rng.standard_normal(N_SAMPLES)
    return y.astype(np.float32)


def peak_bin(features: np.ndarray) -> int:
    """Bin with the most energy over the interior frames (edge frames see padding)."""
    return int(features[2:-2].mean(axis=0).argmax())


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("cents", [0, 30, -30])
def test_sine_lands_in_its_note_bin_a0_to_c8(cents: int) -> None:
    params = FeatureParams()
    # Every 5th semitone from A0 (21) to C8 (108), both ends included.
    for midi in [*range(21, 109, 5), 108]:
        freq = 440.0 * 2 ** ((midi - 69 + cents / 100) / 12)
        features = compute_features(sine(freq), SR, params)
        assert features.shape == (44, 115)
        expected = round(12 * np.log2(freq / 440.0)) - params.bin_min
        assert expected == midi - 21
        assert peak_bin(features) == expected, f"MIDI {midi} {cents:+d} cents"


def test_full_scale_sine_reads_0_db() -> None:
    params = FeatureParams()
    features = compute_features(sine(440.0, amplitude=1.0), SR, params)
    assert features[2:-2, 48] == pytest.approx(1.0, abs=1e-3)
    # -20 dB (amplitude 0.1) -> 1 - 20/120.
    features = compute_features(sine(440.0, amplitude=0.1), SR, params)
    assert features[2:-2, 48] == pytest.approx(1 - 20 / 120, abs=1e-3)


@pytest.mark.parametrize("bins_per_semitone", [2, 3])
def test_sub_semitone_bins(bins_per_semitone: int) -> None:
    params = FeatureParams(bins_per_semitone=bins_per_semitone)
    assert params.n_bins() == 115 * bins_per_semitone
    midi_map = bin_midi(params, SR)
    for offset in np.arange(bins_per_semitone) / bins_per_semitone:
        midi = 45 + offset  # A2 and its sub-bins
        features = compute_features(sine(440.0 * 2 ** ((midi - 69) / 12)), SR, params)
        assert features.shape == (44, params.n_bins())
        assert midi_map[peak_bin(features)] == pytest.approx(midi)


def test_semitone_pair_below_100_hz_resolved_where_plain_stft_is_not() -> None:
    params = FeatureParams()
    plain = FeatureParams(kind="stft")
    # Plain STFT of the same size mapped to the same bins: each FFT bin's power goes to
    # the pitch bin of its centre frequency.
    fft_bin = pitch_bin_index(
        np.arange(params.block_size // 2 + 1) * SR / params.block_size, params
    )
    for midi in (33, 36, 40, 43):  # A1 55 Hz .. G2 98 Hz, partner one semitone up
        low = 440.0 * 2 ** ((midi - 69) / 12)
        x = sine(low, 0.3) + sine(low * 2 ** (1 / 12), 0.3)
        k = midi - 21
        ours = compute_features(x, SR, params)[2:-2].mean(axis=0)
        top_two = set(np.argsort(ours)[-2:])
        assert top_two == {k, k + 1}
        assert abs(ours[k] - ours[k + 1]) < 0.05
        # Clear dip on both sides: > 36 dB below the pair.
        assert max(ours[k - 1], ours[k + 2]) < min(ours[k], ours[k + 1]) - 0.3

        unit = compute_features(x, SR, plain)[2:-2]
        power = 10 ** ((unit * -plain.floor_db + plain.floor_db) / 10)
        inside = fft_bin >= 0
        mapped = np.zeros((power.shape[0], params.n_bins()))
        np.add.at(mapped.T, fft_bin[inside], power[:, inside].T)
        mapped_unit = np.clip(10 * np.log10(np.maximum(mapped, 1e-12)) / 120 + 1, 0, 1).mean(0)
        # The STFT puts both notes in one FFT bin: one of the two pitch bins stays empty.
        assert min(mapped_unit[k], mapped_unit[k + 1]) < 0.05


@pytest.mark.parametrize("reassign_time", [False, True])
def test_agrees_with_librosa_reassigned_spectrogram(reassign_time: bool) -> None:
    params = FeatureParams(reassign_time=reassign_time)
    for seed, pitches in enumerate([[28], [40, 47], [36, 64, 67, 72], [57]]):
        x = harmonic_tone(pitches, seed)
        ours = compute_features(x, SR, params)
        ref = reference_pitchgram(x, SR, params)
        assert ours.shape == ref.shape == (44, 115)
        assert corr(ours, ref) >= 0.98, pitches
    # A quiet note as a 16-bit file holds it: the quantisation noise is near the floor.
    quiet = np.round(harmonic_tone([45], 9) * 0.05 * 32768) / 32768
    assert corr(compute_features(quiet, SR, params), reference_pitchgram(quiet, SR, params)) >= 0.98


def render_fluidsynth(program: int, pitches: list[int]) -> np.ndarray:
    """float32 (N_SAMPLES,) mono: the notes held 1.5 s, then released, FluidR3_GM."""
    fluidsynth = pytest.importorskip("fluidsynth")
    synth = fluidsynth.Synth(samplerate=float(SR))
    try:
        font = synth.sfload(str(SOUND_FONT))
        synth.program_select(0, font, 0, program)
        for pitch in pitches:
            synth.noteon(0, pitch, 100)
        held = synth.get_samples(int(1.5 * SR))
        for pitch in pitches:
            synth.noteoff(0, pitch)
        released = synth.get_samples(N_SAMPLES - int(1.5 * SR))
    finally:
        synth.delete()
    stereo = np.concatenate([held, released]).reshape(-1, 2).astype(np.float32) / 32768
    return stereo.mean(axis=1)


@pytest.mark.skipif(not SOUND_FONT.exists(), reason="FluidR3_GM sound font not installed")
def test_agrees_with_librosa_on_fluidsynth_notes() -> None:
    params = FeatureParams()
    # Acoustic grand (0) low A, electric bass (33), strings chord (48), flute (73).
    for program, pitches in [(0, [33]), (33, [28]), (48, [48, 52, 55]), (73, [79])]:
        x = render_fluidsynth(program, pitches)
        assert np.abs(x).max() > 1e-3
        ours = compute_features(x, SR, params)
        ref = reference_pitchgram(x, SR, params)
        assert corr(ours, ref) >= 0.98, (program, pitches)
        # The loudest bin is a partial of a played note (low piano notes peak at h = 3).
        partial_bins = {p - 21 + round(12 * np.log2(h)) for p in pitches for h in range(1, 9)}
        assert peak_bin(ours) in partial_bins


def test_silence_is_floor_everywhere() -> None:
    for kind in ("pitchgram", "stft", "chroma"):
        for reassign_time in (False, True):
            params = FeatureParams(kind=kind, reassign_time=reassign_time)
            features = compute_features(np.zeros(N_SAMPLES, np.float32), SR, params)
            assert features.dtype == np.float32
            assert np.isfinite(features).all()
            assert (features == 0.0).all()


def test_frame_counts_short_and_long_clips() -> None:
    params = FeatureParams()
    assert params.n_frames(N_SAMPLES) == 44
    for n in (0, 100, 4095, 4096, N_SAMPLES, 3 * N_SAMPLES):
        features = compute_features(sine(440.0, n=n), SR, params)
        assert features.shape == (params.n_frames(n), 115)
        assert features.shape[0] == 1 + n // 2048
    short = compute_features(sine(440.0, n=3000), SR, params)
    assert peak_bin(np.pad(short, ((2, 2), (0, 0)))) == 48


def test_stft_and_chroma_kinds() -> None:
    x = sine(440.0)
    stft = compute_features(x, SR, FeatureParams(kind="stft"))
    assert stft.shape == (44, 2049)
    assert peak_bin(stft) == round(440.0 * 4096 / SR)
    chroma = compute_features(x, SR, FeatureParams(kind="chroma"))
    assert chroma.shape == (44, 12)
    assert peak_bin(chroma) == 9  # A
    # Folding sums power: one note per pitch class -> the same value as the pitchgram.
    pitch = compute_features(x, SR, FeatureParams())
    np.testing.assert_allclose(chroma[2:-2, 9], pitch[2:-2, 48], atol=1e-4)
    # An octave pair (A3 + A4, equal amplitude) adds 3 dB in the A class.
    pair = compute_features(sine(220.0) + sine(440.0), SR, FeatureParams(kind="chroma"))
    np.testing.assert_allclose(pair[2:-2, 9], pitch[2:-2, 48] + 3.0103 / 120, atol=2e-3)
    assert list(bin_midi(FeatureParams(kind="chroma"), SR)) == list(range(12))


def test_tuning_moves_bins() -> None:
    params = FeatureParams(tuning_hz=415.3)  # baroque pitch: 415.3 Hz is "A4"
    assert peak_bin(compute_features(sine(415.3), SR, params)) == 48
    assert peak_bin(compute_features(sine(440.0), SR, params)) == 49


def test_bin_midi_default_map() -> None:
    midi = bin_midi(FeatureParams(), SR)
    assert midi.shape == (115,)
    assert midi[0] == 21 and midi[-1] == 135
    assert list(pitch_bin_index(np.array([27.5, 440.0, 0.0, -5.0, 1e6]), FeatureParams())) == [
        0,
        48,
        -1,
        -1,
        -1,
    ]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"block_size": 4000}, "block_size"),
        ({"block_size": 4096.0}, "block_size"),
        ({"hop": 0}, "hop"),
        ({"hop": -2}, "hop"),
        ({"hop": 8192}, "hop"),
        ({"bin_min": 10, "bin_max": 10}, "bin_max"),
        ({"bins_per_semitone": 4}, "bins_per_semitone"),
        ({"kind": "mfcc"}, "kind"),
        ({"tuning_hz": 0}, "tuning_hz"),
        ({"floor_db": 10}, "floor_db"),
        ({"reassign_time": "yes"}, "reassign_time"),
        ({"hop_size": 512}, "hop_size"),
    ],
)
def test_bad_params_name_the_key(section: dict, key: str) -> None:
    with pytest.raises(SynthmirError, match=key):
        FeatureParams.from_config(section)


def test_params_round_trip_and_bad_audio() -> None:
    params = FeatureParams.from_config({"tuning_hz": 442, "bins_per_semitone": 2})
    assert params.tuning_hz == 442.0
    assert FeatureParams.from_config(params.to_dict()) == params
    with pytest.raises(SynthmirError, match="mono"):
        compute_features(np.zeros((100, 2)), SR, params)
    with pytest.raises(SynthmirError, match="NaN"):
        compute_features(np.full(100, np.nan), SR, params)
    with pytest.raises(SynthmirError, match="sample_rate"):
        compute_features(np.zeros(100), 0, params)


def test_clip_level_is_the_same_at_any_level_and_cuts_the_noise_floor():
    rate = 44100
    t = np.arange(2 * rate) / rate
    note = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 880 * t))
    params = FeatureParams(level="clip", floor_db=-80.0)
    loud = compute_features(note.astype(np.float32), rate, params)
    quiet = compute_features((note * 1e-3).astype(np.float32), rate, params)
    np.testing.assert_allclose(loud, quiet, atol=1e-4)
    assert loud.max() == pytest.approx(1.0)
    hiss = note + 1e-5 * np.random.default_rng(0).standard_normal(note.size)  # -100 dB re note
    np.testing.assert_array_equal(compute_features(hiss.astype(np.float32), rate, params) > 0,
                                  loud > 0)
    absolute = FeatureParams(floor_db=-120.0)
    assert (compute_features(hiss.astype(np.float32), rate, absolute) > 0).mean() > 2 * (
        compute_features(note.astype(np.float32), rate, absolute) > 0).mean()
    assert not compute_features(np.zeros(rate, np.float32), rate, params).any()


def test_spectral_level_cancels_a_fixed_filter_and_level():
    rng = np.random.default_rng(3)
    power = 10 ** rng.uniform(-3, 0, size=(40, 88))  # (frames, bins), all above the floor
    eq = 10 ** rng.uniform(-1, 1, size=88)  # a fixed gain per bin: EQ, a room's colouring
    plain = to_unit_db(power, -80.0, "spectral")
    np.testing.assert_allclose(to_unit_db(power * eq * 1e-2, -80.0, "spectral"), plain,
                               atol=1e-5)
    np.testing.assert_allclose(plain.mean(axis=0), 0.5, atol=1e-5)
    assert not np.allclose(to_unit_db(power * eq, -80.0, "clip"), to_unit_db(power, -80.0, "clip"))


def test_unknown_level_is_refused():
    with pytest.raises(SynthmirError, match="level"):
        FeatureParams(level="peak")
