"""trtc.recipe.flags: flag values over a recipe (override), recipes for a model path,
--input and --shapes.

Every expected value below is written out by hand from the recipe text; none is
computed by the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from trtc.errors import RecipeError, UsageError
from trtc.recipe import (
    InputSpec,
    override,
    parse_recipe,
    recipe_for_model,
)
from trtc.shapes import parse_shapes

from .helpers import FULL, ONNX_MIN

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
