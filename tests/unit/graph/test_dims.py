"""Placeholder dim names ('?', 'unk__3', ...) become unique; real names are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

from trtc.graph.dims import for_tensorrt, is_placeholder, pinned_dims, unique_dim_names
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

def _squeeze_if_model(path: Path, axis: int = 0, dims: tuple[Any, ...] = ("batch", 4)
                      ) -> Path:
    """PyTorch's export of ``x.squeeze(axis)`` on a dynamic dim: If(Shape(x)[axis] == 1)
    whose branches have different ranks (TensorRT 8.6 cannot build it)."""
    then_out = helper.make_tensor_value_info("t", TensorProto.FLOAT, None)
    else_out = helper.make_tensor_value_info("e", TensorProto.FLOAT, None)
    then_g = helper.make_graph(
        [helper.make_node("Squeeze", ["x", "axes"], ["t"])], "then", [], [then_out],
        [helper.make_tensor("axes", TensorProto.INT64, [1], [axis])])
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                               [else_out])
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "index"], ["d0"], axis=0),
             helper.make_node("Equal", ["d0", "one"], ["c"]),
             helper.make_node("If", ["c"], ["y0"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Relu", ["y0"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("index", TensorProto.INT64, [], [axis]),
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
    assert pinned_dims([profile]) == {"x": (None, 4)}
    assert for_tensorrt(src, tmp_path, pinned_dims([profile])) == (src, [])
    assert pinned_dims([ProfileSpec({"x": ((2, 4), (2, 4), (2, 4))})]) == {"x": (2, 4)}
    # Two profiles pin a dim only where they agree.
    two = [ProfileSpec({"x": ((2, 4), (2, 4), (2, 4))}), ProfileSpec({"x": ((3, 4),) * 3})]
    assert pinned_dims(two) == {"x": (None, 4)}
    assert pinned_dims([]) == {}


def test_an_if_on_a_dim_the_dynamic_batch_profile_pins_is_folded(tmp_path: Path) -> None:
    """Silero VAD's If(Shape(frames)[-1] == 1): the batch varies, the frame count does not."""
    import numpy as np
    import onnxruntime as ort

    src = _squeeze_if_model(tmp_path / "sq.onnx", axis=1, dims=("batch", "frames"))
    (tmp_path / "out").mkdir()
    for frames, want_shape in ((1, (3,)), (5, (3, 5))):
        profile = ProfileSpec({"x": ((1, frames), (4, frames), (8, frames))})
        out, notes = for_tensorrt(src, tmp_path / "out", pinned_dims([profile]))
        assert any("1 shape-dependent If node(s) folded" in n for n in notes), notes
        folded = onnx.load(str(out))
        assert not [n for n in folded.graph.node if n.op_type == "If"]
        dims = folded.graph.input[0].type.tensor_type.shape.dim
        assert (dims[0].dim_param, dims[1].dim_value) == ("batch", frames)  # batch stays
        x = np.random.default_rng(0).standard_normal((3, frames)).astype(np.float32)
        got = ort.InferenceSession(str(out)).run(None, {"x": x})[0]
        np.testing.assert_array_equal(
            got, ort.InferenceSession(str(src)).run(None, {"x": x})[0])
        assert got.shape == want_shape


def test_an_if_on_a_dim_the_model_fixes_is_folded_without_a_profile(tmp_path: Path) -> None:
    """Silero's If(Shape(state)[0] ...): state is 2 x batch x 128 in the model itself."""
    src = _squeeze_if_model(tmp_path / "sq.onnx", axis=0, dims=(2, "batch"))
    (tmp_path / "out").mkdir()
    out, notes = for_tensorrt(src, tmp_path / "out", None)
    assert out != src and any("If node(s) folded" in n for n in notes)
    assert not [n for n in onnx.load(str(out)).graph.node if n.op_type == "If"]


def test_an_inlined_branch_whose_output_is_a_constant_stays_a_valid_graph(tmp_path: Path
                                                                           ) -> None:
    """A branch output that folds to a constant has no producer in the branch:
    onnx-graphsurgeon's own flattening left the If's output dangling (an invalid model,
    seen on Silero VAD's LSTM); trtc inlines it through an Identity."""
    import numpy as np
    import onnxruntime as ort

    then_g = helper.make_graph(
        [helper.make_node("Constant", [], ["t"], value=helper.make_tensor(
            "v", TensorProto.FLOAT, [1], [0.5]))], "then", [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Size", ["s"], ["rank"]),  # the rank: 2, known in the model
             helper.make_node("Equal", ["rank", "two"], ["c"]),
             helper.make_node("If", ["c"], ["y0"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Add", ["y0", "x"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("two", TensorProto.INT64, [], [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    src = tmp_path / "c.onnx"
    onnx.save(model, str(src))
    (tmp_path / "out").mkdir()
    out, notes = for_tensorrt(src, tmp_path / "out", None)  # nothing pinned: rank suffices
    assert any("1 shape-dependent If node(s) folded" in n for n in notes), notes
    folded = onnx.load(str(out))
    onnx.checker.check_model(folded, full_check=True)
    assert [n.op_type for n in folded.graph.node] == ["Add"]  # Identity(0.5) folded too
    x = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    np.testing.assert_array_equal(ort.InferenceSession(str(out)).run(None, {"x": x})[0], x + 0.5)
