"""Helpers for the TensorRT tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from typer.testing import Result

Invoke = Callable[..., Result]
#: The dynamic-batch profile of the session's engines: batch 1..8, opt 4.
PROFILE = "x:1x3x8x8,4x3x8x8,8x3x8x8"


def make_conv_model(path: Path, **kwargs: Any) -> Path:
    """tests/conftest.py's tiny conv model (x[batch,3,8,8] -> y[batch,10]), loaded by path.

    (Both conftest modules are named ``conftest``; importing it by name is ambiguous.)
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "trtc_tests_root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_conv_model(path, **kwargs)
    return with_ir_version(path)


#: ONNX IR version of the generated models: onnx 1.23 writes 14, which ONNX Runtime
#: 1.30 (on the GPU machine) refuses; 10 is what opset 17 needs and every runtime reads.
IR_VERSION = 10


def with_ir_version(path: Path) -> Path:
    model = onnx.load(str(path))
    model.ir_version = IR_VERSION
    onnx.save(model, str(path))
    return path


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, (f"exit {result.exit_code}\nstdout:\n{result.stdout}\n"
                                   f"stderr:\n{result.stderr}\n{result.exception!r}")
    return json.loads(result.stdout)


def make_qdq_model(path: Path, seed: int = 0) -> Path:
    """x[batch,3,8,8] -> Q/DQ -> Conv (Q/DQ int8 weights, per channel) -> Relu -> y.

    Symmetric int8 with zero points 0, biases in float, the weights as float
    initializers behind a QuantizeLinear/DequantizeLinear pair (as NVIDIA's
    quantization toolkits export them).
    """
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    w_scale = (np.abs(w).reshape(4, -1).max(1) / 127.0).astype(np.float32)
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(w_scale, "w_scale"),
        numpy_helper.from_array(np.zeros(4, np.int8), "w_zp"),
        numpy_helper.from_array(np.array(4.0 / 127.0, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "x_zp"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) * 0.1, "b"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"], name="qx"),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["xdq"], name="dqx"),
        helper.make_node("QuantizeLinear", ["w", "w_scale", "w_zp"], ["wq"], name="qw", axis=0),
        helper.make_node("DequantizeLinear", ["wq", "w_scale", "w_zp"], ["wdq"], name="dqw",
                         axis=0),
        # kernel_shape is required here: with weights that are not an initializer, TensorRT
        # 8.6's parser cannot tell the kernel size ("input tensor shape misaligns with
        # the input kernel shape"); exporters always write it.
        helper.make_node("Conv", ["xdq", "wdq", "b"], ["c"], name="conv", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 8, 8])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              ir_version=IR_VERSION)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
