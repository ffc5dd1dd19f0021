"""Prune an ONNX model: 2:4 structured sparsity, unstructured magnitude, or whole channels.

``weights`` (2:4, magnitude), ``channel`` (whole channels), ``report`` (the
typed result) and ``main`` (:func:`prune_model`, the entry point).
"""

from trtc.optimize.prune.main import check_ratio, prune_model
from trtc.optimize.prune.report import PruneReport

__all__ = ["PruneReport", "check_ratio", "prune_model"]
