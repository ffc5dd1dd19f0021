"""trtc.recipe.validate: unknown keys, wrong types, choices and semantic checks, with key paths.

Every expected value below is written out by hand from the recipe text; none is
computed by the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from trtc.errors import RecipeError
from trtc.recipe import (
    parse_recipe,
)

from .helpers import FULL, ONNX_MIN, recipe_error, with_key

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
    assert err.hint == ("valid keys: name, model, export, prune, quantize, build, verify, "
                        "bench, package")
    assert "path" not in (err.hint or "")  # internal field is not a recipe key


def test_unknown_key_inside_a_list_item() -> None:
    raw = with_key(FULL, "model.inputs", [{"name": "x", "shape": [1], "dtyp": "float32"}])
    err = recipe_error(raw)
    assert "model.inputs[0].dtyp: unknown key" in err.message
    assert err.hint == "did you mean 'model.inputs[0].dtype'?"


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("export.opset", "18", "export.opset: expected int or 'auto', got str '18'"),
    ("bench.min_iterations", True, "bench.min_iterations: expected an integer, got bool True"),
    ("export.opset", 17.5, "export.opset: expected int or 'auto', got float 17.5"),
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


def test_quantize_shapes_key() -> None:
    recipe = parse_recipe({"name": "m", "model": {"source": "onnx:m.onnx"},
                           "quantize": {"shapes": {"x": [1, 3, 640, 640]}}})
    assert recipe.quantize.shapes == {"x": (1, 3, 640, 640)}
    with pytest.raises(RecipeError, match=r"quantize.shapes.x\[1\]: expected an integer"):
        parse_recipe({"name": "m", "model": {"source": "onnx:m.onnx"},
                      "quantize": {"shapes": {"x": [1, "c"]}}})


@pytest.mark.parametrize("key", ["quantize.shapes", "build.shapes", "verify.data.shapes",
                                 "bench.shapes"])
def test_a_shapes_key_takes_trtexecs_string_too(key: str) -> None:
    """`--shapes x:1x3x224x224` on the command line, the same text in the recipe."""
    recipe = parse_recipe(with_key(ONNX_MIN, key, "x:1x3x224x224, mask:1x128"))
    section = recipe
    for part in key.split("."):
        section = getattr(section, part)
    assert section == {"x": (1, 3, 224, 224), "mask": (1, 128)}
    err = recipe_error(with_key(ONNX_MIN, key, "x:1x3xNx224"))
    assert err.message == (f"<recipe>: {key}: 'x:1x3xNx224': dims must be integers "
                           f"separated by 'x'")
    assert err.hint is not None and "x:1x3x224x224" in err.hint


def test_an_onnx_path_as_model_source_gets_the_prefix_as_its_hint() -> None:
    err = recipe_error(with_key(ONNX_MIN, "model.source", "models/det.onnx"))
    assert "unknown model source 'models/det.onnx'" in err.message
    assert err.hint == "write onnx:models/det.onnx"
