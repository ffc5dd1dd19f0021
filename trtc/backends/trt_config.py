"""Every TensorRT build decision as pure data: recipe -> settings, gates, trtexec, sidecar.

This module holds what a TensorRT user decides and what each TensorRT version
allows; the adapter in ``trtc/backends/tensorrt.py`` only translates the
resulting :class:`TrtBuildSettings` into Polygraphy / TensorRT calls. Nothing
here imports tensorrt, polygraphy, cuda or onnx, so all of it is tested on CPU
for TensorRT 8.6, 10 and 11 alike.

Version facts used below (checked against NVIDIA/TensorRT's trtexec sources,
samples/common/sampleOptions.cpp at tags v8.6.1, v9.3.0, v10.0.0, v10.16, v11.1,
and the "Version Compatibility" / "Engine Compatibility" pages of the docs):

- 8.6: weak typing (fp16 / int8 builder flags, int8 calibrators); no bf16, fp8
  or strongly typed networks; networks need the EXPLICIT_BATCH creation flag;
  trtexec's ``--explicitBatch`` is already a deprecated no-op, ``--memPoolSize``
  takes MiB without unit suffixes, one optimization profile per trtexec build.
- 9 / 10: adds ``--bf16``, ``--fp8``, ``--stronglyTyped``, several profiles
  through ``--profile=N``; explicit batch is the only mode (10). Calibrators
  still exist (deprecated in 10). ``sameComputeCapability`` hardware
  compatibility from 10.9 (``kSAME_COMPUTE_CAPABILITY`` in v10.9.0's NvInfer.h).
- 11: weak typing is gone: no fp16/bf16/int8/fp8/best flags, no calibrators;
  every network is strongly typed (``--stronglyTyped`` is a no-op). Reduced
  precision must be in the ONNX (``trtc quantize``).
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtc.errors import DependencyError, UsageError

if TYPE_CHECKING:
    from trtc.recipe import BuildSpec

Dims = tuple[int, ...]
ShapeRange = tuple[Dims, Dims, Dims]          # (min, opt, max)
OnnxInputs = Mapping[str, tuple[str, tuple[int | str, ...]]]

#: The oldest TensorRT trtc builds with (version-compatible engines, builder levels,
#: hardware compatibility and the tensor-name I/O API all start there).
MIN_VERSION = (8, 6)
#: The newest release of each major we know the flags of (``--trt-version 10`` previews it).
LATEST_KNOWN = {8: "8.6.1", 9: "9.3.0", 10: "10.16.0", 11: "11.1.0"}
NEWEST_SUPPORTED = LATEST_KNOWN[max(LATEST_KNOWN)]

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8", "best")
HARDWARE_LEVELS = ("none", "ampere+", "same-compute-capability")
MAX_BUILDER_OPTIMIZATION_LEVEL = 5

#: ONNX metadata_props written by ``trtc quantize`` (issue 4).
QDQ_TARGET_KEY = "trtc.quantize.target"
QDQ_PRECISION_KEY = "trtc.quantize.precision"
QDQ_TARGETS = ("tensorrt", "onnxruntime-cpu")
#: Which Q/DQ target each trtc backend executes well.
BACKEND_QDQ_TARGET = {"tensorrt": "tensorrt", "onnxruntime": "onnxruntime-cpu"}

SIDECAR_FORMAT = "trtc-engine/1"


# --------------------------------------------------------------------------- versions


def parse_version(version: str) -> tuple[int, int, int]:
    """Return (major, minor, patch) of '8.6.1', '8.6.1.6', '10' or '10.3'.

    A bare major ('10') means the newest release of it that trtc knows.

    Raises:
        UsageError: not a version number.
    """
    text = str(version).strip().lstrip("v")
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.\d+)*(?:[a-z+].*)?", text)
    if not m:
        raise UsageError(f"TensorRT version {version!r} is not a version number",
                         "write it like 8.6, 10 or 10.16.0")
    major = int(m.group(1))
    if m.group(2) is None and major in LATEST_KNOWN:
        return parse_version(LATEST_KNOWN[major])
    return major, int(m.group(2) or 0), int(m.group(3) or 0)


def normalize_version(version: str) -> str:
    """Return 'major.minor.patch' ('10' -> the newest 10.x trtc knows)."""
    return ".".join(str(p) for p in parse_version(version))


@dataclass(frozen=True)
class TrtFeatures:
    """What one TensorRT version can do, and how its trtexec spells it."""

    version: str
    major: int
    minor: int
    #: IInt8Calibrator exists (8.6, 10; removed in 11).
    calibrators: bool
    #: NetworkDefinitionCreationFlag.STRONGLY_TYPED exists (>= 9).
    strongly_typed: bool
    #: Every network is strongly typed (>= 11): no fp16/bf16/int8/fp8 builder flags.
    strongly_typed_only: bool
    bf16: bool
    fp8: bool
    #: Accepted ``hardware_compatibility`` values (recipe spelling).
    hardware_levels: tuple[str, ...]
    #: trtexec builds several profiles (``--profile=N`` before each min/opt/max set).
    trtexec_multi_profile: bool
    #: trtexec's workspace flag; the value is in MiB on every supported version.
    trtexec_workspace_flag: str
    #: The strongly-typed flag, or None where it is the default (11: a no-op).
    trtexec_strongly_typed_flag: str | None
    trtexec_plugin_flag: str


def features(version: str) -> TrtFeatures:
    """Return what TensorRT ``version`` supports.

    Raises:
        DependencyError: the version is older than 8.6.
    """
    major, minor, patch = parse_version(version)
    if (major, minor) < MIN_VERSION:
        raise DependencyError(f"TensorRT {major}.{minor}.{patch} is older than trtc supports "
                              f"({MIN_VERSION[0]}.{MIN_VERSION[1]} or newer)",
                              "install TensorRT 8.6, 10 or 11")
    levels = ("none", "ampere+") + (("same-compute-capability",) if (major, minor) >= (10, 9)
                                    else ())
    return TrtFeatures(
        version=f"{major}.{minor}.{patch}", major=major, minor=minor,
        calibrators=major < 11,
        strongly_typed=major >= 9,
        strongly_typed_only=major >= 11,
        bf16=major >= 9,
        fp8=major >= 9,
        hardware_levels=levels,
        trtexec_multi_profile=major >= 9,
        trtexec_workspace_flag="--memPoolSize=workspace:",
        trtexec_strongly_typed_flag="--stronglyTyped" if 9 <= major < 11 else None,
        trtexec_plugin_flag="--staticPlugins",
    )


#: The newest ONNX opset the parser of a TensorRT release documents (support matrix):
#: 8.6 parses opsets up to 17, 11.x up to 25. 10.x moved with each minor: not gated here.
_MAX_OPSET = {8: 17, 11: 25}


def unknown_version_note(version: str) -> str | None:
    """A warning for a TensorRT newer than any trtc knows the flags of (settings and the
    trtexec line then follow the newest known release, which may have changed)."""
    major, minor, _ = parse_version(version)
    newest = parse_version(NEWEST_SUPPORTED)
    if (major, minor) <= newest[:2]:
        return None
    return (f"TensorRT {version} is newer than trtc knows ({NEWEST_SUPPORTED}): settings and "
            f"the trtexec line follow {NEWEST_SUPPORTED}'s rules; check them against its "
            "release notes")


def opset_note(version: str, model_opset: int) -> str | None:
    """A warning when the model's opset is newer than TensorRT ``version``'s parser documents.

    Not a refusal: the parser often still reads the ops a model uses, and when it does not,
    its error names the node; the note says what to do about it.
    """
    major, _, _ = parse_version(version)
    limit = _MAX_OPSET.get(major)
    if limit is None or model_opset <= limit:
        return None
    return (f"the model is ONNX opset {model_opset}; TensorRT {version}'s parser documents "
            f"opsets up to {limit}: if parsing fails, re-export with export.opset: {limit} "
            "(exporter: legacy)")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ProfileSpec:
    """One optimization profile: input name -> (min, opt, max) shapes."""

    shapes: dict[str, ShapeRange]


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
    #: Builder precision flags to set: a subset of ("fp16", "bf16", "int8", "fp8");
    #: always empty for strongly typed networks.
    precision_flags: tuple[str, ...] = ()
    #: timing_cache is a directory; the file in it is named by timing_cache_key().
    timing_cache_keyed: bool = False
    #: Things the user should know (settings ignored, defaults chosen): warnings.
    notes: tuple[str, ...] = ()


def plan_trt_build(spec: BuildSpec, onnx_inputs: OnnxInputs, version: str, *,
                   model_has_qdq: bool = False, qdq_precision: str | None = None,
                   default_profile: Mapping[str, ShapeRange] | None = None,
                   timing_cache_dir: str | None = None) -> TrtBuildSettings:
    """Resolve a recipe's build section into settings for TensorRT ``version``.

    Args:
        spec: the recipe's build section.
        onnx_inputs: {input name: (dtype, shape)}; dynamic dims are strings.
        version: the installed (or previewed) TensorRT version.
        model_has_qdq: the ONNX holds QuantizeLinear/DequantizeLinear nodes.
        qdq_precision: the precision ``trtc quantize`` recorded in the model's metadata
            (int8, fp8, fp16, bf16; see qdq_precision()), or None.
        default_profile: min/opt/max per dynamic input used when the recipe gives
            no profile, or to fill inputs a profile leaves out (see default_profile()).
        timing_cache_dir: where ``timing_cache: auto`` keeps its keyed caches.

    Raises:
        UsageError: a setting the version cannot do, or a profile that does not fit.
        DependencyError: the TensorRT version is too old.
    """
    feats = features(version)
    notes: list[str] = []
    precision, strongly_typed, int8_mode, flags, calibration = _resolve_precision(
        spec, feats, model_has_qdq, qdq_precision, notes)
    profiles = resolve_profiles(_recipe_profiles(spec), onnx_inputs,
                                default_profile=default_profile, notes=notes)
    workspace = None if spec.workspace is None else parse_size(spec.workspace,
                                                               "build.workspace")
    level = spec.builder_optimization_level
    if level is not None and not 0 <= level <= MAX_BUILDER_OPTIMIZATION_LEVEL:
        raise UsageError(f"build.builder_optimization_level: {level} is outside 0-"
                         f"{MAX_BUILDER_OPTIMIZATION_LEVEL}",
                         "TensorRT's default is 3; 5 searches longest")
    hw = None if spec.hardware_compatibility == "none" else spec.hardware_compatibility
    if hw is not None and hw not in feats.hardware_levels:
        raise UsageError(f"build.hardware_compatibility: {hw!r} needs a newer TensorRT than "
                         f"{feats.version}", f"use one of: {', '.join(feats.hardware_levels)}")
    timing_cache, keyed = _resolve_timing_cache(spec.timing_cache, timing_cache_dir)
    if spec.version_compatible and spec.refit:
        # NVIDIA's version-compatibility article: the lean runtime cannot refit engines.
        notes.append("build.refit with build.version_compatible: an engine loaded by the "
                     "lean or dispatch runtime cannot be refitted there")
    return TrtBuildSettings(
        # The adapter builds strongly typed networks without TF32 (fp32 stays fp32, as the
        # ONNX types say); resolved here so the sidecar, verify and trtexec (--noTF32) agree.
        precision=precision, tf32=spec.tf32 and not strongly_typed,
        strongly_typed=strongly_typed,
        int8_mode=int8_mode, calibration=calibration, profiles=profiles,
        workspace_bytes=workspace, optimization_level=level, timing_cache=timing_cache,
        sparsity=spec.sparsity, refit=spec.refit, version_compatible=spec.version_compatible,
        hardware_compatibility=hw, plugins=tuple(spec.plugins), version=feats.version,
        precision_flags=flags, timing_cache_keyed=keyed, notes=tuple(notes))


_QUANTIZE_HINT = ("write the precision into the ONNX first: "
                  "trtc quantize MODEL.onnx -o OUT.onnx --precision {p}"
                  "{target}, then build OUT.onnx")


def _quantize_hint(precision: str) -> str:
    target = " --target tensorrt" if precision in ("int8", "fp8") else ""
    return _QUANTIZE_HINT.format(p=precision, target=target)


def _resolve_precision(spec: BuildSpec, feats: TrtFeatures, has_qdq: bool,
                       model_precision: str | None, notes: list[str]
                       ) -> tuple[str, bool, str | None, tuple[str, ...], dict[str, Any] | None]:
    """Return (precision, strongly_typed, int8_mode, builder flags, calibration).

    ``model_precision`` is what ``trtc quantize`` recorded in the model (int8,
    fp8, fp16, bf16) or None.
    """
    precision: str = spec.precision
    v = feats.version
    if precision not in PRECISIONS:
        raise UsageError(f"build.precision: unknown precision {precision!r}",
                         f"use one of: {', '.join(PRECISIONS)}")
    if precision == "bf16" and not feats.bf16:
        raise UsageError(f"build.precision: bf16 needs TensorRT 9 or newer (this is {v})",
                         "use --precision fp16")
    if precision == "fp8" and not feats.fp8:
        raise UsageError(f"build.precision: fp8 needs TensorRT 9 or newer (this is {v})",
                         "use --precision int8 (Q/DQ or calibration)")
    # What the Q/DQ nodes quantize to; a Q/DQ model without trtc metadata is int8.
    qdq_kind = (model_precision if model_precision in ("int8", "fp8") else "int8") \
        if has_qdq else None
    if qdq_kind and precision in ("int8", "fp8") and precision != qdq_kind:
        raise UsageError(f"build.precision: {precision}, but the model's Q/DQ nodes are "
                         f"{qdq_kind}", f"use --precision {qdq_kind}, or re-quantize with "
                         f"trtc quantize --precision {precision} --target tensorrt")

    strongly_typed = feats.strongly_typed_only if spec.strongly_typed is None \
        else spec.strongly_typed
    if strongly_typed and not feats.strongly_typed:
        raise UsageError(f"build.strongly_typed: strongly typed networks need TensorRT 9 or "
                         f"newer (this is {v})",
                         "drop --strongly-typed; 8.6 takes precision from builder flags")
    if not strongly_typed and feats.strongly_typed_only:
        raise UsageError(f"build.strongly_typed: TensorRT {v} networks are always strongly "
                         "typed (weak typing was removed in 11)",
                         "drop 'strongly_typed: false'")

    calib_data = spec.int8_calib
    if calib_data and precision not in ("int8", "best"):
        notes.append(f"build.int8_calib is ignored: precision is {precision}")
        calib_data = None
    if calib_data and has_qdq:
        notes.append("build.int8_calib is ignored: the model has Q/DQ nodes, whose scales "
                     "TensorRT uses")
        calib_data = None

    if strongly_typed:
        return _strongly_typed_precision(precision, feats, has_qdq, qdq_kind, model_precision,
                                         calib_data)

    # Weak typing (8.6, 10): precisions are builder flags the builder *may* use.
    flags: set[str] = set()
    int8_mode: str | None = None
    calibration: dict[str, Any] | None = None
    effective: str = precision
    if precision in ("fp16", "best"):
        flags.add("fp16")
    if precision == "bf16":
        flags.add("bf16")
    if precision == "fp8" and not has_qdq:
        raise UsageError("build.precision: fp8 needs FP8 Q/DQ nodes in the ONNX (TensorRT has "
                         "no fp8 calibration), and this model has none", _quantize_hint("fp8"))
    if has_qdq:
        # Explicit quantization: the Q/DQ scales decide; the flag lets the builder use them.
        flags.add(qdq_kind or "int8")
        int8_mode = "qdq"
        if precision == "fp32":
            effective = qdq_kind or "int8"
            notes.append(f"the model has {effective} Q/DQ nodes: the {effective} builder flag "
                         "is set so TensorRT runs them quantized")
    elif precision in ("int8", "best"):
        if not calib_data:
            what = "best includes int8, which" if precision == "best" else "int8"
            raise UsageError(
                f"build.precision: {what} needs calibration data (build.int8_calib / "
                "--int8-calib) or a Q/DQ model; this model has no Q/DQ nodes",
                "pass --int8-calib calib.npz (or random), or use trtc quantize "
                "--target tensorrt; for fp16 alone use --precision fp16")
        if spec.int8_calib_samples <= 0:
            raise UsageError(f"build.int8_calib_samples must be positive, got "
                             f"{spec.int8_calib_samples}")
        flags.add("int8")
        int8_mode = "calibration"
        calibration = {"data": calib_data, "samples": spec.int8_calib_samples,
                       "cache": spec.int8_calib_cache}
    order = ("fp16", "bf16", "int8", "fp8")
    return effective, False, int8_mode, tuple(f for f in order if f in flags), calibration


def _strongly_typed_precision(precision: str, feats: TrtFeatures, has_qdq: bool,
                              qdq_kind: str | None, model_precision: str | None,
                              calib_data: str | None
                              ) -> tuple[str, bool, str | None, tuple[str, ...], None]:
    """Strongly typed networks have no precision flags: the ONNX types are the precision."""
    v = feats.version
    why = (f"TensorRT {v} has no precision builder flags (weak typing was removed in 11)"
           if feats.strongly_typed_only else "the network is strongly typed")
    if precision in ("fp16", "bf16") and model_precision != precision:
        raise UsageError(f"build.precision: {precision} cannot be a builder flag: {why}; the "
                         "precision must be in the ONNX tensor types", _quantize_hint(precision))
    if precision == "best":
        raise UsageError(f"build.precision: best cannot be a builder flag: {why}",
                         _quantize_hint("int8"))
    if calib_data:
        raise UsageError(
            f"build.int8_calib: TensorRT {v} has no int8 calibrators" if not feats.calibrators
            else "build.int8_calib: int8 calibration needs a weakly typed network "
                 "(strongly_typed is on)", _quantize_hint("int8"))
    if precision in ("int8", "fp8") and not has_qdq:
        raise UsageError(f"build.precision: {precision}: {why}, so it needs Q/DQ nodes in the "
                         "ONNX, and this model has none", _quantize_hint(precision))
    effective = precision
    if precision == "fp32":
        effective = qdq_kind or (model_precision if model_precision in ("fp16", "bf16")
                                 else "fp32")
    return effective, True, "qdq" if has_qdq else None, (), None


def _resolve_timing_cache(value: str | None, cache_dir: str | None) -> tuple[str | None, bool]:
    if value is None or value.lower() in ("none", "off", ""):
        return None, False
    if value == "auto":
        return (cache_dir, True) if cache_dir else (None, False)
    return value, False


def _recipe_profiles(spec: BuildSpec) -> list[dict[str, ShapeRange]]:
    out = []
    for prof in spec.profiles:
        out.append({name: (tuple(r.min), tuple(r.opt), tuple(r.max))
                    for name, r in prof.items()})
    return out


# --------------------------------------------------------------------------- sizes, profiles

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


def format_size(n: int) -> str:
    """Return '4GiB' / '512MiB' / '1000B' for bytes (exact when possible)."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


