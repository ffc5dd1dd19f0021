"""TensorRT versions: parsing, what each version can do, and newer-than-known handling.

Version facts (checked against NVIDIA/TensorRT's trtexec sources,
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

import re
from dataclasses import dataclass

from trtc.errors import DependencyError, UsageError

Version = tuple[int, int, int]

#: The oldest TensorRT trtc builds with (version-compatible engines, builder levels,
#: hardware compatibility and the tensor-name I/O API all start there).
MIN_VERSION = (8, 6)
#: The newest release of each major we know the flags of (``--trt-version 10`` previews it).
LATEST_KNOWN = {8: "8.6.1", 9: "9.3.0", 10: "10.16.0", 11: "11.1.0"}
NEWEST_SUPPORTED = LATEST_KNOWN[max(LATEST_KNOWN)]

#: The newest ONNX opset the parser of a TensorRT release documents (support matrix):
#: 8.6 parses opsets up to 17, 11.x up to 25. 10.x moved with each minor: not gated here.
MAX_OPSET = {8: 17, 11: 25}


def parse_version(version: str) -> Version:
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

    def at_least(self, version: tuple[int, int]) -> bool:
        """Whether this is TensorRT ``version`` (major, minor) or newer."""
        return (self.major, self.minor) >= version


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
    limit = MAX_OPSET.get(major)
    if limit is None or model_opset <= limit:
        return None
    return (f"the model is ONNX opset {model_opset}; TensorRT {version}'s parser documents "
            f"opsets up to {limit}: if parsing fails, re-export with export.opset: {limit} "
            "(exporter: legacy)")


#: torch.onnx's dynamo exporter writes opset 18 and only reaches a lower one through
#: ONNX's version converter (whose Reshape / Resize rewrites TensorRT 8.6 cannot parse);
#: below 18 the TorchScript exporter writes the opset natively.
DYNAMO_MIN_OPSET = 18
#: The opset export uses where no TensorRT parser limits it (ONNX Runtime builds).
DEFAULT_OPSET = 18


def export_defaults(trt_version: str | None) -> tuple[int, str]:
    """The (opset, exporter) ``export: auto`` means for the TensorRT a build will use.

    ``None`` (ONNX Runtime builds, or no TensorRT) keeps opset 18 with dynamo. A
    parser that documents opsets below 18 (8.6: 17) gets its newest opset through the
    TorchScript (``legacy``) exporter; a newer parser (10, 11) gets opset 18 and dynamo.
    """
    if trt_version is None:
        return DEFAULT_OPSET, "dynamo"
    major, _, _ = parse_version(trt_version)
    opset = min(DEFAULT_OPSET, MAX_OPSET.get(major, DEFAULT_OPSET))
    return opset, "dynamo" if opset >= DYNAMO_MIN_OPSET else "legacy"


def resolve_export(opset: int | str, exporter: str, trt_version: str | None,
                   ) -> tuple[int, str, str]:
    """Resolve ``auto`` in export's opset / exporter for the TensorRT a build will use.

    An explicit value is kept; ``exporter: auto`` with an explicit opset is ``legacy``
    below opset 18 (dynamo's lowest), else ``dynamo``.

    Returns:
        (opset, exporter, why: one line for the manifest).
    """
    auto_opset, auto_exporter = export_defaults(trt_version)
    chosen = auto_opset if opset == "auto" else int(opset)
    if exporter == "auto":
        exporter = (auto_exporter if opset == "auto" else
                    "dynamo" if chosen >= DYNAMO_MIN_OPSET else "legacy")
    if trt_version is None:
        return chosen, exporter, "auto: no TensorRT build here (ONNX Runtime)"
    limit = MAX_OPSET.get(parse_version(trt_version)[0])
    return chosen, exporter, (f"auto: the build uses TensorRT {trt_version}"
                              + (f", whose parser documents opsets up to {limit}"
                                 if limit else ""))
