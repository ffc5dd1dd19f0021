"""The onnxruntime-cpu INT8 model must run in ONNX Runtime's integer kernels.

A Q/DQ model is only faster on ORT CPU where the level-ALL optimiser fuses
DequantizeLinear -> op -> QuantizeLinear into QLinearConv / QLinearAdd / QGemm. With
int8 activations (ORT's own quantize_static default) ResNet-50's residual Adds and the
Convs feeding them stay float (1.3x instead of 3.1x, docs/bench-optimize.md), so this
checks the graph ORT actually runs, not only the Q/DQ placement.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import onnx
import pytest

from trtc.backends.onnxruntime import make_session

from .test_quantize import _quantize, make_residual_model


def _ort_ops(model: Path, tmp_path: Path) -> Counter[str]:
    optimized = tmp_path / "optimized.onnx"
    make_session(model, level="all", threads=1, optimized_path=optimized)
    return Counter(n.op_type for n in onnx.load(str(optimized)).graph.node)


def test_residual_conv_and_add_run_as_qlinear_kernels(tmp_path: Path) -> None:
    src = make_residual_model(tmp_path / "residual.onnx")
    _quantize(src, tmp_path, target="onnxruntime-cpu")
    ops = _ort_ops(tmp_path / "q.onnx", tmp_path)
    assert ops["QLinearConv"] == 2, ops
    assert ops["QLinearAdd"] == 1, ops
    assert ops["QGemm"] == 1, ops
    assert not {"Conv", "FusedConv", "Add", "Gemm"} & set(ops), ops


def test_a_layernorm_scale_quantized_per_tensor_is_not_a_raw_ort_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """ONNX Runtime logs "Axis 1 is out-of-range for weight 'g' with rank 1" on the root
    logger for each rank-1 weight it then quantizes per tensor (320 raw lines on
    DistilBERT); trtc drops that line and still quantizes the LayerNormalization."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), "w"),
             numpy_helper.from_array(np.ones(8, np.float32), "g"),
             numpy_helper.from_array(np.zeros(8, np.float32), "b")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("LayerNormalization", ["m", "g", "b"], ["y"], name="ln",
                              axis=-1)]
    graph = helper.make_graph(
        nodes, "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8])], inits)
    src = tmp_path / "ln.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    with caplog.at_level(logging.WARNING):
        model, _ = _quantize(src, tmp_path, target="onnxruntime-cpu")
    assert not [r for r in caplog.records if "out-of-range" in r.getMessage()]
    dq_of = {n.output[0]: n.input[0] for n in model.graph.node
             if n.op_type == "DequantizeLinear"}
    ln = next(n for n in model.graph.node if n.op_type == "LayerNormalization")
    assert dq_of.get(ln.input[1]) is not None          # the scale is still quantized
    assert not logging.getLogger().filters              # and the filter is gone again