def _parse_dims(text: str, where: str) -> Dims:
    try:
        dims = tuple(int(d) for d in text.strip().lower().split("x"))
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not a shape",
                         "write dims as integers joined by 'x', e.g. 8x3x224x224") from None
    if any(d <= 0 for d in dims):
        raise UsageError(f"{where}: dims must be positive, got {text!r}")
    return dims


def parse_profile(text: str, flag: str = "--profile") -> ProfileSpec:
    """Parse one profile: 'input:1x3x224x224,8x3x224x224,32x3x224x224'.

    Several inputs of the same profile are separated by ';'
    ('ids:1x16,8x128,32x512;mask:1x16,8x128,32x512'). One shape instead of three
    means min = opt = max. Only the text is checked here; resolve_profiles()
    checks it against the model.

    Raises:
        UsageError: malformed text.
    """
    shapes: dict[str, ShapeRange] = {}
    example = f"{flag} 'input:1x3x224x224,8x3x224x224,32x3x224x224'"
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if not parts:
        raise UsageError(f"{flag}: empty profile", f"e.g. {example}")
    for part in parts:
        name, sep, rest = part.rpartition(":")
        name = name.strip().strip("'\"")
        if not sep or not name:
            raise UsageError(f"{flag} {part!r}: expected NAME:MIN,OPT,MAX", f"e.g. {example}")
        where = f"{flag} {name}"
        dims = [_parse_dims(s, where) for s in rest.split(",")]
        if len(dims) == 1:
            dims = dims * 3
        if len(dims) != 3:
            raise UsageError(f"{where}: expected 3 shapes (min,opt,max) or 1, got {len(dims)}",
                             f"e.g. {example}")
        if name in shapes:
            raise UsageError(f"{where}: input given twice in one profile",
                             "repeat --profile for another profile")
        shapes[name] = (dims[0], dims[1], dims[2])
    return ProfileSpec(shapes)


