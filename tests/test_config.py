"""The config: one owner per default (the schema), sweeps, and agreement of config.yaml, the
schema and the code. Malformed configs are in tests/test_bad_configs.py."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pytest

from synthmir.config import canonical, complete, load_yaml, schema
from synthmir.config_checks import FRAME_KINDS, expand_models, prepare, variant_id
from synthmir.errors import ConfigError, SynthmirError
from tests.snakemake_runs import ROOT

CONFIG = ROOT / "config" / "config.yaml"
CONFIGS = [CONFIG, ROOT / "config" / "gm16.yaml", ROOT / "tests" / "config_tiny.yaml",
           ROOT / "tests" / "config_tiny_chords.yaml"]
DEFS = schema()["$defs"]


def _load(path: Path) -> dict:
    config = load_yaml(path)  # as the Snakefile's check reads it
    if path.name == "gm16.yaml":  # an add-on: it extends the default config
        base = load_yaml(CONFIG)
        for section, entries in config.items():
            base[section].update(entries)
        config = base
    return config


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_pass(path):
    config = _load(path)
    models = prepare(config)
    # Every entry makes its model, or its sweep's variants named after it.
    made = {name for name in config["models"] for m in models
            if m == name or m.startswith(name + "_") and "sweep" in config["models"][name]}
    assert made == set(config["models"])


def test_merge_keys_may_be_overridden_but_keys_not_repeated(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("base: &base {a: 1, b: 2}\nvariant:\n  <<: *base\n  b: 3\n")
    assert load_yaml(path) == {"base": {"a": 1, "b": 2}, "variant": {"a": 1, "b": 3}}
    path.write_text("variant:\n  b: 2\n  b: 3\n")
    with pytest.raises(SynthmirError, match="line 3, column 3: key 'b' is given twice"):
        load_yaml(path)


def test_prepare_fills_defaults_and_sorts_keys():
    config = _load(CONFIG)
    models = prepare(config)
    notes, chords = config["datasets"]["notes"], config["datasets"]["chords"]
    assert notes["jitter"]["detune_cents"] == 0 and chords["jitter"]["detune_cents"] == 20
    assert "chords" not in notes and chords["chords"]["program_per"] == "clip"
    assert list(notes) == sorted(notes)
    instrument = models["instrument"]
    assert instrument["architecture"]["candidates"] == 4  # harmonicnet's default, filled in
    assert "threshold" not in instrument["training"]
    assert models["harmony"]["architecture"]["time_pool"] == 2
    assert models["harmony"]["training"]["threshold"] == "global"


def test_each_kind_gets_its_own_defaults_and_options():
    def arch(kind):
        return complete("architecture", {"kind": kind})

    assert arch("pitchconv")["time_pool"] == 4 and arch("pitchfold")["time_pool"] == 2
    assert set(arch("chroma_mean")) == {"kind"}
    assert arch("funnel") == {"kind": "funnel", "dense": [512, 256, 128, 64], "dropout": 0.5,
                              "frame": "max_energy"}
    assert complete("architecture")["kind"] == "pitchconv"
    with pytest.raises(ConfigError, match="kind baseline has no option 'time_pool'"):
        complete("architecture", {"kind": "baseline", "time_pool": 2})


def test_a_swept_kind_gets_each_kinds_defaults():
    models = {"m": {"dataset": "d", "features": "f", "target": "pitch_classes",
                    "sweep": {"architecture.kind": ["pitchconv", "pitchfold"]}}}
    expanded = expand_models(models)
    pools = {m: e["architecture"]["time_pool"] for m, e in expanded.items()}
    assert pools == {"m_kind-pitchconv": 4, "m_kind-pitchfold": 2}


def test_complete_does_not_change_its_input_nor_the_schema():
    entry = {"clips": 3, "kind": "chords"}
    first = complete("dataset", entry)
    first["jitter"]["gain_db"]["min"] = -99.0
    assert entry == {"clips": 3, "kind": "chords"}
    assert complete("dataset", entry)["jitter"]["gain_db"]["min"] == -6.0


def test_sweep_expands_into_named_variants():
    models = {"conv": {"dataset": "d", "features": "f", "training": {"seed": 1},
                       "sweep": {"training.learning_rate": [0.001, 0.01], "training.seed": [1]}}}
    expanded = expand_models(models)
    assert list(expanded) == ["conv_learning_rate-0.001_seed-1", "conv_learning_rate-0.01_seed-1"]
    variant = expanded["conv_learning_rate-0.01_seed-1"]
    assert variant["training"]["learning_rate"] == 0.01 and variant["training"]["seed"] == 1
    assert variant["swept"] == {"training.learning_rate": 0.01, "training.seed": 1}
    assert "sweep" not in variant and models["conv"]["training"] == {"seed": 1}


def test_variant_ids_are_stable_safe_and_bounded():
    long = {"architecture.filters": [16, 32, 64, 128, 256], "training.learning_rate": 0.0001,
            "architecture.dense": [512, 256, 128]}
    first, second = variant_id("model", long), variant_id("model", dict(long))
    assert first == second and len(first) <= 60
    assert all(ch.isalnum() or ch in "_.+-" for ch in first)
    assert variant_id("model", {**long, "training.learning_rate": 0.001}) != first


def test_two_entries_making_the_same_model_id_are_refused():
    config = _load(ROOT / "tests" / "config_tiny.yaml")
    config["models"]["tinyconv_learning_rate-0.003"] = copy.deepcopy(
        config["models"]["tinyconv"])
    del config["models"]["tinyconv_learning_rate-0.003"]["sweep"]
    with pytest.raises(ConfigError, match="made twice"):
        prepare(config)


def test_canonical_sorts_mappings_recursively_and_keeps_list_order():
    value = {"b": [{"z": 1, "a": 2}, 3], "a": {"y": 1, "x": None}}
    result = canonical(value)
    assert list(result) == ["a", "b"] and list(result["a"]) == ["x", "y"]
    assert list(result["b"][0]) == ["a", "z"] and result["b"][1] == 3
    assert result == value


# -- config.yaml, the schema and the code agree ----------------------------------------------

def _node(section: dict, key: str) -> dict | None:
    """The schema of ``key`` in ``section``: its own properties, or a kind's branch."""
    section = _resolve(section)
    if key in section.get("properties", {}):
        return _resolve(section["properties"][key])
    for branch in section.get("allOf", ()):
        if key in branch.get("then", {}).get("properties", {}):
            return _resolve(branch["then"]["properties"][key])
    return None


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = DEFS[node["$ref"].removeprefix("#/$defs/")]
    return node


