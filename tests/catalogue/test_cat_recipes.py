"""Recipes: bad values, types, names and YAML refused with exit 2, naming the key; no writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from catalogue import Models, base_recipe, check, invoke, tree, write_recipe


def _set(recipe: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """``recipe`` with ``a.b.c`` set to value (sections created as needed)."""
    *parents, last = key.split(".")
    node = recipe
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return recipe


def _run_bad(tmp_path: Path, models: Models, key: str, value: Any, *names: str,
             extra: dict[str, Any] | None = None) -> None:
    recipe = _set(base_recipe(models, **(extra or {})), key, value)
    path = write_recipe(tmp_path, recipe)
    before = tree(tmp_path)
    check(invoke("run", path, "--workspace", tmp_path / "ws"), 2, "recipe.yaml", *names,
          before=before)


#: Every float key: NaN and infinities are never valid (duration_s: .inf never returns).
FLOAT_KEYS = ["verify.atol", "verify.rtol", "verify.max_drop", "verify.min_cosine",
              "bench.warmup_ms", "bench.duration_s", "bench.cov_warn", "export.parity_atol",
              "export.parity_rtol", "quantize.calib_percentile", "quantize.max_drop",
              "prune.ratio", "build.timeout_s", "quantize.calib_preprocess.scale"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")],
                         ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", FLOAT_KEYS)
def test_non_finite_numbers_are_refused(tmp_path: Path, models: Models, key: str,
                                        value: float) -> None:
    _run_bad(tmp_path, models, key, value, key, "finite")


OUT_OF_RANGE = [
    ("verify.atol", -1), ("verify.rtol", -0.5), ("verify.max_drop", 1.5),
    ("verify.max_drop", -0.1), ("verify.min_cosine", 2), ("verify.min_cosine", -3),
    ("bench.warmup_ms", -5), ("bench.duration_s", 0), ("bench.duration_s", -1),
    ("bench.threads", 0), ("bench.threads", -2), ("bench.batch", [0]), ("bench.batch", [2, -1]),
    ("bench.min_iterations", 0), ("bench.streams", 0), ("bench.cov_warn", -1),
    ("verify.data.batch", 0), ("verify.data.iterations", 0), ("verify.data.iterations", -4),
    ("export.opset", 3), ("export.opset", 0), ("export.parity_samples", -1),
    ("export.example_dims", {"batch": 0}), ("build.threads", 0), ("build.threads", -8),
    ("build.int8_calib_samples", 0), ("build.timeout_s", 0), ("build.timeout_s", -3),
    ("quantize.calib_samples", 0), ("quantize.calib_batch", 0), ("quantize.budget_step", 0),
    ("quantize.calib_percentile", 0), ("quantize.calib_percentile", 101),
    ("prune.channel_multiple", 0), ("quantize.calib_preprocess.resize", 0),
    ("quantize.calib_preprocess.crop", -1), ("verify.per_output", {"y": {"atol": -1}}),
    ("verify.per_output", {"y": {"rtol": -2}}),
    ("build.shapes", {"x": [0, 3, 8, 8]}), ("verify.data.shapes", {"x": [1, 0, 8, 8]}),
    ("bench.shapes", {"x": []}), ("quantize.shapes", {"x": [-1, 3, 8, 8]}),
]


def _key_named(key: str, value: Any) -> str:
    """The key path the message names (shape and per-output keys name the entry)."""
    if isinstance(value, dict) and key.endswith(("shapes", "example_dims", "per_output")):
        inner = next(iter(value))
        sub = value[inner]
        return f"{key}.{inner}" + (f".{next(iter(sub))}" if isinstance(sub, dict) else "")
    if key in ("bench.duration_s", "bench.min_iterations"):
        return "bench"
    if key.startswith("verify.data.") and key.endswith(("batch", "iterations")):
        return "verify.data"
    if key.startswith("quantize.calib_") and key.split(".")[-1] in (
            "calib_samples", "calib_batch"):
        return "quantize"
    if key == "quantize.budget_step":
        return "quantize"
    return key


@pytest.mark.parametrize(("key", "value"), OUT_OF_RANGE,
                         ids=[f"{k}={v}" for k, v in OUT_OF_RANGE])
def test_out_of_range_numbers_are_refused(tmp_path: Path, models: Models, key: str,
                                          value: Any) -> None:
    _run_bad(tmp_path, models, key, value, _key_named(key, value))


def test_prune_ratio_out_of_range(tmp_path: Path, models: Models) -> None:
    _run_bad(tmp_path, models, "prune.ratio", 1.5, "prune.ratio",
             extra={"prune": {"method": "magnitude"}})


PROFILES = [
    ({"x": {"min": [8, 3, 8, 8], "opt": [4, 3, 8, 8], "max": [2, 3, 8, 8]}}, "min <= opt <= max"),
    ({"x": {"min": [1, 3, 8, 8], "opt": [1, 3, 8], "max": [1, 3, 8, 8]}}, "same rank"),
    ({"x": {"min": [0, 3, 8, 8], "opt": [1, 3, 8, 8], "max": [2, 3, 8, 8]}}, "positive"),
    ({"x": {"min": [1, 3, 8, 8], "opt": [4, 3, 8, 8], "max": [2, 3, 8, 8]}}, "min <= opt <= max"),
]


@pytest.mark.parametrize(("profile", "why"), PROFILES, ids=["min>max", "rank", "zero", "opt>max"])
def test_bad_profiles_are_refused_even_when_auto_picks_onnxruntime(
        tmp_path: Path, models: Models, profile: dict[str, Any], why: str) -> None:
    recipe = base_recipe(models, build={"backend": "auto", "profiles": [profile]})
    path = write_recipe(tmp_path, recipe)
    before = tree(tmp_path)
    check(invoke("run", path, "--workspace", tmp_path / "ws"), 2, "build.profiles[0].x", why,
          before=before)


TYPES = [
    ("verify.atol", "abc", "verify.atol"), ("bench.batch", "two", "bench.batch"),
    ("build.backend", "gpu", "build.backend"), ("build.precision", "int4", "build.precision"),
    ("verify.metric", "acc", "verify.metric"), ("export.exporter", "jit", "export.exporter"),
    ("prune.method", 124, "quote it"), ("build.threads", 1.5, "build.threads"),
    ("bench.cuda_graph", "yes", "bench.cuda_graph"), ("build.bakend", "onnxruntime",
                                                      "did you mean 'build.backend'"),
    ("verify.data.sorce", "random", "verify.data.sorce"), ("stages", [1], "stages"),
    ("model.source", "tf:resnet", "model.source"), ("model.source", "python:mod",
                                                    "names no factory"),
    ("verify.reference", "pytorch", "verify.reference"),
    ("model.inputs", [{"name": "x", "shape": [0, 3, 8, 8]}], "model.inputs[0].shape"),
    ("model.inputs", [{"name": "x", "shape": [-1, 3, 8, 8]}], "model.inputs[0].shape"),
    ("model.inputs", [{"name": "x", "shape": [1, 3, 8, 8], "dtype": "float99"}],
     "model.inputs[0].dtype"),
    ("model.inputs", [{"shape": [1, 3, 8, 8]}], "model.inputs[0].name"),
    ("quantize", {"precision": "fp8", "target": "onnxruntime-cpu"}, "quantize.precision"),
    ("build.profiles", "x:1x3x8x8", "build.profiles"),
    ("verify.per_output", {"y": 3}, "verify.per_output.y"),
]


@pytest.mark.parametrize(("key", "value", "named"), TYPES, ids=[t[0] + "-" + str(i)
                                                               for i, t in enumerate(TYPES)])
def test_wrong_types_and_choices_are_refused(tmp_path: Path, models: Models, key: str,
                                             value: Any, named: str) -> None:
    _run_bad(tmp_path, models, key, value, named)


NAMES = ["../..", "..", ".", "", "/abs/path", "a/b", "a\\b", "a\0b", " lead", "tab\tname",
         "new\nline", "../../../tmp/evil"]


@pytest.mark.parametrize("name", NAMES, ids=[repr(n) for n in NAMES])
def test_a_name_is_one_plain_folder_name(tmp_path: Path, models: Models, name: str) -> None:
    recipe = base_recipe(models)
    recipe["name"] = name
    path = write_recipe(tmp_path, recipe)
    before = tree(tmp_path)
    check(invoke("run", path, "--workspace", tmp_path / "ws"), 2, "recipe.yaml", "name:",
          before=before)
    assert not (tmp_path / "ws").exists()


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


YAML = [
    ("alias bomb", _bomb(), "aliases"),
    ("alias bomb 6", _bomb(6), "aliases"),
    ("deep sequence", "a: " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
    ("deep mapping", "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "v: 1\n",
     "nested"),
    ("deep flow mapping", "a: " + "{b: " * 400 + "1" + "}" * 400 + "\n", "nested"),
    ("recursive alias", "a: &a [*a]\n", "refers to itself"),
    ("alias chain", "\n".join(["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]"
                                                  for i in range(1, 40)]) + "\n", "aliases"),
    ("NUL byte", b"name: tiny\x00\nmodel: {}\n", "NUL"),
    ("UTF-16 LE", "name: tiny\nmodel: {source: onnx:x.onnx}\n".encode("utf-16"), "UTF-16"),
    ("UTF-16 BE", "name: tiny\n".encode("utf-16-be"), "UTF-16"),
    ("binary", bytes(range(256)) * 4, "not a text recipe"),
    ("latin-1", "name: caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ("too large", "# " + "x" * (1 << 20) + "\n", "too large"),
    ("a list", "- name: tiny\n", "must be a mapping"),
    ("a scalar", "just text\n", "must be a mapping"),
    ("malformed", "name: tiny\nmodel:\n  source: [onnx:x\n  inputs: 3\n", "malformed YAML"),
    ("python tag", "name: !!python/object/apply:os.system ['echo hi']\n", "malformed YAML"),
    ("unset variable", "name: tiny\nmodel: {source: 'onnx:${TRTC_CATALOGUE_UNSET}'}\n",
     "TRTC_CATALOGUE_UNSET"),
    ("empty", "", "model"),
    ("no model", "name: tiny\n", "model"),
    ("tab indentation", "name: tiny\nmodel:\n\tsource: onnx:x.onnx\n", "malformed YAML"),
]


@pytest.mark.parametrize(("text", "named"), [(t, n) for _, t, n in YAML],
                         ids=[i for i, _, _ in YAML])
def test_unreadable_recipes_are_a_recipe_error_fast(tmp_path: Path, text: str | bytes,
                                                    named: str) -> None:
    import time

    path = write_recipe(tmp_path, text)
    before = tree(tmp_path)
    start = time.perf_counter()
    out = check(invoke("run", path, "--workspace", tmp_path / "ws"), 2, "recipe.yaml", named,
                before=before)
    assert time.perf_counter() - start < 5, "a bad recipe must be refused fast"
    assert "recipe error" in out


def test_a_missing_recipe_is_named(tmp_path: Path) -> None:
    check(invoke("run", tmp_path / "nope.yaml"), 2, "nope.yaml", "not found")


def test_a_recipe_that_is_a_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    check(invoke("run", tmp_path / "dir.yaml"), 2, "dir.yaml", before=tree(tmp_path))
