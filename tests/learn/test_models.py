"""Model construction from architecture configs."""

import keras
import numpy as np
import pytest

from synthmir.config import complete
from synthmir.errors import SynthmirError
from synthmir.learn.models import build_model


def test_baseline_matches_the_original():
    model = build_model({"kind": "baseline"}, (44, 115), 7)
    # Four blocks of two Conv2D, filters 32/64/64/64, flatten, dense, BatchNorm: ≈220k.
    assert model.count_params() == 220_803
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 8
    assert model.output_shape == (None, 7)


@pytest.mark.parametrize(
    "arch",
    [
        {"kind": "pitchconv"},
        {"kind": "pitchconv", "harmonics": [], "pool": 2, "global_pool": "maxavg", "dense": []},
        {"kind": "pitchconv", "time_pool": 1, "filters": [8, 8, 8], "kernel_size": 5},
    ],
)
def test_pitchconv_outputs_probabilities(arch):
    model = build_model(arch, (44, 115), 7)
    x = np.random.default_rng(0).random((3, 44, 115), dtype=np.float32)
    p = keras.ops.convert_to_numpy(model(x, training=False))
    assert p.shape == (3, 7)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_multilabel_outputs_are_independent_sigmoids():
    model = build_model({"kind": "pitchconv"}, (44, 115), 12, multilabel=True)
    p = keras.ops.convert_to_numpy(model(np.zeros((2, 44, 115), np.float32)))
    assert p.shape == (2, 12)
    assert model.layers[-1].activation is keras.activations.sigmoid


def test_defaults_fill_missing_keys():
    cfg = complete("architecture", {"kind": "pitchconv", "filters": [16]})
    assert cfg["filters"] == [16] and cfg["kernel_size"] == 5


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ({"kind": "pitchconv", "kernal_size": 3}, "kernal_size"),
        ({"kind": "baseline", "time_pool": 2}, "time_pool"),
        ({"kind": "transformer"}, "transformer"),
        ({"kind": "pitchconv", "global_pool": "median"}, "global_pool"),
    ],
)
def test_bad_architecture_raises(arch, message):
    with pytest.raises(SynthmirError, match=message):
        build_model(arch, (44, 115), 7)


def test_chroma_mean_has_no_weights_and_finds_the_loudest_classes():
    from synthmir.learn.models import build_model

    model = build_model({"kind": "chroma_mean"}, (4, 115), 12, multilabel=True)
    assert not model.trainable_weights
    x = np.zeros((1, 4, 115), np.float32)
    x[0, :, [39, 43, 46]] = 0.9  # C4 E4 G4 at -12 dB
    x[0, :, 39 + 12] = 0.5  # C5 much quieter
    chroma = np.asarray(model(x))[0]
    assert chroma.max() == pytest.approx(1.0)
    assert set(np.flatnonzero(chroma > 0.5)) == {0, 4, 7}


def test_pitch_class_kinds_need_pitch_class_targets():
    from synthmir.learn.models import build_model

    with pytest.raises(SynthmirError, match="pitch_classes"):
        build_model({"kind": "pitchfold"}, (8, 48), 3)
