"""int8 network I/O (trtc.tensorrt.int8_io): the Q/DQ node at the edge removed, checked
in ONNX Runtime against the model as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.errors import UsageError
from trtc.tensorrt.int8_io import int8_io_for_tensorrt, int8_io_names, with_int8_io
from trtc.tensorrt.io_formats import (
    from_engine_layout,
    plan_io_formats,
    qdq_io_scales,
    to_engine_layout,
)
from trtc.tensorrt.versions import features

F86 = features("8.6")
X_SCALE, Y_SCALE = 4.0 / 127.0, 0.05


def _model(*, y_reader: bool = False) -> Any:
    """x[N,3,8,8] -> Q -> DQ -> Conv -> Relu -> Q -> DQ -> y (per-tensor, zero points 0)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * .3,
                                "w"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) * .1, "b"),
        numpy_helper.from_array(np.array(X_SCALE, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "x_zp"),
        numpy_helper.from_array(np.array(Y_SCALE, np.float32), "y_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "y_zp"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"], name="qx"),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["xd"], name="dqx"),
        helper.make_node("Conv", ["xd", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "y_scale", "y_zp"], ["rq"], name="qy"),
        helper.make_node("DequantizeLinear", ["rq", "y_scale", "y_zp"], ["y"], name="dqy"),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])]
    if y_reader:
        nodes.append(helper.make_node("Neg", ["y"], ["z"], name="neg"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 4, 8, 8]))
    graph = helper.make_graph(
        nodes, "tiny_qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])], outputs,
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _run(model: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    onnx.checker.check_model(model)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    return [np.asarray(a) for a in session.run(None, feed)]


def _x() -> np.ndarray:
    return np.random.default_rng(1).uniform(-5, 5, (2, 3, 8, 8)).astype(np.float32)


def test_an_int8_input_loses_its_quantize_and_computes_the_same() -> None:
    model, x = _model(), _x()
    scales = qdq_io_scales(model)
    assert scales["x"] == pytest.approx(X_SCALE)
    new = with_int8_io(model, ["x"])
    assert new.graph.input[0].type.tensor_type.elem_type == TensorProto.INT8
    assert not [n for n in new.graph.node if "x" in n.input and n.op_type == "QuantizeLinear"]
    assert [n.op_type for n in new.graph.node if "x" in n.input] == ["DequantizeLinear"]
    assert {t.name for t in new.graph.initializer} >= {"x_scale", "x_zp"}  # DQ reads them
    want = _run(model, {"x": x})[0]
    fed = to_engine_layout(x, "linear", "int8", scale=scales["x"])
    assert fed.dtype == np.int8
    np.testing.assert_array_equal(fed, np.clip(np.rint(x / np.float32(X_SCALE)), -128, 127))
    got = _run(new, {"x": fed})[0]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT  # a copy


def test_an_int8_output_is_the_quantize_tensor_under_its_name() -> None:
    model, x = _model(), _x()
    new = with_int8_io(model, ["x"], ["y"])
    assert new.graph.output[0].name == "y"
    assert new.graph.output[0].type.tensor_type.elem_type == TensorProto.INT8
    writer = next(n for n in new.graph.node if "y" in n.output)
    assert writer.op_type == "QuantizeLinear" and writer.name == "qy"
    assert "dqy" not in {n.name for n in new.graph.node}
    want = _run(model, {"x": x})[0]
    scales = qdq_io_scales(model)
    out = _run(new, {"x": to_engine_layout(x, "linear", "int8", scale=scales["x"])})[0]
    assert out.dtype == np.int8
    back = from_engine_layout(out, "linear", want.shape, scale=scales["y"])
    np.testing.assert_allclose(back, want, rtol=1e-6, atol=1e-6)


def test_float_readers_of_an_int8_output_keep_their_dequantize() -> None:
    model, x = _model(y_reader=True), _x()
    new = with_int8_io(model, outputs=["y"])
    assert [n.op_type for n in new.graph.node if "y" in n.input] == ["DequantizeLinear"]
    want, got = _run(model, {"x": x}), _run(new, {"x": x})
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[0].astype(np.float32) * np.float32(Y_SCALE), want[0],
                               rtol=1e-6, atol=1e-6)


def test_an_input_not_read_by_a_per_tensor_quantize_is_refused() -> None:
    model = _model()
    model.graph.node.append(helper.make_node("Identity", ["x"], ["x_copy"], name="copy"))
    model.graph.output.append(helper.make_tensor_value_info("x_copy", TensorProto.FLOAT,
                                                            ["N", 3, 8, 8]))
    # planning refuses it first (no scale), as before ...
    assert "x" not in qdq_io_scales(model)
    with pytest.raises(UsageError, match="int8 input 'x' needs its scale"):
        plan_io_formats(["int8:chw32"], [], F86,
                        {"x": ("float32", ("N", 3, 8, 8))}, None, strongly_typed=False,
                        int8_mode="qdq", scales=qdq_io_scales(model))
    # ... and the rewrite does not take it either
    with pytest.raises(UsageError, match="int8 input 'x' is read by .*Identity 'copy'"):
        with_int8_io(model, ["x"])


def test_a_uint8_quantize_or_a_dequantize_of_no_quantize_gives_no_scale() -> None:
    model = _model()
    for t in model.graph.initializer:
        if t.name == "x_zp":
            t.CopyFrom(numpy_helper.from_array(np.array(0, np.uint8), "x_zp"))
    assert "x" not in qdq_io_scales(model)
    with pytest.raises(UsageError, match="int8 input 'x'"):
        with_int8_io(model, ["x"])
    model = _model()
    dq = next(n for n in model.graph.node if n.name == "dqy")
    dq.input[0] = "r"  # a DequantizeLinear of a float tensor: nothing to cut
    assert "y" not in qdq_io_scales(model)
    with pytest.raises(UsageError, match="int8 output 'y' is written by DequantizeLinear"):
        with_int8_io(model, outputs=["y"])


def test_the_build_rewrites_only_what_the_specs_make_int8(tmp_path: Path) -> None:
    src = tmp_path / "m.onnx"
    onnx.save(_model(), str(src))
    assert int8_io_names(_model(), ["int8:chw32"], [], F86) == (["x"], [])
    assert int8_io_names(_model(), ["fp16:chw"], ["int8:chw"], F86) == ([], ["y"])
    assert int8_io_for_tensorrt(src, tmp_path, ["fp16:hwc8"], [], F86) == (src, [])
    out, notes = int8_io_for_tensorrt(src, tmp_path, ["int8:chw32"], [], F86)
    assert out != src and out.parent == tmp_path
    assert "QuantizeLinear reading input 'x' removed" in notes[0]
    assert onnx.load(str(out)).graph.input[0].type.tensor_type.elem_type == TensorProto.INT8
    # an input already int8 in the ONNX (read by its DequantizeLinear) stays as it is
    assert int8_io_for_tensorrt(out, tmp_path, ["int8:chw32"], [], F86) == (out, [])
