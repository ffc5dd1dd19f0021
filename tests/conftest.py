"""Shared fixtures: tiny ONNX models built with onnx.helper, a tiny PyTorch factory, recipes."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper


def _has_tensorrt() -> bool:
    from trtc.backends.tensorrt import tensorrt_version

    return tensorrt_version() is not None


def _has_cuda() -> bool:
    try:
        from cuda.bindings import runtime as cudart  # type: ignore[import-not-found]
    except ImportError:
        return False
    err, count = cudart.cudaGetDeviceCount()
    return int(err) == 0 and count > 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    trt_skip = None if _has_tensorrt() else pytest.mark.skip(reason="TensorRT is not installed")
    cuda_skip = None if _has_cuda() else pytest.mark.skip(reason="no CUDA GPU / cuda-python")
    for item in items:
        if trt_skip and "trt" in item.keywords:
            item.add_marker(trt_skip)
        if cuda_skip and "cuda" in item.keywords:
            item.add_marker(cuda_skip)


def make_conv_model(path: Path, *, batch: int | str = "batch", seed: int = 0,
                    opset: int = 17) -> Path:
    """x[batch,3,8,8] -> Conv(4, k3, pad1) -> Relu -> Flatten -> Gemm(10) -> y[batch,10]."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3, "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) * 0.1, "b")
    fc = numpy_helper.from_array(rng.standard_normal((10, 256)).astype(np.float32) * 0.1, "fc")
    fcb = numpy_helper.from_array(rng.standard_normal(10).astype(np.float32) * 0.1, "fcb")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])],
        initializer=[w, b, fc, fcb])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def conv_onnx(tmp_path: Path) -> Path:
    return make_conv_model(tmp_path / "tiny.onnx")


@pytest.fixture
def relu_onnx(tmp_path: Path) -> Path:
    """x[1,4] -> Relu -> y: a model with nothing to quantize."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


TORCH_FACTORY = textwrap.dedent('''
    import torch.nn as nn

    def build(num_classes=10):
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                             nn.Linear(4 * 8 * 8, num_classes))

    def broken():
        raise ValueError("factory exploded")

    def not_a_module():
        return 42
''')


@pytest.fixture
def torch_factory(tmp_path: Path) -> Path:
    """A user model file for python:<file.py>:<factory> sources."""
    path = tmp_path / "tinynet.py"
    path.write_text(TORCH_FACTORY)
    return path


FAST_BENCH = {"batch": [1, 2], "warmup_ms": 5, "duration_s": 0.05, "min_iterations": 3}


@pytest.fixture
def write_recipe(tmp_path: Path) -> Callable[..., Path]:
    """Write a recipe dict as YAML under tmp_path and return its path."""

    def write(data: dict, name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture
def torch_recipe(tmp_path: Path, torch_factory: Path, write_recipe: Callable[..., Path]) -> Path:
    """A fast recipe for the tiny PyTorch model: export -> build -> verify -> bench."""
    return write_recipe({
        "name": "tiny",
        "model": {"source": "python:tinynet.py:build",
                  "inputs": [{"name": "x", "shape": ["batch", 3, 8, 8]}],
                  "outputs": ["y"]},
        "export": {"exporter": "legacy", "opset": 17},
        "build": {"backend": "onnxruntime"},
        "verify": {"reference": "export", "data": {"batch": 2, "iterations": 2}},
        "bench": FAST_BENCH,
    })


@pytest.fixture
def crnn_tail_onnx(tmp_path: Path) -> Path:
    """A CRNN's tail, as ddddocr ships it: [b, s, c] -> Transpose -> [s, b, c], then a
    Reshape to (Shape[0], Shape[1], -1), with the output declared (wrongly) [1, seqlen]."""
    ints = [numpy_helper.from_array(np.array(v, np.int64), n)
            for n, v in (("i0", 0), ("i1", 1), ("ax", [0]), ("m1", [-1]))]
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]),
             helper.make_node("Shape", ["t"], ["sh"]),
             helper.make_node("Gather", ["sh", "i0"], ["d0"], axis=0),
             helper.make_node("Gather", ["sh", "i1"], ["d1"], axis=0),
             helper.make_node("Unsqueeze", ["d0", "ax"], ["u0"]),
             helper.make_node("Unsqueeze", ["d1", "ax"], ["u1"]),
             helper.make_node("Concat", ["u0", "u1", "m1"], ["target"], axis=0),
             helper.make_node("Reshape", ["t", "target"], ["y"])]
    graph = helper.make_graph(
        nodes, "crnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "s", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "seqlen"])], ints)
    path = tmp_path / "crnn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path
