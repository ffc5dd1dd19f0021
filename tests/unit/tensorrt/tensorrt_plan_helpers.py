"""Shared by tests/unit/tensorrt: recipe build sections and plans for a 224x224 image model."""

from __future__ import annotations

import shlex
from typing import Any

from trtc.recipe import BuildSpec, parse_recipe
from trtc.tensorrt.settings import TrtBuildSettings, plan_trt_build

IMG = {"input": ("float32", ("batch", 3, 224, 224))}
STATIC = {"input": ("float32", (1, 3, 224, 224))}
P_1_8_32 = {"input": {"min": [1, 3, 224, 224], "opt": [8, 3, 224, 224],
                      "max": [32, 3, 224, 224]}}


def spec(**build: Any) -> BuildSpec:
    """A BuildSpec validated the way a recipe's build section is."""
    recipe = parse_recipe({"name": "t", "model": {"source": "onnx:m.onnx"}, "build": build})
    return recipe.build


def plan(version: str = "8.6", inputs: Any = None, **kwargs: Any) -> TrtBuildSettings:
    qdq = kwargs.pop("qdq", False)
    qprec = kwargs.pop("qprec", None)
    floatp = kwargs.pop("floatp", None)
    default = kwargs.pop("default", None)
    cache_dir = kwargs.pop("cache_dir", None)
    build = {"profiles": [P_1_8_32], **kwargs} if inputs is None else kwargs
    return plan_trt_build(spec(**build), IMG if inputs is None else inputs, version,
                          model_has_qdq=qdq, qdq_precision=qprec, float_precision=floatp,
                          default_profile=default,
                          timing_cache_dir=cache_dir)


def argv(line: str) -> list[str]:
    return shlex.split(line.split("  #")[0])
