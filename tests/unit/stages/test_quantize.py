"""The quantize stage: run(job, ctx) hands the job to the optimizer once and writes its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trtc.errors import UsageError
from trtc.recipe import QuantizeSpec
from trtc.stages import StageContext
from trtc.stages.quantize import CACHE_DIR, QuantizeJob, run


class _Bars:
    def __init__(self) -> None:
        self.opened: list[tuple[str, int]] = []

    def phase(self, name: str) -> None:
        return None

    def progress(self, description: str, total: int) -> _Bars:
        self.opened.append((description, total))
        return self

    def __enter__(self) -> object:
        return lambda done, total: None

    def __exit__(self, *exc: object) -> None:
        return None


def _ctx(tmp_path: Path, src: Path, reporter: object | None = None) -> StageContext:
    outputs = {"model": tmp_path / "out" / "model.onnx",
               "calibration": tmp_path / "out" / "calibration.json"}
    outputs["model"].parent.mkdir(parents=True, exist_ok=True)
    if reporter is None:
        return StageContext({"model": src}, outputs, tmp_path / "out")
    return StageContext({"model": src}, outputs, tmp_path / "out", reporter)  # type: ignore[arg-type]


def test_run_quantizes_writes_the_ranges_and_reports_progress(tmp_path: Path,
                                                               conv_onnx: Path) -> None:
    src = conv_onnx
    job = QuantizeJob(QuantizeSpec(enabled=True, calib_data="random", calib_samples=4,
                                   target="tensorrt"), shapes={"x": (2, 3, 8, 8)})
    bars = _Bars()
    result = run(job, _ctx(tmp_path, src, bars))
    assert result.outputs["model"].is_file() and result.outputs["calibration"].is_file()
    ranges = json.loads(result.outputs["calibration"].read_text())
    assert ranges["method"] == "minmax" and "x" in ranges["ranges"]
    assert result.metrics["target"] == "tensorrt" and "calibration_ranges" not in result.metrics
    assert result.metrics["calibration"]["cache"] == "miss"
    assert result.metrics["calibration"]["batches"] == 2  # the job's shapes: batches of 2
    assert (tmp_path / "out" / CACHE_DIR).is_dir()
    assert bars.opened == [("calibrating", 2)]  # through ctx.reporter, no global
    assert any("random" in w for w in result.warnings)


def test_run_refuses_an_unresolved_target(tmp_path: Path, conv_onnx: Path) -> None:
    src = conv_onnx
    job = QuantizeJob(QuantizeSpec(enabled=True, calib_data="random", target="auto"))
    with pytest.raises(UsageError, match="unresolved"):
        run(job, _ctx(tmp_path, src))


def _masked_model(path: Path, mask: float, weight: float = 0.5) -> Path:
    """x[1,4] @ w -> where(keep, ., fill) -> softmax: ``fill`` is an attention mask's value."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.full((4, 4), weight, np.float32), "w"),
             numpy_helper.from_array(np.array([True, True, False, True]), "keep"),
             numpy_helper.from_array(np.array(mask, np.float32), "fill")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Where", ["keep", "h", "fill"], ["m"], name="mask"),
             helper.make_node("Softmax", ["m"], ["y"], name="softmax", axis=-1)]
    graph = helper.make_graph(nodes, "masked",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_an_infinite_mask_constant_is_no_broken_weight(tmp_path: Path) -> None:
    from trtc.errors import ModelError
    from trtc.stages.quantize import check_finite_weights

    check_finite_weights(_masked_model(tmp_path / "inf.onnx", float("-inf")))  # a mask: fine
    with pytest.raises(ModelError, match="weight 'fill' holds NaN"):
        check_finite_weights(_masked_model(tmp_path / "nan.onnx", float("nan")))
    with pytest.raises(ModelError, match="weight 'w' holds NaN/Inf"):
        check_finite_weights(_masked_model(tmp_path / "w.onnx", 0.0, weight=float("inf")))