def _schema_at(path: list[str]) -> dict | None:
    """The schema node of a key path of config.yaml (entry names skipped)."""
    node: dict | None = schema()
    named = {"soundfonts": schema()["properties"]["soundfonts"]["additionalProperties"],
             "datasets": DEFS["dataset"], "features": DEFS["features"], "models": DEFS["model"],
             "evaluations": schema()["properties"]["evaluations"]["additionalProperties"]}
    if path[0] in named:
        node, path = named[path[0]], path[2:]
    if path[:1] == ["sweep"]:  # a model's sweep: a mapping of key paths
        return DEFS["sweep"]
    for key in path:
        node = _node(node, key) if node else None
    return node


def _commented_keys(path: Path) -> list[tuple[list[str], str]]:
    """(key path, comment) of every ``key: value  # comment`` line."""
    stack: list[tuple[int, str]] = []
    found = []
    for line in path.read_text().splitlines():
        match = re.match(r"^( *)([A-Za-z_][\w.-]*):(.*)$", line)
        if not match:
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if "#" in rest:
            found.append(([k for _, k in stack], rest.split("#", 1)[1].strip()))
    return found


def test_config_yaml_comments_agree_with_the_schema():
    """A comment naming two or more of a key's choices names them all; a "(default X)" in a
    comment is the schema's default."""
    checked = 0
    for keys, comment in _commented_keys(CONFIG):
        node = _schema_at(keys)
        assert node is not None, f"{'.'.join(keys)} is not in the schema"
        choices = node.get("enum") or node.get("items", {}).get("enum") or []
        named = [c for c in map(str, choices) if re.search(rf"\b{re.escape(c)}\b", comment)]
        if len(named) >= 2:
            checked += 1
            assert set(named) == set(map(str, choices)), (keys, comment)
        default = re.search(r"\(default ([^)]+)\)", comment)
        if default:
            assert str(node["default"]) == default.group(1), (keys, comment)
    assert checked >= 6


def test_code_constants_agree_with_the_schema():
    from synthmir import audio
    from synthmir.data.instruments import FAMILIES
    from synthmir.data.midi import CHORD_FIGURES
    from synthmir.data.render import COLUMNS
    from synthmir.features.pitchgram import KINDS, FeatureParams
    from synthmir.learn.layers import FRAME_MODES
    from synthmir.learn.saved_model import STANDARDIZE
    from synthmir.learn.thresholds import THRESHOLD_MODES

    assert FeatureParams().to_dict() == complete("features")
    assert (audio.FLAC_SUBTYPE, audio.FLAC_COMPRESSION) == (
        DEFS["dataset"]["properties"]["audio_subtype"]["default"],
        DEFS["dataset"]["properties"]["flac_compression"]["default"])
    families = DEFS["programs"]["properties"]["families"]["else"]["items"]["enum"]
    assert families == list(FAMILIES)
    qualities = DEFS["dataset"]["properties"]["chords"]["properties"]["qualities"]
    assert qualities["else"]["items"]["enum"] == list(CHORD_FIGURES)
    assert DEFS["split"]["properties"]["stratify"]["enum"] == COLUMNS
    assert DEFS["features"]["properties"]["kind"]["enum"] == list(KINDS)
    assert _node(DEFS["architecture"], "frame")["enum"] == list(FRAME_MODES)
    assert DEFS["training"]["properties"]["standardize"]["enum"] == list(STANDARDIZE)
    assert DEFS["training"]["properties"]["threshold"]["then"]["enum"] == list(THRESHOLD_MODES)


def test_harmonic_offsets_are_the_harmonics():
    harmonics = [round(12 * math.log2(h)) for h in range(1, 9)]
    assert complete("architecture", {"kind": "pitchconv"})["harmonics"] == harmonics
    fold = complete("architecture", {"kind": "pitchfold"})["harmonics"]
    assert fold == [-h for h in reversed(harmonics[1:4])] + harmonics


def test_every_architecture_kind_builds():
    from synthmir.learn.models import build_model

    kinds = DEFS["architecture"]["properties"]["kind"]["enum"]
    branches = [b["if"]["properties"]["kind"]["const"] for b in DEFS["architecture"]["allOf"]]
    assert sorted(kinds) == sorted(branches)
    for kind in kinds:
        model = build_model({"kind": kind}, (44, 115), 12, multilabel=True)
        # a frame-level kind decides every frame
        want = (None, 44, 12) if kind in FRAME_KINDS else (None, 12)
        assert model.output_shape == want, kind
