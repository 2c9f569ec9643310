"""The measured playable table of FluidR3 for a few programs, shared by the data tests."""

import pytest

from synthmir.data.instruments import measure_playable
from tests.data.rendering import FLUIDR3, PROGRAMS


@pytest.fixture(scope="session")
def playable(tmp_path_factory) -> dict[str, str]:
    path = tmp_path_factory.mktemp("playable") / "fluidr3.csv"
    measure_playable(FLUIDR3, PROGRAMS, 100, 0.2, -60.0).to_csv(path, index=False)
    return {"fluidr3": str(path)}
