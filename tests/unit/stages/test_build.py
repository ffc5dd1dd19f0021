"""Tests for trtc.stages.build: the typed result, a real ONNX Runtime build, the dry run."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtc.errors import ModelError, UsageError
from trtc.recipe import BuildSpec
from trtc.stages import StageContext, build
from trtc.stages.build import BuildInfo, BuildJob, BuildResult, plan_build


def test_build_info_to_dict_is_the_manifest_metrics() -> None:
    info = BuildInfo("onnxruntime", "onnxruntime (asked for)", "fp32", 0.5, 1234, {"a": 1})
    assert info.to_dict() == {"backend": "onnxruntime", "backend_choice": "onnxruntime (asked for)",
                              "precision": "fp32", "build_time_s": 0.5, "artifact_bytes": 1234,
                              "settings": {"a": 1}}
    engine = BuildInfo("tensorrt", "t", "fp16", 1.0, 9, {}, {"engine_sha256": "x"}).to_dict()
    assert list(engine)[-1] == "engine"


def test_run_builds_with_onnxruntime(conv_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "model.ort.onnx"
    out.parent.mkdir()
    ctx = StageContext(inputs={"model": conv_onnx}, outputs={"artifact": out},
                       work_dir=out.parent)
    result = build.run(BuildJob(BuildSpec(backend="onnxruntime"), "onnxruntime",
                                "onnxruntime (asked for)"), ctx)
    assert isinstance(result, BuildResult) and result.info is not None
    assert result.outputs == {"artifact": out} and out.is_file()
    assert result.metrics == result.info.to_dict()
    assert result.metrics["precision"] == "fp32"
    assert result.metrics["artifact_bytes"] == out.stat().st_size
    assert result.warnings == []


def test_a_refused_build_writes_nothing(conv_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.ort.onnx"
    with pytest.raises(UsageError):
        build.build_artifact(conv_onnx, out, BuildSpec(backend="onnxruntime", precision="fp16"),
                             "onnxruntime", "asked for")
    assert not out.exists()
    with pytest.raises(ModelError):
        build.build_artifact(tmp_path / "missing.onnx", out, BuildSpec(backend="onnxruntime"),
                             "onnxruntime", "asked for")


def test_dry_run_on_onnxruntime_is_the_section(conv_onnx: Path) -> None:
    plan = plan_build(BuildSpec(backend="onnxruntime"), onnx_path=conv_onnx)
    assert plan["backend"] == "onnxruntime" and plan["available_here"] is True
    assert plan["settings"]["optimization_level"] == "all"
    assert "tensorrt" not in plan and "trtexec" not in plan
