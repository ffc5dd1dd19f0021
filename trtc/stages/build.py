"""build: turn the stage's input ONNX into the artifact a runtime executes.

ONNX Runtime builds an offline-optimised ``model.ort.onnx``; TensorRT builds
``model.engine`` (+ ``model.engine.json`` sidecar, ``model.layers.json``).
What differs is the backend's (:class:`trtc.backends.base.Backend`): it checks
and plans the build before anything slow (TensorRT: version gates, profiles and
the shape preflight, in :mod:`trtc.backends.tensorrt_plan`), builds into a
staged file, then writes what goes beside the artifact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.backends.base import BuildRequest, ProfileHint
from trtc.backends.tensorrt_plan import (
    ModelFacts,
    check_build_files,
    model_facts,
    plan_trt_settings,
    preflight_shapes,
    with_calibration_cache,
)
from trtc.recipe import BuildSpec, to_data
from trtc.stages import StageContext, StageResult
from trtc.workspace import atomic_path

# Names that lived here before the TensorRT planning moved to trtc.backends.tensorrt_plan.
__all__ = ["BuildInfo", "BuildJob", "BuildResult", "ModelFacts", "ProfileHint",
           "build_artifact", "check_build_files", "model_facts", "plan_build",
           "plan_trt_settings", "preflight_shapes", "run", "with_calibration_cache",
           "workspace_timing_cache_dir"]


@dataclass(frozen=True)
class BuildJob:
    """What build needs: its section, the backend resolved once, and the profile hint."""

    build: BuildSpec
    backend: str
    why: str
    hint: ProfileHint = field(default_factory=ProfileHint)
    timing_cache_dir: Path | None = None
    #: Polygraphy's / TensorRT's verbose log while building.
    verbose: bool = False


@dataclass(frozen=True)
class BuildInfo:
    """What a build did: the build manifest's ``metrics`` (and flags mode's ``--json``)."""

    backend: str
    backend_choice: str | None
    precision: str
    build_time_s: float
    artifact_bytes: int
    settings: dict[str, Any]
    #: TensorRT: engine build time, size, hash, timing-cache reuse.
    engine: dict[str, Any] | None = None
    #: TensorRT: the compute layers by precision, from the engine inspector
    #: (:func:`trtc.tensorrt.inspector.precision_report`).
    layer_precision: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"backend": self.backend, "backend_choice": self.backend_choice,
               "precision": self.precision, "build_time_s": self.build_time_s,
               "artifact_bytes": self.artifact_bytes, "settings": self.settings}
        if self.engine:
            out["engine"] = self.engine
        if self.layer_precision:
            out["layer_precision"] = self.layer_precision
        return out


@dataclass
class BuildResult(StageResult):
    """The build stage's result: :class:`BuildInfo` beside the generic fields."""

    info: BuildInfo | None = None


def run(job: BuildJob, ctx: StageContext) -> BuildResult:
    """Build from ``ctx.inputs['model']`` into ``ctx.outputs['artifact']``."""
    return build_artifact(ctx.inputs["model"], ctx.outputs["artifact"], job.build,
                          backend_name=job.backend, why=job.why, hint=job.hint,
                          verbose=job.verbose, timing_cache_dir=job.timing_cache_dir,
                          progress=ctx.reporter.phase)


def _check_expect(spec: BuildSpec, info: BuildInfo, artifact: Path,
                  warnings: list[str]) -> None:
    """``build.expect``: the engine's compute layers must run in the precision asked for.

    The engine stays on disk (``trtc inspect`` shows why); the stage fails, so no
    manifest marks it done.
    """
    from trtc.errors import VerificationError
    from trtc.tensorrt.inspector import precision_failures

    expect = spec.expect
    if expect.int8_fraction is None and expect.fp16_fraction is None:
        return
    if info.backend != "tensorrt":
        warnings.append(f"build.expect checks TensorRT engines' layers; not checked for "
                        f"{info.backend}")
        return
    failures = precision_failures(info.layer_precision or {},
                                  int8_fraction=expect.int8_fraction,
                                  fp16_fraction=expect.fp16_fraction)
    if failures:
        raise VerificationError(
            f"{artifact}: " + "; ".join(failures),
            "int8: quantize the model (trtc quantize --target tensorrt) and build with "
            "--precision int8 or best; trtc inspect ENGINE shows each layer's precision")


