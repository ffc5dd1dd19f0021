"""quantize_model's guards around ONNX Runtime's quantizer: the opset per-channel weights
need, the checker on the written model, and no ORT temp files left in the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.errors import ModelError
from trtc.optimize.quantize import main as quantize_main
from trtc.optimize.quantize import quantize_model
from trtc.recipe import QuantizeSpec


def make_conv_model(path: Path, opset: int) -> Path:
    """x[batch,3,8,8] -> conv (4 output channels) -> relu -> y, at ``opset``."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) * 0.1, "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    graph = helper.make_graph(
        nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _spec(**overrides: object) -> QuantizeSpec:
    fields: dict[str, object] = {"enabled": True, "precision": "int8",
                                 "target": "onnxruntime-cpu", "calib_data": "random",
                                 "calib_samples": 4}
    fields.update(overrides)
    return QuantizeSpec(**fields)  # type: ignore[arg-type]


def _opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


@pytest.mark.parametrize("target", ["onnxruntime-cpu", "tensorrt"])
@pytest.mark.parametrize("opset", [11, 12])
def test_int8_of_an_old_opset_model_is_converted_to_opset_13(tmp_path: Path, opset: int,
                                                             target: str) -> None:
    src = make_conv_model(tmp_path / "m.onnx", opset)
    out = tmp_path / "q.onnx"
    report = quantize_model(src, out, _spec(target=target))
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert _opset(model) == 13
    axes = [a for n in model.graph.node if n.op_type == "DequantizeLinear"
            for a in n.attribute if a.name == "axis"]
    assert axes, "per-channel weights: a DequantizeLinear with axis"
    assert any(f"opset {opset}: converted to opset 13" in w for w in report.warnings)
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.run(None, {"x": x})[0].shape == (2, 4, 8, 8)


def test_opset_13_and_fp16_are_left_as_they_are(tmp_path: Path) -> None:
    src = make_conv_model(tmp_path / "m.onnx", 13)
    report = quantize_model(src, tmp_path / "q.onnx", _spec())
    assert _opset(onnx.load(str(tmp_path / "q.onnx"))) == 13
    assert not any("converted to opset" in w for w in report.warnings)
    old = make_conv_model(tmp_path / "old.onnx", 11)
    report = quantize_model(old, tmp_path / "h.onnx", _spec(precision="fp16", calib_data=None))
    assert _opset(onnx.load(str(tmp_path / "h.onnx"))) == 11
    assert not any("converted to opset" in w for w in report.warnings)


def test_fp16_with_calibration_data_reports_the_measured_peaks(tmp_path: Path) -> None:
    """fp16 calibrates only to find what would overflow; the report shows what it measured
    (the transformer row's LayerNorm / Softmax peaks), and says when there was nothing."""
    from trtc.report import quantize_lines

    src = make_conv_model(tmp_path / "m.onnx", 13)
    report = quantize_model(src, tmp_path / "h.onnx", _spec(precision="fp16"))
    peaks = report.to_dict()["fp16_peaks"]
    assert peaks["tensors_measured"] >= 1 and peaks["top"]
    top = peaks["top"][0]
    assert top["peak"] > 0 and top["headroom"] == round(65504 / top["peak"], 2)
    assert [p["peak"] for p in peaks["top"]] == sorted((p["peak"] for p in peaks["top"]),
                                                       reverse=True)
    line = next(x for x in quantize_lines(report.to_dict()) if x.startswith("fp16 ranges"))
    assert top["tensor"] in line and "under fp16's max" in line
    bare = quantize_model(src, tmp_path / "b.onnx", _spec(precision="fp16", calib_data=None))
    assert "fp16_peaks" not in bare.to_dict()


def test_an_invalid_quantized_model_is_a_model_error_and_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the opset conversion ONNX Runtime writes DequantizeLinear(axis) at opset 11.
    monkeypatch.setattr(quantize_main, "per_channel_opset", lambda model, path: None)
    src = make_conv_model(tmp_path / "m.onnx", 11)
    out = tmp_path / "q.onnx"
    with pytest.raises(ModelError, match="int8 model is invalid ONNX") as info:
        quantize_model(src, out, _spec())
    assert "\n" not in info.value.message
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["m.onnx"]


def test_quantize_leaves_no_onnx_runtime_temp_files_in_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    # As for a model ORT's symbolic shape inference cannot finish (nudenet, ppocr_det...):
    # it saves sym_shape_infer_temp.onnx + <uuid>.data in the cwd, then raises.
    def incomplete(self: SymbolicShapeInference) -> bool:
        self.run_ = False  # one pass, some shapes left unknown
        return False

    monkeypatch.setattr(SymbolicShapeInference, "_infer_impl", incomplete)
    (tmp_path / "models").mkdir()
    make_conv_model(tmp_path / "models" / "m.onnx", 13)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    report = quantize_model(Path("../models/m.onnx"), Path("../out/q.onnx"), _spec())
    assert os.listdir(cwd) == []
    assert Path.cwd() == cwd
    assert any("Incomplete symbolic shape inference" in w for w in report.warnings), \
        report.warnings
    assert (tmp_path / "out" / "q.onnx").is_file()


def make_vad_model(path: Path) -> Path:
    """Silero VAD's interface: input [batch,4], state [2,batch,3], int64 scalar sr.

    y = (input @ w) * float(sr) / 16000 + sum(state, axis 0); new_state = state * 0.5.
    """
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array(1 / 16000, np.float32), "k"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array([0], np.int64), "axis0")]
    nodes = [helper.make_node("MatMul", ["input", "w"], ["m"], name="fc"),
             helper.make_node("Cast", ["sr"], ["srf"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Mul", ["srf", "k"], ["rate"], name="rate"),
             helper.make_node("Mul", ["m", "rate"], ["scaled"], name="scale"),
             helper.make_node("ReduceSum", ["state", "axis0"], ["s"], name="sum", keepdims=0),
             helper.make_node("Add", ["scaled", "s"], ["y"], name="add"),
             helper.make_node("Mul", ["state", "half"], ["new_state"], name="decay")]
    graph = helper.make_graph(
        nodes, "vad",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "batch", 3]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("new_state", TensorProto.FLOAT, [2, "batch", 3])],
        inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("calib", ["npz", "random"])
def test_a_model_with_a_scalar_and_a_state_input_calibrates(tmp_path: Path, calib: str) -> None:
    src = make_vad_model(tmp_path / "vad.onnx")
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "calib.npz", input=rng.standard_normal((6, 4)).astype(np.float32),
             state=rng.standard_normal((2, 6, 3)).astype(np.float32), sr=np.int64(16000))
    source = str(tmp_path / "calib.npz") if calib == "npz" else "random"
    report = quantize_model(src, tmp_path / "q.onnx",
                            _spec(calib_data=source, calib_samples=5, calib_batch=2),
                            eval_source=str(tmp_path / "calib.npz"), eval_batch=4)
    metrics = report.to_dict()
    assert metrics["calibration"]["samples"] == 5 and metrics["calibration"]["batches"] == 3
    assert report.accuracy is not None
    onnx.checker.check_model(onnx.load(str(tmp_path / "q.onnx")))
