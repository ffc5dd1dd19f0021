"""Tests for TensorRTBackend's stage interface on the CPU: what the stages read from a sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trtc.backends import BuildRequest, PreparedBuild, get_backend
from trtc.backends.tensorrt import TensorRTBackend
from trtc.errors import UsageError
from trtc.graph.io import read_model_io
from trtc.recipe import BuildSpec
from trtc.tensorrt.engine_file import sidecar_path

SIDECAR = {
    "format": "trtc-engine/1", "tensorrt_version": "10.16.0",
    "gpu": {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"},
    "precision": "fp32", "precision_flags": [], "tf32": True, "int8_mode": None,
    "strongly_typed": False, "version_compatible": False, "hardware_compatibility": "none",
    "io": {"inputs": {"x": {"dtype": "float32", "shape": ["batch", 3, 8, 8]}},
           "outputs": {"y": {"dtype": "float32", "shape": ["batch", 10]}},
           "profiles": [{"x": [[1, 3, 8, 8], [4, 3, 8, 8], [8, 3, 8, 8]]}]},
    "onnx_metadata": {"trtc.quantize.target": "tensorrt", "trtc.prune.sparsity": "0.5"},
}


def _engine(tmp_path: Path, **changes: object) -> Path:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not really an engine")
    sidecar_path(engine).write_text(json.dumps({**SIDECAR, **changes}))
    return engine


def test_get_backend_gives_the_whole_interface() -> None:
    assert isinstance(get_backend("tensorrt"), TensorRTBackend)


def test_precision_reads_tf32_from_the_sidecar(tmp_path: Path) -> None:
    backend = TensorRTBackend()
    assert backend.precision_of(_engine(tmp_path)) == "tf32"
    assert backend.precision_of(_engine(tmp_path, strongly_typed=True)) == "fp32"
    assert backend.precision_of(_engine(tmp_path, precision="fp16")) == "fp16"
    bare = tmp_path / "bare.engine"
    bare.write_bytes(b"x")
    assert backend.precision_of(bare) == "fp32"  # no sidecar: nothing says otherwise


def test_source_metadata_is_the_onnx_metadata_it_was_built_from(tmp_path: Path) -> None:
    from trtc.stages.verify import changed_on_purpose

    engine = _engine(tmp_path)
    assert TensorRTBackend().source_metadata(engine) == SIDECAR["onnx_metadata"]
    assert changed_on_purpose(engine) == ["prune", "quantize"]


def test_prepare_refuses_an_onnxruntime_qdq_model(conv_onnx: Path, tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(conv_onnx))
    onnx.helper.set_model_props(model, {"trtc.quantize.target": "onnxruntime-cpu"})
    path = tmp_path / "q.onnx"
    onnx.save(model, str(path))
    request = BuildRequest(path, tmp_path / "m.engine", BuildSpec(backend="tensorrt"),
                           read_model_io(path))
    with pytest.raises(UsageError, match="quantized for onnxruntime-cpu"):
        TensorRTBackend().prepare_build(request)


def test_prepare_plans_for_a_version_without_tensorrt(conv_onnx: Path, tmp_path: Path) -> None:
    from trtc.backends.tensorrt_plan import prepare

    request = BuildRequest(conv_onnx, tmp_path / "m.engine",
                           BuildSpec(backend="tensorrt", precision="fp16", preflight=True),
                           read_model_io(conv_onnx))
    plan = prepare(request, "10.16.0")
    assert isinstance(plan, PreparedBuild) and plan.precision == "fp16"
    assert plan.settings.profiles  # the dynamic batch got a default profile
    # finish_build names the files beside the engine (none written here)
    assert TensorRTBackend().finish_build(tmp_path / "m.engine", plan, {}) == {}
