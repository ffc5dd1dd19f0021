"""The TensorRT adapter's pure parts, on CPU: file names, shapes, profiles, layer summaries,
``trtc inspect ENGINE`` from the sidecar, and the missing-TensorRT path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trtc.backends.tensorrt import (
    TensorRTBackend,
    choose_profile,
    context_profiles,
    default_timing_cache_dir,
    engine_summary,
    layers_path,
    named_shape,
    onnx_io,
    sidecar_path,
    summarize_layers,
    tensorrt_version,
)
from trtc.errors import DependencyError, ModelError, UsageError

needs_no_trt = pytest.mark.skipif(tensorrt_version() is not None,
                                  reason="checks the behaviour without TensorRT")

PROFILES = [{"x": [[1, 3, 8, 8], [4, 3, 8, 8], [8, 3, 8, 8]]},
            {"x": [[8, 3, 8, 8], [16, 3, 8, 8], [32, 3, 8, 8]]}]


def test_files_next_to_the_engine() -> None:
    assert sidecar_path("out/model.engine") == Path("out/model.engine.json")
    assert layers_path("out/model.engine") == Path("out/model.layers.json")
    assert sidecar_path("a/b.plan") == Path("a/b.plan.json")


def test_named_shape_keeps_the_onnx_names_of_dynamic_dims() -> None:
    assert named_shape([-1, 3, 8, 8], ["batch", 3, 8, 8]) == ("batch", 3, 8, 8)
    assert named_shape([-1, 3, -1], None) == ("dim0", 3, "dim2")
    assert named_shape([2, 3], ["batch", 3]) == (2, 3)  # static in the engine: the number


def test_choose_profile_picks_the_first_that_fits() -> None:
    assert choose_profile(PROFILES, {"x": (4, 3, 8, 8)}) == 0
    assert choose_profile(PROFILES, {"x": (8, 3, 8, 8)}) == 0
    assert choose_profile(PROFILES, {"x": (20, 3, 8, 8)}) == 1
    assert choose_profile([], {"x": (20, 3, 8, 8)}) == 0
    with pytest.raises(UsageError, match=r"'x' shape 64x3x8x8 is outside every .*1x3x8x8\.\."
                                         r"8x3x8x8; 8x3x8x8\.\.32x3x8x8"):
        choose_profile(PROFILES, {"x": (64, 3, 8, 8)})
    with pytest.raises(UsageError, match="outside"):
        choose_profile(PROFILES, {"x": (4, 3, 9, 8)})  # another dim out of range


def test_one_profile_per_execution_context() -> None:
    assert context_profiles([], {"x": (4, 3, 8, 8)}, 3) == [None, None, None]
    assert context_profiles(PROFILES, {"x": (8, 3, 8, 8)}, 2) == [0, 1]
    assert context_profiles(PROFILES, {"x": (16, 3, 8, 8)}, 1) == [1]
    with pytest.raises(UsageError, match="--streams 2 needs 2 optimization profiles covering "
                                         "x 4x3x8x8; the engine has 1"):
        context_profiles(PROFILES, {"x": (4, 3, 8, 8)}, 2)


def test_summarize_layers_counts_types_and_output_precisions() -> None:
    info = {"Layers": [
        {"Name": "conv1", "LayerType": "CaskConvolution",
         "Outputs": [{"Format/Datatype": "Thirty-two wide channel vectorized row major Int8 "
                                         "format"}]},
        {"Name": "conv2", "LayerType": "CaskConvolution",
         "Outputs": [{"Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]},
        {"Name": "fc", "LayerType": "CaskGemmConvolution",
         "Outputs": [{"Format/Datatype": "Row major linear FP32"}]},
        {"Name": "reformat", "LayerType": "Reformat", "Outputs": []},
        "names only",
    ]}
    summary = summarize_layers(info)
    assert summary["layers"] == 5
    assert summary["by_type"] == {"CaskConvolution": 2, "CaskGemmConvolution": 1, "Reformat": 1}
    assert summary["by_output_precision"] == {"FP16": 1, "FP32": 1, "INT8": 1, "unknown": 1}


def test_timing_cache_beside_the_engine_or_shared_by_the_workspace(tmp_path: Path) -> None:
    from trtc.stages.build import workspace_timing_cache_dir

    assert default_timing_cache_dir(tmp_path / "out" / "m.engine") == \
        tmp_path / "out" / ".timing-cache"
    # -o ~/build/m.engine is flags mode: the cache stays beside it, not two levels up
    # (/home/.timing-cache, which the user may not even be allowed to write).
    assert default_timing_cache_dir(tmp_path / "home" / "build" / "m.engine") == \
        tmp_path / "home" / "build" / ".timing-cache"
    stage = tmp_path / "build" / "resnet50" / "build"
    assert workspace_timing_cache_dir(stage) == tmp_path / "build" / ".timing-cache"


def test_onnx_io_reads_inputs_and_qdq(conv_onnx: Path) -> None:
    inputs, has_qdq = onnx_io(conv_onnx)
    assert inputs == {"x": ("float32", ("batch", 3, 8, 8))}
    assert has_qdq is False


def _engine_with_sidecar(tmp_path: Path) -> Path:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not really an engine")
    sidecar_path(engine).write_text(json.dumps({
        "format": "trtc-engine/1", "tensorrt_version": "10.16.0",
        "gpu": {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"},
        "precision": "fp16", "precision_flags": ["fp16"], "tf32": True, "int8_mode": None,
        "strongly_typed": False, "version_compatible": False, "hardware_compatibility": "none",
        "io": {"inputs": {"x": {"dtype": "float32", "shape": ["batch", 3, 8, 8]}},
               "outputs": {"y": {"dtype": "float32", "shape": ["batch", 10]}},
               "profiles": [{"x": [[1, 3, 8, 8], [4, 3, 8, 8], [8, 3, 8, 8]]}]}}))
    layers_path(engine).write_text(json.dumps({"Layers": [
        {"Name": "conv", "LayerType": "CaskConvolution",
         "Outputs": [{"Format/Datatype": "Channel major FP16 format"}]}]}))
    return engine


def test_io_specs_come_from_the_sidecar_without_tensorrt(tmp_path: Path) -> None:
    inputs, outputs = TensorRTBackend().io_specs(_engine_with_sidecar(tmp_path))
    assert inputs == {"x": ("float32", ("batch", 3, 8, 8))}
    assert outputs == ["y"]


def test_inspect_engine_from_its_sidecar(tmp_path: Path) -> None:
    engine = _engine_with_sidecar(tmp_path)
    summary = engine_summary(engine)
    assert summary["sidecar"]["precision"] == "fp16"
    assert summary["layer_summary"] == {"layers": 1, "by_type": {"CaskConvolution": 1},
                                        "by_output_precision": {"FP16": 1}}
    from trtc.cli.app import app

    result = CliRunner().invoke(app, ["inspect", str(engine), "--verbose"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "10.16.0" in text and "NVIDIA H100 80GB HBM3 (compute capability 9.0)" in text
    assert "profile 0: x min 1x3x8x8 opt 4x3x8x8 max 8x3x8x8" in text
    assert "layers by type" in text and "CaskConvolution" in text
    as_json = json.loads(CliRunner().invoke(app, ["inspect", str(engine), "--json"]).stdout)
    assert as_json["layers"][0]["Name"] == "conv"


@pytest.mark.parametrize("text", ['{"io": {"inputs": {"x": {"dtype": "float32"}}}}',
                                  '{"gpu": "H100"}', "{not json"])
def test_a_damaged_sidecar_is_a_model_error_not_a_traceback(tmp_path: Path, text: str) -> None:
    from trtc.cli.app import app

    engine = _engine_with_sidecar(tmp_path)
    sidecar_path(engine).write_text(text)
    with pytest.raises(ModelError, match=r"m\.engine\.json: "):
        engine_summary(engine)
    result = CliRunner().invoke(app, ["inspect", str(engine)])
    assert result.exit_code == 4, result.output
    assert "m.engine.json" in result.stderr and "Traceback" not in result.stderr


@needs_no_trt
def test_inspect_engine_without_sidecar_or_tensorrt_is_a_model_error(tmp_path: Path) -> None:
    engine = tmp_path / "bare.engine"
    engine.write_bytes(b"x")
    with pytest.raises(ModelError, match=r"no sidecar \(bare.engine.json\) and the engine cannot "
                                         "be read here: TensorRT is not installed"):
        engine_summary(engine)


@needs_no_trt
def test_without_tensorrt_the_backend_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(DependencyError, match="TensorRT is not installed") as info:
        TensorRTBackend().check_available()
    assert "pip install 'trtc[trt]'" in (info.value.hint or "")
    with pytest.raises(DependencyError):
        TensorRTBackend().runner(_engine_with_sidecar(tmp_path), "x")


def test_bench_rejects_zero_streams(tmp_path: Path) -> None:
    from trtc.cli.app import app

    result = CliRunner().invoke(app, ["bench", str(_engine_with_sidecar(tmp_path)),
                                      "--streams", "0"])
    assert result.exit_code == 2, result.output
    assert "bench.streams" in result.stderr


def test_gpu_bench_report_renders(tmp_path: Path) -> None:
    from rich.console import Console

    from trtc.report import bench_renderable

    stats = {"median_ms": 0.5, "p90_ms": 0.6, "p99_ms": 0.7, "max_ms": 0.8, "cov": 0.01,
             "throughput_samples_s": 2000.0}
    report = {"artifact": "m.engine", "backend": "tensorrt", "threads": None,
              "device": {"name": "NVIDIA H100"},
              "method": {"cuda_graph": True, "streams": 2},
              "results": [{"batch": 1, "tensorrt": stats,
                           "pytorch_fp32": dict(stats, median_ms=5.0),
                           "pytorch_fp16": dict(stats, median_ms=4.0),
                           "pytorch": dict(stats, median_ms=5.0), "speedup_vs_pytorch": 10.0}],
              "warnings": []}
    console = Console(width=200, record=True)
    console.print(bench_renderable(report))
    text = console.export_text()
    assert "NVIDIA H100, GPU compute time, CUDA graph on, 2 stream(s)" in text
    assert "pytorch_fp16" in text and "10.00x" in text and "1.25x" in text
