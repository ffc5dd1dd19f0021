"""TensorRT backend: the only module that imports tensorrt.

Every decision (which flags, which profiles, what a version can do, whether an
engine fits this machine) lives in the pure :mod:`trtc.backends.trt_config`;
this module only translates its :class:`TrtBuildSettings` onto Polygraphy's
loaders (network from ONNX, create config, engine bytes), runs engines
(Polygraphy's TrtRunner for verify, the cuda-python harness for bench) and
reads them back (I/O, engine inspector).

Only the tensor-name API that TensorRT 8.6, 10 and 11 share is used
(``num_io_tensors``, ``get_tensor_name/mode/shape/dtype``, ``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``).

Files next to an engine ``NAME.engine``:
    ``NAME.engine.json``  the sidecar: TensorRT version, GPU, compute capability,
                          settings, profiles, I/O, hashes (read without TensorRT);
    ``NAME.layers.json``  the engine inspector's per-layer information.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.errors import DependencyError, ModelError, TrtcError, UsageError

if TYPE_CHECKING:
    import numpy as np
    from polygraphy.backend.base import BaseRunner

    from trtc.backends.base import Feed
    from trtc.backends.cuda_harness import GpuInfo, HarnessConfig, Slot
    from trtc.backends.trt_config import TrtBuildSettings
    from trtc.recipe import BuildSpec

INSTALL_HINT = ("install TensorRT on a Linux machine with an NVIDIA GPU: "
                "pip install 'trtc[trt]' (tensorrt, cuda-python), or use --backend onnxruntime")
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
IoSpecs = tuple[dict[str, tuple[str, tuple[int | str, ...]]], list[str]]


def tensorrt_version() -> str | None:
    """Return the importable TensorRT version, or None."""
    try:
        import tensorrt
    except ImportError:
        return None
    # tensorrt-stubs (for mypy) installs an importable 'tensorrt' without the library.
    version = getattr(tensorrt, "__version__", None)
    return str(version) if version else None


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
    from trtc.backends.trt_config import sidecar_problem

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


# --------------------------------------------------------------------------- pure helpers


def onnx_io(onnx_path: Path) -> tuple[dict[str, tuple[str, tuple[int | str, ...]]], bool]:
    """Graph inputs ({name: (dtype, shape with named dynamic dims)}) and whether it has Q/DQ."""
    inputs, has_qdq, _ = onnx_facts(onnx_path)
    return inputs, has_qdq


def onnx_facts(onnx_path: Path) -> tuple[dict[str, tuple[str, tuple[int | str, ...]]], bool,
                                         dict[str, str]]:
    """Graph inputs, whether the graph has Q/DQ nodes, and its metadata_props."""
    import onnx
    from onnx import helper

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{onnx_path}: cannot read the ONNX model: {exc}",
                         "check that the file is a complete ONNX model") from None
    initializers = {i.name for i in model.graph.initializer}
    inputs: dict[str, tuple[str, tuple[int | str, ...]]] = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        ttype = value.type.tensor_type
        dtype = str(helper.tensor_dtype_to_np_dtype(ttype.elem_type))
        dims: list[int | str] = []
        for axis, d in enumerate(ttype.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or f"dim{axis}")
        inputs[value.name] = (dtype, tuple(dims))
    has_qdq = any(n.op_type in QDQ_OPS for n in model.graph.node)
    return inputs, has_qdq, {p.key: p.value for p in model.metadata_props}


def named_shape(engine_shape: Sequence[int], onnx_shape: Sequence[int | str] | None
                ) -> tuple[int | str, ...]:
    """The engine's shape with -1 dims named as in the ONNX model (``dimN`` otherwise)."""
    out: list[int | str] = []
    for axis, d in enumerate(engine_shape):
        if int(d) >= 0:
            out.append(int(d))
        elif onnx_shape is not None and axis < len(onnx_shape) and \
                isinstance(onnx_shape[axis], str):
            out.append(onnx_shape[axis])
        else:
            out.append(f"dim{axis}")
    return tuple(out)


