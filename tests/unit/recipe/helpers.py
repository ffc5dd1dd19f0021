"""Recipes the trtc.recipe tests share."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from trtc.errors import RecipeError
from trtc.recipe import Recipe, load_recipe, parse_recipe

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


def load_in(recipe_dir: Path, model: dict[str, Any], data_source: str = "random") -> Recipe:
    """Write a recipe for ``model`` into ``recipe_dir`` and load it (paths resolve there)."""
    path = recipe_dir / "r.yaml"
    path.write_text(yaml.safe_dump({"name": "r", "model": model,
                                    "verify": {"data": {"source": data_source}}}))
    return load_recipe(path)
