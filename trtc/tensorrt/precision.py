"""Precision: what ``build.precision`` becomes on each TensorRT version.

Weakly typed networks (8.6, 10) take builder flags the builder *may* use
(fp16, bf16, int8, fp8) and int8 calibrators; strongly typed ones (>= 9 when
asked, always on 11) take the precision from the ONNX tensor types and Q/DQ
nodes, so reduced precision there means ``trtc quantize`` first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trtc.errors import UsageError
from trtc.tensorrt.versions import TrtFeatures

if TYPE_CHECKING:
    from trtc.recipe import BuildSpec

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8", "best")
#: Builder precision flags, in the order they are set and rendered.
PRECISION_FLAGS = ("fp16", "bf16", "int8", "fp8")
#: Minimum compute capability for each builder precision (TensorRT support matrix).
PRECISION_MIN_CC = {"fp16": (5, 3), "int8": (6, 1), "bf16": (8, 0), "fp8": (8, 9)}


_QUANTIZE_HINT = ("write the precision into the ONNX first: "
                  "trtc quantize MODEL.onnx -o OUT.onnx --precision {p}"
                  "{target}, then build OUT.onnx")


def _quantize_hint(precision: str) -> str:
    target = " --target tensorrt" if precision in ("int8", "fp8") else ""
    return _QUANTIZE_HINT.format(p=precision, target=target)


def resolve_precision(spec: BuildSpec, feats: TrtFeatures, has_qdq: bool,
                       model_precision: str | None, notes: list[str], *,
                       float_precision: str | None = None
                       ) -> tuple[str, bool, str | None, tuple[str, ...], dict[str, Any] | None]:
    """Return (precision, strongly_typed, int8_mode, builder flags, calibration).

    ``model_precision`` is what ``trtc quantize`` recorded in the model (int8,
    fp8, fp16, bf16) or None; ``float_precision`` "fp16": the Q/DQ model's float
    part is written in fp16 (``quantize.float_precision``), so a weakly typed build
    sets the fp16 flag too (as ``--precision best``).
    """
    precision: str = spec.precision
    v = feats.version
    if precision not in PRECISIONS:
        raise UsageError(f"build.precision: unknown precision {precision!r}",
                         f"use one of: {', '.join(PRECISIONS)}")
    if precision == "bf16" and not feats.bf16:
        raise UsageError(f"build.precision: bf16 needs TensorRT 9 or newer (this is {v})",
                         "use --precision fp16")
    if precision == "fp8" and not feats.fp8:
        raise UsageError(f"build.precision: fp8 needs TensorRT 9 or newer (this is {v})",
                         "use --precision int8 (Q/DQ or calibration)")
    # What the Q/DQ nodes quantize to; a Q/DQ model without trtc metadata is int8.
    qdq_kind = (model_precision if model_precision in ("int8", "fp8") else "int8") \
        if has_qdq else None
    if qdq_kind and precision in ("int8", "fp8") and precision != qdq_kind:
        raise UsageError(f"build.precision: {precision}, but the model's Q/DQ nodes are "
                         f"{qdq_kind}", f"use --precision {qdq_kind}, or re-quantize with "
                         f"trtc quantize --precision {precision} --target tensorrt")

    strongly_typed = feats.strongly_typed_only if spec.strongly_typed is None \
        else spec.strongly_typed
    if strongly_typed and not feats.strongly_typed:
        raise UsageError(f"build.strongly_typed: strongly typed networks need TensorRT 9 or "
                         f"newer (this is {v})",
                         "drop --strongly-typed; 8.6 takes precision from builder flags")
    if not strongly_typed and feats.strongly_typed_only:
        raise UsageError(f"build.strongly_typed: TensorRT {v} networks are always strongly "
                         "typed (weak typing was removed in 11)",
                         "drop 'strongly_typed: false'")

    calib_data = spec.int8_calib
    if calib_data and precision not in ("int8", "best"):
        notes.append(f"build.int8_calib is ignored: precision is {precision}")
        calib_data = None
    if calib_data and has_qdq:
        notes.append("build.int8_calib is ignored: the model has Q/DQ nodes, whose scales "
                     "TensorRT uses")
        calib_data = None

    if strongly_typed:
        return _strongly_typed_precision(precision, feats, has_qdq, qdq_kind, model_precision,
                                         calib_data)

    # Weak typing (8.6, 10): precisions are builder flags the builder *may* use.
    flags: set[str] = set()
    int8_mode: str | None = None
    calibration: dict[str, Any] | None = None
    effective: str = precision
    if precision in ("fp16", "best"):
        flags.add("fp16")
    if precision == "bf16":
        flags.add("bf16")
    if precision == "fp8" and not has_qdq:
        raise UsageError("build.precision: fp8 needs FP8 Q/DQ nodes in the ONNX (TensorRT has "
                         "no fp8 calibration), and this model has none", _quantize_hint("fp8"))
    if has_qdq:
        # Explicit quantization: the Q/DQ scales decide; the flag lets the builder use them.
        flags.add(qdq_kind or "int8")
        int8_mode = "qdq"
        if precision == "fp32":
            effective = qdq_kind or "int8"
            notes.append(f"the model has {effective} Q/DQ nodes: the {effective} builder flag "
                         "is set so TensorRT runs them quantized")
        if float_precision == "fp16" and "fp16" not in flags:
            flags.add("fp16")
            notes.append("the model's float part is fp16 (trtc.quantize.float_precision): the "
                         "fp16 builder flag is set too, as with --precision best")
    elif precision in ("int8", "best"):
        if not calib_data:
            what = "best includes int8, which" if precision == "best" else "int8"
            raise UsageError(
                f"build.precision: {what} needs calibration data (build.int8_calib / "
                "--int8-calib) or a Q/DQ model; this model has no Q/DQ nodes",
                "pass --int8-calib calib.npz (or random), or use trtc quantize "
                "--target tensorrt; for fp16 alone use --precision fp16")
        if spec.int8_calib_samples <= 0:
            raise UsageError(f"build.int8_calib_samples must be positive, got "
                             f"{spec.int8_calib_samples}")
        flags.add("int8")
        int8_mode = "calibration"
        calibration = {"data": calib_data, "samples": spec.int8_calib_samples,
                       "cache": spec.int8_calib_cache}
    return (effective, False, int8_mode, tuple(f for f in PRECISION_FLAGS if f in flags),
            calibration)


def _strongly_typed_precision(precision: str, feats: TrtFeatures, has_qdq: bool,
                              qdq_kind: str | None, model_precision: str | None,
                              calib_data: str | None
                              ) -> tuple[str, bool, str | None, tuple[str, ...], None]:
    """Strongly typed networks have no precision flags: the ONNX types are the precision."""
    v = feats.version
    why = (f"TensorRT {v} has no precision builder flags (weak typing was removed in 11)"
           if feats.strongly_typed_only else "the network is strongly typed")
    if precision in ("fp16", "bf16") and model_precision != precision:
        raise UsageError(f"build.precision: {precision} cannot be a builder flag: {why}; the "
                         "precision must be in the ONNX tensor types", _quantize_hint(precision))
    if precision == "best":
        raise UsageError(f"build.precision: best cannot be a builder flag: {why}",
                         _quantize_hint("int8"))
    if calib_data:
        raise UsageError(
            f"build.int8_calib: TensorRT {v} has no int8 calibrators" if not feats.calibrators
            else "build.int8_calib: int8 calibration needs a weakly typed network "
                 "(strongly_typed is on)", _quantize_hint("int8"))
    if precision in ("int8", "fp8") and not has_qdq:
        raise UsageError(f"build.precision: {precision}: {why}, so it needs Q/DQ nodes in the "
                         "ONNX, and this model has none", _quantize_hint(precision))
    effective = precision
    if precision == "fp32":
        effective = qdq_kind or (model_precision if model_precision in ("fp16", "bf16")
                                 else "fp32")
    return effective, True, "qdq" if has_qdq else None, (), None
