"""build: turn the stage's input ONNX into the artifact a runtime executes.

ONNX Runtime builds an offline-optimised ``model.ort.onnx``; TensorRT builds
``model.engine`` (+ ``model.engine.json`` sidecar, ``model.layers.json``).
Every TensorRT decision is made by the pure :func:`trtc.tensorrt.settings.plan_trt_build`
here, before anything slow: the version gates, the profiles (checked against
the model and then *run* on ONNX Runtime at every corner, the shape
preflight), and the Q/DQ target check. The adapter only translates.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.errors import UsageError
from trtc.recipe import BuildSpec, to_data
from trtc.stages import StageContext, StageResult
from trtc.workspace import atomic_path

if TYPE_CHECKING:
    from trtc.tensorrt.profiles import OnnxInputs, ProfileSpec, ShapeRange
    from trtc.tensorrt.settings import TrtBuildSettings

#: Corners with more elements than this (all inputs together) are not preflighted:
#: ONNX Runtime on a CPU would need too much memory and time.
PREFLIGHT_MAX_ELEMENTS = 1 << 28


@dataclass(frozen=True)
class ModelFacts:
    """What the build needs to know about the ONNX model before choosing settings."""

    inputs: dict[str, tuple[str, tuple[int | str, ...]]]
    has_qdq: bool = False
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileHint:
    """What the rest of the recipe says about the shapes the artifact will run.

    The default TensorRT profile covers the batches verify and bench run, and a dry
    run without an exported model reads the inputs the recipe declares.
    """

    batches: tuple[int, ...] = ()
    dims: dict[str, int] = field(default_factory=dict)
    shapes: tuple[dict[str, Any], ...] = ()
    declared_inputs: dict[str, tuple[str, tuple[int | str, ...]]] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildJob:
    """What build needs: its section, the backend resolved once, and the profile hint."""

    build: BuildSpec
    backend: str
    why: str
    hint: ProfileHint = field(default_factory=ProfileHint)
    timing_cache_dir: Path | None = None


def run(job: BuildJob, ctx: StageContext) -> StageResult:
    """Build from ``ctx.inputs['model']`` into ``ctx.outputs['artifact']``."""
    return build_artifact(ctx.inputs["model"], ctx.outputs["artifact"], job.build,
                          backend_name=job.backend, why=job.why, hint=job.hint,
                          timing_cache_dir=job.timing_cache_dir)


def workspace_timing_cache_dir(stage_dir: Path) -> Path:
    """``<root>/.timing-cache`` for ``<root>/<recipe>/build``: shared by every recipe.

    Timing caches are keyed by GPU and TensorRT version, not by model, so one
    directory per workspace lets every recipe's build reuse the others' timings.
    """
    return stage_dir.parent.parent / ".timing-cache"


def model_facts(onnx_path: Path) -> ModelFacts:
    """Read the model's inputs, whether it holds Q/DQ nodes, and its metadata_props."""
    from trtc.tensorrt.model import onnx_facts

    inputs, has_qdq, metadata = onnx_facts(onnx_path)
    return ModelFacts(dict(inputs), has_qdq, dict(metadata))


def hinted_default_profile(hint: ProfileHint | None, onnx_inputs: OnnxInputs
                           ) -> dict[str, ShapeRange]:
    """The profile used when the recipe gives none: the shapes verify and bench will run."""
    from trtc.tensorrt.profiles import default_profile

    if hint is None:
        return dict(default_profile(onnx_inputs))
    return dict(default_profile(onnx_inputs, batches=sorted(hint.batches), dims=hint.dims,
                                shapes=list(hint.shapes)))


def plan_trt_settings(spec: BuildSpec, facts: ModelFacts, version: str, *,
                      hint: ProfileHint | None = None,
                      timing_cache_dir: str | None = None) -> TrtBuildSettings:
    """Resolve the recipe into TensorRT settings (validates; touches no GPU)."""
    from trtc.tensorrt.model import qdq_precision
    from trtc.tensorrt.settings import plan_trt_build

    return plan_trt_build(spec, facts.inputs, version, model_has_qdq=facts.has_qdq,
                          qdq_precision=qdq_precision(facts.metadata),
                          default_profile=hinted_default_profile(hint, facts.inputs),
                          timing_cache_dir=timing_cache_dir)