def workspace_timing_cache_dir(stage_dir: Path) -> Path:
    """``<root>/.timing-cache`` for ``<root>/<recipe>/build``: shared by every recipe.

    Timing caches are keyed by GPU and TensorRT version, not by model, so one
    directory per workspace lets every recipe's build reuse the others' timings.
    """
    return stage_dir.parent.parent / ".timing-cache"


def plan_build(spec: BuildSpec, *, onnx_path: Path | None = None, hint: ProfileHint | None = None,
               trt_version: str | None = None, output: str | None = None,
               timing_cache_dir: Path | None = None) -> dict[str, Any]:
    """Resolve the backend and settings without building (``--dry-run``; works anywhere).

    The backend adds what it would do (TensorRT: the settings resolved for the
    installed version, else ``trt_version``, else the newest trtc knows, and the
    trtexec line); ``timing_cache_dir`` is where ``timing_cache: auto`` keeps its
    caches (default: beside ``output``).
    """
    from trtc.backends import get_backend, resolve_backend
    from trtc.errors import DependencyError

    try:
        backend, why = resolve_backend(spec.backend, spec)
        name, available = backend.name, True
    except DependencyError as exc:
        name, why, available = spec.backend, f"not available here: {exc.message}", False
        backend = get_backend(name)
    plan: dict[str, Any] = {"backend": name, "backend_choice": why,
                            "available_here": available, "settings": to_data(spec)}
    plan.update(backend.preview_build(spec, onnx_path=onnx_path, hint=hint,
                                      version=trt_version, output=output,
                                      timing_cache_dir=timing_cache_dir))
    return plan


def build_artifact(onnx_path: Path, out_path: Path, spec: BuildSpec,
                   backend_name: str | None = None, why: str | None = None, *,
                   hint: ProfileHint | None = None, verbose: bool = False,
                   timing_cache_dir: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> BuildResult:
    """Build ``out_path`` from ``onnx_path``; nothing is written when the build fails.

    ``timing_cache_dir``: where TensorRT's ``timing_cache: auto`` keeps its keyed
    caches (the stage passes the workspace's; default: beside ``out_path``).

    Raises:
        DependencyError: the backend cannot run here (e.g. no TensorRT).
        UsageError: a setting the backend or TensorRT version cannot do, a profile
            that does not fit the model, or a Q/DQ model quantized for the other backend.
        ModelError: the runtime rejects the model.
    """
    from trtc.backends import get_backend, resolve_backend
    from trtc.graph.cleanup import load_onnx
    from trtc.graph.io import read_model_io

    if backend_name is None:
        backend, why = resolve_backend(spec.backend, spec)
    else:
        backend = get_backend(backend_name)
    load_onnx(onnx_path)  # a clear error for a missing/corrupt file before the runtime's own
    request = BuildRequest(onnx_path, out_path, spec, read_model_io(onnx_path), why=why or "",
                           hint=hint, timing_cache_dir=timing_cache_dir, verbose=verbose)
    prepared = backend.prepare_build(request)
    warnings = list(prepared.warnings)
    start = time.perf_counter()
    with atomic_path(out_path) as staged:
        built = backend.build(onnx_path, staged, spec, plan=prepared, verbose=verbose,
                              progress=progress)
    elapsed = time.perf_counter() - start
    extra = backend.finish_build(out_path, prepared, built)
    warnings.extend(w for w in built.get("warnings", []) if w not in warnings)
    info = BuildInfo(backend.name, why, built.get("precision", prepared.precision),
                     round(elapsed, 3), out_path.stat().st_size, built.get("settings", {}),
                     built.get("engine") or None, built.get("layer_precision"))
    _check_expect(spec, info, out_path, warnings)
    return BuildResult("build", {"artifact": out_path, **extra}, info.to_dict(),
                       device=built.get("device", {}), warnings=warnings, info=info)
