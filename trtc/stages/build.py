"""build: turn the stage's input ONNX into the artifact a runtime executes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from trtc.recipe import BuildSpec, Recipe, to_data
from trtc.stages import StageResult
from trtc.workspace import atomic_path


def run(recipe: Recipe, inputs: dict[str, Path], out_dir: Path) -> StageResult:
    """Build from ``inputs['model']`` into ``out_dir`` with the recipe's backend."""
    from trtc.backends import resolve_backend

    backend, why = resolve_backend(recipe.build.backend, recipe.build)
    return build_artifact(inputs["model"], out_dir / backend.artifact_name, recipe.build,
                          backend_name=backend.name, why=why)


def plan_build(spec: BuildSpec) -> dict[str, Any]:
    """Resolve the backend and settings without building (``--dry-run``; works anywhere)."""
    from trtc.backends import resolve_backend
    from trtc.errors import DependencyError

    try:
        backend, why = resolve_backend(spec.backend, spec)
        name, available = backend.name, True
    except DependencyError as exc:
        name, why, available = spec.backend, f"not available here: {exc.message}", False
    return {"backend": name, "backend_choice": why, "available_here": available,
            "settings": to_data(spec)}


def build_artifact(onnx_path: Path, out_path: Path, spec: BuildSpec,
                   backend_name: str | None = None, why: str | None = None) -> StageResult:
    """Build ``out_path`` from ``onnx_path``; nothing is written when the build fails.

    Raises:
        DependencyError: the backend cannot run here (e.g. no TensorRT).
        ModelError: the runtime rejects the model.
    """
    from trtc.backends import get_backend, resolve_backend
    from trtc.graph.cleanup import load_onnx

    if backend_name is None:
        backend, why = resolve_backend(spec.backend, spec)
    else:
        backend = get_backend(backend_name)
    model = load_onnx(onnx_path)  # a clear error for a missing/corrupt file before the runtime's
    # A quantized model says its precision (trtc quantize writes it): verify's tolerances follow.
    quantized = {p.key: p.value for p in model.metadata_props}.get("trtc.quantize.precision")
    start = time.perf_counter()
    with atomic_path(out_path) as staged:
        info = backend.build(onnx_path, staged, spec)
    elapsed = time.perf_counter() - start
    metrics = {"backend": backend.name, "backend_choice": why,
               "precision": info.get("precision", quantized or "fp32"),
               "build_time_s": round(elapsed, 3), "artifact_bytes": out_path.stat().st_size,
               "settings": info.get("settings", {})}
    return StageResult("build", {"artifact": out_path}, metrics, device=info.get("device", {}))
