"""Tests for trtc.graph.inspect: every expected number below is worked out by hand."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.errors import ModelError, UsageError
from trtc.graph.inspect import ModelSummary, TensorInfo, summarize_model

FLOAT = TensorProto.FLOAT
OPSET = 17


def _weight(name: str, shape: Sequence[int]) -> TensorProto:
    """Return a float32 initializer filled with ones."""
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def _save(
    tmp_path: Path,
    name: str,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: Sequence[TensorProto] = (),
    check: bool = True,
) -> Path:
    """Build a model around the nodes, save it under tmp_path and return its path.

    ``check`` runs the ONNX checker, which rejects graph inputs/outputs without a
    shape; pass False to build such (still loadable) models.
    """
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="unit-test",
        producer_version="0.1",
    )
    if check:
        onnx.checker.check_model(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _conv_model(tmp_path: Path, batch: int | str, name: str = "conv") -> Path:
    """Conv 3 -> 4 channels, 3x3 kernel, pad 1, on an 8x8 image, with bias."""
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1] * 4)
    return _save(
        tmp_path,
        name,
        [node],
        [helper.make_tensor_value_info("x", FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", FLOAT, [batch, 4, 8, 8])],
        [_weight("w", [4, 3, 3, 3]), _weight("b", [4])],
    )


# Conv 1x3x8x8 -> 1x4x8x8, k3: output has 1*4*8*8 = 256 elements, each a dot product
# of C_in * k * k = 3 * 3 * 3 = 27 multiply-adds -> 2 * 256 * 27 = 13824 FLOPs.
CONV_FLOPS_BATCH1 = 13824


@pytest.fixture
def conv_path(tmp_path: Path) -> Path:
    return _conv_model(tmp_path, batch=1)


@pytest.fixture
def dynamic_conv_path(tmp_path: Path) -> Path:
    return _conv_model(tmp_path, batch="batch", name="conv_dynamic")


@pytest.fixture
def grouped_conv_path(tmp_path: Path) -> Path:
    """Conv 4 -> 8 channels with group=4, so every output channel sees 4/4 = 1 input channel."""
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1] * 4, group=4)
    return _save(
        tmp_path,
        "grouped",
        [node],
        [helper.make_tensor_value_info("x", FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", FLOAT, [1, 8, 8, 8])],
        [_weight("w", [8, 1, 3, 3])],
    )


@pytest.fixture
def gemm_path(tmp_path: Path) -> Path:
    """Gemm A[2,5] @ B^T with B stored as [3,5] (transB=1), plus bias C[3]."""
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1)
    return _save(
        tmp_path,
        "gemm",
        [node],
        [helper.make_tensor_value_info("a", FLOAT, [2, 5])],
        [helper.make_tensor_value_info("y", FLOAT, [2, 3])],
        [_weight("b", [3, 5]), _weight("c", [3])],
    )


def _matmul_model(tmp_path: Path, name: str, a: list, b: list, y: list) -> Path:
    """MatMul of two graph inputs with the given shapes."""
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    return _save(
        tmp_path,
        name,
        [node],
        [
            helper.make_tensor_value_info("a", FLOAT, a),
            helper.make_tensor_value_info("b", FLOAT, b),
        ],
        [helper.make_tensor_value_info("y", FLOAT, y)],
    )


# --- FLOPs ---------------------------------------------------------------------------


def test_conv_flops(conv_path: Path) -> None:
    summary = summarize_model(conv_path)
    assert summary.flops == CONV_FLOPS_BATCH1
    assert summary.flops_by_op == {"Conv": CONV_FLOPS_BATCH1}
    assert "all input dims static" in summary.flops_note


def test_grouped_conv_divides_input_channels_by_groups(grouped_conv_path: Path) -> None:
    # Output 1*8*8*8 = 512 elements, each over (4/4) * 3 * 3 = 9 MACs -> 2 * 512 * 9 = 9216.
    # (Ignoring groups would give 2 * 512 * 4 * 9 = 36864.)
    assert summarize_model(grouped_conv_path).flops == 9216


def test_conv_with_large_weight(tmp_path: Path) -> None:
    # W is 32*16*3*3 = 4608 elements, above the size at which weights are not copied for
    # shape inference. Output 1*32*8*8 = 2048 elements, each over 16 * 9 = 144 MACs
    # -> 2 * 2048 * 144 = 589824.
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1] * 4)
    path = _save(
        tmp_path,
        "big",
        [node],
        [helper.make_tensor_value_info("x", FLOAT, [1, 16, 8, 8])],
        [helper.make_tensor_value_info("y", FLOAT, [1, 32, 8, 8])],
        [_weight("w", [32, 16, 3, 3])],
    )
    summary = summarize_model(path)
    assert summary.flops == 589824
    assert summary.parameter_count == 4608


def test_conv_transpose_flops(tmp_path: Path) -> None:
    # X 1x2x4x4 (32 elements), W [C_in=2, C_out=3, 3, 3]: every input element is
    # multiplied into 3 * 3 * 3 = 27 outputs -> 2 * 32 * 27 = 1728.
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[3, 3])
    path = _save(
        tmp_path,
        "deconv",
        [node],
        [helper.make_tensor_value_info("x", FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", FLOAT, [1, 3, 6, 6])],
        [_weight("w", [2, 3, 3, 3])],
    )
    assert summarize_model(path).flops == 1728


def test_gemm_flops_with_trans_b(gemm_path: Path) -> None:
    # M=2, K=5, N=3 (B is [N, K] because transB=1) -> 2 * 2 * 3 * 5 = 60; the bias add is free.
    summary = summarize_model(gemm_path)
    assert summary.flops == 60
    assert summary.flops_by_op == {"Gemm": 60}


def test_gemm_flops_with_trans_a(tmp_path: Path) -> None:
    # A stored as [K=5, M=7] (transA=1), B [K=5, N=3] -> 2 * 7 * 3 * 5 = 210.
    # (M*K is |A| either way, so only transB can change the count; this guards parsing.)
    node = helper.make_node("Gemm", ["a", "b"], ["y"], transA=1)
    path = _save(
        tmp_path,
        "gemm_ta",
        [node],
        [helper.make_tensor_value_info("a", FLOAT, [5, 7])],
        [helper.make_tensor_value_info("y", FLOAT, [7, 3])],
        [_weight("b", [5, 3])],
    )
    assert summarize_model(path).flops == 210


@pytest.mark.parametrize(
    ("a", "b", "y", "expected"),
    [
        # batch 2*3, M=4, K=5, N=6 -> 2 * 6 * 4 * 6 * 5 = 1440
        ([2, 3, 4, 5], [5, 6], [2, 3, 4, 6], 1440),
        # batch dims broadcast: (2,1) with (3,) -> (2,3) -> 2 * 6 * 4 * 6 * 5 = 1440
        ([2, 1, 4, 5], [3, 5, 6], [2, 3, 4, 6], 1440),
        # 1-D left operand is a row: M=1, K=5, N=6 -> 2 * 1 * 6 * 5 = 60
        ([5], [5, 6], [6], 60),
        # 1-D right operand is a column: batch 2, M=4, K=5, N=1 -> 2 * 2 * 4 * 1 * 5 = 80
        ([2, 4, 5], [5], [2, 4], 80),
        # vector dot product: 2 * 5 = 10
        ([5], [5], [], 10),
    ],
)
def test_matmul_flops(tmp_path: Path, a: list, b: list, y: list, expected: int) -> None:
    path = _matmul_model(tmp_path, "matmul", a, b, y)
    assert summarize_model(path).flops_by_op == {"MatMul": expected}


def test_flops_summed_across_ops(tmp_path: Path) -> None:
    # MatMul [2,5]x[5,5] -> 2*2*5*5 = 100, then Gemm [2,5]x[5,3] -> 2*2*3*5 = 60; total 160.
    nodes = [
        helper.make_node("MatMul", ["a", "w1"], ["h"]),
        helper.make_node("Gemm", ["h", "w2"], ["y"]),
    ]
    path = _save(
        tmp_path,
        "mlp",
        nodes,
        [helper.make_tensor_value_info("a", FLOAT, [2, 5])],
        [helper.make_tensor_value_info("y", FLOAT, [2, 3])],
        [_weight("w1", [5, 5]), _weight("w2", [5, 3])],
    )
    summary = summarize_model(path)
    assert summary.flops == 160
    assert list(summary.flops_by_op.items()) == [("MatMul", 100), ("Gemm", 60)]


def test_dynamic_batch_defaults_to_one(dynamic_conv_path: Path) -> None:
    summary = summarize_model(dynamic_conv_path)
    assert summary.flops == CONV_FLOPS_BATCH1
    assert "x[0] (batch)=1" in summary.flops_note


def test_shapes_scale_flops(dynamic_conv_path: Path) -> None:
    summary = summarize_model(dynamic_conv_path, shapes={"x": [4, 3, 8, 8]})
    # batch 4 -> 4 * 13824
    assert summary.flops == 55296
    assert "x[0] (batch)=4" in summary.flops_note


def test_unknown_rank_input_is_skipped_and_reported(tmp_path: Path) -> None:
    # "a" has no shape at all, so its MatMul cannot be estimated; the Gemm can (60 FLOPs,
    # same shapes as gemm_path).
    nodes = [
        helper.make_node("MatMul", ["a", "w"], ["m"]),
        helper.make_node("Gemm", ["g", "b"], ["y"], transB=1),
    ]
    path = _save(
        tmp_path,
        "partial",
        nodes,
        [
            helper.make_tensor_value_info("a", FLOAT, None),
            helper.make_tensor_value_info("g", FLOAT, [2, 5]),
        ],
        [
            helper.make_tensor_value_info("m", FLOAT, None),
            helper.make_tensor_value_info("y", FLOAT, [2, 3]),
        ],
        [_weight("w", [5, 6]), _weight("b", [3, 5])],
        check=False,
    )
    summary = summarize_model(path)
    assert summary.flops == 60
    assert "1 node(s) skipped" in summary.flops_note

    # Given a shape for "a" ([4, 5] x [5, 6] -> 2 * 4 * 6 * 5 = 240) nothing is skipped.
    summary = summarize_model(path, shapes={"a": [4, 5]})
    assert summary.flops_by_op == {"MatMul": 240, "Gemm": 60}
    assert "skipped" not in summary.flops_note


def test_shapes_for_unknown_input_is_usage_error(conv_path: Path) -> None:
    with pytest.raises(UsageError, match="nope"):
        summarize_model(conv_path, shapes={"nope": [1, 3, 8, 8]})


def test_shapes_conflicting_with_static_dims_is_usage_error(conv_path: Path) -> None:
    with pytest.raises(UsageError, match="static shape"):
        summarize_model(conv_path, shapes={"x": [1, 3, 16, 16]})


def test_shapes_with_wrong_rank_is_usage_error(dynamic_conv_path: Path) -> None:
    with pytest.raises(UsageError, match="rank 4"):
        summarize_model(dynamic_conv_path, shapes={"x": [4, 3, 8]})


# --- I/O, histogram, parameters, size ------------------------------------------------


def test_dynamic_io_shapes(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    path = _save(
        tmp_path,
        "dyn",
        [node],
        [helper.make_tensor_value_info("x", FLOAT, ["batch", 3, None, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["batch", 3, None, 8])],
    )
    summary = summarize_model(path)
    assert summary.inputs == (TensorInfo("x", "float32", ("batch", 3, "?", 8)),)
    assert summary.inputs[0].dynamic_dims == (0, 2)
    assert summary.outputs == (TensorInfo("y", "float16", ("batch", 3, "?", 8)),)


def test_metadata_and_static_io(conv_path: Path) -> None:
    summary = summarize_model(conv_path)
    assert summary.path == str(conv_path)
    assert summary.opset == OPSET
    assert summary.producer == "unit-test 0.1"
    assert summary.inputs == (TensorInfo("x", "float32", (1, 3, 8, 8)),)
    assert summary.inputs[0].dynamic_dims == ()
    assert summary.outputs == (TensorInfo("y", "float32", (1, 4, 8, 8)),)
    # weight 4*3*3*3 = 108 + bias 4 = 112
    assert summary.parameter_count == 112
    assert summary.size_bytes == conv_path.stat().st_size


def test_initializers_listed_as_inputs_are_not_inputs(tmp_path: Path) -> None:
    # Old exporters (IR < 4) also list every weight as a graph input.
    node = helper.make_node("Gemm", ["a", "b"], ["y"])
    path = _save(
        tmp_path,
        "old_style",
        [node],
        [
            helper.make_tensor_value_info("a", FLOAT, [2, 5]),
            helper.make_tensor_value_info("b", FLOAT, [5, 3]),
        ],
        [helper.make_tensor_value_info("y", FLOAT, [2, 3])],
        [_weight("b", [5, 3])],
    )
    summary = summarize_model(path)
    assert [t.name for t in summary.inputs] == ["a"]
    assert summary.flops == 60  # 2 * 2 * 3 * 5


def test_op_histogram_and_constant_parameters(tmp_path: Path) -> None:
    nodes = [
        helper.make_node(
            "Constant", [], ["k"], value=numpy_helper.from_array(np.ones((2, 3), np.float32))
        ),
        helper.make_node("Constant", [], ["s"], value_floats=[1.0, 2.0, 3.0]),
        helper.make_node("Add", ["x", "k"], ["a"]),
        helper.make_node("Relu", ["a"], ["r1"]),
        helper.make_node("Relu", ["r1"], ["r2"]),
        helper.make_node("Relu", ["r2"], ["r3"]),
        helper.make_node("Mul", ["r3", "w"], ["y"]),
    ]
    path = _save(
        tmp_path,
        "hist",
        nodes,
        [helper.make_tensor_value_info("x", FLOAT, [2, 3])],
        [
            helper.make_tensor_value_info("y", FLOAT, [2, 3]),
            helper.make_tensor_value_info("s", FLOAT, [3]),
        ],
        [_weight("w", [2, 3])],
    )
    summary = summarize_model(path)
    # Order: count desc, then name (Add < Mul alphabetically).
    assert list(summary.op_histogram.items()) == [
        ("Relu", 3),
        ("Constant", 2),
        ("Add", 1),
        ("Mul", 1),
    ]
    assert summary.node_count == 7
    # initializer 2*3 = 6, Constant tensor 2*3 = 6, Constant value_floats 3 -> 15
    assert summary.parameter_count == 15
    assert summary.flops == 0
    assert summary.flops_by_op == {}


def test_external_data_counts_toward_size(tmp_path: Path) -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1] * 4)
    graph = helper.make_graph(
        [node],
        "ext",
        [helper.make_tensor_value_info("x", FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", FLOAT, [1, 4, 8, 8])],
        [_weight("w", [4, 3, 3, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    path = tmp_path / "ext.onnx"
    onnx.save(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.bin",
        size_threshold=0,
    )
    data = tmp_path / "ext.bin"
    assert data.stat().st_size >= 4 * 108  # 108 float32 weights really went external

    summary = summarize_model(path)
    assert summary.size_bytes == path.stat().st_size + data.stat().st_size
    assert summary.parameter_count == 108
    assert summary.flops == CONV_FLOPS_BATCH1  # same conv as conv_path, without bias


def test_to_dict_is_json_serialisable(dynamic_conv_path: Path) -> None:
    summary = summarize_model(dynamic_conv_path)
    assert isinstance(summary, ModelSummary)
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["inputs"] == [
        {"name": "x", "dtype": "float32", "shape": ["batch", 3, 8, 8], "dynamic_dims": [0]}
    ]
    assert data["flops"] == CONV_FLOPS_BATCH1
    assert data["op_histogram"] == {"Conv": 1}
    assert data["parameter_count"] == 112


# --- unreadable files ----------------------------------------------------------------


def test_truncated_file_raises_model_error(conv_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "truncated.onnx"
    raw = conv_path.read_bytes()
    broken.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelError, match="truncated.onnx") as info:
        summarize_model(broken)
    assert "\n" not in info.value.message
    assert info.value.hint


def test_garbage_file_raises_model_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_text("this is not an onnx model\n")
    with pytest.raises(ModelError, match="garbage.onnx"):
        summarize_model(garbage)


def test_empty_file_raises_model_error(tmp_path: Path) -> None:
    # Zero bytes parse as an empty protobuf, which has no graph.
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty.onnx"):
        summarize_model(empty)


def test_missing_file_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="missing.onnx"):
        summarize_model(tmp_path / "missing.onnx")


@pytest.mark.parametrize("stale", [
    [[1, 4, 7, 7]],                                   # inferred at a smaller image once
    [["?", 4, "unk__0", "unk__1"], [1, 4, 7, 7]],     # cleanup's duplicates (zoo F9)
])
def test_stale_value_info_does_not_decide_the_shapes(tmp_path: Path, stale: list) -> None:
    conv = helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1] * 4,
                            strides=[2, 2])
    relu = helper.make_node("Relu", ["c"], ["y"])
    graph = helper.make_graph([conv, relu], "stale",
                              [helper.make_tensor_value_info("x", FLOAT, ["?", 3, "?", "?"])],
                              [helper.make_tensor_value_info("y", FLOAT, None)],
                              [_weight("w", [4, 3, 3, 3])])
    graph.value_info.extend(helper.make_tensor_value_info("c", FLOAT, d) for d in stale)
    path = tmp_path / "stale.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]),
              str(path))
    summary = summarize_model(path, shapes={"x": [1, 3, 48, 192]})
    # 4 output channels x 24 x 96 positions x 27 MACs x 2
    assert summary.flops == 4 * 24 * 96 * 27 * 2
    assert "skipped" not in summary.flops_note
