"""What the build reads from the ONNX (trtc.tensorrt.model): inputs, Q/DQ, quantize metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtc.errors import UsageError
from trtc.tensorrt.model import (
    BACKEND_QDQ_TARGET,
    check_qdq_target,
    onnx_io,
    qdq_precision,
    qdq_target,
)


def test_qdq_target_and_precision_from_metadata() -> None:
    meta = {"trtc.quantize.target": "tensorrt", "trtc.quantize.precision": "int8"}
    assert qdq_target(meta) == "tensorrt" and qdq_precision(meta) == "int8"
    assert qdq_target({}) is None and qdq_precision({"other": "x"}) is None


@pytest.mark.parametrize("target, backend, refused", [
    ("tensorrt", "tensorrt", False), ("onnxruntime-cpu", "onnxruntime", False),
    ("onnxruntime-cpu", "tensorrt", True), ("tensorrt", "onnxruntime", True),
    (None, "tensorrt", False),
])
def test_check_qdq_target(target: str | None, backend: str, refused: bool) -> None:
    meta = {"trtc.quantize.target": target} if target else {}
    if not refused:
        check_qdq_target(meta, backend, "m.onnx")
        return
    with pytest.raises(UsageError, match=f"m.onnx was quantized for {target}.*backend is "
                                         f"{backend}") as info:
        check_qdq_target(meta, backend, "m.onnx")
    assert f"--target {BACKEND_QDQ_TARGET[backend]}" in (info.value.hint or "")


def test_onnx_io_reads_inputs_and_qdq(conv_onnx: Path) -> None:
    inputs, has_qdq = onnx_io(conv_onnx)
    assert inputs == {"x": ("float32", ("batch", 3, 8, 8))}
    assert has_qdq is False


def test_plan_from_onnx_keeps_the_timing_cache_beside_the_engine(conv_onnx: Path,
                                                                 tmp_path: Path) -> None:
    from tensorrt_plan_helpers import spec

    from trtc.errors import UsageError
    from trtc.tensorrt.model import plan_from_onnx

    profile = {"x": {"min": [1, 3, 8, 8], "opt": [2, 3, 8, 8], "max": [4, 3, 8, 8]}}
    s = plan_from_onnx(conv_onnx, spec(profiles=[profile]), "10", tmp_path / "o" / "m.engine")
    assert s.profiles[0].shapes["x"][2] == (4, 3, 8, 8) and s.version == "10.16.0"
    assert (s.timing_cache, s.timing_cache_keyed) == (str(tmp_path / "o" / ".timing-cache"),
                                                      True)
    with pytest.raises(UsageError, match="no shapes for dynamic input 'x'"):
        plan_from_onnx(conv_onnx, spec(), "10")  # a bare BuildSpec has no default profile
