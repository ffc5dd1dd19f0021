"""INT8 / FP8 Q/DQ and FP16 / BF16 quantization of ONNX models, placed for the target runtime.

One module per job: ``placement`` (where Q/DQ go for TensorRT and for ONNX
Runtime on CPU), ``calibrate`` (the one calibration pass and its cache),
``ranges`` (per-method ranges from that pass), ``qdq`` (the Q/DQ model from a
placement and ranges), ``report`` (the typed result) and ``main``
(:func:`quantize_model`, the one path through them). The accuracy budget is
``trtc.optimize.sensitivity``; FP16 / BF16 casts are ``trtc.optimize.fp16``.
"""

from trtc.optimize.quantize.main import quantize_model
from trtc.optimize.quantize.qdq import META_PRECISION, META_TARGET
from trtc.optimize.quantize.report import QuantizeReport

__all__ = ["META_PRECISION", "META_TARGET", "QuantizeReport", "quantize_model"]
