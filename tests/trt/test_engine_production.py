"""On the GPU: the precision proof and Triton packaging of real engines (TensorRT 8.6+)."""

from __future__ import annotations

import json
from pathlib import Path

from trt_helpers import Invoke, make_qdq_model, ok_json

from trtc.tensorrt.engine_file import read_sidecar


def test_fp16_engine_proves_fp16_and_fails_expect_int8(cli: Invoke, fp16_engine: Path,
                                                       tiny_onnx: Path, tmp_path: Path) -> None:
    side = read_sidecar(fp16_engine)
    assert side is not None
    proof = side["layer_precision"]
    assert proof["compute_layers"] >= 1, proof
    out = tmp_path / "again.engine"
    result = cli("build", tiny_onnx, "-o", out, "--backend", "tensorrt", "--precision",
                 "fp16", "--profile", "x:1x3x8x8,4x3x8x8,8x3x8x8", "--expect-int8", "0.8")
    assert result.exit_code == 1, result.output
    assert "compute layers run in int8 (expect.int8_fraction 0.8)" in result.stderr
    assert "not int8:" in result.stderr
    assert out.is_file()  # kept for trtc inspect; no manifest marks it done


def test_qdq_engine_runs_its_convolutions_in_int8(cli: Invoke, tmp_path: Path) -> None:
    model = make_qdq_model(tmp_path / "qdq.onnx")
    out = tmp_path / "qdq.engine"
    built = ok_json(cli("build", model, "-o", out, "--backend", "tensorrt", "--precision",
                        "int8", "--profile", "x:1x3x8x8,2x3x8x8,4x3x8x8", "--json"))
    proof = built["metrics"]["layer_precision"]
    assert proof["by_precision"].get("INT8", 0) >= 1, json.dumps(proof, indent=1)
    summary = ok_json(cli("inspect", out, "--json"))
    assert summary["precision"]["by_precision"] == proof["by_precision"]


def test_engine_packaged_for_triton(cli: Invoke, fp32_engine: Path, tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("tritonclient.grpc")
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    out = ok_json(cli("package", fp32_engine, "--triton", tmp_path / "models", "--name",
                      "tiny", "--json"))
    config = text_format.Parse(Path(out["config"]).read_text(), model_config_pb2.ModelConfig())
    cc = read_sidecar(fp32_engine)["gpu"]["compute_capability"]  # type: ignore[index]
    assert config.platform == "tensorrt_plan" and dict(config.cc_model_filenames) == {
        cc: "model.plan"}
    assert config.max_batch_size == 8  # the profile's max batch
    assert (tmp_path / "models" / "tiny" / "1" / "model.plan").read_bytes() == \
        fp32_engine.read_bytes()
