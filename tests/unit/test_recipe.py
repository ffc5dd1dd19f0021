"""Tests for trtc.recipe: schema, defaults, error locations, paths, env, flags, JSON Schema.

Every expected value below is written out by hand from the recipe text; none is
computed by the code under test.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from trtc.errors import RecipeError, UsageError
from trtc.recipe import (
    BenchSpec,
    InputSpec,
    Recipe,
    ToleranceSpec,
    json_schema,
    load_recipe,
    override,
    parse_recipe,
    recipe_for_model,
    to_data,
)
from trtc.shapes import parse_shapes

FULL: dict[str, Any] = {
    "name": "tiny",
    "model": {
        "source": "python:tinynet.py:build",
        "weights": "weights/tiny.pt",
        "factory_args": {"num_classes": 10},
        "inputs": [{"name": "x", "shape": ["batch", 3, 8, 8]}],
        "outputs": ["y"],
    },
    "export": {"opset": 17, "exporter": "legacy"},
    "build": {"backend": "onnxruntime", "threads": 2},
    "verify": {
        "data": {"source": "data/digits.npz", "batch": 2},
        "atol": 1e-3,
        "per_output": {"y": {"atol": 0.1}},
        "metric": "top1",
    },
    "bench": {"batch": [1, 4], "duration_s": 1},
}

ONNX_MIN: dict[str, Any] = {"name": "m", "model": {"source": "onnx:m.onnx"}}


def with_key(base: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Return a deep copy of ``base`` with ``a.b.c`` set to ``value``."""
    out = copy.deepcopy(base)
    node = out
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


def recipe_error(raw: dict[str, Any]) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        parse_recipe(raw)
    return info.value


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
    assert r.export.opset == 18
    assert r.export.exporter == "dynamo"
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


# --------------------------------------------------------------------------- unknown keys


def test_unknown_top_level_key_suggests_close_key() -> None:
    err = recipe_error(with_key(ONNX_MIN, "benchh", {}))
    assert "benchh: unknown key" in err.message
    assert err.hint == "did you mean 'bench'?"
    assert err.exit_code == 2


def test_unknown_nested_key_names_the_path_and_suggests() -> None:
    err = recipe_error(with_key(ONNX_MIN, "bench.durations_s", 2))
    assert err.message == "<recipe>: bench.durations_s: unknown key"
    assert err.hint == "did you mean 'bench.duration_s'?"


def test_unknown_deeply_nested_key() -> None:
    err = recipe_error(with_key(ONNX_MIN, "verify.data.batchsize", 2))
    assert "verify.data.batchsize: unknown key" in err.message
    assert err.hint == "did you mean 'verify.data.batch'?"


def test_unknown_key_without_close_match_lists_valid_keys() -> None:
    err = recipe_error(with_key(ONNX_MIN, "zzzz", 1))
    assert "zzzz: unknown key" in err.message
    assert err.hint == "valid keys: name, model, export, prune, quantize, build, verify, bench"
    assert "path" not in (err.hint or "")  # internal field is not a recipe key


def test_unknown_key_inside_a_list_item() -> None:
    raw = with_key(FULL, "model.inputs", [{"name": "x", "shape": [1], "dtyp": "float32"}])
    err = recipe_error(raw)
    assert "model.inputs[0].dtyp: unknown key" in err.message
    assert err.hint == "did you mean 'model.inputs[0].dtype'?"


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("export.opset", "18", "export.opset: expected an integer, got str '18'"),
    ("bench.min_iterations", True, "bench.min_iterations: expected an integer, got bool True"),
    ("export.opset", 17.5, "export.opset: expected an integer, got float 17.5"),
    ("bench.duration_s", "3", "bench.duration_s: expected a number, got str '3'"),
    ("bench.duration_s", False, "bench.duration_s: expected a number, got bool False"),
    ("export.enabled", "yes", "export.enabled: expected true or false, got 'yes'"),
    ("export.enabled", 1, "export.enabled: expected true or false, got 1"),
    ("build.threads", "2", "build.threads: expected int or null, got str '2'"),
    ("build.threads", True, "build.threads: expected int or null, got bool True"),
    ("build", [1, 2], "build: expected a mapping, got list [1, 2]"),
    ("verify.per_output", ["y"], "verify.per_output: expected a mapping, got list ['y']"),
    ("verify.data", "random", "verify.data: expected a mapping, got str 'random'"),
    ("model.inputs", {"name": "x"}, "model.inputs: expected a list, got dict"),
    ("bench.batch", "8", "bench.batch[0]: expected an integer, got str '8'"),
    ("name", 5, "name: expected a string, got int 5"),
])
def test_wrong_type_names_path_and_type(key: str, value: Any, expected: str) -> None:
    err = recipe_error(with_key(FULL, key, value))
    assert expected in err.message
    assert err.message.startswith("<recipe>: ")


