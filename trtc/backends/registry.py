"""Which backend a name or an artifact means; ``auto`` resolved with the reason why.

The implementations are imported here, inside functions, and only here: they
import :mod:`trtc.backends.base`, never this module, so there is no cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trtc.backends.base import BACKENDS, Backend
from trtc.errors import DependencyError, UsageError

if TYPE_CHECKING:
    from trtc.recipe import BuildSpec


def get_backend(name: str) -> Backend:
    """Return the backend called ``name`` (``onnxruntime`` or ``tensorrt``)."""
    if name == "onnxruntime":
        from trtc.backends.onnxruntime import OnnxRuntimeBackend
        return OnnxRuntimeBackend()
    if name == "tensorrt":
        from trtc.backends.tensorrt import TensorRTBackend
        return TensorRTBackend()
    raise UsageError(f"unknown backend {name!r}", f"use one of: auto, {', '.join(BACKENDS)}")


def resolve_backend(name: str, spec: BuildSpec) -> tuple[Backend, str]:
    """Resolve ``auto`` and check availability; return the backend and why it was chosen."""
    if name != "auto":
        backend = get_backend(name)
        backend.check_available(spec)
        return backend, f"{name} (asked for)"
    trt = get_backend("tensorrt")
    try:
        trt.check_available(spec)
    except DependencyError as exc:
        return get_backend("onnxruntime"), f"onnxruntime (auto: {exc.message})"
    return trt, "tensorrt (auto: TensorRT and a GPU are present)"


def backend_for_artifact(path: str | Path) -> Backend:
    """Pick the backend that runs an artifact, from its file name."""
    suffix = Path(path).suffix.lower()
    if suffix in (".engine", ".plan", ".trt"):
        return get_backend("tensorrt")
    if suffix == ".onnx":
        return get_backend("onnxruntime")
    raise UsageError(f"{path}: cannot tell which backend runs a '{suffix}' file",
                     "pass an .onnx model or a TensorRT .engine/.plan")
