"""The backend interface and how a recipe's ``backend:`` becomes one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from trtc.errors import DependencyError, UsageError

if TYPE_CHECKING:
    import numpy as np
    from polygraphy.backend.base import BaseRunner

    from trtc.recipe import BuildSpec

Feed = Mapping[str, "np.ndarray"]
BACKENDS = ("onnxruntime", "tensorrt")


class Backend(Protocol):
    """What the stages need from a runtime: build an artifact, run it, time it."""

    name: str
    #: File name of the built artifact inside build/<recipe>/build/.
    artifact_name: str

    def check_available(self, spec: BuildSpec) -> None:
        """Raise DependencyError (with an install hint) when this backend cannot run here."""

    def build(self, onnx_path: Path, out_path: Path, spec: BuildSpec) -> dict[str, Any]:
        """Build ``out_path`` from ``onnx_path``; return the settings used and metrics."""

    def runner(self, artifact: Path, name: str) -> BaseRunner:
        """Return a Polygraphy runner for the artifact (for the comparator)."""

    def infer_fn(self, artifact: Path, threads: int | None) -> Callable[[Feed], Any]:
        """Return a function running one inference on a feed dict (for benchmarking)."""

    def io_specs(self, artifact: Path) -> tuple[dict[str, tuple[str, tuple[int | str, ...]]],
                                                list[str]]:
        """Return ({input name: (dtype, shape with named dynamic dims)}, output names)."""


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
