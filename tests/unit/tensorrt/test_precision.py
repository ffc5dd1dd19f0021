"""Precision per TensorRT version (trtc.tensorrt.precision, through plan_trt_build): 8.6, 10, 11."""

from __future__ import annotations

from typing import Any

import pytest
from tensorrt_plan_helpers import argv, plan

from trtc.errors import UsageError
from trtc.tensorrt.trtexec import trtexec_command


def test_fp32_default_keeps_tf32_and_sets_no_flags() -> None:
    s = plan("8.6")
    assert (s.precision, s.precision_flags, s.tf32, s.strongly_typed, s.int8_mode) == \
        ("fp32", (), True, False, None)


def test_no_tf32() -> None:
    assert plan("8.6", tf32=False).tf32 is False


@pytest.mark.parametrize("version, build", [("11", {}), ("10", {"strongly_typed": True})])
def test_strongly_typed_builds_say_tf32_is_off(version: str, build: dict[str, Any]) -> None:
    # The adapter clears TF32 for strongly typed networks: the settings (sidecar, verify's
    # tolerances) and the trtexec line must say so, or trtexec would build another engine.
    s = plan(version, **build)
    assert s.strongly_typed and s.tf32 is False
    assert "--noTF32" in argv(trtexec_command(s, "m.onnx", "m.engine"))


@pytest.mark.parametrize("version", ["8.6", "10"])
def test_fp16_is_a_builder_flag_with_weak_typing(version: str) -> None:
    assert plan(version, precision="fp16").precision_flags == ("fp16",)


def test_best_is_fp16_plus_int8_and_needs_int8_data() -> None:
    s = plan("10", precision="best", int8_calib="calib.npz")
    assert s.precision_flags == ("fp16", "int8") and s.int8_mode == "calibration"
    with pytest.raises(UsageError, match="best includes int8"):
        plan("10", precision="best")


@pytest.mark.parametrize("precision", ["bf16", "fp8"])
def test_bf16_and_fp8_need_tensorrt_9(precision: str) -> None:
    with pytest.raises(UsageError, match=f"{precision} needs TensorRT 9 or newer \\(this is "
                                         "8.6.0\\)"):
        plan("8.6", precision=precision, qdq=True, qprec="fp8")
    assert plan("10", precision="bf16").precision_flags == ("bf16",)


def test_strongly_typed_needs_tensorrt_9() -> None:
    with pytest.raises(UsageError, match="strongly typed networks need TensorRT 9"):
        plan("8.6", strongly_typed=True)
    s = plan("10", strongly_typed=True)
    assert s.strongly_typed and s.precision_flags == ()


def test_int8_calibration_on_8_6_and_10() -> None:
    for version in ("8.6", "10"):
        s = plan(version, precision="int8", int8_calib="calib.npz", int8_calib_samples=64,
                 int8_calib_cache="c.cache")
        assert s.int8_mode == "calibration" and s.precision_flags == ("int8",)
        assert s.calibration == {"data": "calib.npz", "samples": 64, "cache": "c.cache"}


def test_int8_without_data_or_qdq_is_refused() -> None:
    with pytest.raises(UsageError, match="precision: int8 needs calibration data"):
        plan("8.6", precision="int8")


def test_int8_from_qdq_sets_the_flag_on_weak_typing() -> None:
    s = plan("8.6", precision="int8", qdq=True)
    assert (s.int8_mode, s.precision_flags, s.calibration) == ("qdq", ("int8",), None)
    # A Q/DQ model built at the default fp32 runs quantized, and says so.
    s = plan("8.6", qdq=True)
    assert s.precision == "int8" and s.precision_flags == ("int8",) and s.notes
    # fp16 for the layers the Q/DQ nodes leave in float.
    assert plan("10", precision="fp16", qdq=True).precision_flags == ("fp16", "int8")


@pytest.mark.parametrize("version", ["8.6", "10"])
def test_a_qdq_model_with_fp16_float_regions_gets_the_fp16_flag_on_weak_typing(
        version: str) -> None:
    s = plan(version, qdq=True, qprec="int8", floatp="fp16")
    assert s.precision == "int8" and s.precision_flags == ("fp16", "int8")
    assert any("float part is fp16" in n for n in s.notes)
    assert "--fp16" in argv(trtexec_command(s, "m.onnx", "m.engine"))
    # Without the metadata the build stays int8 only (the float part runs fp32 / tf32).
    assert plan(version, qdq=True, qprec="int8").precision_flags == ("int8",)


def test_fp16_float_regions_need_no_flag_on_a_strongly_typed_network() -> None:
    s = plan("11", qdq=True, qprec="int8", floatp="fp16")
    assert s.strongly_typed and s.precision_flags == () and s.int8_mode == "qdq"


def test_calibration_data_is_ignored_for_a_qdq_model() -> None:
    s = plan("8.6", precision="int8", qdq=True, int8_calib="calib.npz")
    assert s.int8_mode == "qdq" and s.calibration is None
    assert any("int8_calib is ignored" in n for n in s.notes)


def test_fp8_needs_fp8_qdq_nodes() -> None:
    with pytest.raises(UsageError, match="fp8 needs FP8 Q/DQ"):
        plan("10", precision="fp8")
    with pytest.raises(UsageError, match="Q/DQ nodes are int8"):
        plan("10", precision="fp8", qdq=True, qprec="int8")
    s = plan("10", precision="fp8", qdq=True, qprec="fp8")
    assert s.precision_flags == ("fp8",) and s.int8_mode == "qdq"


@pytest.mark.parametrize("precision", ["fp16", "bf16", "best"])
def test_tensorrt_11_has_no_weak_typed_precision_flags(precision: str) -> None:
    with pytest.raises(UsageError, match="TensorRT 11.* has no precision builder flags") as info:
        plan("11", precision=precision)
    assert "trtc quantize" in (info.value.hint or "")


def test_tensorrt_11_has_no_calibrators() -> None:
    with pytest.raises(UsageError, match="TensorRT 11.* has no int8 calibrators") as info:
        plan("11", precision="int8", int8_calib="calib.npz")
    assert "trtc quantize MODEL.onnx -o OUT.onnx --precision int8 --target tensorrt" in \
        (info.value.hint or "")


def test_tensorrt_11_is_always_strongly_typed() -> None:
    s = plan("11")
    assert s.strongly_typed and s.precision_flags == ()
    with pytest.raises(UsageError, match="always strongly typed"):
        plan("11", strongly_typed=False)
    s = plan("11", precision="int8", qdq=True)
    assert (s.precision, s.int8_mode, s.precision_flags) == ("int8", "qdq", ())
    with pytest.raises(UsageError, match="needs Q/DQ nodes"):
        plan("11", precision="int8")


def test_strongly_typed_accepts_a_model_already_cast_to_the_precision() -> None:
    s = plan("11", precision="fp16", qprec="fp16")
    assert s.precision == "fp16" and s.precision_flags == ()
    assert plan("11", qprec="bf16").precision == "bf16"
