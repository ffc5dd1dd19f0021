"""Placeholder dim names ('?', 'unk__3', ...) become unique; real names are kept."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from trtc.graph.dims import is_placeholder, unique_dim_names


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
