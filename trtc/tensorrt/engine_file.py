"""The files beside an engine ``NAME.engine``, read and written without TensorRT.

    ``NAME.engine.json``  the sidecar: TensorRT version, GPU, compute capability,
                          settings, profiles, I/O, hashes;
    ``NAME.layers.json``  the engine inspector's per-layer information;
    ``.timing-cache/``    timing caches, one file per GPU and TensorRT version.

Provenance lives in the sidecar, never in the engine file, so trtexec and other
runtimes still load the engine. Whether an engine loads on this machine
(TensorRT version, compute capability) is decided from the sidecar, in plain
words, before TensorRT fails to deserialize it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trtc.errors import ModelError, UsageError
from trtc.tensorrt.settings import TrtBuildSettings, settings_to_data, sidecar_settings
from trtc.tensorrt.versions import normalize_version, parse_version

SIDECAR_FORMAT = "trtc-engine/1"
#: ({input name: (dtype, shape with named dynamic dims)}, output names).
IoSpecs = tuple[dict[str, tuple[str, tuple[int | str, ...]]], list[str]]


def sidecar_path(engine: str | Path) -> Path:
    """``model.engine`` -> ``model.engine.json`` (what the engine is and where it was built)."""
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def layers_path(engine: str | Path) -> Path:
    """``model.engine`` -> ``model.layers.json`` (the engine inspector's layer information)."""
    engine = Path(engine)
    return engine.with_name(engine.stem + ".layers.json")


def read_sidecar(engine: str | Path) -> dict[str, Any] | None:
    """The engine's sidecar, or None when it has none (built elsewhere, e.g. by trtexec).

    Raises:
        ModelError: the sidecar exists but is not one trtc can read (not JSON, or keys
            of the wrong shape): saying so beats a KeyError, or silently ignoring it.
    """
    path = sidecar_path(engine)
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        problem: str | None = f"is not valid JSON ({exc})"
    else:
        problem = sidecar_problem(data)
    if problem is not None:
        raise ModelError(f"{path}: {problem}",
                         "rebuild the engine with trtc build, or delete the sidecar (then "
                         "trtc reads the engine itself, which needs TensorRT and a GPU)")
    return dict(data)


def sidecar(settings: TrtBuildSettings, *, gpu_name: str,
            compute_capability: tuple[int, int], trt_version: str, onnx_sha256: str,
            engine_sha256: str, io: Mapping[str, Any]) -> dict[str, Any]:
    """Return the contents of ``engine.json``: what the engine needs to load, and provenance."""
    major, minor = compute_capability
    return {
        "format": SIDECAR_FORMAT,
        "tensorrt_version": normalize_version(trt_version),
        "gpu": {"name": gpu_name, "compute_capability": f"{major}.{minor}"},
        **sidecar_settings(settings),
        "onnx_sha256": onnx_sha256,
        "engine_sha256": engine_sha256,
        "io": dict(io),
        "settings": settings_to_data(settings),
    }


def write_engine_files(engine_path: Path, info: Mapping[str, Any]) -> dict[str, Path]:
    """Write the sidecar and layers.json (``info``'s "sidecar", "layers") beside the engine.

    Returns the files written, by role.
    """
    from trtc.workspace import write_json

    out: dict[str, Path] = {}
    for role, path in (("sidecar", sidecar_path(engine_path)),
                       ("layers", layers_path(engine_path))):
        if role in info:
            write_json(path, info[role])
            out[role] = path
    return out


def io_specs(io: Mapping[str, Any]) -> IoSpecs:
    """The (inputs, output names) of an engine's ``io`` (from its sidecar or the engine)."""
    inputs = {n: (str(v["dtype"]), tuple(v["shape"])) for n, v in io["inputs"].items()}
    return inputs, list(io["outputs"])


def sidecar_io_specs(engine: str | Path) -> IoSpecs | None:
    """The engine's I/O from its sidecar (no GPU needed), or None without one."""
    side = read_sidecar(engine)
    if side is not None and isinstance(side.get("io"), dict):
        return io_specs(side["io"])
    return None


def sidecar_io_scales(engine: str | Path) -> dict[str, float]:
    """The quantization scales of the engine's int8 I/O tensors (its sidecar; {} without)."""
    side = read_sidecar(engine) or {}
    scales = side.get("io_scales")
    return {str(k): float(v) for k, v in scales.items()} if isinstance(scales, dict) else {}


# --------------------------------------------------------------------------- verdicts


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


# --------------------------------------------------------------------------- timing caches


def default_timing_cache_dir(out_path: Path) -> Path:
    """Where ``timing_cache: auto`` keeps its keyed caches when the caller names no directory.

    Beside the engine (``-o OUT.engine``); a recipe's build stage passes its workspace's
    shared directory instead (trtc.stages.build.workspace_timing_cache_dir). The file
    name (GPU + TensorRT version, timing_cache_key) keeps other machines' caches apart.
    """
    return out_path.parent / ".timing-cache"


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
