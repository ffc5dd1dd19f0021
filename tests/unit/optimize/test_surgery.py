"""Topological sort of the converted graphs, subgraph (If) reads included."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from trtc.errors import ModelError
from trtc.optimize.surgery import toposort


def _if_model(order: str) -> onnx.ModelProto:
    """x -> Relu -> r; an If whose branches read r from the outer scope (as Silero VAD's do)."""
    then_g = helper.make_graph([helper.make_node("Identity", ["r"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["r"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    relu = helper.make_node("Relu", ["x"], ["r"], name="relu")
    branch = helper.make_node("If", ["c"], ["y"], name="if", then_branch=then_g,
                              else_branch=else_g)
    nodes = [branch, relu] if order == "if-first" else [relu, branch]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                     helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_an_if_waits_for_the_outer_tensors_its_branches_read() -> None:
    model = _if_model("if-first")
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(model)
    toposort(model)
    assert [n.name for n in model.graph.node] == ["relu", "if"]
    onnx.checker.check_model(model)


def test_a_sorted_graph_keeps_its_order() -> None:
    model = _if_model("sorted")
    toposort(model)
    assert [n.name for n in model.graph.node] == ["relu", "if"]


def test_a_tensor_nothing_produces_is_a_model_error() -> None:
    model = _if_model("sorted")
    del model.graph.node[0]  # the Relu that made r
    with pytest.raises(ModelError, match="reads 'r'"):
        toposort(model)