def test_wrong_type_in_shape_dim() -> None:
    raw = with_key(FULL, "model.inputs", [{"name": "x", "shape": ["batch", 3.5]}])
    err = recipe_error(raw)
    assert "model.inputs[0].shape[1]: expected int or str, got float 3.5" in err.message


def test_wrong_type_in_per_output_tolerance() -> None:
    err = recipe_error(with_key(FULL, "verify.per_output", {"y": {"atol": "big"}}))
    assert "verify.per_output.y.atol: expected float or null, got str 'big'" in err.message


def test_non_mapping_recipe_root() -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe([1, 2])  # type: ignore[arg-type]
    assert "<top level>: expected a mapping, got list" in info.value.message


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize(("key", "value", "hint"), [
    ("build.backend", "tensorrtt", "did you mean 'tensorrt'?"),
    ("build.backend", "onnxruntim", "did you mean 'onnxruntime'?"),
    ("export.exporter", "dynamoo", "did you mean 'dynamo'?"),
    ("verify.metric", "top-1", "did you mean 'top1'?"),
    ("bench.baseline", "pytorh", "did you mean 'pytorch'?"),
])
def test_literal_suggests_closest(key: str, value: str, hint: str) -> None:
    err = recipe_error(with_key(FULL, key, value))
    assert f"{key}: must be one of" in err.message
    assert repr(value) in err.message
    assert err.hint == hint


def test_literal_lists_choices() -> None:
    err = recipe_error(with_key(FULL, "build.backend", "tensorrtt"))
    assert err.message == ("<recipe>: build.backend: must be one of auto, onnxruntime, "
                           "tensorrt; got 'tensorrtt'")


def test_literal_without_close_choice_has_no_hint() -> None:
    err = recipe_error(with_key(FULL, "build.device", "qqqqqqq"))
    assert err.hint is None


# --------------------------------------------------------------------------- required / semantics


def test_missing_model_source() -> None:
    err = recipe_error({"name": "x", "model": {"inputs": [{"name": "x", "shape": [1]}]}})
    assert err.message == "<recipe>: model.source: required key is missing"
    assert err.hint == "add 'source:' (str)"


def test_missing_model_section() -> None:
    err = recipe_error({"name": "x"})
    assert "model: required key is missing" in err.message


def test_missing_input_shape() -> None:
    err = recipe_error(with_key(FULL, "model.inputs", [{"name": "x"}]))
    assert "model.inputs[0].shape: required key is missing" in err.message


def test_pytorch_source_without_inputs() -> None:
    err = recipe_error({"name": "r", "model": {"source": "torchvision:resnet18"}})
    assert "model.inputs" in err.message
    assert "input specs" in err.message
    assert err.exit_code == 2


def test_pytorch_source_without_inputs_is_fine_when_export_is_disabled() -> None:
    raw = {"name": "r", "model": {"source": "torchvision:resnet18"}, "export": {"enabled": False}}
    assert parse_recipe(raw).model.inputs == ()


def test_unknown_model_source_scheme() -> None:
    err = recipe_error(with_key(ONNX_MIN, "model.source", "tf:saved_model"))
    assert "model.source" in err.message
    assert "'tf:saved_model'" in err.message


def test_python_source_without_factory() -> None:
    raw = with_key(FULL, "model.source", "python:tinynet.py")
    err = recipe_error(raw)
    assert "model.source: 'python:tinynet.py' names no factory" in err.message


def test_non_positive_static_dim() -> None:
    err = recipe_error(with_key(FULL, "model.inputs", [{"name": "x", "shape": [1, 0, 8]}]))
    assert "model.inputs[0].shape: dims must be positive or named, got 0" in err.message