def choose_profile(profiles: Sequence[Mapping[str, Sequence[Sequence[int]]]],
                   shapes: Mapping[str, Sequence[int]]) -> int:
    """Index of the first optimization profile whose min..max range holds every shape.

    ``profiles[i][name]`` is ``(min, opt, max)``. An engine without dynamic
    inputs has no ranges to check, so profile 0.

    Raises:
        UsageError: no profile covers the shapes (names the input and the ranges).
    """
    if not profiles:
        return 0
    for index, profile in enumerate(profiles):
        if all(_within(shapes[name], rng) for name, rng in profile.items() if name in shapes):
            return index
    name = next(n for n in shapes if n in profiles[0])
    ranges = "; ".join(f"{_fmt(p[name][0])}..{_fmt(p[name][2])}" for p in profiles if name in p)
    raise UsageError(f"input '{name}' shape {_fmt(shapes[name])} is outside every "
                     f"optimization profile of the engine ({ranges})",
                     "run with a batch/shape inside a profile, or rebuild with a wider --profile")


def context_profiles(profiles: Sequence[Mapping[str, Sequence[Sequence[int]]]],
                     shapes: Mapping[str, Sequence[int]], streams: int) -> list[int | None]:
    """The optimization profile of each stream's execution context (None: static engine).

    A profile serves one execution context at a time, so ``streams`` contexts of an
    engine with dynamic inputs need that many profiles covering the shapes.

    Raises:
        UsageError: too few profiles cover the shapes for ``streams`` contexts.
    """
    if not profiles:
        return [None] * streams
    choose_profile(profiles, shapes)  # names the input and the ranges when none fits
    fitting = [i for i, p in enumerate(profiles)
               if all(_within(shapes[n], rng) for n, rng in p.items() if n in shapes)]
    if len(fitting) < streams:
        raise UsageError(f"--streams {streams} needs {streams} optimization profiles covering "
                         f"{', '.join(f'{n} {_fmt(s)}' for n, s in shapes.items())}; the engine "
                         f"has {len(fitting)} (a profile serves one execution context at a "
                         "time)", f"use --streams {max(len(fitting), 1)}, build an engine with "
                         f"{streams} identical --profile flags, or a static-shape engine")
    return list[int | None](fitting[:streams])


def _within(shape: Sequence[int], rng: Sequence[Sequence[int]]) -> bool:
    lo, _, hi = rng
    return len(shape) == len(lo) and all(a <= s <= b for s, a, b in zip(shape, lo, hi))


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(int(d)) for d in shape)


def summarize_layers(info: Mapping[str, Any]) -> dict[str, Any]:
    """Count the inspector's layers by type and by output precision (for reports)."""
    import re

    layers = info.get("Layers", [])
    by_type: dict[str, int] = {}
    by_precision: dict[str, int] = {}
    for layer in layers:
        if not isinstance(layer, dict):  # names only (profiling verbosity LAYER_NAMES_ONLY)
            continue
        kind = str(layer.get("LayerType", "unknown"))
        by_type[kind] = by_type.get(kind, 0) + 1
        outputs = layer.get("Outputs") or []
        fmt = str(outputs[0].get("Format/Datatype", "")) if outputs else ""
        m = re.search(r"\b(FP32|FP16|BF16|FP8|Int8|INT8|Int32|INT32|Half|Float|Int64|Bool)\b",
                      fmt)
        precision = {"Half": "FP16", "Float": "FP32", "Int8": "INT8", "Int32": "INT32"}.get(
            m.group(1), m.group(1).upper()) if m else "unknown"
        by_precision[precision] = by_precision.get(precision, 0) + 1
    return {"layers": len(layers), "by_type": dict(sorted(by_type.items())),
            "by_output_precision": dict(sorted(by_precision.items()))}


def default_timing_cache_dir(out_path: Path) -> Path:
    """Where ``timing_cache: auto`` keeps its keyed caches when the caller names no directory.

    Beside the engine (``-o OUT.engine``); a recipe's build stage passes its workspace's
    shared directory instead (trtc.stages.build.workspace_timing_cache_dir). The file
    name (GPU + TensorRT version, timing_cache_key) keeps other machines' caches apart.
    """
    return out_path.parent / ".timing-cache"


# --------------------------------------------------------------------------- machine


