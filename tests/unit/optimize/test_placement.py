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