def test_unknown_input_dtype_suggests() -> None:
    raw = with_key(FULL, "model.inputs", [{"name": "x", "shape": [1], "dtype": "floa32"}])
    err = recipe_error(raw)
    assert "model.inputs[0].dtype: unknown dtype 'floa32'" in err.message
    assert err.hint == "did you mean 'float32'?"


@pytest.mark.parametrize(("key", "value", "where"), [
    ("bench.batch", [1, 0], "bench.batch"),
    ("bench.duration_s", 0, "bench"),
    ("bench.min_iterations", -1, "bench"),
    ("verify.data.batch", 0, "verify.data"),
    ("verify.data.iterations", 0, "verify.data"),
])
def test_non_positive_counts(key: str, value: Any, where: str) -> None:
    err = recipe_error(with_key(ONNX_MIN, key, value))
    assert f"<recipe>: {where}: " in err.message


def test_pytorch_reference_needs_pytorch_source() -> None:
    err = recipe_error(with_key(ONNX_MIN, "verify.reference", "pytorch"))
    assert "verify.reference" in err.message


# --------------------------------------------------------------------------- load_recipe


def test_load_recipe_defaults_name_to_file_stem(write_recipe: Callable[..., Path]) -> None:
    path = write_recipe({"model": {"source": "onnx:m.onnx"}}, name="resnet50.yaml")
    assert load_recipe(path).name == "resnet50"


def test_load_recipe_error_names_the_file(write_recipe: Callable[..., Path]) -> None:
    path = write_recipe(with_key(ONNX_MIN, "bench.durations_s", 1))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.message == f"{path}: bench.durations_s: unknown key"
    assert info.value.hint == "did you mean 'bench.duration_s'?"


def test_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(tmp_path / "nope.yaml")
    assert "recipe file not found" in info.value.message
    assert "nope.yaml" in info.value.message


