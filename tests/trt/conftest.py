"""Fixtures for the TensorRT tests: tiny ONNX models and engines built once per session.

These tests run only where TensorRT (with a version) and a CUDA GPU are present
(tests/conftest.py skips them elsewhere); on the GPU machine they build real
engines through the real CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from trt_helpers import PROFILE, Invoke, make_conv_model, ok_json
from typer.testing import CliRunner, Result


@pytest.fixture(scope="session")
def cli() -> Invoke:
    from trtc.cli.app import app

    runner = CliRunner()

    def invoke(*args: Any) -> Result:
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(scope="session")
def trt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trt")


@pytest.fixture(scope="session")
def tiny_onnx(trt_dir: Path) -> Path:
    return make_conv_model(trt_dir / "tiny.onnx")


@pytest.fixture(scope="session")
def timing_cache(trt_dir: Path) -> Path:
    return trt_dir / "timing.cache"


@pytest.fixture(scope="session")
def fp32_engine(cli: Invoke, tiny_onnx: Path, trt_dir: Path, timing_cache: Path) -> Path:
    """The tiny model as an fp32 (TF32) engine with a dynamic batch profile 1..8."""
    out = trt_dir / "tiny_fp32.engine"
    ok_json(cli("build", tiny_onnx, "-o", out, "--backend", "tensorrt", "--profile", PROFILE,
                "--timing-cache", timing_cache, "--json"))
    return out


@pytest.fixture(scope="session")
def fp16_engine(cli: Invoke, tiny_onnx: Path, trt_dir: Path, timing_cache: Path) -> Path:
    out = trt_dir / "tiny_fp16.engine"
    ok_json(cli("build", tiny_onnx, "-o", out, "--backend", "tensorrt", "--precision", "fp16",
                "--profile", PROFILE, "--timing-cache", timing_cache, "--json"))
    return out


@pytest.fixture(scope="session")
def static_engine(cli: Invoke, trt_dir: Path, timing_cache: Path) -> Path:
    """The tiny model with a fixed batch of 2: no profiles, any number of contexts."""
    model = make_conv_model(trt_dir / "tiny_b2.onnx", batch=2)
    out = trt_dir / "tiny_b2.engine"
    ok_json(cli("build", model, "-o", out, "--backend", "tensorrt", "--timing-cache",
                timing_cache, "--json"))
    return out
