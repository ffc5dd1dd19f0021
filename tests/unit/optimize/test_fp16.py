"""Tests for trtc.optimize.fp16: FP16/BF16 graphs run for real (ONNX Runtime, onnx.reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from trtc.errors import ModelError, UsageError
from trtc.optimize.fp16 import FP16_MAX, KeptNode, convert_float, default_block_ops

FLOAT, HALF, BF16 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16


def _run(model: onnx.ModelProto, **feed: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)  # type: ignore[return-value]


def _io_types(model: onnx.ModelProto) -> list[int]:
    return [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)]


def _tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor in the model, by name (after type inference)."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*g.input, *g.output, *g.value_info)}
    types.update({t.name: t.data_type for t in g.initializer})
    return types


def _node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


@pytest.fixture
def conv(conv_onnx: Path) -> onnx.ModelProto:
    """conftest's tiny Conv -> Relu -> Flatten -> Gemm model, opset 17."""
    return onnx.load(conv_onnx)


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)


def _scale_model(k1: float, k2: float = 1e-4, opset: int = 17) -> onnx.ModelProto:
    """x[n,4] -> Mul(k1) -> m -> Mul(k2) -> s -> Add(1) -> y (m overflows fp16 past 65504)."""
    inits = [numpy_helper.from_array(np.full(4, v, np.float32), n)
             for n, v in (("k1", k1), ("k2", k2), ("one", 1.0))]
    nodes = [helper.make_node("Mul", ["x", "k1"], ["m"], name="big"),
             helper.make_node("Mul", ["m", "k2"], ["s"], name="small"),
             helper.make_node("Add", ["s", "one"], ["y"], name="add")]
    graph = helper.make_graph(nodes, "scale", [helper.make_tensor_value_info("x", FLOAT, ["n", 4])],
                              [helper.make_tensor_value_info("y", FLOAT, ["n", 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


# --------------------------------------------------------------------------- fp16


def test_fp16_keeps_io_float32_converts_weights_and_stays_close(conv: onnx.ModelProto,
                                                                 x: np.ndarray) -> None:
    before = conv.SerializeToString()
    half, kept = convert_float(conv, "fp16")
    assert conv.SerializeToString() == before  # the input model is not modified
    onnx.checker.check_model(half, full_check=True)
    assert kept == [] and _io_types(half) == [FLOAT, FLOAT]
    assert {t.name: t.data_type for t in half.graph.initializer} == dict.fromkeys(
        ["w", "b", "fc", "fcb"], HALF)
    assert _tensor_types(half)["c"] == HALF  # the Conv really runs in fp16
    (ref,), (got,) = _run(conv, x=x), _run(half, x=x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-2, atol=1e-2)
    assert not np.array_equal(got, ref)  # it did change precision


def test_fp16_without_keeping_io_types(conv: onnx.ModelProto, x: np.ndarray) -> None:
    half, _ = convert_float(conv, "fp16", keep_io_types=False)
    assert _io_types(half) == [HALF, HALF]
    (got,) = _run(half, x=x.astype(np.float16))
    np.testing.assert_allclose(got.astype(np.float32), _run(conv, x=x)[0], rtol=1e-2, atol=1e-2)


def test_block_lists_by_op_and_by_name(conv: onnx.ModelProto, x: np.ndarray) -> None:
    half, kept = convert_float(conv, "fp16", block_ops=("Relu",), block_nodes=("fc",))
    assert kept == [KeptNode("relu", "Relu", "op type Relu blocked"),
                    KeptNode("fc", "Gemm", "blocked by name")]
    types = _tensor_types(half)
    assert types["c"] == HALF and types["fc"] == FLOAT and types["fcb"] == FLOAT
    relu = _node(half, "relu")
    assert types[relu.input[0]] == FLOAT and types[relu.output[0]] == FLOAT
    np.testing.assert_allclose(_run(half, x=x)[0], _run(conv, x=x)[0], rtol=1e-2, atol=1e-2)


def test_default_block_list_keeps_topk_fp32() -> None:
    assert "TopK" in default_block_ops()
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("TopK", ["r", "k"], ["values", "indices"], name="topk", axis=1)]
    graph = helper.make_graph(
        nodes, "topk", [helper.make_tensor_value_info("x", FLOAT, [1, 6])],
        [helper.make_tensor_value_info("values", FLOAT, [1, 2]),
         helper.make_tensor_value_info("indices", TensorProto.INT64, [1, 2])],
        [numpy_helper.from_array(np.array([2], np.int64), "k")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    half, kept = convert_float(model, "fp16")
    assert kept == [KeptNode("topk", "TopK", "op type TopK is on the default fp16 block list")]
    assert _tensor_types(half)["r"] == HALF
    x = np.array([[3.0, -1.0, 7.5, 2.0, 0.5, 9.25]], np.float32)
    values, indices = _run(half, x=x)
    np.testing.assert_array_equal(values, [[9.25, 7.5]])
    np.testing.assert_array_equal(indices, [[5, 2]])


def test_unknown_block_node_names_a_close_match(conv: onnx.ModelProto) -> None:
    with pytest.raises(UsageError) as exc:
        convert_float(conv, "fp16", block_nodes=("rleu",))
    assert str(exc.value) == "block_nodes: the model has no node named 'rleu'"
    assert "'relu'" in str(exc.value.hint)


def test_unnamed_nodes_get_names_that_block_lists_can_use() -> None:
    model = _scale_model(2.0)
    for node in model.graph.node:
        node.name = ""
    _, kept = convert_float(model, "fp16", block_nodes=("Mul_1",))
    assert kept == [KeptNode("Mul_1", "Mul", "blocked by name")]


def test_calibrated_overflow_keeps_nodes_fp32_and_says_why() -> None:
    model = _scale_model(3e4)
    x = np.array([[0.5, 2.0, 5.0, 10.0]], np.float32)
    m = x * 3e4  # up to 3e5: beyond fp16
    naive, naive_kept = convert_float(model, "fp16")
    # What it prevents: in true fp16 arithmetic (onnx.reference; ORT's CPU runs these
    # elementwise fp16 ops through fp32) m overflows to inf.
    assert naive_kept == [] and _tensor_types(naive)["m"] == HALF
    with np.errstate(over="ignore"):
        assert not np.isfinite(ReferenceEvaluator(naive).run(None, {"x": x})[0]).all()
    ranges = {"x": (0.0, 10.0), "m": (float(m.min()), float(m.max())), "s": (0.0, 30.0)}
    half, kept = convert_float(model, "fp16", ranges=ranges)
    reason = "calibrated range 3e+05 of 'm' exceeds fp16 max 65504"
    assert kept == [KeptNode("big", "Mul", reason), KeptNode("small", "Mul", reason)]
    types = _tensor_types(half)
    big, small = _node(half, "big"), _node(half, "small")
    assert small.input[0] == big.output[0]  # m stays fp32 between them, no Casts
    assert types[big.output[0]] == FLOAT and types["k1"] == FLOAT and types["one"] == HALF
    for got in (_run(half, x=x)[0], ReferenceEvaluator(half).run(None, {"x": x})[0]):
        np.testing.assert_allclose(got, _run(model, x=x)[0], rtol=1e-3)


def test_measured_peaks_are_the_node_outputs_nearest_fp16s_max() -> None:
    """What the overflow rule decided on, for the report (measured, not guessed)."""
    from trtc.optimize.fp16 import measured_peaks

    ranges = {"x": (0.0, 10.0), "m": (-3e5, 1.0), "s": (0.0, 30.0), "y": (1.0, float("inf"))}
    measured, top = measured_peaks(_scale_model(3e4), ranges, top=2)
    assert measured == 2  # m and s; x is no node's output, y's range is not finite
    assert [(p.tensor, p.node, p.op_type, p.peak) for p in top] == \
        [("m", "big", "Mul", 3e5), ("s", "small", "Mul", 30.0)]
    assert top[0].headroom < 1 < top[1].headroom == pytest.approx(65504 / 30)
    assert top[1].to_dict()["headroom"] == round(65504 / 30, 2)


def test_overflowing_graph_input_is_read_directly_not_through_fp16() -> None:
    model = _scale_model(1.0, k2=1e-2)
    x = np.array([[7e4, 1e5, -2e5, 1.0]], np.float32)
    half, kept = convert_float(model, "fp16", ranges={"x": (-2e5, 1e5), "m": (-2e5, 1e5)})
    assert [k.name for k in kept] == ["big", "small"]
    assert list(_node(half, "big").input) == ["x", "k1"]  # no lossy fp32 -> fp16 -> fp32 trip
    for got in (_run(half, x=x)[0], ReferenceEvaluator(half).run(None, {"x": x})[0]):
        np.testing.assert_allclose(got, _run(model, x=x)[0], rtol=1e-3)


def test_overflowing_constant_stays_fp32() -> None:
    model = _scale_model(1e5, k2=1e-5)
    half, kept = convert_float(model, "fp16")
    assert kept == [KeptNode("big", "Mul", "constant 'k1' holds 1e+05, beyond fp16 max 65504")]
    k1 = next(t for t in half.graph.initializer if t.name == "k1")
    assert k1.data_type == FLOAT and numpy_helper.to_array(k1)[0] == 1e5
    x = np.array([[0.1, 0.2, 0.3, 0.4]], np.float32)
    np.testing.assert_allclose(_run(half, x=x)[0], _run(model, x=x)[0], rtol=1e-3)


def test_kept_graph_output_has_no_round_trip() -> None:
    model = _scale_model(1.0, k2=1e5)  # s = y - 1 reaches 1e5 at the output
    x = np.array([[0.7, 0.8, 0.9, 1.0]], np.float32)
    half, kept = convert_float(model, "fp16", ranges={"s": (7e4, 1e5), "y": (7e4, 1e5)})
    assert {k.name for k in kept} == {"small", "add"}
    assert _node(half, "graph_output_cast0").op_type == "Identity"  # was fp32->fp16->fp32
    (got,) = ReferenceEvaluator(half).run(None, {"x": x})
    assert np.isfinite(got).all() and got.max() > FP16_MAX
    np.testing.assert_allclose(got, _run(model, x=x)[0], rtol=1e-3)


def test_unknown_precision(conv: onnx.ModelProto) -> None:
    with pytest.raises(UsageError, match="fp16 or bf16"):
        convert_float(conv, "int8")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- bf16


def _mlp(w_peak: float = 0.5) -> onnx.ModelProto:
    """x[n,8] -> MatMul(w) -> Add(b) -> Relu -> y[n,4] (MatMul/Add/Relu accept bf16 at opset 17)."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((8, 4)) * 0.3).astype(np.float32)
    w[0, 0] = w_peak
    b = rng.standard_normal(4).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul"),
             helper.make_node("Add", ["h", "b"], ["a"], name="bias"),
             helper.make_node("Relu", ["a"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", FLOAT, ["n", 8])],
                              [helper.make_tensor_value_info("y", FLOAT, ["n", 4])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_bf16_initializers_types_and_reference_outputs() -> None:
    import ml_dtypes

    model = _mlp(w_peak=1e5)  # beyond fp16, fine in bf16: nothing clamped, nothing kept
    bf16, kept = convert_float(model, "bf16")
    onnx.checker.check_model(bf16, full_check=True)
    assert kept == [] and _io_types(bf16) == [FLOAT, FLOAT]
    inits = {t.name: t for t in bf16.graph.initializer}
    assert {t.data_type for t in inits.values()} == {BF16}
    w = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "w"))
    np.testing.assert_array_equal(numpy_helper.to_array(inits["w"]),
                                  w.astype(ml_dtypes.bfloat16))
    assert float(numpy_helper.to_array(inits["w"])[0, 0]) == pytest.approx(1e5, rel=1e-2)
    assert _tensor_types(bf16)["h"] == BF16
    assert {n.op_type for n in bf16.graph.node} == {"Cast", "MatMul", "Add", "Relu"}
    x = np.random.default_rng(2).random((3, 8), dtype=np.float32) * 1e-4
    (got,) = ReferenceEvaluator(bf16).run(None, {"x": x})
    (ref,) = _run(model, x=x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=2e-2, atol=2e-2)


def test_bf16_keeps_ops_the_opset_does_not_allow_in_bf16(conv: onnx.ModelProto) -> None:
    bf16, kept = convert_float(conv, "bf16")
    assert kept == [KeptNode("conv", "Conv", "Conv at opset 17 does not accept bf16 "
                                             "(opset 22 does: re-export with it)")]
    types = _tensor_types(bf16)
    conv_out = _node(bf16, "conv").output[0]
    assert types["w"] == FLOAT and types[conv_out] == FLOAT and types["fc"] == BF16
    new = onnx.ModelProto()
    new.CopyFrom(conv)
    new.opset_import[0].version = 22  # same semantics for these ops; Conv-22 takes bf16
    bf16_22, kept_22 = convert_float(new, "bf16")
    assert kept_22 == [] and _tensor_types(bf16_22)["w"] == BF16


def test_bf16_ignores_fp16_overflow_and_refuses_half_models() -> None:
    _, kept = convert_float(_scale_model(3e4), "bf16", ranges={"m": (0.0, 3e5)})
    assert kept == []
    half, _ = convert_float(_scale_model(2.0), "fp16")
    with pytest.raises(ModelError, match="already holds a 16-bit float tensor"):
        convert_float(half, "bf16")


def test_a_repeated_converter_cast_is_dropped_so_the_graph_stays_ssa() -> None:
    """G12: an ONNX Runtime converter that casts a tensor once per reader writes the same
    Cast output twice; the checker refuses such a graph, so the repeat is dropped."""
    from trtc.optimize.fp16 import remove_duplicate_casts

    cast = dict(inputs=["c"], outputs=["c_cast_to_fp32"], name="c_cast_to_fp32_node", to=FLOAT)
    nodes = [helper.make_node("Cast", **cast), helper.make_node("Cast", **cast),
             helper.make_node("Add", ["x", "c_cast_to_fp32"], ["a"], name="add"),
             helper.make_node("Mul", ["a", "c_cast_to_fp32"], ["y"], name="mul")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", FLOAT, [2])],
        [helper.make_tensor_value_info("y", FLOAT, [2])],
        [numpy_helper.from_array(np.array([1.5, 2.0], np.float16), "c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(onnx.checker.ValidationError, match="SSA|multiple times"):
        onnx.checker.check_model(model, full_check=True)
    remove_duplicate_casts(model)
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Cast", "Add", "Mul"]
    (y,) = _run(model, x=np.array([1.0, 1.0], np.float32))
    assert y.tolist() == [3.75, 6.0]
