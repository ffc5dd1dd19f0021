"""Placeholder dim names ('?', 'unk__3', ...) become unique; real names are kept."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from trtc.graph.dims import for_tensorrt, is_placeholder, static_shapes, unique_dim_names
from trtc.tensorrt.profiles import ProfileSpec


def _model(*inputs: tuple[str, list[int | str]]) -> onnx.ModelProto:
    vis = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, inputs[0][1])
    node = helper.make_node("Identity", [inputs[0][0]], ["y"])
    return helper.make_model(helper.make_graph([node], "g", vis, [out]))


def _dims(model: onnx.ModelProto, name: str) -> list[int | str]:
    vi = next(v for v in model.graph.input if v.name == name)
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def test_paddle_question_marks_become_batch_and_per_axis_names() -> None:
    model = _model(("x", ["?", 3, "?", "?"]))
    renamed = unique_dim_names(model)
    assert _dims(model, "x") == ["batch", 3, "x_dim2", "x_dim3"]
    assert renamed == ["x[0]: '?' -> batch", "x[2]: '?' -> x_dim2", "x[3]: '?' -> x_dim3"]
    onnx.checker.check_model(model)


def test_real_names_are_kept_and_batch_is_not_reused_for_another_axis() -> None:
    model = _model(("ids", ["batch", "seq"]), ("img", ["unk__7", 3, "?", "batch"]))
    unique_dim_names(model)
    assert _dims(model, "ids") == ["batch", "seq"]
    # 'batch' is a real name here, so the placeholder on img's axis 0 gets its own name
    assert _dims(model, "img") == ["img_dim0", 3, "img_dim2", "batch"]


def test_two_inputs_share_the_batch_name_only() -> None:
    model = _model(("a", ["?", "?"]), ("b", ["?", "?"]))
    unique_dim_names(model)
    assert _dims(model, "a") == ["batch", "a_dim1"]
    assert _dims(model, "b") == ["batch", "b_dim1"]


def test_static_and_named_models_are_untouched() -> None:
    model = _model(("x", [1, 3, 224, 224]))
    assert unique_dim_names(model) == []
    model = _model(("x", ["N", 3, "H", "W"]))
    assert unique_dim_names(model) == []
    assert _dims(model, "x") == ["N", 3, "H", "W"]


def test_placeholder_names() -> None:
    for name in ("?", "??", "None", "-1", "unk__12", "DynamicDimension.3", "unknown"):
        assert is_placeholder(name), name
    for name in ("batch", "N", "seq_len", "height", "dim_0", "?x"):
        assert not is_placeholder(name), name


def test_negative_dim_values_are_anonymous_dims_too() -> None:
    # Paddle2ONNX writes dim_value -1 for the batch (invalid ONNX, read as dynamic).
    model = _model(("x", [1, 3, "?", "?"]))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -1
    renamed = unique_dim_names(model)
    assert _dims(model, "x") == ["batch", 3, "x_dim2", "x_dim3"]
    assert renamed[0] == "x[0]: -1 -> batch"


# ------------------------------------------------------------- shape-dependent If nodes

def _squeeze_if_model(path: Path) -> Path:
    """PyTorch's export of ``x.squeeze(0)`` on a dynamic dim: If(Shape(x)[0] == 1) whose
    branches have different ranks (TensorRT 8.6 cannot build it)."""
    then_out = helper.make_tensor_value_info("t", TensorProto.FLOAT, None)
    else_out = helper.make_tensor_value_info("e", TensorProto.FLOAT, None)
    then_g = helper.make_graph(
        [helper.make_node("Squeeze", ["x", "axes"], ["t"])], "then", [], [then_out],
        [helper.make_tensor("axes", TensorProto.INT64, [1], [0])])
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                               [else_out])
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["d0"], axis=0),
             helper.make_node("Equal", ["d0", "one"], ["c"]),
             helper.make_node("If", ["c"], ["y0"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Relu", ["y0"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("zero", TensorProto.INT64, [], [0]),
         helper.make_tensor("one", TensorProto.INT64, [], [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_static_profile_folds_the_squeeze_if_and_keeps_the_result(tmp_path: Path) -> None:
    import numpy as np
    import onnxruntime as ort

    src = _squeeze_if_model(tmp_path / "sq.onnx")
    (tmp_path / "out").mkdir()
    out, notes = for_tensorrt(src, tmp_path / "out", {"x": (1, 4)})
    assert out != src and any("1 shape-dependent If node(s) folded" in n for n in notes)
    folded = onnx.load(str(out))
    assert not [n for n in folded.graph.node if n.op_type == "If"]
    x = np.random.default_rng(0).standard_normal((1, 4)).astype(np.float32)
    want = ort.InferenceSession(str(src)).run(None, {"x": x})[0]
    got = ort.InferenceSession(str(out)).run(None, {"x": x})[0]
    assert got.shape == want.shape == (4,)
    np.testing.assert_array_equal(got, want)


def test_a_dynamic_profile_leaves_the_if_alone(tmp_path: Path) -> None:
    src = _squeeze_if_model(tmp_path / "sq.onnx")
    assert for_tensorrt(src, tmp_path, None) == (src, [])
    profile = ProfileSpec({"x": ((1, 4), (8, 4), (8, 4))})
    assert static_shapes([profile]) is None
    assert static_shapes([ProfileSpec({"x": ((2, 4), (2, 4), (2, 4))})]) == {"x": (2, 4)}
    assert static_shapes([]) is None