def preflight_shapes(onnx_path: Path, onnx_inputs: OnnxInputs,
                     profiles: Sequence[ProfileSpec]) -> list[str]:
    """Run the model on ONNX Runtime (CPU) at every profile corner before a TensorRT build.

    A profile the model cannot run (a reshape that needs a fixed batch, a
    spatial size too small for the strides) otherwise fails minutes into the
    TensorRT build, or at inference. The opt corner runs first; when another
    corner fails, the inputs whose shape differs from opt are named.

    Returns warnings (corners skipped, or the preflight skipped because ONNX
    Runtime cannot load the model, e.g. TensorRT plugin ops).

    Raises:
        UsageError: naming the profile corner, input and shape that fails.
    """
    import numpy as np

    from trtc.backends import get_backend
    from trtc.errors import ModelError
    from trtc.tensorrt.profiles import profile_corners

    corners = profile_corners(profiles)
    if not corners:
        return []
    try:
        infer = get_backend("onnxruntime").infer_fn(onnx_path, threads=None)
    except ModelError as exc:
        return [f"shape preflight skipped: {exc.message}"]
    warnings: list[str] = []
    # Run opt corners first: a failure at min/max then names what differs from a good run.
    order = sorted(corners, key=lambda c: not c[0].endswith(" opt"))
    good: dict[int, dict[str, tuple[int, ...]]] = {}
    for label, shapes in order:
        if sum(int(np.prod(s)) for s in shapes.values()) > PREFLIGHT_MAX_ELEMENTS:
            warnings.append(f"shape preflight: {label} skipped (too large to run on a CPU)")
            continue
        feed = {name: np.zeros(shape, dtype=_np_dtype(onnx_inputs[name][0]))
                for name, shape in shapes.items()}
        for name, (dtype, shape) in onnx_inputs.items():
            if name not in feed:  # static inputs are left out of profiles
                fixed = tuple(d if isinstance(d, int) and d > 0 else 1 for d in shape)
                feed[name] = np.zeros(fixed, dtype=_np_dtype(dtype))
        index = int(label.split()[1])
        try:
            infer(feed)
        except Exception as exc:  # ORT raises its own Fail/InvalidArgument/... classes
            if "NOT_IMPLEMENTED" in str(exc):  # a kernel ONNX Runtime's CPU lacks: not shapes
                return warnings + [f"shape preflight skipped: ONNX Runtime (CPU) cannot run "
                                   f"the model: {str(exc).strip().splitlines()[0][:200]}"]
            raise _preflight_error(label, shapes, good.get(index), exc) from None
        if label.endswith(" opt"):
            good[index] = shapes
    return warnings


def _np_dtype(name: str) -> Any:
    import numpy as np

    try:
        return np.dtype(name)
    except TypeError:
        return np.float32


def _preflight_error(label: str, shapes: Mapping[str, tuple[int, ...]],
                     good: Mapping[str, tuple[int, ...]] | None,
                     exc: BaseException) -> UsageError:
    from trtc.shapes import format_shape

    culprits = [n for n in shapes if good is None or good.get(n) != shapes[n]] or list(shapes)
    where = ", ".join(f"{n}:{format_shape(shapes[n])}" for n in culprits)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if len(first) > 300:
        first = first[:300] + "..."
    return UsageError(f"shape preflight: the model fails at {label} ({where}) on ONNX Runtime "
                      f"(CPU), so TensorRT would too: {first}",
                      "narrow that profile (--profile NAME:MIN,OPT,MAX) to shapes the model "
                      "supports, or pass --no-preflight to build anyway")


