"""TensorRT backend: the only module that imports tensorrt.

This version checks availability so that ``backend: auto`` can choose and
``backend: tensorrt`` fails fast with an install hint; the engine build,
runner and CUDA timing harness are the TensorRT issue's work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.errors import DependencyError

if TYPE_CHECKING:
    from polygraphy.backend.base import BaseRunner

    from trtc.backends.base import Feed
    from trtc.recipe import BuildSpec

INSTALL_HINT = ("install TensorRT on a Linux machine with an NVIDIA GPU: "
                "pip install 'trtc[trt]' (tensorrt, cuda-python), or use --backend onnxruntime")


def tensorrt_version() -> str | None:
    """Return the importable TensorRT version, or None."""
    try:
        import tensorrt
    except ImportError:
        return None
    # tensorrt-stubs (for mypy) installs an importable 'tensorrt' without the library.
    version = getattr(tensorrt, "__version__", None)
    return str(version) if version else None


class TensorRTBackend:
    name = "tensorrt"
    artifact_name = "model.engine"

    def check_available(self, spec: BuildSpec | None = None) -> None:
        version = tensorrt_version()
        if version is None:
            raise DependencyError("TensorRT is not installed (the tensorrt library does not "
                                  "import)",
                                  INSTALL_HINT)
        raise DependencyError(f"TensorRT {version} is installed, but this trtc version "
                              "cannot build engines yet", "use --backend onnxruntime")

    def build(self, onnx_path: Path, out_path: Path, spec: BuildSpec) -> dict[str, Any]:
        self.check_available(spec)
        return {}

    def runner(self, artifact: Path, name: str) -> BaseRunner:
        self.check_available()
        raise AssertionError("unreachable")

    def infer_fn(self, artifact: Path, threads: int | None) -> Callable[[Feed], Any]:
        self.check_available()
        raise AssertionError("unreachable")

    def io_specs(self, artifact: Path) -> tuple[dict[str, tuple[str, tuple[int | str, ...]]],
                                                list[str]]:
        self.check_available()
        raise AssertionError("unreachable")
