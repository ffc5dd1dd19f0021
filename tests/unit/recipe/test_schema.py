"""trtc.recipe.schema: typed frozen specs, defaults, to_data.

Every expected value below is written out by hand from the recipe text; none is
computed by the code under test.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from trtc.recipe import (
    BenchSpec,
    InputSpec,
    Recipe,
    ToleranceSpec,
    parse_recipe,
    to_data,
)

from .helpers import FULL, ONNX_MIN, load_in, with_key

# --------------------------------------------------------------------------- valid recipes


def test_full_recipe_parses_into_typed_specs() -> None:
    r = parse_recipe(FULL)
    assert isinstance(r, Recipe)
    assert r.name == "tiny"
    assert r.model.source == "python:tinynet.py:build"
    assert r.model.weights == "weights/tiny.pt"  # parse_recipe does not resolve paths
    assert r.model.factory_args == {"num_classes": 10}
    assert r.model.inputs == (InputSpec(name="x", shape=("batch", 3, 8, 8), dtype="float32"),)
    assert r.model.outputs == ("y",)
    assert r.export.opset == 17
    assert r.export.exporter == "legacy"
    assert r.build.backend == "onnxruntime"
    assert r.build.threads == 2
    assert r.verify.data.source == "data/digits.npz"
    assert r.verify.data.batch == 2
    assert r.verify.atol == 1e-3
    assert r.verify.per_output == {"y": ToleranceSpec(atol=0.1, rtol=None)}
    assert r.verify.metric == "top1"
    assert r.bench.batch == (1, 4)
    assert r.bench.duration_s == 1.0
    assert isinstance(r.bench.duration_s, float)  # an int in YAML becomes a float field
    assert r.is_pytorch
    assert r.enabled_stages() == ("export", "build", "verify", "bench")


def test_defaults_fill_unset_keys() -> None:
    r = parse_recipe(FULL)
    assert r.export.enabled is True
    assert r.export.cleanup == "onnxslim"
    assert r.export.parity_atol == 1e-4
    assert r.export.parity_rtol == 1e-3
    assert r.export.parity_samples == 2
    assert r.build.device == "cpu"
    assert r.build.optimization_level == "all"
    assert r.verify.reference == "export"
    assert r.verify.rtol is None
    assert r.verify.max_drop == 0.01
    assert r.verify.data.iterations == 4
    assert r.verify.data.seed == 0
    assert r.verify.data.labels_key == "labels"
    assert r.verify.data.shapes == {}
    assert r.bench.warmup_ms == 200.0
    assert r.bench.min_iterations == 10
    assert r.bench.threads is None
    assert r.bench.baseline == "auto"
    assert r.bench.cov_warn == 0.025


def test_minimal_onnx_recipe_gets_every_default() -> None:
    r = parse_recipe(ONNX_MIN)
    assert not r.is_pytorch
    assert r.model.inputs == ()
    assert r.model.weights is None
    assert r.export.opset == "auto"  # resolved by trtc.pipeline.Plan
    assert r.export.exporter == "auto"
    assert r.build.backend == "auto"
    assert r.build.threads is None
    assert r.verify.data.source == "random"
    assert r.verify.data.batch == 1
    assert r.verify.metric == "none"
    assert r.bench.batch == (1,)
    assert r.bench.duration_s == 3.0


def test_specs_are_frozen() -> None:
    r = parse_recipe(FULL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.bench.duration_s = 5.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.model.inputs[0].dtype = "int64"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.verify.data.batch = 3  # type: ignore[misc]


def test_disabled_stages_are_not_listed() -> None:
    raw = with_key(with_key(FULL, "export.enabled", False), "bench.enabled", False)
    assert parse_recipe(raw).enabled_stages() == ("build", "verify")


def test_scalar_bench_batch_becomes_a_one_item_tuple() -> None:
    assert parse_recipe(with_key(ONNX_MIN, "bench.batch", 8)).bench.batch == (8,)


def test_scalar_outputs_becomes_a_one_item_tuple() -> None:
    assert parse_recipe(with_key(ONNX_MIN, "model.outputs", "logits")).model.outputs == ("logits",)


def test_shapes_mapping_becomes_int_tuples() -> None:
    raw = with_key(ONNX_MIN, "bench.shapes", {"x": [2, 3, 8, 8]})
    assert parse_recipe(raw).bench.shapes == {"x": (2, 3, 8, 8)}


def test_null_for_optional_field_is_none() -> None:
    assert parse_recipe(with_key(ONNX_MIN, "build.threads", None)).build.threads is None


# --------------------------------------------------------------------------- to_data


def test_to_data_turns_tuples_into_lists() -> None:
    assert to_data(InputSpec("x", ("batch", 3))) == {"name": "x", "shape": ["batch", 3],
                                                     "dtype": "float32"}
    data = to_data(BenchSpec(batch=(1, 4), shapes={"x": (1, 3)}))
    assert data == {"enabled": True, "batch": [1, 4], "warmup_ms": 200.0, "duration_s": 3.0,
                    "min_iterations": 10, "threads": None, "baseline": "auto",
                    "cov_warn": 0.025, "seed": 0, "shapes": {"x": [1, 3]},
                    "cuda_graph": True, "streams": 1, "baseline_file": None,
                    "max_regression": 0.05, "sweep": None, "max_latency_ms": None}


def test_to_data_of_recipe_is_json_and_omits_path(recipe_dir: Path) -> None:
    r = load_in(recipe_dir, {"source": "onnx:m.onnx"})
    data = to_data(r)
    assert "path" not in data
    assert data["bench"]["batch"] == [1]
    assert data["verify"]["per_output"] == {}
    assert json.loads(json.dumps(data)) == data


def test_to_data_path_and_section() -> None:
    assert to_data(Path("/a/b")) == "/a/b"
    assert parse_recipe(FULL).section("bench")["batch"] == [1, 4]
    assert parse_recipe(FULL).section("verify")["per_output"] == {"y": {"atol": 0.1,
                                                                         "rtol": None}}