def test_malformed_yaml_gives_file_line_col(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    # Line 3: "  source: onnx: m.onnx" -- the second ': ' (column 15) is not allowed there.
    path.write_text("name: tiny\nmodel:\n  source: onnx: m.onnx\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.message.startswith(f"{path}:3:15: malformed YAML: ")
    assert "mapping values are not allowed here" in info.value.message
    assert info.value.exit_code == 2


def test_malformed_yaml_unclosed_bracket(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: tiny\nbench:\n  batch: [1, 2\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.message.startswith(f"{path}:")
    assert "malformed YAML" in info.value.message


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"),
                                            ("42\n", "int")])
def test_non_mapping_document(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.message == (f"{path}: the recipe must be a mapping of sections, "
                                  f"got {kind}")


def test_empty_document_reports_missing_model(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert f"{path}: model: required key is missing" == info.value.message


# --------------------------------------------------------------------------- ${VAR}


def test_env_expansion_when_set(tmp_path: Path, write_recipe: Callable[..., Path],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("TRTC_TEST_MODELS", str(models))
    monkeypatch.setenv("TRTC_TEST_NAME", "digits")
    path = write_recipe({"name": "${TRTC_TEST_NAME}-v2",
                         "model": {"source": "onnx:${TRTC_TEST_MODELS}/m.onnx",
                                   "outputs": ["${TRTC_TEST_NAME}"]}})
    r = load_recipe(path)
    assert r.name == "digits-v2"
    assert r.model.source == f"onnx:{models.resolve()}/m.onnx"
    assert r.model.outputs == ("digits",)


def test_env_expansion_when_unset(write_recipe: Callable[..., Path],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRTC_TEST_UNSET", raising=False)
    path = write_recipe({"name": "x", "model": {"source": "onnx:${TRTC_TEST_UNSET}/m.onnx"}})
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.message == (f"{path}: model.source: environment variable "
                                  "${TRTC_TEST_UNSET} is not set")
    assert info.value.hint == "export TRTC_TEST_UNSET=... or write the value in the recipe"


def test_env_expansion_unset_in_list_names_the_index(
        write_recipe: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRTC_TEST_UNSET", raising=False)
    path = write_recipe({"name": "x", "model": {"source": "onnx:m.onnx",
                                                "outputs": ["a", "${TRTC_TEST_UNSET}"]}})
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert "model.outputs[1]: environment variable ${TRTC_TEST_UNSET}" in info.value.message


def test_plain_dollar_text_is_left_alone(write_recipe: Callable[..., Path]) -> None:
    path = write_recipe({"name": "cost$5", "model": {"source": "onnx:m.onnx"}})
    assert load_recipe(path).name == "cost$5"


# --------------------------------------------------------------------------- paths


@pytest.fixture
def recipe_dir(tmp_path: Path) -> Path:
    d = tmp_path / "configs"
    d.mkdir()
    return d.resolve()


def _load(recipe_dir: Path, model: dict[str, Any], data_source: str = "random") -> Recipe:
    import yaml

    path = recipe_dir / "r.yaml"
    path.write_text(yaml.safe_dump({"name": "r", "model": model,
                                    "verify": {"data": {"source": data_source}}}))
    return load_recipe(path)


INPUTS = [{"name": "x", "shape": ["batch", 3]}]


def test_recipe_path_is_recorded(recipe_dir: Path) -> None:
    r = _load(recipe_dir, {"source": "onnx:m.onnx"})
    assert r.path == recipe_dir / "r.yaml"


def test_onnx_source_resolves_relative_to_recipe(recipe_dir: Path) -> None:
    r = _load(recipe_dir, {"source": "onnx:models/m.onnx"})
    assert r.model.source == f"onnx:{recipe_dir}/models/m.onnx"


def test_onnx_source_parent_dir_is_normalised(recipe_dir: Path) -> None:
    r = _load(recipe_dir, {"source": "onnx:../shared/m.onnx"})
    assert r.model.source == f"onnx:{recipe_dir.parent}/shared/m.onnx"


def test_absolute_onnx_source_is_kept(recipe_dir: Path, tmp_path: Path) -> None:
    target = tmp_path.resolve() / "elsewhere" / "m.onnx"
    r = _load(recipe_dir, {"source": f"onnx:{target}"})
    assert r.model.source == f"onnx:{target}"


def test_weights_resolve_relative_to_recipe(recipe_dir: Path) -> None:
    r = _load(recipe_dir, {"source": "torchvision:resnet18", "weights": "w/best.pt",
                           "inputs": INPUTS})
    assert r.model.weights == f"{recipe_dir}/w/best.pt"
    assert r.model.source == "torchvision:resnet18"


def test_python_file_factory_resolves(recipe_dir: Path) -> None:
    r = _load(recipe_dir, {"source": "python:nets/tiny.py:build", "inputs": INPUTS})
    assert r.model.source == f"python:{recipe_dir}/nets/tiny.py:build"


def test_python_module_factory_is_kept(recipe_dir: Path) -> None:
    r = _load(recipe_dir, {"source": "python:mypkg.models:build", "inputs": INPUTS})
    assert r.model.source == "python:mypkg.models:build"


@pytest.mark.parametrize(("source", "expected"), [
    ("random", "random"),
    ("npz:data/d.npz", "npz:{d}/data/d.npz"),
    ("d.npz", "npz:{d}/d.npz"),
    ("sub/d.npz", "npz:{d}/sub/d.npz"),
    ("python:loaders.py:load", "python:{d}/loaders.py:load"),
    ("python:mypkg.data:load", "python:mypkg.data:load"),
])
def test_data_source_resolves(recipe_dir: Path, source: str, expected: str) -> None:
    r = _load(recipe_dir, {"source": "onnx:m.onnx"}, data_source=source)
    assert r.verify.data.source == expected.format(d=recipe_dir)


# --------------------------------------------------------------------------- parse_shapes


def test_parse_shapes_one_input() -> None:
    assert parse_shapes("x:1x3x224x224") == {"x": (1, 3, 224, 224)}


def test_parse_shapes_several_inputs_and_spaces() -> None:
    assert parse_shapes(" input_ids:2x128 , mask:2X128,") == {"input_ids": (2, 128),
                                                               "mask": (2, 128)}


def test_parse_shapes_name_with_colon_and_quotes() -> None:
    assert parse_shapes("ns:x:4") == {"ns:x": (4,)}
    assert parse_shapes("'x':1x2") == {"x": (1, 2)}


@pytest.mark.parametrize("text", [None, "", " , "])
def test_parse_shapes_empty(text: str | None) -> None:
    assert parse_shapes(text) == {}


@pytest.mark.parametrize("text", ["x", "1x3x224", ":1x3", "x:1xa", "x:1x", "x:", "x:0x3",
                                  "x:1x-3", "x:1.5", "x:1,y"])
def test_parse_shapes_bad_forms(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_shapes(text)
    assert info.value.exit_code == 2
    assert info.value.message.startswith("--shapes ")


def test_parse_shapes_names_the_flag() -> None:
    with pytest.raises(UsageError) as info:
        parse_shapes("x", flag="--calib-shapes")
    assert info.value.message == "--calib-shapes 'x': expected NAME:DxDxD"
    assert info.value.hint == "e.g. --calib-shapes input:1x3x224x224"


# --------------------------------------------------------------------------- override


def test_override_ignores_none() -> None:
    r = parse_recipe(FULL)
    assert override(r, "bench", duration_s=None, min_iterations=None) is r


def test_override_replaces_given_keys_only() -> None:
    r = parse_recipe(FULL)
    r2 = override(r, "bench", duration_s=0.5, min_iterations=None, batch=(2, 8))
    assert r2.bench.duration_s == 0.5
    assert r2.bench.batch == (2, 8)
    assert r2.bench.min_iterations == 10
    assert r2.bench.warmup_ms == 200.0
    assert r2.build == r.build
    assert r.bench.duration_s == 1.0  # the original is untouched


def test_override_rechecks_semantics() -> None:
    r = parse_recipe(FULL)
    with pytest.raises(RecipeError) as info:
        override(r, "bench", duration_s=0)
    assert info.value.message.startswith("flags: bench: ")
    with pytest.raises(RecipeError) as info:
        override(r, "bench", batch=(4, -1))
    assert "flags: bench.batch: batch sizes must be positive, got -1" in info.value.message


def test_override_rechecks_cross_section_rules() -> None:
    with pytest.raises(RecipeError) as info:
        override(parse_recipe(ONNX_MIN), "verify", reference="pytorch")
    assert "verify.reference" in info.value.message


# --------------------------------------------------------------------------- JSON Schema


def test_json_schema_top_level() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "model"]
    assert set(schema["properties"]) == {"name", "model", "export", "prune", "quantize",
                                         "build", "verify", "bench"}
    json.dumps(schema)  # plain JSON


@pytest.mark.parametrize("section", ["model", "export", "build", "verify", "bench"])
def test_json_schema_sections_forbid_unknown_keys(section: str) -> None:
    sub = json_schema()["properties"][section]
    assert sub["type"] == "object"
    assert sub["additionalProperties"] is False


def test_json_schema_nested_objects_forbid_unknown_keys() -> None:
    props = json_schema()["properties"]
    data = props["verify"]["properties"]["data"]
    assert data["additionalProperties"] is False
    tol = props["verify"]["properties"]["per_output"]["additionalProperties"]
    assert tol["additionalProperties"] is False
    assert set(tol["properties"]) == {"atol", "rtol"}
    item = props["model"]["properties"]["inputs"]["items"]
    assert item["additionalProperties"] is False
    assert item["required"] == ["name", "shape"]


def test_json_schema_required_and_enums_and_defaults() -> None:
    props = json_schema()["properties"]
    assert props["model"]["required"] == ["source"]
    assert "required" not in props["bench"]
    build = props["build"]["properties"]
    assert build["backend"]["enum"] == ["auto", "onnxruntime", "tensorrt"]
    assert build["backend"]["default"] == "auto"
    assert build["device"]["enum"] == ["cpu", "cuda"]
    assert props["export"]["properties"]["exporter"]["enum"] == ["dynamo", "legacy"]
    assert props["verify"]["properties"]["metric"]["enum"] == ["none", "top1", "cosine"]
    bench = props["bench"]["properties"]
    assert bench["duration_s"] == {"type": "number", "default": 3.0}
    assert bench["batch"]["type"] == "array"
    assert bench["batch"]["items"] == {"type": "integer"}
    assert bench["batch"]["default"] == [1]
    assert {"type": "null"} in bench["threads"]["anyOf"]
    assert {"type": "integer"} in bench["threads"]["anyOf"]


def test_json_schema_omits_internal_fields() -> None:
    assert "path" not in json_schema()["properties"]


# --------------------------------------------------------------------------- to_data


def test_to_data_turns_tuples_into_lists() -> None:
    assert to_data(InputSpec("x", ("batch", 3))) == {"name": "x", "shape": ["batch", 3],
                                                     "dtype": "float32"}
    data = to_data(BenchSpec(batch=(1, 4), shapes={"x": (1, 3)}))
    assert data == {"enabled": True, "batch": [1, 4], "warmup_ms": 200.0, "duration_s": 3.0,
                    "min_iterations": 10, "threads": None, "baseline": "auto",
                    "cov_warn": 0.025, "seed": 0, "shapes": {"x": [1, 3]},
                    "cuda_graph": True, "streams": 1}


def test_to_data_of_recipe_is_json_and_omits_path(recipe_dir: Path) -> None:
    r = _load(recipe_dir, {"source": "onnx:m.onnx"})
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


# --------------------------------------------------------------------------- recipe_for_model


def test_recipe_for_onnx_file(tmp_path: Path) -> None:
    r = recipe_for_model(tmp_path / "resnet50.onnx")
    assert r.name == "resnet50"
    assert r.model.source == f"onnx:{(tmp_path / 'resnet50.onnx').resolve()}"


def test_recipe_for_torchvision_ref() -> None:
    r = recipe_for_model("torchvision:resnet18")
    assert r.model.source == "torchvision:resnet18"
    assert r.name == "resnet18"


@pytest.mark.parametrize(("section", "key", "value", "where"), [
    ("build", "optimization_level", "fast", "build.optimization_level: must be one of"),
    ("build", "device", "gpu", "build.device: must be one of"),
    ("bench", "baseline", "torch", "bench.baseline: must be one of"),
    ("verify", "metric", "top5", "verify.metric: must be one of"),
    ("bench", "threads", "many", "bench.threads: expected int or null"),
])
def test_override_checks_flag_values_against_the_schema(section: str, key: str, value: Any,
                                                        where: str) -> None:
    # Flags are free strings in the CLI; a value the schema rejects must not reach a
    # backend (an unknown optimization level was a KeyError there).
    with pytest.raises(RecipeError) as info:
        override(parse_recipe(FULL), section, **{key: value})
    assert f"flags: {where}" in info.value.message


def test_override_suggests_close_flag_value() -> None:
    with pytest.raises(RecipeError) as info:
        override(parse_recipe(FULL), "build", backend="tensorrtt")
    assert info.value.hint == "did you mean 'tensorrt'?"


def test_override_converts_like_the_recipe() -> None:
    r = override(parse_recipe(FULL), "bench", duration_s=2, shapes={"x": (1, 3, 8, 8)})
    assert r.bench.duration_s == 2.0
    assert isinstance(r.bench.duration_s, float)
    assert r.bench.shapes == {"x": (1, 3, 8, 8)}


def test_unquoted_2_4_gets_a_quoting_hint() -> None:
    # YAML 1.1 reads a bare 2:4 as the base-60 integer 124.
    raw = yaml.safe_load("name: m\nmodel: {source: 'onnx:m.onnx'}\nprune: {method: 2:4}\n")
    assert raw["prune"]["method"] == 124
    with pytest.raises(RecipeError) as info:
        parse_recipe(raw)
    assert "prune.method" in info.value.message and "got 124" in info.value.message
    assert info.value.hint is not None and 'quote it: method: "2:4"' in info.value.hint


def test_quantize_shapes_key() -> None:
    recipe = parse_recipe({"name": "m", "model": {"source": "onnx:m.onnx"},
                           "quantize": {"shapes": {"x": [1, 3, 640, 640]}}})
    assert recipe.quantize.shapes == {"x": (1, 3, 640, 640)}
    with pytest.raises(RecipeError, match=r"quantize.shapes.x\[1\]: expected an integer"):
        parse_recipe({"name": "m", "model": {"source": "onnx:m.onnx"},
                      "quantize": {"shapes": {"x": [1, "c"]}}})


def test_override_rejects_an_unknown_key_with_a_suggestion() -> None:
    recipe = recipe_for_model("onnx:m.onnx")
    with pytest.raises(RecipeError, match="flags: bench.duraton_s: unknown key") as info:
        override(recipe, "bench", duraton_s=1.0)
    assert info.value.hint == "did you mean 'duration_s'?"


def test_parse_input() -> None:
    from trtc.recipe import parse_input

    assert parse_input("input:batchx3x224x224") == InputSpec("input", ("batch", 3, 224, 224))
    assert parse_input("ids:1x128:int64") == InputSpec("ids", (1, 128), "int64")
    with pytest.raises(UsageError, match="expected NAME:DIMS"):
        parse_input("1x3x224x224")
