"""The onnxruntime-cpu INT8 model must run in ONNX Runtime's integer kernels.

A Q/DQ model is only faster on ORT CPU where the level-ALL optimiser fuses
DequantizeLinear -> op -> QuantizeLinear into QLinearConv / QLinearAdd / QGemm. With
int8 activations (ORT's own quantize_static default) ResNet-50's residual Adds and the
Convs feeding them stay float (1.3x instead of 3.1x, docs/bench-optimize.md), so this
checks the graph ORT actually runs, not only the Q/DQ placement.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx

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
