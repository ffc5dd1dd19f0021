"""The TensorRT adapter without TensorRT, on CPU: I/O and ``trtc inspect ENGINE`` from the
sidecar, damaged sidecars, the missing-TensorRT path, and the GPU bench report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trtc.backends.base import close_infer
from trtc.backends.tensorrt import TensorRTBackend, engine_summary, tensorrt_version
from trtc.errors import DependencyError, ModelError
from trtc.tensorrt.engine_file import layers_path, sidecar_path

needs_no_trt = pytest.mark.skipif(tensorrt_version() is not None,
                                  reason="checks the behaviour without TensorRT")


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
    # The layer has no inputs listed: its output's type is its precision.
    assert "compute layers by precision: FP16 1/1 (100%)" in text
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


def test_settings_placeholders_become_tensorrt_enums() -> None:
    from types import SimpleNamespace

    from trtc.tensorrt.settings import TrtEnum, trt_values

    trt = SimpleNamespace(MemoryPoolType=SimpleNamespace(WORKSPACE="pool.WORKSPACE"),
                          ProfilingVerbosity=SimpleNamespace(DETAILED="verbosity.DETAILED"))
    kwargs = {"memory_pool_limits": {TrtEnum("MemoryPoolType", "WORKSPACE"): 1 << 30},
              "profiling_verbosity": TrtEnum("ProfilingVerbosity", "DETAILED"), "tf32": True}
    assert trt_values(trt, kwargs) == {"memory_pool_limits": {"pool.WORKSPACE": 1 << 30},
                                        "profiling_verbosity": "verbosity.DETAILED",
                                        "tf32": True}


def test_infer_fn_outputs_survive_the_next_inference(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Polygraphy's TrtRunner reuses its output buffers; the engine budget keeps every
    sample's outputs, so infer_fn hands out copies (G11: all 16 read as the last one)."""
    import numpy as np

    class ReusingRunner:
        def __init__(self) -> None:
            self.buffer = np.zeros(3, np.float32)
            self.is_active = False

        def activate(self) -> None:
            self.is_active = True

        def deactivate(self) -> None:
            self.is_active = False

        def get_input_metadata(self) -> object:
            from polygraphy.common import TensorMetadata

            return TensorMetadata().add("x", np.float32, (3,))

        def infer(self, feed: dict) -> dict:
            self.buffer[:] = feed["x"]
            return {"y": self.buffer}

    monkeypatch.setattr(TensorRTBackend, "runner", lambda self, artifact, name: ReusingRunner())
    infer = TensorRTBackend().infer_fn(tmp_path / "m.engine", None)
    first = infer({"x": np.ones(3, np.float32)})
    second = infer({"x": np.full(3, 2.0, np.float32)})
    assert first["y"].tolist() == [1.0] * 3 and second["y"].tolist() == [2.0] * 3
    # The caller's close deactivates the runner (the engine budget builds one a candidate;
    # each left active held its engine and buffers, and Polygraphy warned).
    runner = infer.runner  # type: ignore[attr-defined]
    assert runner.is_active
    close_infer(infer)
    assert not runner.is_active
    close_infer(infer)  # twice is harmless


def test_a_build_keeps_one_builder_alive_in_its_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorRT 8.6 unloads its builder kernel library with the last live builder (6-10 s
    to load again): a worker's builds keep one builder for the process."""
    import types

    from trtc.backends import isolated, tensorrt

    made: list[object] = []

    class Logger:
        ERROR = 1

        def __init__(self, severity: int) -> None:
            pass

    def builder(logger: object) -> object:
        made.append(logger)
        return object()

    from polygraphy.backend.trt import util as trt_util

    fake = types.SimpleNamespace(Logger=Logger, Builder=builder)
    polygraphy_logger = Logger(Logger.ERROR)
    monkeypatch.setattr(tensorrt, "_trt", lambda: fake)
    monkeypatch.setattr(trt_util, "get_trt_logger", lambda: polygraphy_logger)
    monkeypatch.setattr(isolated, "_KEPT", {})
    tensorrt.keep_builder_alive()
    tensorrt.keep_builder_alive()
    # One builder, on Polygraphy's logger (TensorRT may keep the first builder's logger
    # for every later one, and the build's log is read from Polygraphy's).
    assert made == [polygraphy_logger]
    logger, kept = isolated._KEPT["tensorrt.builder"]
    assert logger is polygraphy_logger and kept is not None


def test_infer_fn_feeds_integers_in_the_engines_integer_type(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorRT 8.6 imports ONNX int64 inputs as int32 and TrtRunner refuses an int64 feed
    (the engine budget on DistilBERT failed so on the H200, 2026-12-04b)."""
    import numpy as np
    from polygraphy.common import TensorMetadata

    class Int32Runner:
        is_active = False

        def activate(self) -> None:
            self.is_active = True

        def get_input_metadata(self) -> TensorMetadata:
            return (TensorMetadata().add("ids", np.int32, (1, 4))
                    .add("x", np.float16, (1, 4)))

        def infer(self, feed: dict) -> dict:
            self.fed = {n: a.dtype for n, a in feed.items()}
            return {"y": feed["ids"] * 2}

    monkeypatch.setattr(TensorRTBackend, "runner", lambda self, artifact, name: Int32Runner())
    infer = TensorRTBackend().infer_fn(tmp_path / "m.engine", None)
    out = infer({"ids": np.arange(4, dtype=np.int64).reshape(1, 4),
                 "x": np.zeros((1, 4), np.float32)})
    runner = infer.runner  # type: ignore[attr-defined]
    assert runner.fed == {"ids": np.int32, "x": np.float32}  # floats are left as they are
    assert out["y"].tolist() == [[0, 2, 4, 6]]