def plan_build(spec: BuildSpec, *, onnx_path: Path | None = None, hint: ProfileHint | None = None,
               trt_version: str | None = None, output: str | None = None,
               timing_cache_dir: Path | None = None) -> dict[str, Any]:
    """Resolve the backend and settings without building (``--dry-run``; works anywhere).

    For TensorRT the settings are resolved for the installed version, else for
    ``trt_version``, else for the newest version trtc knows; the trtexec line is
    rendered for that version. The model's inputs come from ``onnx_path`` when
    it exists, else from the recipe's ``model.inputs``. ``timing_cache_dir`` is
    where ``timing_cache: auto`` keeps its caches (default: beside ``output``).
    """
    from trtc.backends import resolve_backend
    from trtc.errors import DependencyError

    try:
        backend, why = resolve_backend(spec.backend, spec)
        name, available = backend.name, True
    except DependencyError as exc:
        name, why, available = spec.backend, f"not available here: {exc.message}", False
    plan: dict[str, Any] = {"backend": name, "backend_choice": why,
                            "available_here": available, "settings": to_data(spec)}
    if name != "tensorrt":
        return plan
    from trtc.backends.tensorrt import tensorrt_version
    from trtc.tensorrt.settings import settings_to_data
    from trtc.tensorrt.trtexec import trtexec_command
    from trtc.tensorrt.versions import NEWEST_SUPPORTED, normalize_version

    installed = tensorrt_version()
    if trt_version and installed and normalize_version(trt_version) != \
            normalize_version(installed):
        raise UsageError(f"--trt-version {trt_version}: TensorRT {installed} is installed here",
                         "--trt-version previews another version only where TensorRT is "
                         "not installed")
    version = normalize_version(installed or trt_version or NEWEST_SUPPORTED)
    facts = _facts_for_plan(onnx_path, hint)
    try:
        settings = plan_trt_settings(spec, facts, version, hint=hint,
                                     timing_cache_dir=_auto_cache_dir(output,
                                                                      timing_cache_dir))
    except UsageError as exc:
        others = [] if installed or trt_version else _older_versions_that_fit(spec, facts,
                                                                              hint)
        if not others:  # a version-independent error (profile, level...) is shown as is
            raise
        # Not installed: the preview assumed the newest version; say so and how to pick.
        pick = " / ".join(f"--trt-version {v}" for v in others)
        raise UsageError(f"{exc.message} (TensorRT is not installed here: the dry run "
                         f"previews {version}, the newest trtc knows)",
                         f"{exc.hint}; or preview another version: {pick}"
                         if exc.hint else f"preview another version: {pick}") from None
    engine = output or "model.engine"
    plan["tensorrt"] = {
        "version": version,
        "version_source": "installed" if installed else
        ("--trt-version" if trt_version else "newest supported (TensorRT not installed)"),
        "model_inputs": {n: list(s) for n, (_, s) in facts.inputs.items()},
        "model_has_qdq": facts.has_qdq,
        **settings_to_data(settings),
    }
    from trtc.tensorrt.versions import opset_note, unknown_version_note

    opset = _onnx_opset(onnx_path) if onnx_path is not None and onnx_path.is_file() else 0
    extra = [n for n in (unknown_version_note(version), opset_note(version, opset)) if n]
    if extra:
        plan["tensorrt"]["notes"] = [*plan["tensorrt"].get("notes", []), *extra]
    plan["trtexec"] = trtexec_command(settings, str(onnx_path or "model.onnx"), engine)
    return plan


def _onnx_opset(onnx_path: Path) -> int:
    """The model's default-domain opset (0 when it cannot be read: the build reports that)."""
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception:  # noqa: BLE001 - a dry run previews; the real build names the problem
        return 0
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _older_versions_that_fit(spec: BuildSpec, facts: ModelFacts, hint: ProfileHint | None
                             ) -> list[str]:
    """The older TensorRT majors (10, 8.6) whose gates accept what the newest refused."""
    from trtc.tensorrt.versions import LATEST_KNOWN

    fit = []
    for label, major in (("10", 10), ("8.6", 8)):
        try:
            plan_trt_settings(spec, facts, LATEST_KNOWN[major], hint=hint)
        except UsageError:
            continue
        fit.append(label)
    return fit


