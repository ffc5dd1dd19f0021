"""Tests for trtc.backends.onnxruntime: the session factory, build, runner, timer, io."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from trtc.backends import BuildRequest, get_backend
from trtc.backends.onnxruntime import CpuTimer, OnnxRuntimeBackend, make_session
from trtc.errors import DependencyError, ModelError, UsageError
from trtc.graph.io import read_model_io
from trtc.recipe import BenchSpec, BuildSpec


def _with_metadata(src: Path, dst: Path, **props: str) -> Path:
    model = onnx.load(str(src))
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(dst))
    return dst


def _request(path: Path, spec: BuildSpec, why: str = "") -> BuildRequest:
    return BuildRequest(path, path.with_suffix(".ort.onnx"), spec, read_model_io(path), why=why)


def test_make_session_turns_load_failures_into_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        make_session(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"definitely not onnx")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load the model"):
        make_session(junk)


def test_a_built_artifact_loads_unoptimised(conv_onnx: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    built = tmp_path / "m.ort.onnx"
    OnnxRuntimeBackend().build(conv_onnx, built, BuildSpec(backend="onnxruntime"))
    assert built.is_file()
    # *.ort.onnx is already optimised: optimising again is skipped (and would differ).
    assert make_session(built).get_session_options().graph_optimization_level == \
        ort.GraphOptimizationLevel.ORT_DISABLE_ALL


def test_build_reports_its_settings(conv_onnx: Path, tmp_path: Path) -> None:
    info = OnnxRuntimeBackend().build(conv_onnx, tmp_path / "m.ort.onnx",
                                      BuildSpec(backend="onnxruntime", threads=2))
    assert info["settings"]["graph_optimization_level"] == "ORT_ENABLE_ALL"
    assert info["settings"]["intra_op_num_threads"] == 2
    assert info["device"]["provider"] == "CPUExecutionProvider"


def test_cuda_without_its_provider_is_a_missing_dependency() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime has CUDA")
    with pytest.raises(DependencyError, match="CUDAExecutionProvider"):
        OnnxRuntimeBackend().check_available(BuildSpec(device="cuda"))


def test_prepare_refuses_a_tensorrt_precision_asked_of_onnxruntime(conv_onnx: Path) -> None:
    backend = OnnxRuntimeBackend()
    with pytest.raises(UsageError, match="TensorRT builder setting"):
        backend.prepare_build(_request(conv_onnx, BuildSpec(backend="onnxruntime",
                                                            precision="fp16")))
    plan = backend.prepare_build(_request(conv_onnx, BuildSpec(backend="onnxruntime")))
    assert plan.precision == "fp32" and plan.warnings == ()


def test_prepare_under_auto_reports_instead_of_refusing(conv_onnx: Path, tmp_path: Path) -> None:
    model = _with_metadata(conv_onnx, tmp_path / "q.onnx",
                           **{"trtc.quantize.target": "tensorrt",
                              "trtc.quantize.precision": "int8"})
    plan = OnnxRuntimeBackend().prepare_build(
        _request(model, BuildSpec(backend="auto", precision="fp16"),
                 why="onnxruntime (auto: TensorRT is not installed)"))
    assert plan.precision == "int8"  # what the model holds
    assert any("without the int8 speed-up" in w for w in plan.warnings)
    assert "backend auto chose onnxruntime, not TensorRT: TensorRT is not installed" in \
        plan.warnings
    assert any(w.endswith("built as int8") for w in plan.warnings)
    with pytest.raises(UsageError, match="quantized for tensorrt"):
        OnnxRuntimeBackend().prepare_build(_request(model, BuildSpec(backend="onnxruntime")))


def test_runner_infer_fn_and_io(conv_onnx: Path) -> None:
    backend = get_backend("onnxruntime")
    inputs, outputs = backend.io_specs(conv_onnx)
    assert inputs == {"x": ("float32", ("batch", 3, 8, 8))} and outputs == ["y"]
    x = np.ones((2, 3, 8, 8), np.float32)
    (y,) = backend.infer_fn(conv_onnx, threads=1)({"x": x})
    with backend.runner(conv_onnx, name="r") as runner:
        assert np.allclose(runner.infer({"x": x})["y"], y, atol=1e-5)
    assert backend.precision_of(conv_onnx) == "fp32"
    assert backend.source_metadata(conv_onnx) == {}
    assert backend.finish_build(conv_onnx, backend.prepare_build(
        _request(conv_onnx, BuildSpec(backend="onnxruntime"))), {}) == {}
    assert backend.preview_build(BuildSpec(), onnx_path=conv_onnx, hint=None, version=None,
                                 output=None, timing_cache_dir=None) == {}


def test_source_metadata_of_an_unreadable_file_is_empty(tmp_path: Path, conv_onnx: Path
                                                        ) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"nope")
    assert OnnxRuntimeBackend().source_metadata(junk) == {}
    tagged = _with_metadata(conv_onnx, tmp_path / "p.onnx", **{"trtc.prune.sparsity": "0.5"})
    assert OnnxRuntimeBackend().source_metadata(tagged) == {"trtc.prune.sparsity": "0.5"}


def test_cpu_timer_measures_with_the_given_threads(conv_onnx: Path) -> None:
    spec = BenchSpec(warmup_ms=1.0, duration_s=0.01, min_iterations=4, threads=1)
    timer = OnnxRuntimeBackend().timer(conv_onnx, spec)
    assert isinstance(timer, CpuTimer) and timer.threads == 1
    stats, notes = timer.time({"x": np.zeros((1, 3, 8, 8), np.float32)}, 1)
    assert stats["iterations"] >= 4 and stats["batch"] == 1 and notes == []
    assert timer.method() == {"timer": "time.perf_counter"} and timer.context() == {}