def polygraphy_to_stderr() -> None:
    """Send Polygraphy's log (and TensorRT's, which goes through it) to stderr.

    Polygraphy prints to stdout, where it would corrupt ``--json``; through Python's
    logging system, warnings and errors reach stderr instead.
    """
    from polygraphy.logger import G_LOGGER

    G_LOGGER.colors = False  # else Polygraphy prints a note about the 'colored' module
    G_LOGGER.use_python_logging_system = True


def _trt() -> Any:
    polygraphy_to_stderr()
    try:
        import tensorrt
    except ImportError:
        raise DependencyError("TensorRT is not installed (the tensorrt library does not import)",
                              INSTALL_HINT) from None
    if not getattr(tensorrt, "__version__", None):
        raise DependencyError("TensorRT is not installed (the tensorrt library does not import)",
                              INSTALL_HINT)
    return tensorrt


def machine() -> tuple[str, GpuInfo]:
    """(TensorRT version, GPU 0) of this machine; DependencyError when either is missing."""
    version = tensorrt_version()
    if version is None:
        raise DependencyError("TensorRT is not installed (the tensorrt library does not import)",
                              INSTALL_HINT)
    from trtc.backends.cuda_harness import cudart, gpu_count, gpu_info

    cudart()  # DependencyError naming cuda-python when it is missing
    if gpu_count() == 0:
        raise DependencyError(f"TensorRT {version} is installed, but no CUDA GPU is visible "
                              "(cuda-python finds no device)",
                              "run on a machine with an NVIDIA GPU and driver, or use "
                              "--backend onnxruntime")
    return version, gpu_info(0)


@contextlib.contextmanager
def quiet_polygraphy(verbose: bool = False) -> Iterator[None]:
    """Polygraphy logs to stdout, which would corrupt --json; keep it to errors."""
    from polygraphy.logger import G_LOGGER

    before = G_LOGGER.module_severity
    G_LOGGER.module_severity = G_LOGGER.VERBOSE if verbose else G_LOGGER.ERROR
    try:
        yield
    finally:
        G_LOGGER.module_severity = before


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


# --------------------------------------------------------------------------- build


def polygraphy_loaders(onnx_path: Path, settings: TrtBuildSettings,
                       timing_cache: Path | None) -> tuple[Any, Any, list[str]]:
    """Map TrtBuildSettings onto Polygraphy loaders: (network loader, config loader, notes).

    Keywords the installed Polygraphy or TensorRT does not have are left out when
    the setting asks for nothing (``None``/``False``); asking for them is refused
    earlier, in plan_trt_build's version gating.
    """
    trt = _trt()
    from polygraphy.backend.trt import (
        CreateConfig,
        LoadPlugins,
        NetworkFromOnnxPath,
        Profile,
    )

    notes: list[str] = list(settings.notes)
    network: Any = NetworkFromOnnxPath(str(onnx_path), strongly_typed=settings.strongly_typed
                                       or None)
    if settings.plugins:
        network = LoadPlugins(plugins=list(settings.plugins), obj=network)

    profiles = []
    for spec in settings.profiles:
        profile = Profile()
        for name, (lo, opt, hi) in spec.shapes.items():
            profile.add(name, min=list(lo), opt=list(opt), max=list(hi))
        profiles.append(profile)

    flags = set(settings.precision_flags)
    kwargs: dict[str, Any] = {
        # Polygraphy clears TF32 unless asked; TensorRT and trtexec default to it on.
        "tf32": bool(settings.tf32) and not settings.strongly_typed,
        "fp16": "fp16" in flags,
        "int8": "int8" in flags,
        "profiles": profiles or None,
        # Layer details for the engine inspector (layers.json); no runtime cost.
        "profiling_verbosity": trt.ProfilingVerbosity.DETAILED,
    }
    # Only pass what is asked for: older Polygraphy / TensorRT lack these keywords.
    if "bf16" in flags:
        kwargs["bf16"] = True
    if "fp8" in flags:
        kwargs["fp8"] = True
    if settings.workspace_bytes is not None:
        kwargs["memory_pool_limits"] = {trt.MemoryPoolType.WORKSPACE: int(settings.workspace_bytes)}
    if settings.optimization_level is not None:
        kwargs["builder_optimization_level"] = int(settings.optimization_level)
    if settings.sparsity:
        kwargs["sparse_weights"] = True
    if settings.refit:
        kwargs["refittable"] = True
    if settings.version_compatible:
        kwargs["version_compatible"] = True
    if settings.hardware_compatibility:
        level = {"ampere+": "AMPERE_PLUS",
                 "same-compute-capability": "SAME_COMPUTE_CAPABILITY"}[
            settings.hardware_compatibility]
        kwargs["hardware_compatibility_level"] = getattr(trt.HardwareCompatibilityLevel, level)
    if timing_cache is not None and timing_cache.is_file():
        kwargs["load_timing_cache"] = str(timing_cache)
    if settings.int8_mode == "calibration" and not settings.strongly_typed:
        kwargs["calibrator"] = _calibrator(onnx_path, settings)
    return network, CreateConfig(**kwargs), notes