def _facts_for_plan(onnx_path: Path | None, hint: ProfileHint | None) -> ModelFacts:
    if onnx_path is not None and onnx_path.is_file():
        facts = model_facts(onnx_path)
        from trtc.tensorrt.model import check_qdq_target

        check_qdq_target(facts.metadata, "tensorrt", str(onnx_path))
        return facts
    if hint is not None and hint.declared_inputs:
        return ModelFacts(dict(hint.declared_inputs))
    if onnx_path is not None:
        from trtc.errors import ModelError

        raise ModelError(f"model file not found: {onnx_path}", "check the path")
    raise UsageError("the dry run needs the model's inputs: run export first, or list "
                     "model.inputs in the recipe")


def _auto_cache_dir(engine_path: str | Path | None, given: Path | None = None) -> str | None:
    if given is not None:
        return str(given)
    if engine_path is None:
        return None
    from trtc.tensorrt.engine_file import default_timing_cache_dir

    return str(default_timing_cache_dir(Path(engine_path)))


def build_artifact(onnx_path: Path, out_path: Path, spec: BuildSpec,
                   backend_name: str | None = None, why: str | None = None, *,
                   hint: ProfileHint | None = None, verbose: bool = False,
                   timing_cache_dir: Path | None = None) -> StageResult:
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
    from trtc.tensorrt.model import check_qdq_target

    if backend_name is None:
        backend, why = resolve_backend(spec.backend, spec)
    else:
        backend = get_backend(backend_name)
    load_onnx(onnx_path)  # a clear error for a missing/corrupt file before the runtime's own
    facts = model_facts(onnx_path)
    opset = _onnx_opset(onnx_path)
    warnings: list[str] = []
    try:
        check_qdq_target(facts.metadata, backend.name, str(onnx_path))
    except UsageError as exc:
        # auto fell back to ONNX Runtime: a TensorRT-style (s8/s8) Q/DQ model still runs
        # correctly there, only without the speed-up, so the pipeline goes on and says so.
        # Asked for explicitly, or TensorRT given ONNX Runtime's u8 activations: refused.
        if not (spec.backend == "auto" and backend.name == "onnxruntime"):
            raise
        warnings.append(f"{exc.message}: it runs on ONNX Runtime, without the int8 speed-up "
                        "(ONNX Runtime's CPU kernels want --target onnxruntime-cpu)")
    if spec.backend == "auto" and backend.name != "tensorrt":
        reason = str(why or "")
        prefix = f"{backend.name} (auto: "
        if reason.startswith(prefix) and reason.endswith(")"):
            reason = reason[len(prefix):-1]
        warnings.append(f"backend auto chose {backend.name}, not TensorRT: {reason}")
    if backend.name == "tensorrt":
        return _build_tensorrt(backend, onnx_path, out_path, spec, facts, why, hint,
                               verbose, warnings, opset, timing_cache_dir)
    precision = _onnxruntime_precision(spec, facts, warnings)
    start = time.perf_counter()
    with atomic_path(out_path) as staged:
        info = backend.build(onnx_path, staged, spec)
    elapsed = time.perf_counter() - start
    metrics = {"backend": backend.name, "backend_choice": why,
               "precision": info.get("precision", precision),
               "build_time_s": round(elapsed, 3), "artifact_bytes": out_path.stat().st_size,
               "settings": info.get("settings", {})}
    return StageResult("build", {"artifact": out_path}, metrics, device=info.get("device", {}),
                       warnings=warnings)


def _onnxruntime_precision(spec: BuildSpec, facts: ModelFacts, warnings: list[str]) -> str:
    """ONNX Runtime runs the model's own types: precision is what the model holds.

    ``precision`` is a TensorRT builder setting. Asked of ONNX Runtime directly it
    is refused; when ``auto`` fell back to ONNX Runtime it is reported, not applied.
    """
    from trtc.tensorrt.model import qdq_precision

    held = qdq_precision(facts.metadata) or ("int8" if facts.has_qdq else "fp32")
    if spec.precision in ("fp32", held):
        return held
    message = (f"build.precision {spec.precision} is a TensorRT builder setting; ONNX Runtime "
               f"runs the model's own types ({held})")
    hint = (f"write it into the model: trtc quantize MODEL.onnx -o OUT.onnx --precision "
            f"{spec.precision} --target onnxruntime-cpu, then build OUT.onnx")
    if spec.backend == "onnxruntime":
        raise UsageError(message, hint)
    warnings.append(f"{message}: built as {held}")
    return held


