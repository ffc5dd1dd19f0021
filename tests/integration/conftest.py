"""Fixtures for the integration tests: the real CLI, ONNX Runtime, Polygraphy and torch."""

from __future__ import annotations

import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "without_tensorrt: checks what happens where TensorRT "
                            "is absent (skips where it is installed)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # trtc reads a tensorrt module without __version__ (tensorrt-stubs) as absent, too.
    from trtc.backends.tensorrt import tensorrt_version

    if tensorrt_version() is None:
        return
    skip = pytest.mark.skip(reason="asserts TensorRT's absence; TensorRT is installed here")
    for item in items:
        if "without_tensorrt" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test from tmp_path so that a stray relative path never lands in the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """The --workspace root every command of a test uses."""
    return tmp_path / "ws"


Invoke = Callable[..., Result]


@pytest.fixture
def cli() -> Invoke:
    """Invoke ``trtc.cli.app.app`` in-process; path arguments may be Path objects."""
    from trtc.cli.app import app

    runner = CliRunner()

    def invoke(*args: Any) -> Result:
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture
def onnx_recipe(conv_onnx: Path, write_recipe: Callable[..., Path]) -> Path:
    """A fast recipe for an existing ONNX model (no PyTorch involved)."""
    return write_recipe({
        "name": "conv",
        "model": {"source": f"onnx:{conv_onnx.name}"},
        "build": {"backend": "onnxruntime"},
        "verify": {"data": {"batch": 2, "iterations": 2}},
        "bench": {"batch": [1], "warmup_ms": 5, "duration_s": 0.05, "min_iterations": 3,
                  "baseline": "none"},
    }, name="conv.yaml")


@pytest.fixture
def tiny_weights(tmp_path: Path, torch_factory: Path) -> Path:
    """A state dict for tinynet.build, saved with a fixed seed."""
    import torch

    torch.manual_seed(1234)
    model = runpy.run_path(str(torch_factory))["build"]()
    path = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture
def other_conv_onnx(conv_onnx: Path, tmp_path: Path) -> Path:
    """The same graph as ``conv_onnx`` (same inputs, outputs and shapes), other weights."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(conv_onnx))
    rng = np.random.default_rng(1)
    for init in model.graph.initializer:
        shape = numpy_helper.to_array(init).shape
        init.CopyFrom(numpy_helper.from_array(
            (rng.standard_normal(shape) * 0.3).astype(np.float32), init.name))
    path = tmp_path / "other.onnx"
    onnx.save(model, str(path))
    return path
