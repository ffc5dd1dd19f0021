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