def _build_tensorrt(backend: Any, onnx_path: Path, out_path: Path, spec: BuildSpec,
                    facts: ModelFacts, why: str | None, hint: ProfileHint | None, verbose: bool,
                    warnings: list[str], opset: int = 0,
                    timing_cache_dir: Path | None = None) -> StageResult:
    from trtc.backends.tensorrt import tensorrt_version
    from trtc.tensorrt.versions import opset_note, unknown_version_note

    version = tensorrt_version() or ""
    for note in (unknown_version_note(version), opset_note(version, opset)):
        if note is not None:
            warnings.append(note)
    settings = plan_trt_settings(spec, facts, version, hint=hint,
                                 timing_cache_dir=_auto_cache_dir(out_path, timing_cache_dir))
    check_build_files(settings)
    settings = with_calibration_cache(settings, out_path)
    warnings.extend(settings.notes)
    if spec.preflight:
        warnings.extend(preflight_shapes(onnx_path, facts.inputs, settings.profiles))
    start = time.perf_counter()
    with atomic_path(out_path) as staged:
        info = backend.build(onnx_path, staged, spec, settings=settings, verbose=verbose)
    elapsed = time.perf_counter() - start
    extra = backend.after_build(out_path, info)
    cache = (settings.calibration or {}).get("cache")
    if cache and Path(cache).is_file():
        extra.setdefault("calibration_cache", Path(cache))
    warnings.extend(w for w in info.get("warnings", []) if w not in warnings)
    metrics = {"backend": backend.name, "backend_choice": why,
               "precision": info.get("precision", settings.precision),
               "build_time_s": round(elapsed, 3), "artifact_bytes": out_path.stat().st_size,
               "settings": info.get("settings", {})}
    if info.get("engine"):  # engine build time, size, hash, timing-cache reuse
        metrics["engine"] = info["engine"]
    return StageResult("build", {"artifact": out_path, **extra}, metrics,
                       device=info.get("device", {}), warnings=warnings)


def check_build_files(settings: TrtBuildSettings) -> None:
    """Fail before the slow build when a file the settings name is missing.

    Raises:
        DataError: the int8 calibration data is missing, or is a folder (images are
            calibrated by trtc quantize, not by the TensorRT calibrator).
        UsageError: a plugin library is missing.
    """
    from trtc.errors import DataError

    calib = settings.calibration or {}
    data = str(calib.get("data") or "")
    if data and data != "random" and not data.startswith("python:"):
        path = Path(data[4:] if data.startswith("npz:") else data)
        if not path.exists():
            raise DataError(f"build.int8_calib: calibration data not found: {path}",
                            "give an .npz file, python:module:function or random (paths are "
                            "relative to the recipe)")
        if path.is_dir():
            # The TensorRT calibrator reads arrays (trtc.data.load_arrays), not images.
            raise DataError(f"build.int8_calib: {path} is a folder; TensorRT calibration "
                            "reads an .npz file (arrays keyed by input name), "
                            "python:module:function or random",
                            "for an image folder, quantize first: trtc quantize MODEL.onnx "
                            "-o OUT.onnx --target tensorrt --calib-data FOLDER, then build "
                            "OUT.onnx")
    for plugin in settings.plugins:
        if not Path(plugin).is_file():
            raise UsageError(f"build.plugins: plugin library not found: {plugin}",
                             "give the path of the plugin's .so file")


def with_calibration_cache(settings: TrtBuildSettings, engine_path: Path) -> TrtBuildSettings:
    """Give an int8 calibration without a cache file one next to the engine, made fresh.

    The cache makes the build reproducible with trtexec (``--calib=CACHE``). A
    cache the user did not name is deleted first: TensorRT would otherwise reuse
    scales calibrated on other data.
    """
    import dataclasses

    if settings.int8_mode != "calibration" or not settings.calibration or \
            settings.calibration.get("cache"):
        return settings
    cache = engine_path.with_name(engine_path.name + ".calib.cache")
    cache.unlink(missing_ok=True)
    return dataclasses.replace(settings, calibration={**settings.calibration,
                                                      "cache": str(cache)})

