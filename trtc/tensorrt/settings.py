"""The TensorRT build settings: one table of rows, the resolved settings, the plan.

Each :class:`Setting` row says, for one recipe key, how it is checked, which
Polygraphy keyword carries it, how trtexec spells it and under which sidecar
key it is recorded. The Polygraphy keywords (:func:`polygraphy_kwargs`), the
trtexec line (:mod:`trtc.tensorrt.trtexec`), the sidecar and the dry-run data
(:func:`settings_to_data`) are all generated from :data:`SETTINGS`, so a new
setting is one row. Precision (several builder flags, an int8 mode, a
calibration) and the profiles are resolved by :mod:`~trtc.tensorrt.precision`
and :mod:`~trtc.tensorrt.profiles` and rendered by each generator directly.

"None means the backend's default": a setting left unset (None, or False for an
opt-in switch) is not sent to Polygraphy at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from trtc.errors import DependencyError, UsageError, did_you_mean
from trtc.tensorrt.io_formats import parse_io_formats, plan_io_formats
from trtc.tensorrt.precision import PRECISION_MIN_CC, resolve_precision
from trtc.tensorrt.profiles import (
    OnnxInputs,
    ProfileSpec,
    ShapeRange,
    profile_to_data,
    recipe_profiles,
    resolve_profiles,
)
from trtc.tensorrt.versions import MIN_VERSION, TrtFeatures, features, parse_version

if TYPE_CHECKING:
    from trtc.recipe import BuildSpec

HARDWARE_LEVELS = ("none", "ampere+", "same-compute-capability")
MAX_BUILDER_OPTIMIZATION_LEVEL = 5


@dataclass(frozen=True)
class TrtEnum:
    """A TensorRT enum member named without importing tensorrt: ``trt.<enum>.<member>``.

    The adapter replaces it (also as a dict key) with the real member.
    """

    enum: str
    member: str


@dataclass(frozen=True)
class TrtBuildSettings:
    """Everything the adapter needs to build one engine, resolved for one TensorRT version."""

    precision: str              # "fp32" | "fp16" | "bf16" | "int8" | "fp8" | "best"
    tf32: bool                  # TF32 math for fp32 layers; off for strongly typed networks
    strongly_typed: bool        # network flag STRONGLY_TYPED (>= 9; always on 11)
    int8_mode: str | None       # None | "qdq" (Q/DQ in the ONNX) | "calibration"
    calibration: dict[str, Any] | None   # {"data": str, "samples": int, "cache": str | None}
    profiles: tuple[ProfileSpec, ...]
    workspace_bytes: int | None
    optimization_level: int | None
    timing_cache: str | None    # a file, or with timing_cache_keyed a directory
    sparsity: bool
    refit: bool
    version_compatible: bool
    hardware_compatibility: str | None   # None | "ampere+" | "same-compute-capability"
    plugins: tuple[str, ...]
    version: str                # the TensorRT version these settings were resolved for
    #: Tactic sources to enable (trt.TacticSource names); None = TensorRT's default.
    tactic_sources: tuple[str, ...] | None = None
    #: Auxiliary streams TensorRT may run layers on in parallel (>= 8.6); None = its own.
    max_aux_streams: int | None = None
    #: Builder precision flags to set: a subset of ("fp16", "bf16", "int8", "fp8");
    #: always empty for strongly typed networks.
    precision_flags: tuple[str, ...] = ()
    #: timing_cache is a directory; the file in it is named by timing_cache_key().
    timing_cache_keyed: bool = False
    #: Network input / output types and formats as trtexec writes them ("fp16:hwc8"):
    #: one per tensor in order, or one for all; () = the ONNX types, linear.
    input_formats: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    #: The quantization scale of each int8 I/O tensor, from the model's Q/DQ nodes
    #: (the host quantizes / dequantizes with it; see trtc.tensorrt.io_formats).
    io_scales: dict[str, float] = field(default_factory=dict)
    #: Things the user should know (settings ignored, defaults chosen): warnings.
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- the table

Trtexec = Callable[[Any, TrtBuildSettings, TrtFeatures], list[str]]


def _same(value: Any, *_: Any) -> Any:
    return value


def _switch(flag: str) -> Trtexec:
    """trtexec renders ``flag`` when the setting is on."""
    return lambda value, s, f: [flag] if value else []


def _valued(template: str) -> Trtexec:
    return lambda value, s, f: [template.format(value)] if value is not None else []


@dataclass(frozen=True)
class Setting:
    """One build setting: the recipe key and what it becomes for Polygraphy, trtexec, sidecar."""

    #: Recipe key (``build.<key>``; the flag is ``--<key with dashes>``).
    key: str
    #: The TrtBuildSettings field holding the resolved value.
    field: str
    #: Key in settings_to_data() (dry run, build manifest, the sidecar's "settings").
    data_key: str
    #: recipe value, version -> resolved value (validates); None: resolved elsewhere
    #: (strongly_typed, tf32 follow the precision; timing_cache may be keyed).
    resolve: Callable[[Any, TrtFeatures], Any] | None
    #: The Polygraphy keyword: CreateConfig's ("config"), NetworkFromOnnxPath's ("network")
    #: or LoadPlugins' ("plugins"); None: not a keyword (the adapter handles it).
    polygraphy: str | None
    trtexec: Trtexec
    #: Top-level key in the sidecar (engine.json), or None (then only under "settings").
    sidecar: str | None = None
    loader: Literal["config", "network", "plugins"] = "config"
    to_polygraphy: Callable[[Any], Any] = _same
    to_sidecar: Callable[[Any], Any] = _same
    #: Sent to Polygraphy even when False: Polygraphy's default differs from TensorRT's.
    send_false: bool = False
    #: The oldest TensorRT with the setting (asking for it on an older one is refused).
    since: tuple[int, int] = MIN_VERSION


def _workspace(value: Any, feats: TrtFeatures) -> int | None:
    return None if value is None else parse_size(value, "build.workspace")


def _aux_streams(value: Any, feats: TrtFeatures) -> int | None:
    if value is not None and (isinstance(value, bool) or value < 0):
        raise UsageError(f"build.max_aux_streams: {value} is not a count of streams",
                         "0 runs every layer on the main stream; leave it out for "
                         "TensorRT's own choice")
    return value


def _level(value: Any, feats: TrtFeatures) -> int | None:
    if value is not None and not 0 <= value <= MAX_BUILDER_OPTIMIZATION_LEVEL:
        raise UsageError(f"build.builder_optimization_level: {value} is outside 0-"
                         f"{MAX_BUILDER_OPTIMIZATION_LEVEL}",
                         "TensorRT's default is 3; 5 searches longest")
    return value


def _hardware(value: Any, feats: TrtFeatures) -> str | None:
    hw = None if value == "none" else value
    if hw is not None and hw not in feats.hardware_levels:
        raise UsageError(f"build.hardware_compatibility: {hw!r} needs a newer TensorRT than "
                         f"{feats.version}", f"use one of: {', '.join(feats.hardware_levels)}")
    return hw


_HW_ENUM = {"ampere+": "AMPERE_PLUS", "same-compute-capability": "SAME_COMPUTE_CAPABILITY"}
_HW_TRTEXEC = {"ampere+": "ampere+", "same-compute-capability": "sameComputeCapability"}


def _mib(n: int) -> str:
    mib = n / (1 << 20)
    return str(int(mib)) if mib == int(mib) else f"{mib:.6f}".rstrip("0")


def _timing_cache_flag(value: Any, s: TrtBuildSettings, f: TrtFeatures) -> list[str]:
    if not value:
        return []
    if s.timing_cache_keyed:  # one file per GPU and version: a comment says where
        return [f"# timing cache: --timingCacheFile={value}/<GPU and TensorRT key>.cache"]
    return [f"--timingCacheFile={value}"]


#: TensorRT's tactic sources (trt.TacticSource members), in trtexec's order.
TACTIC_SOURCES = ("CUBLAS", "CUBLAS_LT", "CUDNN", "EDGE_MASK_CONVOLUTIONS", "JIT_CONVOLUTIONS")
#: What ``tactic_sources: auto`` enables on TensorRT 8.x: TensorRT 10 no longer times
#: cuBLAS/cuDNN tactics by default; on 8.6 the builder still does, for every layer,
#: which is what makes detector builds take minutes. 10 and 11 keep their own default.
AUTO_TACTIC_SOURCES_8 = ("EDGE_MASK_CONVOLUTIONS", "JIT_CONVOLUTIONS")


def _tactics(value: Any, feats: TrtFeatures) -> tuple[str, ...] | None:
    if value is None or value == "default":
        return None
    if value == "auto":
        return AUTO_TACTIC_SOURCES_8 if feats.major < 10 else None
    names = value.split(",") if isinstance(value, str) else list(value)
    out = tuple(n.strip().upper().lstrip("+") for n in names if n.strip())
    for name in out:
        if name not in TACTIC_SOURCES:
            raise UsageError(f"build.tactic_sources: unknown tactic source {name!r}",
                             did_you_mean(name, TACTIC_SOURCES, "use auto, default or a list "
                                          f"of: {', '.join(TACTIC_SOURCES)}"))
    return out


def _io_formats(key: str) -> Callable[[Any, TrtFeatures], tuple[str, ...]]:
    """Parse and check one of build.input_formats / output_formats (trtexec's spelling)."""
    return lambda value, feats: tuple(f.spec for f in parse_io_formats(value, key, feats))


def _io_flag(flag: str) -> Trtexec:
    return lambda value, s, f: [f"{flag}={','.join(value)}"] if value else []


def _tactics_flag(value: Any, s: TrtBuildSettings, f: TrtFeatures) -> list[str]:
    if value is None:
        return []
    return ["--tacticSources=" + ",".join(("+" if t in value else "-") + t
                                          for t in TACTIC_SOURCES)]


#: The build settings, in the order the trtexec line renders them.
SETTINGS: tuple[Setting, ...] = (
    Setting("strongly_typed", "strongly_typed", "strongly_typed", None, "strongly_typed",
            lambda v, s, f: [f.trtexec_strongly_typed_flag]
            if v and f.trtexec_strongly_typed_flag else [],
            sidecar="strongly_typed", loader="network", since=(9, 0)),
    # Polygraphy clears TF32 unless asked; TensorRT and trtexec default to it on.
    Setting("tf32", "tf32", "tf32", None, "tf32",
            lambda v, s, f: [] if v else ["--noTF32"], sidecar="tf32", send_false=True),
    Setting("workspace", "workspace_bytes", "workspace_bytes", _workspace,
            "memory_pool_limits",
            lambda v, s, f: [] if v is None else [f"{f.trtexec_workspace_flag}{_mib(v)}"],
            to_polygraphy=lambda v: {TrtEnum("MemoryPoolType", "WORKSPACE"): int(v)}),
    Setting("builder_optimization_level", "optimization_level", "builder_optimization_level",
            _level, "builder_optimization_level", _valued("--builderOptimizationLevel={}"),
            to_polygraphy=int),
    Setting("max_aux_streams", "max_aux_streams", "max_aux_streams", _aux_streams,
            "max_aux_streams", _valued("--maxAuxStreams={}"), sidecar="max_aux_streams",
            since=(8, 6)),
    Setting("tactic_sources", "tactic_sources", "tactic_sources", _tactics, "tactic_sources",
            _tactics_flag, sidecar="tactic_sources",
            to_polygraphy=lambda v: [TrtEnum("TacticSource", t) for t in v],
            to_sidecar=lambda v: "default" if v is None else list(v)),
    # Set on the parsed network by the adapter (ITensor.dtype / allowed_formats).
    Setting("input_formats", "input_formats", "input_formats",
            _io_formats("build.input_formats"), None, _io_flag("--inputIOFormats"),
            sidecar="input_formats", loader="network", to_sidecar=list),
    Setting("output_formats", "output_formats", "output_formats",
            _io_formats("build.output_formats"), None, _io_flag("--outputIOFormats"),
            sidecar="output_formats", loader="network", to_sidecar=list),
    Setting("timing_cache", "timing_cache", "timing_cache", None, None, _timing_cache_flag),
    Setting("sparsity", "sparsity", "sparsity", _same, "sparse_weights",
            _switch("--sparsity=enable"), sidecar="sparsity"),
    Setting("refit", "refit", "refit", _same, "refittable", _switch("--refit"),
            sidecar="refit"),
    Setting("version_compatible", "version_compatible", "version_compatible", _same,
            "version_compatible", _switch("--versionCompatible"), sidecar="version_compatible"),
    Setting("hardware_compatibility", "hardware_compatibility", "hardware_compatibility",
            _hardware, "hardware_compatibility_level",
            lambda v, s, f: [f"--hardwareCompatibilityLevel={_HW_TRTEXEC[v]}"] if v else [],
            sidecar="hardware_compatibility",
            to_polygraphy=lambda v: TrtEnum("HardwareCompatibilityLevel", _HW_ENUM[v]),
            to_sidecar=lambda v: v or "none"),
    Setting("plugins", "plugins", "plugins", lambda v, f: tuple(v), "plugins",
            lambda v, s, f: [f"{f.trtexec_plugin_flag}={p}" for p in v],
            sidecar="plugins", loader="plugins", to_sidecar=list),
)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def settings_to_data(settings: TrtBuildSettings) -> dict[str, Any]:
    """Return settings as plain JSON data (profiles as {input: {min, opt, max}})."""
    return {
        "precision": settings.precision,
        "precision_flags": list(settings.precision_flags),
        "int8_mode": settings.int8_mode,
        "calibration": dict(settings.calibration) if settings.calibration else None,
        "profiles": [profile_to_data(p) for p in settings.profiles],
        **{row.data_key: _plain(getattr(settings, row.field)) for row in SETTINGS},
        "timing_cache_keyed": settings.timing_cache_keyed,
        "io_scales": dict(settings.io_scales),
        "tensorrt_version": settings.version,
        "notes": list(settings.notes),
    }


def sidecar_settings(settings: TrtBuildSettings) -> dict[str, Any]:
    """The settings an engine's sidecar records at its top level (what it needs to load)."""
    return {
        "precision": settings.precision,
        "precision_flags": list(settings.precision_flags),
        "int8_mode": settings.int8_mode,
        "profiles": [profile_to_data(p) for p in settings.profiles],
        **{row.sidecar: row.to_sidecar(getattr(settings, row.field))
           for row in SETTINGS if row.sidecar},
        "io_scales": dict(settings.io_scales),
    }


def polygraphy_kwargs(settings: TrtBuildSettings,
                      loader: Literal["config", "network", "plugins"] = "config"
                      ) -> dict[str, Any]:
    """The keywords of one Polygraphy loader (CreateConfig by default) for ``settings``.

    Unset settings (None, or False for an opt-in switch) are left out, so Polygraphy's
    and TensorRT's defaults apply (and older Polygraphy versions lacking a keyword still
    work when it is not asked for). TensorRT enums are :class:`TrtEnum` placeholders.
    Profiles, the calibrator and the timing cache are objects the adapter makes.
    """
    kwargs: dict[str, Any] = {}
    if loader == "config":
        kwargs.update({flag: True for flag in settings.precision_flags})
    for row in SETTINGS:
        value = getattr(settings, row.field)
        if row.loader != loader or row.polygraphy is None:
            continue
        if value is None or value == () or (value is False and not row.send_false):
            continue
        kwargs[row.polygraphy] = row.to_polygraphy(value)
    if loader == "config":
        # Layer details for the engine inspector (layers.json); no runtime cost.
        kwargs["profiling_verbosity"] = TrtEnum("ProfilingVerbosity", "DETAILED")
    return kwargs


# --------------------------------------------------------------------------- the plan


def plan_trt_build(spec: BuildSpec, onnx_inputs: OnnxInputs, version: str, *,
                   model_has_qdq: bool = False, qdq_precision: str | None = None,
                   float_precision: str | None = None,
                   default_profile: Mapping[str, ShapeRange] | None = None,
                   timing_cache_dir: str | None = None,
                   onnx_outputs: OnnxInputs | None = None,
                   io_scales: Mapping[str, float] | None = None) -> TrtBuildSettings:
    """Resolve a recipe's build section into settings for TensorRT ``version``.

    Args:
        spec: the recipe's build section.
        onnx_inputs: {input name: (dtype, shape)}; dynamic dims are strings.
        version: the installed (or previewed) TensorRT version.
        model_has_qdq: the ONNX holds QuantizeLinear/DequantizeLinear nodes.
        qdq_precision: the precision ``trtc quantize`` recorded in the model's metadata
            (int8, fp8, fp16, bf16; see trtc.tensorrt.model.qdq_precision()), or None.
        float_precision: what ``trtc quantize`` wrote a Q/DQ model's float part in
            ("fp16": trtc.tensorrt.model.float_precision()), or None.
        default_profile: min/opt/max per dynamic input used when the recipe gives
            no profile, or to fill inputs a profile leaves out (see default_profile()).
        timing_cache_dir: where ``timing_cache: auto`` keeps its keyed caches.
        onnx_outputs: {output name: (dtype, shape)}, for build.output_formats (None:
            unknown here; the adapter checks them against the parsed network).
        io_scales: the per-tensor Q/DQ scale of the model's inputs and outputs
            (trtc.tensorrt.io_formats.qdq_io_scales), for int8 I/O.

    Raises:
        UsageError: a setting the version cannot do, or a profile that does not fit.
        DependencyError: the TensorRT version is too old.
    """
    feats = features(version)
    notes: list[str] = []
    precision, strongly_typed, int8_mode, flags, calibration = resolve_precision(
        spec, feats, model_has_qdq, qdq_precision, notes, float_precision=float_precision)
    profiles = resolve_profiles(recipe_profiles(spec), onnx_inputs,
                                default_profile=default_profile, notes=notes,
                                batch_profiles=tuple(spec.batch_profiles))
    values: dict[str, Any] = {}
    for row in SETTINGS:
        if row.resolve is None:
            continue
        value = row.resolve(getattr(spec, row.key), feats)
        if value and not feats.at_least(row.since):
            raise UsageError(f"build.{row.key} needs TensorRT {row.since[0]}.{row.since[1]} "
                             f"or newer (this is {feats.version})")
        values[row.field] = value
    scales = plan_io_formats(values["input_formats"], values["output_formats"], feats,
                             onnx_inputs, onnx_outputs, strongly_typed=strongly_typed,
                             int8_mode=int8_mode, scales=io_scales or {}, notes=notes)
    timing_cache, keyed = _resolve_timing_cache(spec.timing_cache, timing_cache_dir)
    if spec.version_compatible and spec.refit:
        # NVIDIA's version-compatibility article: the lean runtime cannot refit engines.
        notes.append("build.refit with build.version_compatible: an engine loaded by the "
                     "lean or dispatch runtime cannot be refitted there")
    return TrtBuildSettings(
        # The adapter builds strongly typed networks without TF32 (fp32 stays fp32, as the
        # ONNX types say); resolved here so the sidecar, verify and trtexec (--noTF32) agree.
        precision=precision, tf32=spec.tf32 and not strongly_typed,
        strongly_typed=strongly_typed, int8_mode=int8_mode, calibration=calibration,
        profiles=profiles, timing_cache=timing_cache, version=feats.version,
        precision_flags=flags, timing_cache_keyed=keyed, notes=tuple(notes),
        io_scales=scales, **values)


def math_precision(settings: TrtBuildSettings) -> str:
    """The precision the engine computes in, for verify's tolerances: ``tf32`` for an fp32
    build with TF32 on (TF32 math differs from fp32 ONNX Runtime), else the precision."""
    if settings.precision == "fp32" and settings.tf32 and not settings.strongly_typed:
        return "tf32"
    return settings.precision


def _resolve_timing_cache(value: str | None, cache_dir: str | None) -> tuple[str | None, bool]:
    if value is None or value.lower() in ("none", "off", ""):
        return None, False
    if value == "auto":
        return (cache_dir, True) if cache_dir else (None, False)
    return value, False


def check_gpu(settings: TrtBuildSettings, compute_capability: tuple[int, int],
              gpu_name: str = "this GPU") -> list[str]:
    """Refuse what the build GPU cannot do; return warnings for what it only ignores.

    Raises:
        DependencyError: e.g. fp8 on a GPU older than Ada/Hopper (compute capability 8.9).
    """
    warnings: list[str] = []
    cc = tuple(compute_capability)
    needs = list(settings.precision_flags)
    if settings.int8_mode == "qdq" and settings.precision in ("int8", "fp8"):
        needs.append(settings.precision)
    for p in needs:
        need = PRECISION_MIN_CC.get(p)
        if need and cc < need:
            raise DependencyError(f"{p} needs a GPU with compute capability "
                                  f"{need[0]}.{need[1]} or newer; {gpu_name} has "
                                  f"{cc[0]}.{cc[1]}", "choose another precision")
    if settings.hardware_compatibility == "ampere+" and cc < (8, 0):
        raise DependencyError(f"hardware_compatibility ampere+ must be built on an Ampere or "
                              f"newer GPU; {gpu_name} has compute capability {cc[0]}.{cc[1]}",
                              "build on an Ampere or newer GPU, or drop the setting")
    if settings.sparsity and cc < (8, 0):
        warnings.append(f"sparsity has no effect on {gpu_name} (2:4 sparse tensor cores "
                        "start with Ampere, compute capability 8.0)")
    return warnings


#: For a GPU generation (compute capability major), the first TensorRT release whose
#: default builder level trtc leaves alone. Measured on the H200 (9.0) with TensorRT
#: 8.6.0 (docs/zoo-findings.md G2): every tactic took 15-40 ms to time, sm90_* and
#: sm80_* kernels alike, and each generated pointwise kernel (PointWiseV2, compiled with
#: NVRTC) 150-250 ms, so fp16 builds of mobile and OCR models with a few hundred layers
#: ran past 270 s at TensorRT's default level 3. Only what was measured is listed.
SLOW_TACTICS_BEFORE: dict[int, tuple[int, int]] = {9: (9, 0)}
#: The builder level trtc uses there when the recipe does not set one: level 0 built
#: ppocr_cls in 49 s where level 3 ran past 270 s (level 1: 111 s).
SLOW_TACTICS_LEVEL = 0


def gpu_defaults(settings: TrtBuildSettings, compute_capability: tuple[int, int]
                 ) -> tuple[TrtBuildSettings, list[str]]:
    """The settings for the build GPU, and a note for each default trtc chose for it.

    Where this TensorRT times tactics slowly on this GPU (:data:`SLOW_TACTICS_BEFORE`), an
    unset ``build.builder_optimization_level`` becomes :data:`SLOW_TACTICS_LEVEL`: fewer
    tactics timed. A level the recipe sets is kept as it is.
    """
    level = default_level(settings.version, compute_capability)
    if settings.optimization_level is not None or level is None:
        return settings, []
    cc = f"{compute_capability[0]}.{compute_capability[1]}"
    return replace(settings, optimization_level=level), [
        f"TensorRT {settings.version} times tactics slowly on compute capability {cc} "
        f"(minutes for small models at its default level 3), so trtc builds at "
        f"builder_optimization_level {level}; set build.builder_optimization_level to "
        "choose"]


def default_level(version: str, compute_capability: tuple[int, int]) -> int | None:
    """trtc's builder level for this TensorRT and GPU when the recipe sets none; None
    leaves TensorRT's own default."""
    before = SLOW_TACTICS_BEFORE.get(compute_capability[0])
    if before is None or parse_version(version)[:2] >= before:
        return None
    return SLOW_TACTICS_LEVEL


# --------------------------------------------------------------------------- sizes

_UNITS = {"": 1, "b": 1,
          "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
          "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def parse_size(text: str | int, where: str = "--workspace") -> int:
    """Return bytes for '4GiB', '512MiB', '1.5G', '4GB' (decimal) or '1073741824'.

    K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024 (as in trtexec); KB/MB/GB/TB
    are powers of 1000; a bare number is bytes.

    Raises:
        UsageError: not a size, or not positive.
    """
    if isinstance(text, bool):
        raise UsageError(f"{where}: expected a size such as 4GiB, got {text!r}")
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
        unit = m.group(2).lower() if m else ""
        if not m or unit not in _UNITS:
            raise UsageError(f"{where}: {text!r} is not a size",
                             "write e.g. 4GiB, 512MiB or a number of bytes")
        value = int(float(m.group(1)) * _UNITS[unit])
    if value <= 0:
        raise UsageError(f"{where}: the size must be positive, got {text!r}")
    return value


def is_size(text: str) -> bool:
    """Return whether ``text`` reads as a size ('4GiB', '512M', '1073741824')."""
    try:
        parse_size(text)
    except UsageError:
        return False
    return True


def trt_values(trt: Any, value: Any) -> Any:
    """Replace TrtEnum placeholders (also dict keys, list items) with members of ``trt``
    (the tensorrt module, passed in by the adapter: this package never imports it)."""
    if isinstance(value, TrtEnum):
        return getattr(getattr(trt, value.enum), value.member)
    if isinstance(value, dict):
        return {trt_values(trt, k): trt_values(trt, v) for k, v in value.items()}
    if isinstance(value, list):
        return [trt_values(trt, v) for v in value]
    return value
