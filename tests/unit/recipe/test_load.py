"""trtc.recipe.load: YAML files, ${VAR}, paths relative to the recipe.

Every expected value below is written out by hand from the recipe text; none is
computed by the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trtc.errors import RecipeError
from trtc.recipe import (
    load_recipe,
)

from .helpers import ONNX_MIN, load_in, with_key

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






INPUTS = [{"name": "x", "shape": ["batch", 3]}]


def test_recipe_path_is_recorded(recipe_dir: Path) -> None:
    r = load_in(recipe_dir, {"source": "onnx:m.onnx"})
    assert r.path == recipe_dir / "r.yaml"


def test_onnx_source_resolves_relative_to_recipe(recipe_dir: Path) -> None:
    r = load_in(recipe_dir, {"source": "onnx:models/m.onnx"})
    assert r.model.source == f"onnx:{recipe_dir}/models/m.onnx"


def test_onnx_source_parent_dir_is_normalised(recipe_dir: Path) -> None:
    r = load_in(recipe_dir, {"source": "onnx:../shared/m.onnx"})
    assert r.model.source == f"onnx:{recipe_dir.parent}/shared/m.onnx"


def test_absolute_onnx_source_is_kept(recipe_dir: Path, tmp_path: Path) -> None:
    target = tmp_path.resolve() / "elsewhere" / "m.onnx"
    r = load_in(recipe_dir, {"source": f"onnx:{target}"})
    assert r.model.source == f"onnx:{target}"


def test_weights_resolve_relative_to_recipe(recipe_dir: Path) -> None:
    r = load_in(recipe_dir, {"source": "torchvision:resnet18", "weights": "w/best.pt",
                           "inputs": INPUTS})
    assert r.model.weights == f"{recipe_dir}/w/best.pt"
    assert r.model.source == "torchvision:resnet18"


def test_python_file_factory_resolves(recipe_dir: Path) -> None:
    r = load_in(recipe_dir, {"source": "python:nets/tiny.py:build", "inputs": INPUTS})
    assert r.model.source == f"python:{recipe_dir}/nets/tiny.py:build"


def test_python_module_factory_is_kept(recipe_dir: Path) -> None:
    r = load_in(recipe_dir, {"source": "python:mypkg.models:build", "inputs": INPUTS})
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
    r = load_in(recipe_dir, {"source": "onnx:m.onnx"}, data_source=source)
    assert r.verify.data.source == expected.format(d=recipe_dir)