def _calibrator(onnx_path: Path, settings: TrtBuildSettings) -> Any:
    """Polygraphy's entropy calibrator fed by trtc's data layer at the calibration shape."""
    from polygraphy.backend.trt import Calibrator

    from trtc import data
    from trtc.data import InputInfo

    calib = dict(settings.calibration or {})
    source = str(calib.get("data") or "random")
    samples = int(calib.get("samples") or 32)
    inputs, _ = onnx_io(onnx_path)
    # TensorRT calibrates at the opt shape of the last profile (Polygraphy's calibration profile).
    shapes: dict[str, tuple[int, ...]] = {}
    if settings.profiles:
        shapes = {n: tuple(int(d) for d in rng[1])
                  for n, rng in settings.profiles[-1].shapes.items()}
    infos = [InputInfo(n, d, s) for n, (d, s) in inputs.items()]
    first = next(iter(shapes.values()), None)
    batch = int(first[0]) if first else next(
        (int(s[0]) for _, s in inputs.values() if s and isinstance(s[0], int)), 1)
    iterations = max(1, -(-samples // max(batch, 1)))
    if source == "random":
        dataset = data.random_dataset(infos, shapes, batch, iterations, 0)
    else:
        arrays = data.load_arrays(source)
        dataset = data.array_dataset(arrays, infos, batch, "labels", source)
        dataset.feeds = dataset.feeds[:iterations]
    cache = calib.get("cache")
    return Calibrator(dataset.feeds, cache=str(cache) if cache else None)


def build_engine(onnx_path: Path, out_path: Path, settings: TrtBuildSettings,
                 timing_cache: Path | None, verbose: bool = False) -> dict[str, Any]:
    """Build and write the serialized engine; return timings and timing-cache facts."""
    from polygraphy.backend.trt import EngineBytesFromNetwork
    from polygraphy.exception import PolygraphyException

    cache_before = timing_cache.stat().st_size if timing_cache and timing_cache.is_file() else 0
    if timing_cache is not None:
        timing_cache.parent.mkdir(parents=True, exist_ok=True)
    with quiet_polygraphy(verbose):
        network, config, notes = polygraphy_loaders(onnx_path, settings, timing_cache)
        build = EngineBytesFromNetwork(network, config=config,
                                       save_timing_cache=str(timing_cache) if timing_cache
                                       else None)
        start = time.perf_counter()
        try:
            engine_bytes = build()
        except PolygraphyException as exc:
            raise ModelError(f"{onnx_path}: TensorRT {settings.version} cannot build an engine: "
                             f"{_first_line(exc)}",
                             "rerun with --verbose for TensorRT's log; unsupported ops need a "
                             "plugin (build.plugins) or a graph change") from None
        elapsed = time.perf_counter() - start
    data = bytes(engine_bytes)
    out_path.write_bytes(data)
    cache_after = timing_cache.stat().st_size if timing_cache and timing_cache.is_file() else 0
    return {"engine_build_s": round(elapsed, 3), "engine_bytes": len(data),
            "engine_sha256": hashlib.sha256(data).hexdigest(), "notes": notes,
            "timing_cache": {"path": str(timing_cache) if timing_cache else None,
                             "loaded": cache_before > 0, "bytes_before": cache_before,
                             "bytes_after": cache_after}}


# --------------------------------------------------------------------------- engines


def deserialize(engine_path: Path, *, check_sidecar: bool = True) -> Any:
    """Load an engine, explaining a GPU / TensorRT mismatch before TensorRT fails on it.

    Raises:
        ModelError: the file is missing, was built for another GPU / compute capability /
            TensorRT version (from its sidecar), or TensorRT cannot deserialize it.
    """
    trt = _trt()
    if not engine_path.is_file():
        raise ModelError(f"engine not found: {engine_path}", "check the path, or build it")
    version, gpu = machine()
    side = read_sidecar(engine_path)
    if check_sidecar and side is not None:
        from trtc.backends.trt_config import compatibility_verdict

        ok, why = compatibility_verdict(side, gpu_name=gpu.name,
                                        compute_capability=gpu.compute_capability,
                                        trt_version=version)
        if not ok:
            raise ModelError(f"{engine_path}: {why}",
                             "rebuild the engine on this machine (trtc build ... --force); "
                             "engines are specific to a GPU and a TensorRT version")
    from polygraphy.backend.trt import EngineFromBytes

    from trtc.backends.cuda_harness import cudart

    cudart().cudaFree(0)  # make the primary context current before TensorRT uses it
    with quiet_polygraphy():
        try:
            engine = EngineFromBytes(engine_path.read_bytes())()
        except Exception as exc:
            where = ("" if side is None else
                     f" (built with TensorRT {side.get('tensorrt_version')} on "
                     f"{(side.get('gpu') or {}).get('name')})")
            raise ModelError(f"{engine_path}: TensorRT {version} cannot deserialize the "
                             f"engine{where}: {_first_line(exc)}",
                             "engines are specific to a GPU and a TensorRT version: rebuild it "
                             "here (trtc build ... --force)") from None
    if not isinstance(engine, trt.ICudaEngine):
        raise ModelError(f"{engine_path}: not a TensorRT engine", "rebuild it")
    return engine


def engine_io(engine: Any, onnx_inputs: Mapping[str, tuple[str, Sequence[int | str]]]
              | None = None) -> dict[str, Any]:
    """Inputs/outputs of an engine (tensor-name API): dtype, shape, profile ranges."""
    trt = _trt()
    import numpy as np

    io: dict[str, Any] = {"inputs": {}, "outputs": {}}
    profiles: list[dict[str, list[list[int]]]] = [
        {} for _ in range(int(engine.num_optimization_profiles))]
    for i in range(int(engine.num_io_tensors)):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        shape = [int(d) for d in engine.get_tensor_shape(name)]
        try:
            dtype = str(np.dtype(trt.nptype(engine.get_tensor_dtype(name))))
        except TypeError:
            dtype = str(engine.get_tensor_dtype(name)).split(".")[-1].lower()
        onnx_shape = onnx_inputs[name][1] if onnx_inputs and name in onnx_inputs else None
        entry = {"dtype": dtype, "shape": list(named_shape(shape, onnx_shape)),
                 "engine_shape": shape}
        io["inputs" if is_input else "outputs"][name] = entry
        if is_input and any(d < 0 for d in shape):
            for p in range(len(profiles)):
                lo, opt, hi = engine.get_tensor_profile_shape(name, p)
                profiles[p][name] = [[int(d) for d in lo], [int(d) for d in opt],
                                     [int(d) for d in hi]]
    io["profiles"] = [p for p in profiles if p]
    return io


def inspect_layers(engine: Any) -> dict[str, Any]:
    """The engine inspector's JSON for every layer (needs DETAILED profiling verbosity).

    TensorRT 8.6 writes raw control characters inside JSON strings, hence
    ``strict=False``; a layer that still does not parse is kept as text.
    """
    trt = _trt()
    fmt = trt.LayerInformationFormat.JSON
    inspector = engine.create_engine_inspector()
    info: dict[str, Any] = {}
    try:
        parsed = json.loads(inspector.get_engine_information(fmt), strict=False)
        if isinstance(parsed, dict):
            info = parsed
    except ValueError:
        pass
    if not isinstance(info.get("Layers"), list):
        layers: list[Any] = []
        for i in range(int(engine.num_layers)):
            text = inspector.get_layer_information(i, fmt)
            try:
                layers.append(json.loads(text, strict=False))
            except ValueError:
                layers.append(text)
        info["Layers"] = layers
    info["summary"] = summarize_layers(info)
    return info


def _io_specs_from(io: Mapping[str, Any]) -> IoSpecs:
    inputs = {n: (str(v["dtype"]), tuple(v["shape"])) for n, v in io["inputs"].items()}
    return inputs, list(io["outputs"])


class TensorRTBackend:
    """Build TensorRT engines through Polygraphy; run them with Polygraphy and cuda-python."""

    name = "tensorrt"
    artifact_name = "model.engine"

    def check_available(self, spec: BuildSpec | None = None) -> None:
        """TensorRT importable (with a version) and a CUDA GPU present, or DependencyError."""
        machine()

    # ----------------------------------------------------------------- build

    def plan(self, onnx_path: Path, spec: BuildSpec, out_path: Path | None = None,
             version: str | None = None) -> TrtBuildSettings:
        """Resolve the recipe into TrtBuildSettings for the installed version (validates).

        The stage normally plans (it knows the recipe's batches for the default
        profile and the workspace for the timing cache) and passes the settings
        to :meth:`build`; this is the fallback for a bare BuildSpec.
        """
        from trtc.backends.trt_config import check_qdq_target, plan_trt_build, qdq_precision

        version = version or tensorrt_version()
        if version is None:
            raise DependencyError("TensorRT is not installed (the tensorrt library does not "
                                  "import)", INSTALL_HINT)
        inputs, has_qdq, meta = onnx_facts(onnx_path)
        check_qdq_target(meta, "tensorrt", str(onnx_path))
        cache_dir = default_timing_cache_dir(out_path) if out_path is not None else None
        return plan_trt_build(spec, inputs, version, model_has_qdq=has_qdq,
                              qdq_precision=qdq_precision(meta),
                              timing_cache_dir=str(cache_dir) if cache_dir else None)

    def build(self, onnx_path: Path, out_path: Path, spec: BuildSpec, *,
              settings: TrtBuildSettings | None = None, verbose: bool = False
              ) -> dict[str, Any]:
        """Build ``out_path``; the sidecar and layer data come back for :meth:`after_build`.

        ``out_path`` may be a staged temporary file: nothing here depends on its name.
        """
        from trtc.backends.trt_config import (
            check_gpu,
            settings_to_data,
            sidecar,
            timing_cache_file,
            timing_cache_key,
            trtexec_command,
        )
        from trtc.workspace import sha256_file

        version, gpu = machine()
        if settings is None:
            settings = self.plan(onnx_path, spec, out_path, version)
        warnings = check_gpu(settings, gpu.compute_capability, gpu.name)
        cache = timing_cache_file(settings, gpu_name=gpu.name,
                                  compute_capability=gpu.compute_capability)
        facts = build_engine(onnx_path, out_path, settings, Path(cache) if cache else None,
                             verbose=verbose)
        engine = deserialize(out_path, check_sidecar=False)
        inputs, _ = onnx_io(onnx_path)
        io = engine_io(engine, inputs)
        layers = inspect_layers(engine)
        side = sidecar(settings, gpu_name=gpu.name, compute_capability=gpu.compute_capability,
                       trt_version=version, onnx_sha256=sha256_file(onnx_path),
                       engine_sha256=facts["engine_sha256"], io=io)
        # What trtc did to the ONNX (prune / quantize): verify judges such an engine by
        # its task metric, as it does the ONNX.
        side["onnx_metadata"] = {k: v for k, v in onnx_facts(onnx_path)[2].items()
                                 if k.startswith("trtc.")}
        precision = settings.precision
        if precision == "fp32" and settings.tf32 and not settings.strongly_typed:
            precision = "tf32"  # verify's tolerances: TF32 math differs from fp32 ONNX Runtime
        return {
            "precision": precision,
            "settings": {**settings_to_data(settings),
                         "timing_cache_key": timing_cache_key(gpu.name, gpu.compute_capability,
                                                              version),
                         "trtexec": trtexec_command(settings, str(onnx_path),
                                                    self.artifact_name)},
            "device": {**gpu.to_dict(), "tensorrt": version},
            "engine": facts, "sidecar": side, "layers": layers,
            "warnings": warnings + facts["notes"],
        }

    def after_build(self, engine_path: Path, info: Mapping[str, Any]) -> dict[str, Path]:
        """Write the sidecar and layers.json next to the final engine; return them by role."""
        from trtc.workspace import write_json

        out: dict[str, Path] = {}
        if "sidecar" in info:
            write_json(sidecar_path(engine_path), info["sidecar"])
            out["sidecar"] = sidecar_path(engine_path)
        if "layers" in info:
            write_json(layers_path(engine_path), info["layers"])
            out["layers"] = layers_path(engine_path)
        return out

    # ----------------------------------------------------------------- run

    def runner(self, artifact: Path, name: str) -> BaseRunner:
        """Polygraphy's TrtRunner on the deserialized engine (mismatches explained first)."""
        from polygraphy.backend.trt import TrtRunner

        engine = deserialize(Path(artifact))
        return TrtRunner(engine, name=name)

    def infer_fn(self, artifact: Path, threads: int | None) -> Callable[[Feed], Any]:
        """One synchronous inference per call through an activated TrtRunner."""
        runner = self.runner(artifact, "trtc-bench")
        runner.activate()

        def infer(feed: Feed) -> Any:
            return runner.infer(dict(feed))

        infer.runner = runner  # type: ignore[attr-defined]  # keeps it alive
        return infer

    def io_specs(self, artifact: Path) -> IoSpecs:
        """From the sidecar when there is one (no GPU needed), else from the engine."""
        side = read_sidecar(artifact)
        if side is not None and isinstance(side.get("io"), dict):
            return _io_specs_from(side["io"])
        return _io_specs_from(engine_io(deserialize(Path(artifact))))

    # ----------------------------------------------------------------- bench

    def make_slots(self, engine: Any, feed: Mapping[str, np.ndarray], streams: int
                   ) -> list[Slot]:
        """One execution context + pinned/device buffers per stream, shapes bound to ``feed``."""
        trt = _trt()
        from trtc.backends.cuda_harness import Binding, CudaError, Slot, check, cudart

        io = engine_io(engine)
        shapes = {n: tuple(int(d) for d in a.shape) for n, a in feed.items()}
        missing = [n for n in io["inputs"] if n not in feed]
        if missing:
            raise UsageError(f"no data for engine input(s) {', '.join(missing)}",
                             "pass --shapes for every dynamic input")
        profiles = context_profiles(io["profiles"], shapes, streams)
        slots: list[Slot] = []
        for index, profile in enumerate(profiles):
            context = engine.create_execution_context()
            if context is None:
                raise CudaError("TensorRT could not create an execution context (out of "
                                "GPU memory?)", "use fewer --streams or a smaller batch")
            # The first context of an engine gets profile 0 by itself; TensorRT 8.6
            # leaves every later one without a profile until one is set.
            if profile is not None and (index > 0 or profile != 0):
                if not context.set_optimization_profile_async(profile, 0):
                    raise CudaError(f"TensorRT refused optimization profile {profile}",
                                    "rerun with --verbose for TensorRT's log")
                check(cudart().cudaStreamSynchronize(0), "cudaStreamSynchronize")
            bindings: list[Binding] = []
            for name, arr in feed.items():
                if name not in io["inputs"]:
                    continue
                if not context.set_input_shape(name, tuple(arr.shape)):
                    raise UsageError(f"input '{name}': the engine rejects shape "
                                     f"{_fmt(arr.shape)}", "check --batch / --shapes against "
                                     "the engine's profiles (trtc inspect ENGINE)")
                b = Binding.allocate(name, True, arr.shape, io["inputs"][name]["dtype"])
                b.host.array[...] = arr
                bindings.append(b)
            for name, meta in io["outputs"].items():
                shape = tuple(int(d) for d in context.get_tensor_shape(name))
                bindings.append(Binding.allocate(name, False, shape, meta["dtype"]))
            for b in bindings:
                context.set_tensor_address(b.name, b.device.ptr)

            def enqueue(stream: int, context: Any = context) -> None:
                if not context.execute_async_v3(stream):
                    raise CudaError("TensorRT execute_async_v3 failed",
                                    "rerun with --verbose for TensorRT's log")

            slots.append(Slot(bindings, enqueue, keepalive=(context, trt)))
        return slots

    def bench(self, artifact: Path, feed: Mapping[str, np.ndarray], config: HarnessConfig,
              streams: int = 1) -> dict[str, Any]:
        """trtexec-style timing of the engine on ``feed``: summary dict with samples."""
        from trtc.backends.cuda_harness import run_harness, summarize

        engine = deserialize(Path(artifact))
        batch = int(next(iter(feed.values())).shape[0]) if feed else 1
        slots = self.make_slots(engine, feed, streams)
        try:
            result = run_harness(slots, config)
        finally:
            for slot in slots:
                slot.free()
        out = summarize(result, batch)
        out["samples"] = result.samples
        return out

    def cross_check(self, artifact: Path, feed: Mapping[str, np.ndarray],
                    config: HarnessConfig) -> dict[str, Any]:
        """Time the same engine's compute with torch.cuda events and with the harness.

        Both without CUDA graphs and without copies, so only the timers differ;
        ``ratio`` is torch / harness median (goal: within 2 %).
        """
        import dataclasses

        import torch

        from trtc.backends.cuda_harness import run_harness, time_torch_cuda
        from trtc.metrics import latency_stats

        engine = deserialize(Path(artifact))
        batch = int(next(iter(feed.values())).shape[0]) if feed else 1
        plain = dataclasses.replace(config, cuda_graph=False, data_transfers=False)
        slots = self.make_slots(engine, feed, 1)
        try:
            harness = run_harness(slots, plain)
            stream = torch.cuda.Stream()
            with torch.cuda.stream(stream):
                lat, wall = time_torch_cuda(lambda: slots[0].enqueue(stream.cuda_stream),
                                            plain.warmup_ms, plain.duration_s,
                                            plain.min_iterations)
        finally:
            torch.cuda.synchronize()
            for slot in slots:
                slot.free()
        h = latency_stats(harness.samples["computeMs"], batch, harness.wall_s)
        t = latency_stats(lat, batch, wall)
        return {"harness_median_ms": h["median_ms"], "torch_events_median_ms": t["median_ms"],
                "ratio": t["median_ms"] / h["median_ms"] if h["median_ms"] else float("nan"),
                "harness_iterations": h["iterations"], "torch_iterations": t["iterations"]}


def engine_summary(engine_path: Path) -> dict[str, Any]:
    """What ``trtc inspect ENGINE`` shows: the sidecar, the layer summary, the file.

    Works without TensorRT when the sidecar and layers.json exist; otherwise reads
    the engine itself (needs TensorRT and a GPU).
    """
    if not engine_path.is_file():
        raise ModelError(f"engine not found: {engine_path}", "check the path")
    side = read_sidecar(engine_path)
    try:
        layers = json.loads(layers_path(engine_path).read_text())
    except (OSError, ValueError):
        layers = None
    notes: list[str] = []
    if side is None or layers is None:
        try:
            engine = deserialize(engine_path)
        except (DependencyError, ModelError) as exc:
            if side is None:
                raise ModelError(f"{engine_path}: no sidecar ({sidecar_path(engine_path).name}) "
                                 f"and the engine cannot be read here: {exc.message}",
                                 exc.hint) from None
            notes.append(f"no {layers_path(engine_path).name}, and the engine cannot be "
                         f"inspected here: {exc.message}")
        else:
            if side is None:
                side = {"io": engine_io(engine), "note": "no sidecar: read from the engine"}
            if layers is None:
                layers = inspect_layers(engine)
    summary = (layers or {}).get("summary") if isinstance(layers, dict) else None
    if layers is not None and summary is None and isinstance(layers, dict):
        summary = summarize_layers(layers)
    here: dict[str, Any] = {}
    try:
        version, gpu = machine()
    except (DependencyError, TrtcError):
        pass
    else:
        if side is not None and "gpu" in side:
            from trtc.backends.trt_config import compatibility_verdict

            ok, why = compatibility_verdict(side, gpu_name=gpu.name,
                                            compute_capability=gpu.compute_capability,
                                            trt_version=version)
            here = {"loadable_here": ok, "reason": why}
    return {"engine": str(engine_path), "bytes": engine_path.stat().st_size,
            "sidecar": side, "layer_summary": summary,
            "layers": (layers or {}).get("Layers", []) if isinstance(layers, dict) else [],
            "here": here, "notes": notes}