def format_profile(profile: ProfileSpec) -> str:
    """Return the parse_profile() text of a profile (round-trips)."""
    return ";".join(f"{name}:{','.join('x'.join(map(str, s)) for s in rng)}"
                    for name, rng in profile.shapes.items())


def profile_to_data(profile: ProfileSpec) -> dict[str, dict[str, list[int]]]:
    """Return a profile as recipe data ({input: {min: [..], opt: [..], max: [..]}})."""
    return {name: {"min": list(mn), "opt": list(opt), "max": list(mx)}
            for name, (mn, opt, mx) in profile.shapes.items()}


def _is_dynamic(shape: tuple[int | str, ...]) -> bool:
    return any(not isinstance(d, int) or d < 0 for d in shape)


def _fmt(shape: Sequence[int | str]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def resolve_profiles(profiles: Sequence[Mapping[str, ShapeRange]], onnx_inputs: OnnxInputs, *,
                     default_profile: Mapping[str, ShapeRange] | None = None,
                     notes: list[str] | None = None) -> tuple[ProfileSpec, ...]:
    """Check profiles against the model's inputs; fill in the default when none is given.

    Each profile must name existing inputs, match their rank and static dims,
    keep min <= opt <= max, agree on dims two inputs share by name, and cover
    every dynamic input (left-out inputs are taken from ``default_profile``).
    Static inputs are checked, then left out: TensorRT needs no profile for them.

    Raises:
        UsageError: naming the profile, the input and the shape that does not fit.
    """
    dynamic = [n for n, (_, shape) in onnx_inputs.items() if _is_dynamic(shape)]
    given = [dict(p) for p in profiles]
    if not given:
        if not dynamic:
            return ()
        given = [{}]
        where_of = ["the default profile"]
    else:
        where_of = [f"build.profiles[{i}]" for i in range(len(given))]
    resolved: list[ProfileSpec] = []
    for where, prof in zip(where_of, given, strict=True):
        for name in prof:
            if name not in onnx_inputs:
                close = difflib.get_close_matches(name, list(onnx_inputs), n=1)
                raise UsageError(
                    f"{where}: {name!r} is not an input of the model (inputs: "
                    f"{', '.join(onnx_inputs) or 'none'})",
                    f"did you mean '{close[0]}'?" if close else "check the input name "
                    "with: trtc inspect MODEL.onnx")
        shapes: dict[str, ShapeRange] = {}
        for name in onnx_inputs:
            _, model_shape = onnx_inputs[name]
            if name in prof:
                rng = prof[name]
            elif name in dynamic and default_profile and name in default_profile:
                rng = default_profile[name]
            elif name in dynamic:
                raise UsageError(
                    f"{where}: no shapes for dynamic input {name!r} "
                    f"({_fmt(model_shape)})",
                    f"give min,opt,max: --profile '{name}:{_example(model_shape)}' "
                    "(TensorRT needs every dynamic input in every profile)")
            else:
                continue
            _check_range(where, name, model_shape, rng)
            if name in dynamic:
                shapes[name] = (tuple(rng[0]), tuple(rng[1]), tuple(rng[2]))
            elif notes is not None and name in prof:
                notes.append(f"{where}: {name!r} is static ({_fmt(model_shape)}); its "
                             "shapes are checked and left out of the profile")
        _check_shared_dims(where, shapes, onnx_inputs)
        resolved.append(ProfileSpec(shapes))
    if not dynamic:
        return ()
    if not profiles and notes is not None:
        notes.append(f"no build.profiles given: one profile from the recipe's shapes "
                     f"({format_profile(resolved[0])}); pass --profile for other shapes")
    return tuple(resolved)


def _example(shape: tuple[int | str, ...]) -> str:
    lo = [d if isinstance(d, int) and d > 0 else 1 for d in shape]
    hi = [d if isinstance(d, int) and d > 0 else 8 for d in shape]
    return f"{_fmt(lo)},{_fmt(hi)},{_fmt(hi)}"


def _check_range(where: str, name: str, model_shape: tuple[int | str, ...],
                 rng: ShapeRange) -> None:
    labels = ("min", "opt", "max")
    if len(rng) != 3:
        raise UsageError(f"{where}: {name}: expected min, opt and max shapes")
    ranks = {len(s) for s in rng}
    if len(ranks) != 1:
        raise UsageError(f"{where}: {name}: min/opt/max have different ranks "
                         f"({', '.join(_fmt(s) for s in rng)})",
                         "give the same number of dims for min, opt and max")
    rank = ranks.pop()
    # An ONNX rank of 0 with dims given means "rank unknown": nothing to compare.
    if model_shape and rank != len(model_shape):
        raise UsageError(f"{where}: {name}: the model's input has rank {len(model_shape)} "
                         f"({_fmt(model_shape)}), the profile gives rank {rank} "
                         f"({_fmt(rng[0])})",
                         f"give {len(model_shape)} dims, e.g. {_example(model_shape)}")
    for label, shape in zip(labels, rng, strict=True):
        if any(d <= 0 for d in shape):
            raise UsageError(f"{where}: {name}: {label} shape {_fmt(shape)} has a dim <= 0")
    for i in range(rank):
        lo, opt, hi = rng[0][i], rng[1][i], rng[2][i]
        if not lo <= opt <= hi:
            raise UsageError(f"{where}: {name}: dim {i} must satisfy min <= opt <= max, got "
                             f"{lo}, {opt}, {hi} ({', '.join(_fmt(s) for s in rng)})",
                             "order the shapes min,opt,max")
        if model_shape:
            d = model_shape[i]
            if isinstance(d, int) and d >= 0 and not lo == opt == hi == d:
                raise UsageError(f"{where}: {name}: dim {i} is fixed to {d} in the model "
                                 f"({_fmt(model_shape)}), the profile gives {lo}, {opt}, {hi}",
                                 f"use {d} for dim {i} (only named/'?' dims can vary)")


def _check_shared_dims(where: str, shapes: Mapping[str, ShapeRange],
                       onnx_inputs: OnnxInputs) -> None:
    """Dims two inputs share by name (e.g. 'batch') must have the same range."""
    seen: dict[str, tuple[str, tuple[int, int, int]]] = {}
    for name, rng in shapes.items():
        model_shape = onnx_inputs[name][1]
        for i, d in enumerate(model_shape):
            # '?' and 'dimN' are placeholders for unnamed dims, not a shared name.
            if not isinstance(d, str) or d in ("?", "") or re.fullmatch(r"dim\d+", d) \
                    or i >= len(rng[0]):
                continue
            values = (rng[0][i], rng[1][i], rng[2][i])
            if d in seen and seen[d][1] != values:
                other, ovals = seen[d]
                raise UsageError(f"{where}: dim {d!r} is {ovals} (min,opt,max) for {other!r} "
                                 f"but {values} for {name!r}",
                                 f"inputs that share the dim {d!r} need the same range")
            seen.setdefault(d, (name, values))


def default_profile(onnx_inputs: OnnxInputs, *, batches: Sequence[int] = (1,),
                    dims: Mapping[str, int] | None = None,
                    shapes: Sequence[Mapping[str, Sequence[int]]] = ()
                    ) -> dict[str, ShapeRange]:
    """Return min/opt/max for each dynamic input from the shapes the pipeline will run.

    Concrete shapes (``shapes``: verify/bench ``shapes:``) are used where given.
    Otherwise the first dynamic dim is the batch (``batches``: min = smallest,
    opt = max = largest) and other named dims come from ``dims`` (export's
    ``example_dims``). Inputs with a dim none of these fixes are left out, so
    plan_trt_build() asks for a --profile naming that dim.
    """
    dims = dims or {}
    out: dict[str, ShapeRange] = {}
    for name, (_, shape) in onnx_inputs.items():
        if not _is_dynamic(shape):
            continue
        candidates = [tuple(int(v) for v in s[name]) for s in shapes
                      if name in s and (not shape or len(s[name]) == len(shape))]
        if not candidates and shape:
            base: list[int | None] = []
            ok = True
            for i, d in enumerate(shape):
                if isinstance(d, int) and d >= 0:
                    base.append(d)
                elif i == 0:
                    base.append(None)
                elif isinstance(d, str) and d in dims:
                    base.append(int(dims[d]))
                else:
                    ok = False
            if not ok:
                continue
            candidates = [tuple(b if b is not None else int(n) for b in base)
                          for n in (batches or (1,))]
        if not candidates:
            continue
        lo = tuple(min(c[i] for c in candidates) for i in range(len(candidates[0])))
        hi = tuple(max(c[i] for c in candidates) for i in range(len(candidates[0])))
        out[name] = (lo, hi, hi)
    return out


def profile_corners(profiles: Sequence[ProfileSpec]) -> list[tuple[str, dict[str, Dims]]]:
    """Return each distinct (label, {input: shape}) at min / opt / max of every profile."""
    corners: list[tuple[str, dict[str, Dims]]] = []
    seen: set[tuple[tuple[str, Dims], ...]] = set()
    for i, prof in enumerate(profiles):
        for k, label in enumerate(("min", "opt", "max")):
            feed = {name: rng[k] for name, rng in prof.shapes.items()}
            key = tuple(sorted(feed.items()))
            if key in seen:
                continue
            seen.add(key)
            corners.append((f"profile {i} {label}", feed))
    return corners


# --------------------------------------------------------------------------- Q/DQ target


def qdq_target(onnx_model_metadata: Mapping[str, str]) -> str | None:
    """Return the backend a ``trtc quantize`` Q/DQ model was made for, or None.

    None when the model carries no trtc quantize metadata (a float model, or a
    Q/DQ model from another tool: trtc cannot tell and lets it through).
    """
    value = onnx_model_metadata.get(QDQ_TARGET_KEY)
    return value.strip() if isinstance(value, str) and value.strip() else None


def qdq_precision(onnx_model_metadata: Mapping[str, str]) -> str | None:
    """Return the precision ``trtc quantize`` recorded ("int8", "fp8", "fp16", ...), or None."""
    value = onnx_model_metadata.get(QDQ_PRECISION_KEY)
    return value.strip() if isinstance(value, str) and value.strip() else None


def check_qdq_target(onnx_model_metadata: Mapping[str, str], backend: str,
                     model: str = "the model") -> None:
    """Refuse a Q/DQ model quantized for another backend than the one building it.

    Raises:
        UsageError: e.g. an onnxruntime-cpu (u8/s8) model given to a TensorRT build.
    """
    target = qdq_target(onnx_model_metadata)
    wanted = BACKEND_QDQ_TARGET.get(backend)
    if target is None or wanted is None or target == wanted:
        return
    raise UsageError(f"{model} was quantized for {target} ({QDQ_TARGET_KEY}), but the build "
                     f"backend is {backend}",
                     f"re-quantize the float model with trtc quantize --target {wanted}, "
                     f"or build with --backend {_backend_for_target(target)}")


def _backend_for_target(target: str) -> str:
    for backend, t in BACKEND_QDQ_TARGET.items():
        if t == target:
            return backend
    return "the matching backend"


# --------------------------------------------------------------------------- trtexec


def trtexec_command(settings: TrtBuildSettings, onnx_path: str, engine_path: str) -> str:
    """Return the trtexec line that builds the same engine, in settings.version's flags.

    Multiple profiles need ``--profile=N`` (TensorRT >= 9); for 8.6 only
    profile 0 is rendered and a trailing shell comment says so. An int8
    calibration is rendered as ``--calib=CACHE`` (trtexec reads a calibration
    cache, it cannot calibrate from data).
    """
    feats = features(settings.version)
    args = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={engine_path}"]
    comments: list[str] = []
    profiles = list(settings.profiles)
    if len(profiles) > 1 and not feats.trtexec_multi_profile:
        comments.append(f"trtexec {feats.major}.{feats.minor} builds one profile: "
                        f"{len(profiles) - 1} more are not shown")
        profiles = profiles[:1]
    for i, prof in enumerate(profiles):
        if len(profiles) > 1:
            args.append(f"--profile={i}")
        for k, flag in enumerate(("--minShapes", "--optShapes", "--maxShapes")):
            spec = ",".join(f"{_trtexec_name(n)}:{_fmt(rng[k])}"
                            for n, rng in prof.shapes.items())
            args.append(f"{flag}={spec}")
    args += [f"--{flag}" for flag in settings.precision_flags]
    if settings.int8_mode == "calibration" and settings.calibration:
        cache = settings.calibration.get("cache")
        if cache:
            args.append(f"--calib={cache}")
        else:
            comments.append("int8 calibration: trtexec needs the calibration cache that "
                            "trtc build writes (--calib=CACHE)")
    if settings.strongly_typed and feats.trtexec_strongly_typed_flag:
        args.append(feats.trtexec_strongly_typed_flag)
    if not settings.tf32:
        args.append("--noTF32")
    if settings.workspace_bytes is not None:
        args.append(f"{feats.trtexec_workspace_flag}{_mib(settings.workspace_bytes)}")
    if settings.optimization_level is not None:
        args.append(f"--builderOptimizationLevel={settings.optimization_level}")
    if settings.timing_cache and not settings.timing_cache_keyed:
        args.append(f"--timingCacheFile={settings.timing_cache}")
    elif settings.timing_cache:
        comments.append(f"timing cache: --timingCacheFile={settings.timing_cache}/"
                        "<GPU and TensorRT key>.cache")
    if settings.sparsity:
        args.append("--sparsity=enable")
    if settings.refit:
        args.append("--refit")
    if settings.version_compatible:
        args.append("--versionCompatible")
    if settings.hardware_compatibility:
        level = {"ampere+": "ampere+",
                 "same-compute-capability": "sameComputeCapability"}[
                     settings.hardware_compatibility]
        args.append(f"--hardwareCompatibilityLevel={level}")
    args += [f"{feats.trtexec_plugin_flag}={p}" for p in settings.plugins]
    args.append("--skipInference")
    line = " ".join(shlex.quote(a) for a in args)
    return line + "".join(f"  # {c}" for c in comments)


def _trtexec_name(name: str) -> str:
    # trtexec splits a shape spec at ':' and ','; names holding them are quoted.
    return f"'{name}'" if any(c in name for c in ":,") else name


def _mib(n: int) -> str:
    mib = n / (1 << 20)
    return str(int(mib)) if mib == int(mib) else f"{mib:.6f}".rstrip("0")


# --------------------------------------------------------------------------- timing cache


def timing_cache_key(gpu_name: str, compute_capability: tuple[int, int],
                     trt_version: str) -> str:
    """Return a file-name key for a timing cache: GPU model, compute capability, TensorRT.

    Timing caches hold measured tactic timings: they are only valid for the GPU
    and TensorRT version that measured them.
    """
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "gpu"
    major, minor = compute_capability
    return f"{gpu}_sm{major}{minor}_trt{normalize_version(trt_version)}"


def timing_cache_file(settings: TrtBuildSettings, *, gpu_name: str,
                      compute_capability: tuple[int, int]) -> str | None:
    """Return the timing-cache file to load and save for this build, or None for none."""
    if not settings.timing_cache:
        return None
    if not settings.timing_cache_keyed:
        return settings.timing_cache
    key = timing_cache_key(gpu_name, compute_capability, settings.version)
    return f"{settings.timing_cache.rstrip('/')}/{key}.cache"


# --------------------------------------------------------------------------- GPU gates

#: Minimum compute capability for each builder precision (TensorRT support matrix).
PRECISION_MIN_CC = {"fp16": (5, 3), "int8": (6, 1), "bf16": (8, 0), "fp8": (8, 9)}


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


# --------------------------------------------------------------------------- sidecar


def settings_to_data(settings: TrtBuildSettings) -> dict[str, Any]:
    """Return settings as plain JSON data (profiles as {input: {min, opt, max}})."""
    return {
        "precision": settings.precision,
        "precision_flags": list(settings.precision_flags),
        "tf32": settings.tf32,
        "strongly_typed": settings.strongly_typed,
        "int8_mode": settings.int8_mode,
        "calibration": dict(settings.calibration) if settings.calibration else None,
        "profiles": [profile_to_data(p) for p in settings.profiles],
        "workspace_bytes": settings.workspace_bytes,
        "builder_optimization_level": settings.optimization_level,
        "timing_cache": settings.timing_cache,
        "timing_cache_keyed": settings.timing_cache_keyed,
        "sparsity": settings.sparsity,
        "refit": settings.refit,
        "version_compatible": settings.version_compatible,
        "hardware_compatibility": settings.hardware_compatibility,
        "plugins": list(settings.plugins),
        "tensorrt_version": settings.version,
        "notes": list(settings.notes),
    }


def sidecar(settings: TrtBuildSettings, *, gpu_name: str,
            compute_capability: tuple[int, int], trt_version: str, onnx_sha256: str,
            engine_sha256: str, io: Mapping[str, Any]) -> dict[str, Any]:
    """Return the contents of ``engine.json``: what the engine needs to load, and provenance."""
    major, minor = compute_capability
    return {
        "format": SIDECAR_FORMAT,
        "tensorrt_version": normalize_version(trt_version),
        "gpu": {"name": gpu_name, "compute_capability": f"{major}.{minor}"},
        "precision": settings.precision,
        "precision_flags": list(settings.precision_flags),
        "strongly_typed": settings.strongly_typed,
        "tf32": settings.tf32,
        "int8_mode": settings.int8_mode,
        "profiles": [profile_to_data(p) for p in settings.profiles],
        "version_compatible": settings.version_compatible,
        "hardware_compatibility": settings.hardware_compatibility or "none",
        "refit": settings.refit,
        "sparsity": settings.sparsity,
        "plugins": list(settings.plugins),
        "onnx_sha256": onnx_sha256,
        "engine_sha256": engine_sha256,
        "io": dict(io),
        "settings": settings_to_data(settings),
    }


def _parse_cc(value: Any) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    major, _, minor = str(value).partition(".")
    return int(major), int(minor or 0)


def sidecar_problem(data: Any) -> str | None:
    """Say what keeps ``data`` from being an engine sidecar trtc can read, or None.

    Checked once on reading, so that a hand-edited or foreign ``ENGINE.json`` is one
    clear error instead of a KeyError deep inside inspect, verify or bench.
    """
    if not isinstance(data, dict):
        return "is not a JSON object (trtc's engine sidecar)"
    if "tensorrt_version" in data:
        try:
            parse_version(str(data["tensorrt_version"]))
        except UsageError:
            return f"tensorrt_version {data['tensorrt_version']!r} is not a version number"
    gpu = data.get("gpu")
    if gpu is not None:
        if not isinstance(gpu, dict):
            return "'gpu' is not an object with name and compute_capability"
        try:
            _parse_cc(gpu.get("compute_capability", "0.0"))
        except (TypeError, ValueError, IndexError):
            return f"gpu.compute_capability {gpu.get('compute_capability')!r} is not like 9.0"
    io = data.get("io")
    if io is None:
        return None
    if not isinstance(io, dict):
        return "'io' is not an object"
    for kind in ("inputs", "outputs"):
        tensors = io.get(kind, {})
        if not isinstance(tensors, dict):
            return f"io.{kind} is not an object"
        for name, t in tensors.items():
            if not (isinstance(t, dict) and isinstance(t.get("dtype"), str)
                    and isinstance(t.get("shape"), list)):
                return f"io.{kind}.{name} needs a dtype and a shape"
    profiles = io.get("profiles", [])
    if not isinstance(profiles, list) or not all(
            isinstance(p, dict) and all(isinstance(r, list) and len(r) == 3 for r in p.values())
            for p in profiles):
        return "io.profiles is not a list of {input: [min, opt, max]}"
    return None


#: Cross-major runtimes that TensorRT documents for version-compatible engines
#: (built with the first, run with the second); within a major, any newer runtime.
VC_CROSS_MAJOR = {(8, 9), (8, 10), (9, 10), (10, 11)}


def compatibility_verdict(sidecar: Mapping[str, Any], *, gpu_name: str,
                          compute_capability: tuple[int, int],
                          trt_version: str) -> tuple[bool, str]:
    """Say whether an engine loads here, in plain words instead of a deserialization error.

    Returns (loadable, reason). The reason explains a refusal, or carries a
    caveat when the engine loads (another GPU model of the same compute
    capability), or is empty.

    Rules (TensorRT docs): an engine loads only on the exact TensorRT version
    that built it, unless built ``version_compatible`` (8.6+), which runs on the
    same or a newer version of the same major, and across majors 8 -> 9/10,
    9 -> 10 and 10 -> 11. It loads only on GPUs of the same compute capability,
    unless built with hardware compatibility ``ampere+`` (any GPU of compute
    capability 8.0 or newer). Another GPU model of the same compute capability
    loads, with a TensorRT warning about performance.
    """
    built_v = normalize_version(str(sidecar.get("tensorrt_version", "")) or "0")
    here_v = normalize_version(trt_version)
    gpu = sidecar.get("gpu") or {}
    built_gpu = str(gpu.get("name", "unknown GPU"))
    built_cc = _parse_cc(gpu.get("compute_capability", "0.0"))
    here_cc = tuple(compute_capability)
    vc = bool(sidecar.get("version_compatible"))
    hw = sidecar.get("hardware_compatibility") or "none"
    rebuild = "rebuild it here: trtc build MODEL.onnx -o OUT.engine --backend tensorrt"

    if built_v != here_v:
        b, h = parse_version(built_v), parse_version(here_v)
        if not vc:
            return False, (f"the engine was built with TensorRT {built_v} and this machine has "
                           f"{here_v}; engines load only on the TensorRT version that built "
                           f"them unless built with version_compatible: true; {rebuild}")
        if h < b:
            return False, (f"the engine was built with TensorRT {built_v}, newer than this "
                           f"machine's {here_v}; version-compatible engines run only on the "
                           f"same or a newer TensorRT; {rebuild}")
        if b[0] != h[0] and (b[0], h[0]) not in VC_CROSS_MAJOR:
            return False, (f"the version-compatible engine was built with TensorRT {built_v}; "
                           f"TensorRT {h[0]} does not run engines of TensorRT {b[0]}; "
                           f"{rebuild}")
    cc_text = f"{built_cc[0]}.{built_cc[1]}"
    here_text = f"{here_cc[0]}.{here_cc[1]}"
    if hw == "ampere+":
        if here_cc < (8, 0):
            return False, (f"the engine was built hardware-compatible for Ampere and newer "
                           f"GPUs; {gpu_name} has compute capability {here_text} "
                           f"(pre-Ampere); {rebuild}")
    elif built_cc != here_cc:
        return False, (f"the engine was built for {built_gpu} (compute capability {cc_text}) "
                       f"and this GPU is {gpu_name} (compute capability {here_text}); "
                       f"engines are tied to the compute capability they were built for "
                       "unless built with hardware_compatibility: ampere+; " + rebuild)
    if hw == "none" and built_gpu != gpu_name:
        return True, (f"built on {built_gpu}, running on {gpu_name} (same compute capability "
                      f"{cc_text}): TensorRT loads it but warns that performance may differ")
    return True, ""


__all__ = [
    "HARDWARE_LEVELS", "PRECISIONS", "ProfileSpec", "TrtBuildSettings", "TrtFeatures",
    "check_gpu", "check_qdq_target", "compatibility_verdict", "default_profile", "features",
    "format_profile", "format_size", "is_size", "normalize_version", "parse_profile", "parse_size",
    "parse_version", "plan_trt_build", "profile_corners", "profile_to_data", "qdq_precision",
    "qdq_target", "resolve_profiles", "settings_to_data", "sidecar", "sidecar_problem",
    "timing_cache_file", "timing_cache_key", "trtexec_command",
]

