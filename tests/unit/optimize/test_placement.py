"""Q/DQ placement rules, on generated graphs (no calibration, no ONNX Runtime session)."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from trtc.errors import ModelError
from trtc.optimize.quantize.placement import (
    check_quantizable,
    plan_placement,
    reading_empty,
    shape_nodes,
)
from trtc.optimize.surgery import remove_dead_nodes

from .test_quantize import make_residual_model
from .test_quantize_inputs import make_upsampling_model


def test_tensorrt_placement_keeps_the_residual_conv_branch_float(tmp_path: Path) -> None:
    model = onnx.load(str(make_residual_model(tmp_path / "r.onnx")))
    placement = plan_placement(model, "tensorrt")
    assert placement.nodes == ("conv1", "conv2", "add", "fc")
    assert placement.float_add_inputs == {"add": 0}        # c2, conv2's own output
    assert placement.op_types == ("Conv", "ConvTranspose", "Gemm", "MatMul", "Add")


def test_without_narrows_a_placement_and_keeps_what_it_excluded(tmp_path: Path) -> None:
    model = onnx.load(str(make_residual_model(tmp_path / "r.onnx")))
    placement = plan_placement(model, "tensorrt", exclude_nodes=("fc",))
    narrowed = placement.without(["add", "fc"])
    assert narrowed.nodes == ("conv1", "conv2") and narrowed.float_add_inputs == {}
    assert narrowed.excluded == ("fc", "add")
    assert placement.without([]) is placement
    with pytest.raises(ModelError, match="no quantizable nodes"):
        check_quantizable(model, narrowed.without(["conv1", "conv2"]), "tensorrt")


def test_shape_computations_and_empty_tensors_are_found(tmp_path: Path) -> None:
    model = onnx.load(str(make_upsampling_model(tmp_path / "u.onnx")))
    assert shape_nodes(model) == {"shape", "slice_hw", "slice_nc", "cast_hw", "mul_hw",
                                  "add_hw", "cast_back", "sizes"}
    placement = plan_placement(model, "onnxruntime-cpu")
    assert "resize" in placement.nodes and "mul_hw" not in placement.nodes
    # A Resize's roi is a parameter: an empty one does not take the Resize out.
    assert reading_empty(model, placement, ["roi"]) == []
    # Its data input (and the Relu writing it) are quantized: an empty one takes both out.
    assert reading_empty(model, placement, ["r"]) == ["relu", "resize"]


def test_remove_dead_nodes_keeps_the_model_fields(tmp_path: Path) -> None:
    model = onnx.load(str(make_residual_model(tmp_path / "r.onnx")))
    onnx.helper.set_model_props(model, {"trtc.keep": "yes"})
    model.graph.node.append(onnx.helper.make_node("Relu", ["x"], ["unused"], name="dead"))
    remove_dead_nodes(model)
    assert "dead" not in {n.name for n in model.graph.node}
    assert {p.key: p.value for p in model.metadata_props} == {"trtc.keep": "yes"}
    assert model.opset_import[0].version == 17


def _fpn_model(path: Path) -> Path:
    """ppocr_det's neck in small: conv0 feeds a quantized conv1 and Resize up (sharing
    one Q/DQ); add reads up and conv2; up2 and conv3 go into a Concat read by conv4."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = [numpy_helper.from_array(rng.standard_normal((4, c, 1, 1)).astype(np.float32), f"w{i}")
         for i, c in enumerate((3, 4, 4, 4, 8))]
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], name="conv0"),
             helper.make_node("Conv", ["c0", "w1"], ["c1"], name="conv1"),
             helper.make_node("Resize", ["c0", "", "scales"], ["u"], name="up", mode="nearest"),
             helper.make_node("Conv", ["x_up", "w2"], ["c2"], name="conv2"),
             helper.make_node("Add", ["u", "c2"], ["a"], name="add"),
             helper.make_node("Resize", ["c1", "", "scales"], ["u2"], name="up2",
                              mode="nearest"),
             helper.make_node("Conv", ["a", "w3"], ["c3"], name="conv3"),
             helper.make_node("Concat", ["u2", "c3"], ["cat"], name="cat", axis=1),
             helper.make_node("Conv", ["cat", "w4"], ["y"], name="conv4")]
    graph = helper.make_graph(
        nodes, "fpn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4]),
                       helper.make_tensor_value_info("x_up", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [*w, scales])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_an_excluded_resize_keeps_its_readers_and_those_past_a_concat_in_float(
        tmp_path: Path) -> None:
    # TensorRT moves Q/DQ across a Resize, and a Concat reader's Q across the Concat: ppocr_det
    # failed "no implementation for p2o.Resize.0", then "incorrectly marked as an int8 node".
    from trtc.optimize.quantize import quantize_model
    from trtc.recipe import QuantizeSpec

    src = _fpn_model(tmp_path / "fpn.onnx")
    model = onnx.load(str(src))
    placement = plan_placement(model, "tensorrt", ["up", "up2"])
    assert placement.implied == ("add", "cat", "conv4")
    assert "conv4" not in placement.nodes and "conv1" in placement.nodes
    assert plan_placement(model, "onnxruntime-cpu", ["up"]).implied == ()
    # A Concat excluded already (ppocr_det's retry) is still crossed to its Conv reader.
    crossed = plan_placement(model, "tensorrt", ["up", "up2", "cat"])
    assert crossed.implied == ("add", "conv4")
    assert set(crossed.excluded) == {"up", "up2", "cat", "add", "conv4"}
    report = quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(
        enabled=True, precision="int8", target="tensorrt", calib_data="random",
        calib_samples=4, exclude_nodes=("up", "up2")))
    assert any("add, cat, conv4 kept in float" in w for w in report.warnings)
    q = onnx.load(str(tmp_path / "q.onnx")).graph
    producer = {o: n.op_type for n in q.node for o in n.output}
    readers: dict[str, list[str]] = {}
    for n in q.node:
        for i in n.input:
            readers.setdefault(i, []).append(n.op_type)
    by_name = {n.name: n for n in q.node}
    for name in ("up", "up2", "add", "cat"):
        # float in (no DequantizeLinear: conv0's Q/DQ shared with conv1 is bypassed)
        assert all(producer.get(i) != "DequantizeLinear" for i in by_name[name].input if i)
    for name in ("up", "up2", "cat"):  # no Q to move back across them (add's may stay)
        assert "QuantizeLinear" not in readers.get(by_name[name].output[0], []), name
    assert any(producer.get(i) == "DequantizeLinear" for i in by_name["conv1"].input)
