"""The saved-model format: the input scaler, and loading a model folder."""

import numpy as np
import pytest

from synthmir.errors import SynthmirError
from synthmir.learn.saved_model import Predictor, Scaler


def test_predictor_needs_the_files(tmp_path):
    with pytest.raises(SynthmirError, match="train the model first"):
        Predictor.load(tmp_path)


def test_scaler_kinds():
    x = np.random.default_rng(0).random((10, 4, 6))
    g = Scaler.fit("global", [x[:5], x[5:]])
    np.testing.assert_allclose(g.mean, [x.mean()])
    np.testing.assert_allclose(g(x).std(), 1.0, rtol=1e-4)
    assert Scaler.fit("none", [x])(x).dtype == np.float32
    with pytest.raises(SynthmirError, match="standardize"):
        Scaler.fit("minmax", [x])
