"""``quantize.budget_on: engine`` for real: every candidate of the budget search is a TensorRT
engine, built with one timing cache, scored and timed on the GPU.

Runs where TensorRT and a GPU are present; skips elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from trt_helpers import make_conv_model

from trtc.optimize.engine_budget import EngineBudget
from trtc.optimize.quantize import quantize_model
from trtc.recipe import BuildSpec, QuantizeSpec

pytestmark = [pytest.mark.trt, pytest.mark.cuda]


def _with_outlier_channel(path: Path) -> Path:
    """The tiny conv model with conv channel 0 ~1000x the others and fc barely reading it:
    int8 on fc's input keeps channel 0 and rounds the rest to zero."""
    model = onnx.load(str(path))
    weights = {t.name: t for t in model.graph.initializer}
    w = numpy_helper.to_array(weights["w"]).copy()
    w[0] *= 1000.0
    fc = numpy_helper.to_array(weights["fc"]).copy()
    fc[:, :64] *= 1e-3                      # Flatten puts channel 0 in columns 0..63
    for name, value in (("w", w), ("fc", fc)):
        weights[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
    onnx.save(model, str(path))
    return path


def test_budget_on_engine_builds_and_times_every_candidate(tmp_path: Path) -> None:
    src = _with_outlier_channel(make_conv_model(tmp_path / "tiny.onnx"))
    spec = QuantizeSpec(enabled=True, target="tensorrt", calib_data="random", calib_samples=16,
                        max_drop=0.01, budget_on="engine")
    report = quantize_model(src, tmp_path / "q.onnx", spec, cache_dir=tmp_path / "cache",
                            engine=EngineBudget(BuildSpec(backend="tensorrt"),
                                                timing_cache_dir=tmp_path / "timing"))
    budget = report.to_dict()["budget"]
    assert budget["evaluator"] == "engine", report.warnings
    assert budget["met"] and "fc" in budget["float_nodes"]
    for candidate in budget["candidates"]:
        assert candidate["latency_ms"] > 0 and candidate["build_s"] > 0
    assert any((tmp_path / "timing").iterdir())   # one timing cache shared by the builds
    base = budget["baseline"]                     # the float model as an fp16 engine
    assert base["precision"] == "fp16" and base["latency_ms"] > 0 and base["build_s"] > 0


def test_fp16_float_regions_are_what_the_engine_search_builds(tmp_path: Path) -> None:
    # float_precision fp16: every candidate the engine search builds has its float part in
    # fp16 (the fp16 flag set from the model's metadata on 8.6 / 10); the written model too.
    from trtc.tensorrt.model import float_precision

    src = _with_outlier_channel(make_conv_model(tmp_path / "tiny.onnx"))
    spec = QuantizeSpec(enabled=True, target="tensorrt", calib_data="random", calib_samples=16,
                        max_drop=0.01, budget_on="engine", float_precision="fp16")
    out = tmp_path / "q.onnx"
    report = quantize_model(src, out, spec, cache_dir=tmp_path / "cache",
                            engine=EngineBudget(BuildSpec(backend="tensorrt"),
                                                timing_cache_dir=tmp_path / "timing"))
    metrics = report.to_dict()
    assert metrics["budget"]["evaluator"] == "engine" and metrics["budget"]["met"]
    assert metrics["float_regions"]["fp16_nodes"] >= 1
    model = onnx.load(str(out))
    assert float_precision({p.key: p.value for p in model.metadata_props}) == "fp16"
