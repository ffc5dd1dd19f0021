"""TensorRT and Polygraphy failures as trtc errors: what failed, where, and what to do."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trtc.errors import DependencyError, ModelError

INSTALL_HINT = ("install TensorRT on a Linux machine with an NVIDIA GPU: "
                "pip install 'trtc[trt]' (tensorrt, cuda-python), or use --backend onnxruntime")
REBUILD_HERE = ("engines are specific to a GPU and a TensorRT version: rebuild it here "
                "(trtc build ... --force)")


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (TensorRT's logs run long)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def not_installed() -> DependencyError:
    return DependencyError("TensorRT is not installed (the tensorrt library does not import)",
                           INSTALL_HINT)


def no_gpu(version: str) -> DependencyError:
    return DependencyError(f"TensorRT {version} is installed, but no CUDA GPU is visible "
                           "(cuda-python finds no device)",
                           "run on a machine with an NVIDIA GPU and driver, or use "
                           "--backend onnxruntime")


def engine_not_found(engine_path: Path) -> ModelError:
    return ModelError(f"engine not found: {engine_path}", "check the path, or build it")


def incompatible_engine(engine_path: Path, why: str) -> ModelError:
    """The sidecar says the engine cannot load here (compatibility_verdict's reason)."""
    return ModelError(f"{engine_path}: {why}",
                      "rebuild the engine on this machine (trtc build ... --force); "
                      "engines are specific to a GPU and a TensorRT version")


def cannot_deserialize(engine_path: Path, version: str, sidecar: Mapping[str, Any] | None,
                       exc: BaseException) -> ModelError:
    where = ("" if sidecar is None else
             f" (built with TensorRT {sidecar.get('tensorrt_version')} on "
             f"{(sidecar.get('gpu') or {}).get('name')})")
    return ModelError(f"{engine_path}: TensorRT {version} cannot deserialize the "
                      f"engine{where}: {first_line(exc)}", REBUILD_HERE)


def not_an_engine(engine_path: Path) -> ModelError:
    return ModelError(f"{engine_path}: not a TensorRT engine", "rebuild it")
