"""Tests for trtc.graph.io: the one reader of a model's inputs, outputs, opset and metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.errors import ModelError
from trtc.graph.io import TensorInfo, model_io, read_model_io, read_opset


def _model(path: Path, *, qdq: bool = False, weights_as_input: bool = False,
           opsets: tuple[tuple[str, int], ...] = (("", 17),)) -> Path:
    """x[batch, ?, 4] (+ mask[2]) -> Identity / Q-DQ -> y; an initializer 'w'."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", None, 4])
    mask = helper.make_tensor_value_info("mask", TensorProto.INT64, [2])
    w = numpy_helper.from_array(np.ones(4, np.float32), "w")
    inputs = [x, mask]
    if weights_as_input:  # old exporters list weights as graph inputs too
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [4]))
    if qdq:
        scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
        zero = numpy_helper.from_array(np.array(0, np.int8), "z")
        nodes = [helper.make_node("Mul", ["x", "w"], ["m"]),
                 helper.make_node("QuantizeLinear", ["m", "s", "z"], ["q"]),
                 helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
        inits = [w, scale, zero]
    else:
        nodes = [helper.make_node("Mul", ["x", "w"], ["y"])]
        inits = [w]
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                              producer_name="unit", producer_version="1")
    onnx.helper.set_model_props(model, {"trtc.quantize.target": "tensorrt"})
    onnx.save(model, str(path))
    return path


def test_inputs_outputs_dtypes_and_named_dims(tmp_path: Path) -> None:
    io = read_model_io(_model(tmp_path / "m.onnx"))
    assert io.inputs == (TensorInfo("x", "float32", ("batch", "?", 4)),
                         TensorInfo("mask", "int64", (2,)))
    assert io.outputs == (TensorInfo("y", "float32", ()),)  # no rank declared
    assert io.output_names == ["y"]
    assert io.input_specs() == {"x": ("float32", ("batch", "?", 4)), "mask": ("int64", (2,))}
    # TensorRT's view: every dynamic dim has a name
    assert io.input_specs(named=True)["x"] == ("float32", ("batch", "dim1", 4))
    assert io.io_specs() == (io.input_specs(), ["y"])
    assert io.producer == "unit 1"


def test_initializers_listed_as_inputs_are_left_out(tmp_path: Path) -> None:
    io = read_model_io(_model(tmp_path / "m.onnx", weights_as_input=True))
    assert [t.name for t in io.inputs] == ["x", "mask"]


def test_metadata_qdq_and_opset(tmp_path: Path) -> None:
    plain = read_model_io(_model(tmp_path / "a.onnx"))
    assert plain.metadata == {"trtc.quantize.target": "tensorrt"}
    assert plain.has_qdq is False and plain.opset == 17
    q = read_model_io(_model(tmp_path / "q.onnx", qdq=True,
                             opsets=(("com.microsoft", 1), ("ai.onnx", 19))))
    assert q.has_qdq is True
    assert q.opset == 19  # the default domain's, by either name; others ignored


def test_model_in_memory_matches_the_file(tmp_path: Path) -> None:
    path = _model(tmp_path / "m.onnx")
    assert model_io(onnx.load(str(path)), str(path)) == read_model_io(path)


def test_unreadable_files_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        read_model_io(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a protobuf\xff" * 4)
    with pytest.raises(ModelError):
        read_model_io(junk)
    assert read_opset(junk) == 0  # the preview reads 0; the build names the problem
    assert read_opset(_model(tmp_path / "m.onnx")) == 17


def test_named_shape_treats_zero_and_unknown_as_dynamic() -> None:
    assert TensorInfo("t", "float32", (0, "?", "n", 3)).named_shape() == ("dim0", "dim1", "n", 3)
