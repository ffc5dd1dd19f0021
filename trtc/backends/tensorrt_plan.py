"""TensorRT build planning the stages call through the backend: settings, checks, preview.

Every TensorRT decision for a build is made here before anything slow: the
version gates and settings (the pure :func:`trtc.tensorrt.settings.plan_trt_build`), the
default profile from the recipe's shapes, the files the settings name, and the
profiles *run* on ONNX Runtime at every corner (the shape preflight). Nothing
here imports tensorrt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.errors import UsageError

if TYPE_CHECKING:
    from trtc.backends.base import BuildRequest, PreparedBuild, ProfileHint
    from trtc.graph.io import ModelIO
    from trtc.recipe import BuildSpec
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
    #: {output name: (dtype, shape)}; None where only the inputs are known (a dry run
    #: from the recipe's model.inputs).
    outputs: dict[str, tuple[str, tuple[int | str, ...]]] | None = None
    #: The per-tensor Q/DQ scale of each input / output that has one (int8 I/O).
    io_scales: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, model: ModelIO, io_scales: Mapping[str, float] | None = None) -> ModelFacts:
        """The facts of a model read by :func:`trtc.graph.io.read_model_io`."""
        return cls(model.input_specs(named=True), model.has_qdq, dict(model.metadata),
                   {t.name: (t.dtype, t.shape) for t in model.outputs}, dict(io_scales or {}))


def model_facts(onnx_path: Path, spec: BuildSpec | None = None) -> ModelFacts:
    """Read the model's inputs, outputs, Q/DQ nodes, metadata_props and, as
    :func:`io_scales_of` says, its Q/DQ I/O scales."""
    from trtc.graph.io import load_proto, model_io

    proto = load_proto(onnx_path)
    model = model_io(proto, str(onnx_path))
    return ModelFacts.of(model, io_scales_of(spec, model, proto))


def io_scales_of(spec: BuildSpec | None, model: ModelIO, source: Any) -> dict[str, float]:
    """The model's Q/DQ I/O scales where it has Q/DQ nodes, read only when the build asks
    for I/O formats (``spec`` None: whenever). ``source``: the ONNX path or its proto."""
    if not model.has_qdq or (spec is not None and not (spec.input_formats
                                                       or spec.output_formats)):
        return {}
    from trtc.graph.io import load_proto
    from trtc.tensorrt.io_formats import qdq_io_scales

    return qdq_io_scales(load_proto(source) if isinstance(source, Path) else source)


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
    from trtc.tensorrt.model import float_precision, qdq_precision
    from trtc.tensorrt.settings import plan_trt_build

    return plan_trt_build(spec, facts.inputs, version, model_has_qdq=facts.has_qdq,
                          qdq_precision=qdq_precision(facts.metadata),
                          float_precision=float_precision(facts.metadata),
                          default_profile=hinted_default_profile(hint, facts.inputs),
                          timing_cache_dir=timing_cache_dir, onnx_outputs=facts.outputs,
                          io_scales=facts.io_scales)


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

    from trtc.backends.onnxruntime import OnnxRuntimeBackend
    from trtc.errors import ModelError
    from trtc.tensorrt.profiles import profile_corners

    corners = profile_corners(profiles)
    if not corners:
        return []
    try:
        infer = OnnxRuntimeBackend().infer_fn(onnx_path, threads=None)
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
    from trtc.shapes import format_shapes

    culprits = [n for n in shapes if good is None or good.get(n) != shapes[n]] or list(shapes)
    where = format_shapes({n: shapes[n] for n in culprits})
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if len(first) > 300:
        first = first[:300] + "..."
    return UsageError(f"shape preflight: the model fails at {label} ({where}) on ONNX Runtime "
                      f"(CPU), so TensorRT would too: {first}",
                      "narrow that profile (--profile NAME:MIN,OPT,MAX) to shapes the model "
                      "supports, or pass --no-preflight to build anyway")


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


def _facts_for_plan(onnx_path: Path | None, hint: ProfileHint | None, spec: BuildSpec
                    ) -> ModelFacts:
    if onnx_path is not None and onnx_path.is_file():
        facts = model_facts(onnx_path, spec)
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
    if settings.int8_mode != "calibration" or not settings.calibration or \
            settings.calibration.get("cache"):
        return settings
    cache = engine_path.with_name(engine_path.name + ".calib.cache")
    cache.unlink(missing_ok=True)
    return dataclasses.replace(settings, calibration={**settings.calibration,
                                                      "cache": str(cache)})




def prepare(request: BuildRequest, version: str) -> PreparedBuild:
    """Plan a TensorRT build for ``version``: settings, file checks, shape preflight.

    Raises:
        UsageError: the model is quantized for another target, a setting this version
            cannot do, a profile that does not fit (or does not run on) the model.
        DataError: the calibration data is missing or a folder.
    """
    from trtc.backends.base import PreparedBuild
    from trtc.tensorrt.model import check_qdq_target
    from trtc.tensorrt.versions import opset_note, unknown_version_note

    spec, model = request.spec, request.model
    check_qdq_target(model.metadata, "tensorrt", str(request.onnx_path))
    facts = ModelFacts.of(model, io_scales_of(spec, model, request.onnx_path))
    warnings = [n for n in (unknown_version_note(version), opset_note(version, model.opset))
                if n is not None]
    settings = plan_trt_settings(spec, facts, version, hint=request.hint,
                                 timing_cache_dir=_auto_cache_dir(request.out_path,
                                                                  request.timing_cache_dir))
    check_build_files(settings)
    settings = with_calibration_cache(settings, request.out_path)
    warnings.extend(settings.notes)
    if spec.preflight:
        warnings.extend(preflight_shapes(request.onnx_path, facts.inputs, settings.profiles))
    return PreparedBuild(settings.precision, settings, tuple(warnings))


def preview(spec: BuildSpec, *, onnx_path: Path | None, hint: ProfileHint | None,
            version: str | None, output: str | None,
            timing_cache_dir: Path | None, installed: str | None = None) -> dict[str, Any]:
    """The ``tensorrt`` and ``trtexec`` keys of ``build --dry-run`` (works without TensorRT).

    The settings are resolved for the installed version, else for ``version``
    (``--trt-version``), else for the newest version trtc knows; the trtexec line is
    rendered for that version. The model's inputs come from ``onnx_path`` when it
    exists, else from the recipe's ``model.inputs``.
    """
    from trtc.graph.io import read_opset
    from trtc.tensorrt.settings import settings_to_data
    from trtc.tensorrt.trtexec import trtexec_command
    from trtc.tensorrt.versions import (
        NEWEST_SUPPORTED,
        normalize_version,
        opset_note,
        unknown_version_note,
    )

    trt_version = version
    if trt_version and installed and normalize_version(trt_version) != \
            normalize_version(installed):
        raise UsageError(f"--trt-version {trt_version}: TensorRT {installed} is installed here",
                         "--trt-version previews another version only where TensorRT is "
                         "not installed")
    resolved = normalize_version(installed or trt_version or NEWEST_SUPPORTED)
    facts = _facts_for_plan(onnx_path, hint, spec)
    try:
        settings = plan_trt_settings(spec, facts, resolved, hint=hint,
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
                         f"previews {resolved}, the newest trtc knows)",
                         f"{exc.hint}; or preview another version: {pick}"
                         if exc.hint else f"preview another version: {pick}") from None
    engine = output or "model.engine"
    section: dict[str, Any] = {
        "version": resolved,
        "version_source": "installed" if installed else
        ("--trt-version" if trt_version else "newest supported (TensorRT not installed)"),
        "model_inputs": {n: list(s) for n, (_, s) in facts.inputs.items()},
        "model_has_qdq": facts.has_qdq,
        **settings_to_data(settings),
    }
    opset = read_opset(onnx_path) if onnx_path is not None and onnx_path.is_file() else 0
    extra = [n for n in (unknown_version_note(resolved), opset_note(resolved, opset)) if n]
    if extra:
        section["notes"] = [*section.get("notes", []), *extra]
    return {"tensorrt": section,
            "trtexec": trtexec_command(settings, str(onnx_path or "model.onnx"), engine)}
