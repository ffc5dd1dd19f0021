"""TensorRT backend: the only module that imports tensorrt, thin over Polygraphy.

Every decision (which flags, which profiles, what a version can do, whether an
engine fits this machine, what goes in the sidecar) lives in the pure
:mod:`trtc.tensorrt` package; this module only hands its
:class:`~trtc.tensorrt.settings.TrtBuildSettings` to Polygraphy's loaders
(network from ONNX, create config, engine bytes), runs engines (Polygraphy's
TrtRunner for verify, the cuda-python harness for bench) and reads them back
(I/O, engine inspector).

Only the tensor-name API that TensorRT 8.6, 10 and 11 share is used
(``num_io_tensors``, ``get_tensor_name/mode/shape/dtype``, ``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.backends.base import (
    polygraphy_build_severity,
    polygraphy_echo,
    polygraphy_log_file,
    polygraphy_severity,
    polygraphy_to_stderr,
)
from trtc.backends.harness_stats import feed_batch
from trtc.tensorrt import diagnostics
from trtc.tensorrt.engine_file import (
    IoSpecs,
    io_specs,
    read_sidecar,
    sidecar_io_scales,
    sidecar_io_specs,
)
from trtc.tensorrt.settings import trt_values

if TYPE_CHECKING:
    import numpy as np
    from polygraphy.backend.base import BaseRunner

    from trtc.backends.base import BuildRequest, Feed, PreparedBuild, ProfileHint, Timer
    from trtc.backends.cuda_harness import GpuInfo, HarnessConfig, Slot
    from trtc.recipe import BenchSpec, BuildSpec
    from trtc.tensorrt.settings import TrtBuildSettings


def tensorrt_version() -> str | None:
    """Return the importable TensorRT version, or None."""
    try:
        import tensorrt
    except ImportError:
        return None
    # tensorrt-stubs (for mypy) installs an importable 'tensorrt' without the library.
    version = getattr(tensorrt, "__version__", None)
    return str(version) if version else None


# --------------------------------------------------------------------------- machine


def _trt() -> Any:
    polygraphy_to_stderr()
    try:
        import tensorrt
    except ImportError:
        raise diagnostics.not_installed() from None
    if not getattr(tensorrt, "__version__", None):
        raise diagnostics.not_installed()
    return tensorrt


def machine() -> tuple[str, GpuInfo]:
    """(TensorRT version, GPU 0) of this machine; DependencyError when either is missing."""
    version = tensorrt_version()
    if version is None:
        raise diagnostics.not_installed()
    from trtc.backends.cuda_harness import cudart, gpu_count, gpu_info

    cudart()  # DependencyError naming cuda-python when it is missing
    if gpu_count() == 0:
        raise diagnostics.no_gpu(version)
    return version, gpu_info(0)


# --------------------------------------------------------------------------- build


def polygraphy_loaders(onnx_path: Path, settings: TrtBuildSettings,
                       timing_cache: Path | None) -> tuple[Any, Any, list[str]]:
    """Polygraphy loaders for the settings: (network loader, config loader, notes)."""
    trt = _trt()
    from polygraphy.backend.trt import (
        Calibrator,
        CreateConfig,
        LoadPlugins,
        NetworkFromOnnxPath,
        PostprocessNetwork,
        Profile,
    )

    from trtc.tensorrt.calibration import calibration_feeds
    from trtc.tensorrt.model import onnx_io
    from trtc.tensorrt.settings import polygraphy_kwargs

    network: Any = NetworkFromOnnxPath(str(onnx_path),
                                       **trt_values(trt, polygraphy_kwargs(settings, "network")))
    plugins = polygraphy_kwargs(settings, "plugins")
    if plugins:
        network = LoadPlugins(obj=network, **{k: list(v) for k, v in plugins.items()})
    if settings.input_formats or settings.output_formats:
        network = PostprocessNetwork(network, func=io_formats_setter(trt, settings),
                                     name="trtc I/O formats")
    profiles = []
    for spec in settings.profiles:
        profile = Profile()
        for name, (lo, opt, hi) in spec.shapes.items():
            profile.add(name, min=list(lo), opt=list(opt), max=list(hi))
        profiles.append(profile)
    kwargs = trt_values(trt, polygraphy_kwargs(settings))
    if profiles:
        kwargs["profiles"] = profiles
    monitor = _progress_monitor(trt)
    if monitor is not None:  # TensorRT >= 10: the builder's own phases
        kwargs["progress_monitor"] = monitor
    if timing_cache is not None and timing_cache.is_file():
        kwargs["load_timing_cache"] = str(timing_cache)
    if settings.int8_mode == "calibration" and not settings.strongly_typed:
        feeds, cache = calibration_feeds(settings, onnx_io(onnx_path)[0])
        kwargs["calibrator"] = Calibrator(feeds, cache=cache)
    return network, CreateConfig(**kwargs), list(settings.notes)


def io_formats_setter(trt: Any, settings: TrtBuildSettings) -> Callable[..., None]:
    """Polygraphy's PostprocessNetwork step: the parsed network's I/O types and formats.

    Each input (output) gets its spec as trtexec gives it: ``ITensor.allowed_formats``
    (a bitmask of TensorFormat values), and on a weakly typed network ``ITensor.dtype``;
    a strongly typed one keeps the ONNX types (planning checked they match; TensorRT 11
    cannot change them). An int8 tensor gets no dynamic range: the ONNX parsed was
    rewritten so that it is already the int8 side of a Q/DQ pair (trtc.tensorrt.int8_io),
    whose node gives TensorRT the scale, as for trtexec. The specs are
    matched again to the network's own tensors, which name every output and rank.
    """
    from trtc.tensorrt.io_formats import TYPES, assign_io_formats, parse_io_formats
    from trtc.tensorrt.versions import features

    feats = features(settings.version)

    def apply(network: Any) -> None:
        for what, specs, tensors in (
                ("input", settings.input_formats,
                 [network.get_input(i) for i in range(int(network.num_inputs))]),
                ("output", settings.output_formats,
                 [network.get_output(i) for i in range(int(network.num_outputs))])):
            key = f"build.{what}_formats"
            by_name = {t.name: t for t in tensors}
            chosen = assign_io_formats(
                parse_io_formats(specs, key, feats),
                {t.name: (str(t.dtype), tuple(t.shape)) for t in tensors}, key, what)
            for name, fmt in chosen.items():
                if not settings.strongly_typed:
                    by_name[name].dtype = getattr(trt.DataType, TYPES[fmt.dtype].enum)
                by_name[name].allowed_formats = fmt.format_mask

    return apply


def _progress_monitor(trt: Any) -> Any:
    """A trt.IProgressMonitor (TensorRT >= 10) reporting the builder's top-level phases to
    the parent process; None on 8.6, where the parent reports the elapsed time only."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None
    from trtc.backends.isolated import phase

    class Monitor(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)  # type: ignore[misc]

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int
                        ) -> None:
            if not parent_phase:
                phase(f"{phase_name} ({num_steps} steps)")

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # never cancels: build.timeout_s stops the child instead

        def phase_finish(self, phase_name: str) -> None:
            return None

    return Monitor()


def build_engine(onnx_path: Path, out_path: Path, settings: TrtBuildSettings,
                 timing_cache: Path | None, verbose: bool = False, *,
                 timeout_s: float | None = None,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build and write the serialized engine in a child process; return its facts.

    The TensorRT build runs in a spawned child (:mod:`trtc.backends.isolated`) so that
    ``timeout_s`` can stop it, Ctrl-C / SIGTERM stop it at once, a crash in the builder
    is one line, and ``progress`` hears the phase and the elapsed time while it runs.
    Whatever the child had written is removed when it fails.
    """
    from trtc.backends.isolated import run_isolated

    def tick(elapsed: float) -> None:
        if progress is not None:
            progress(f"building the TensorRT {settings.version} engine: {elapsed:.0f} s")

    hint = ("raise build.timeout_s (--timeout-s), or build faster: build.tactic_sources: auto, "
            "a lower build.builder_optimization_level, a narrower profile")
    return dict(run_isolated(
        "trtc.backends.tensorrt:engine_file_from_onnx",
        (str(onnx_path), str(out_path), settings, str(timing_cache) if timing_cache else None,
         verbose),
        what=f"the TensorRT build of {onnx_path.name}", timeout_s=timeout_s, tick_s=15.0,
        on_tick=tick, on_phase=progress, cleanup=[out_path], timeout_hint=hint))


def engine_file_from_onnx(onnx_path: str, out_path: str, settings: TrtBuildSettings,
                          timing_cache: str | None, verbose: bool = False) -> dict[str, Any]:
    """Parse, build and write one engine (runs in the build's child process).

    Placeholder input dim names (Paddle's ``?``) are made unique first: TensorRT
    treats equal names as one dimension; If nodes that only test dims the profiles pin
    are folded (trtc.graph.dims.for_tensorrt); for int8 I/O, the QuantizeLinear reading
    an int8 input and the DequantizeLinear writing an int8 output are removed
    (trtc.tensorrt.int8_io). A failed parse or build is explained from the parser's
    errors and TensorRT's log (trtc.tensorrt.diagnose).
    """
    import tempfile

    from polygraphy.backend.trt import EngineBytesFromNetwork
    from polygraphy.exception import PolygraphyException

    from trtc.backends.isolated import phase
    from trtc.graph.dims import for_tensorrt, pinned_dims
    from trtc.tensorrt.diagnose import timing_cache_refusal
    from trtc.tensorrt.int8_io import int8_io_for_tensorrt
    from trtc.tensorrt.versions import features

    source, cache = Path(onnx_path), Path(timing_cache) if timing_cache else None
    cache_before = cache.stat().st_size if cache and cache.is_file() else 0
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trtc-build-") as tmp:
        model, notes = for_tensorrt(source, Path(tmp), pinned_dims(settings.profiles))
        if settings.io_scales:  # int8 I/O: the only tensors with a scale
            model, more_notes = int8_io_for_tensorrt(model, Path(tmp), settings.input_formats,
                                                     settings.output_formats,
                                                     features(settings.version))
            notes += more_notes
        log = Path(tmp) / "trt.log"
        with polygraphy_severity(polygraphy_build_severity(verbose)), \
                polygraphy_echo(verbose), polygraphy_log_file(log):
            phase(f"parsing {source.name} (TensorRT {settings.version})")
            keep_builder_alive()  # in the log: its kernel-library start is the build's
            network, config, more = polygraphy_loaders(model, settings, cache)
            build = EngineBytesFromNetwork(network, config=config,
                                           save_timing_cache=str(cache) if cache else None)
            start = time.perf_counter()
            try:
                engine_bytes = build()
            except PolygraphyException as exc:
                raise _explained(source, model, settings, log, exc) from None
            elapsed = time.perf_counter() - start
            refused = timing_cache_refusal(log.read_text(errors="replace")) \
                if cache_before and log.is_file() else None
    if refused:
        more = [*more, f"TensorRT {settings.version} refused the timing cache {cache} "
                f"({refused}): this build timed every tactic again. Delete the file to "
                "start a fresh one; if every build says so, this TensorRT cannot read back "
                "what it saved for this model"]
    phase("writing the engine")
    data = bytes(engine_bytes)
    Path(out_path).write_bytes(data)
    cache_after = cache.stat().st_size if cache and cache.is_file() else 0
    return {"engine_build_s": round(elapsed, 3), "engine_bytes": len(data),
            "engine_sha256": hashlib.sha256(data).hexdigest(), "notes": notes + more,
            "timing_cache": {"path": str(cache) if cache else None,
                             "loaded": cache_before > 0 and not refused,
                             "refused": refused, "bytes_before": cache_before,
                             "bytes_after": cache_after}}


def keep_builder_alive() -> None:
    """Hold one TensorRT builder for the rest of this process: TensorRT 8.6 loads its
    builder kernel library with the first live builder and unloads it with the last
    (6-10 s a load on the H200, and Polygraphy makes a builder a build), so the builds a
    worker runs one after another (:func:`trtc.backends.isolated.reuse_worker`) load it
    once."""
    from polygraphy.backend.trt import util as trt_util

    from trtc.backends.isolated import keep

    trt = _trt()

    def make() -> tuple[Any, Any]:
        # Polygraphy's own logger: TensorRT may keep the first builder's logger for all,
        # and the build's log (diagnose, the refused-cache check) reads Polygraphy's.
        logger = trt_util.get_trt_logger()
        return logger, trt.Builder(logger)  # the logger must outlive the builder

    keep("tensorrt.builder", make)


def _explained(source: Path, model: Path, settings: TrtBuildSettings, log: Path,
               exc: BaseException) -> Exception:
    """A ModelError naming the node and op that failed, with the fix that applies."""
    from trtc.errors import ModelError
    from trtc.graph.io import load_proto, read_opset
    from trtc.tensorrt.diagnose import explain

    try:
        names: set[str] | None = {n.name for n in load_proto(model).graph.node}
    except ModelError:
        names = None
    found = explain(parser_issues(model), log.read_text(errors="replace") if log.is_file()
                    else "", diagnostics.first_line(exc), where=str(source),
                    version=settings.version, opset=read_opset(source), node_names=names)
    return ModelError(found.message, found.hint)


def parser_issues(onnx_path: Path) -> list[Any]:
    """Parse ``onnx_path`` with TensorRT's ONNX parser; its errors with node names and ops."""
    import onnx

    from trtc.tensorrt.diagnose import ParserIssue

    trt = _trt()
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    # 8.6 needs the explicit-batch flag; 10 deprecated it (always explicit), 11 removed it.
    network = builder.create_network(1 << int(explicit) if explicit is not None
                                     and int(trt.__version__.split(".")[0]) < 10 else 0)
    parser = trt.OnnxParser(network, logger)
    if parser.parse_from_file(str(onnx_path)):
        return []
    nodes = onnx.load(str(onnx_path), load_external_data=False).graph.node
    issues = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        index = int(err.node())
        node = nodes[index] if 0 <= index < len(nodes) else None
        issues.append(ParserIssue(str(err.desc()), str(err.code()).split(".")[-1], index,
                                  node.name if node is not None else "",
                                  node.op_type if node is not None else ""))
    return issues


# --------------------------------------------------------------------------- engines


def deserialize(engine_path: Path, *, check_sidecar: bool = True) -> Any:
    """Load an engine, explaining a GPU / TensorRT mismatch before TensorRT fails on it.

    Raises:
        ModelError: the file is missing, was built for another GPU / compute capability /
            TensorRT version (from its sidecar), or TensorRT cannot deserialize it.
    """
    trt = _trt()
    if not engine_path.is_file():
        raise diagnostics.engine_not_found(engine_path)
    version, gpu = machine()
    side = read_sidecar(engine_path)
    if check_sidecar and side is not None:
        from trtc.tensorrt.engine_file import compatibility_verdict

        ok, why = compatibility_verdict(side, gpu_name=gpu.name,
                                        compute_capability=gpu.compute_capability,
                                        trt_version=version)
        if not ok:
            raise diagnostics.incompatible_engine(engine_path, why)
    from polygraphy.backend.trt import EngineFromBytes

    from trtc.backends.cuda_harness import cudart

    cudart().cudaFree(0)  # make the primary context current before TensorRT uses it
    with polygraphy_severity("ERROR"):
        try:
            engine = EngineFromBytes(engine_path.read_bytes())()
        except Exception as exc:
            raise diagnostics.cannot_deserialize(engine_path, version, side, exc) from None
    if not isinstance(engine, trt.ICudaEngine):
        raise diagnostics.not_an_engine(engine_path)
    return engine


def engine_io(engine: Any, onnx_inputs: Mapping[str, tuple[str, Sequence[int | str]]]
              | None = None, model_dtypes: Mapping[str, str] | None = None,
              io_scales: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Inputs/outputs of an engine (tensor-name API): dtype, shape, profile ranges.

    A tensor whose type or format the build set (build.input_formats / output_formats)
    keeps its model type in ``dtype`` (what verify feeds and compares; ``model_dtypes``)
    and says what the engine holds in ``io_dtype`` and ``format`` (``get_tensor_dtype``,
    ``get_tensor_format``), with its int8 ``scale`` (``io_scales``); the harness converts
    to that once, outside the timed loop.
    """
    trt = _trt()

    from trtc.tensorrt.profiles import named_shape

    io: dict[str, Any] = {"inputs": {}, "outputs": {}}
    profiles: list[dict[str, list[list[int]]]] = [
        {} for _ in range(int(engine.num_optimization_profiles))]
    for i in range(int(engine.num_io_tensors)):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        shape = [int(d) for d in engine.get_tensor_shape(name)]
        dtype = _numpy_name(trt, engine.get_tensor_dtype(name))
        onnx_shape = onnx_inputs[name][1] if onnx_inputs and name in onnx_inputs else None
        entry: dict[str, Any] = {"dtype": (model_dtypes or {}).get(name, dtype),
                                 "shape": list(named_shape(shape, onnx_shape)),
                                 "engine_shape": shape}
        fmt = str(engine.get_tensor_format(name)).split(".")[-1].lower()
        if fmt != "linear" or entry["dtype"] != dtype:
            entry.update(io_dtype=dtype, format=fmt)
        if io_scales and name in io_scales:
            entry["scale"] = float(io_scales[name])
        io["inputs" if is_input else "outputs"][name] = entry
        if is_input and any(d < 0 for d in shape):
            for p in range(len(profiles)):
                lo, opt, hi = engine.get_tensor_profile_shape(name, p)
                profiles[p][name] = [[int(d) for d in lo], [int(d) for d in opt],
                                     [int(d) for d in hi]]
    io["profiles"] = [p for p in profiles if p]
    return io


def _numpy_name(trt: Any, dtype: Any) -> str:
    """numpy's name for a trt.DataType ('float16'); TensorRT's own where numpy has none."""
    import numpy as np

    try:
        return str(np.dtype(trt.nptype(dtype)))
    except TypeError:
        name = str(dtype).split(".")[-1].lower()
        return {"bf16": "bfloat16", "fp8": "float8_e4m3fn"}.get(name, name)


def inspect_layers(engine: Any) -> dict[str, Any]:
    """The engine inspector's JSON for every layer (needs DETAILED profiling verbosity)."""
    from trtc.tensorrt.inspector import layers_info

    fmt = _trt().LayerInformationFormat.JSON
    inspector = engine.create_engine_inspector()
    context = _opt_shape_context(engine)
    if context is not None:
        inspector.execution_context = context
    return layers_info(inspector.get_engine_information(fmt),
                       lambda: [inspector.get_layer_information(i, fmt)
                                for i in range(int(engine.num_layers))])


def _opt_shape_context(engine: Any) -> Any:
    """An execution context at profile 0's opt shapes, for a dynamic-shape engine: without
    one the inspector writes no tensor formats ("N/A due to dynamic shapes" on 8.6), so
    the precision proof would read only weights and kernel names. None when static, or
    when the context cannot be made (the proof then falls back; see inspector.py).

    Measured on TensorRT 8.6 (H200, docs/device/2026-12-02/precision-resnet50-int8.md):
    the formats still came back N/A with this context set, and all 54 layers were read
    from their weights; kept for the versions whose inspector honours it."""
    trt = _trt()
    names = [engine.get_tensor_name(i) for i in range(int(engine.num_io_tensors))]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    if not any(any(d < 0 for d in engine.get_tensor_shape(n)) for n in inputs):
        return None
    try:
        context = engine.create_execution_context()
        for name in inputs:
            if any(d < 0 for d in engine.get_tensor_shape(name)):
                context.set_input_shape(name, engine.get_tensor_profile_shape(name, 0)[1])
    except Exception:  # noqa: BLE001 - best effort: the proof has a fallback
        return None
    return context


class TensorRTBackend:
    """Build TensorRT engines through Polygraphy; run them with Polygraphy and cuda-python."""

    name = "tensorrt"
    artifact_name = "model.engine"

    def check_available(self, spec: BuildSpec | None = None) -> None:
        """TensorRT importable (with a version) and a CUDA GPU present, or DependencyError."""
        machine()

    # ----------------------------------------------------------------- build

    def prepare_build(self, request: BuildRequest) -> PreparedBuild:
        """Plan the engine for the installed TensorRT (settings, files, shape preflight)."""
        from trtc.backends.tensorrt_plan import prepare

        return prepare(request, tensorrt_version() or "")

    def preview_build(self, spec: BuildSpec, *, onnx_path: Path | None,
                      hint: ProfileHint | None, version: str | None, output: str | None,
                      timing_cache_dir: Path | None) -> dict[str, Any]:
        """The dry run: settings and trtexec line for the installed (or asked) version."""
        from trtc.backends.tensorrt_plan import preview

        return preview(spec, onnx_path=onnx_path, hint=hint, version=version, output=output,
                       timing_cache_dir=timing_cache_dir, installed=tensorrt_version())

    def build(self, onnx_path: Path, out_path: Path, spec: BuildSpec, *,
              plan: PreparedBuild | None = None, verbose: bool = False,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Build ``out_path``; the sidecar and layer data come back for :meth:`finish_build`.

        ``out_path`` may be a staged temporary file: nothing here depends on its name.
        Without a ``plan`` (a bare build section), the settings come from the ONNX alone.
        """
        from trtc.tensorrt.engine_file import sidecar, timing_cache_file, timing_cache_key
        from trtc.tensorrt.inspector import precision_report
        from trtc.tensorrt.model import onnx_facts, plan_from_onnx
        from trtc.tensorrt.settings import (
            check_gpu,
            gpu_defaults,
            math_precision,
            settings_to_data,
        )
        from trtc.tensorrt.trtexec import trtexec_command
        from trtc.workspace import sha256_file

        version, gpu = machine()
        settings = plan.settings if plan is not None and plan.settings is not None \
            else plan_from_onnx(onnx_path, spec, version, out_path)
        warnings = check_gpu(settings, gpu.compute_capability, gpu.name)
        settings, chosen = gpu_defaults(settings, gpu.compute_capability)
        warnings += chosen
        cache = timing_cache_file(settings, gpu_name=gpu.name,
                                  compute_capability=gpu.compute_capability)
        facts = build_engine(onnx_path, out_path, settings, Path(cache) if cache else None,
                             verbose=verbose, timeout_s=spec.timeout_s, progress=progress)
        engine = deserialize(out_path, check_sidecar=False)
        inputs, _, metadata = onnx_facts(onnx_path)
        io = engine_io(engine, inputs, formatted_model_dtypes(settings, inputs, onnx_path),
                       settings.io_scales)
        side = sidecar(settings, gpu_name=gpu.name, compute_capability=gpu.compute_capability,
                       trt_version=version, onnx_sha256=sha256_file(onnx_path),
                       engine_sha256=facts["engine_sha256"], io=io)
        # What trtc did to the ONNX (prune / quantize): verify judges such an engine by
        # its task metric, as it does the ONNX.
        side["onnx_metadata"] = {k: v for k, v in metadata.items() if k.startswith("trtc.")}
        layers = inspect_layers(engine)
        # The proof of the precision built: compute layers by precision (build.expect).
        side["layer_precision"] = precision = precision_report(layers)
        return {
            "precision": math_precision(settings),
            "settings": {**settings_to_data(settings),
                         "timing_cache_key": timing_cache_key(gpu.name, gpu.compute_capability,
                                                              version),
                         "trtexec": trtexec_command(settings, str(onnx_path),
                                                    self.artifact_name)},
            "device": {**gpu.to_dict(), "tensorrt": version},
            "engine": facts, "sidecar": side, "layers": layers, "layer_precision": precision,
            "warnings": warnings + facts["notes"],
        }

    def finish_build(self, artifact: Path, plan: PreparedBuild,
                     info: Mapping[str, Any]) -> dict[str, Path]:
        """Write the sidecar and layers.json beside the final engine; with the int8
        calibration cache, return them by role."""
        from trtc.tensorrt.engine_file import write_engine_files

        extra = write_engine_files(artifact, info)
        cache = ((plan.settings.calibration if plan.settings is not None else None)
                 or {}).get("cache")
        if cache and Path(cache).is_file():
            extra.setdefault("calibration_cache", Path(cache))
        return extra

    def precision_of(self, artifact: Path) -> str:
        """The sidecar's precision; TensorRT's fp32 engines use TF32 unless built without."""
        side = read_sidecar(artifact) or {}
        precision = str(side.get("precision") or "fp32")
        if precision == "fp32" and side.get("tf32") and not side.get("strongly_typed"):
            return "tf32"
        return precision

    def source_metadata(self, artifact: Path) -> dict[str, str]:
        """The ``trtc.*`` metadata of the ONNX the engine was built from (its sidecar)."""
        return dict((read_sidecar(artifact) or {}).get("onnx_metadata") or {})

    def timer(self, artifact: Path, spec: BenchSpec) -> Timer:
        """trtexec-style GPU timing with PyTorch eager on the same GPU."""
        from trtc.backends.tensorrt_timer import GpuTimer

        return GpuTimer(self, artifact, spec)

    # ----------------------------------------------------------------- run

    def runner(self, artifact: Path, name: str) -> BaseRunner:
        """Polygraphy's TrtRunner on the deserialized engine (mismatches explained first);
        for an engine built with I/O formats, wrapped to be fed and read in the model's
        types and layout (trtc.backends.tensorrt_io)."""
        from polygraphy.backend.trt import TrtRunner

        engine = deserialize(Path(artifact))
        side = read_sidecar(artifact) or {}
        io = side["io"] if isinstance(side.get("io"), dict) else engine_io(engine)
        from trtc.backends.tensorrt_io import (
            FormattedIoRunner,
            has_io_formats,
            polygraphy_converts,
        )

        if not has_io_formats(io):
            return TrtRunner(engine, name=name)
        return FormattedIoRunner(TrtRunner(engine, name=f"{name}-engine"), io, name=name,
                                 converts=polygraphy_converts())

    def infer_fn(self, artifact: Path, threads: int | None) -> Callable[[Feed], Any]:
        """One synchronous inference per call through an activated TrtRunner; the outputs
        are copies the caller keeps (Polygraphy's runners reuse their output buffers: the
        engine budget's 16 held-out samples all read as the last one, G11)."""
        return _ActiveRunner(self.runner(artifact, "trtc-bench"))

    def io_specs(self, artifact: Path) -> IoSpecs:
        """From the sidecar when there is one (no GPU needed), else from the engine."""
        return sidecar_io_specs(artifact) or io_specs(engine_io(deserialize(Path(artifact))))

    # ----------------------------------------------------------------- bench

    def make_slots(self, engine: Any, feed: Mapping[str, np.ndarray], streams: int,
                   scales: Mapping[str, float] | None = None,
                   another_engine: Callable[[], Any] | None = None) -> list[Slot]:
        """One execution context + pinned/device buffers per stream, shapes bound to ``feed``,
        in the engine's I/O types and formats (int8 inputs quantized with ``scales``); the
        streams its profiles cannot serve run on copies from ``another_engine``."""
        from trtc.backends.tensorrt_slots import make_slots

        return make_slots(engine, engine_io(engine), feed, streams, scales, another_engine)

    def bench(self, artifact: Path, feed: Mapping[str, np.ndarray], config: HarnessConfig,
              streams: int = 1) -> dict[str, Any]:
        """trtexec-style timing of the engine on ``feed``: summary dict with samples."""
        from trtc.backends.tensorrt_timer import bench_engine

        return bench_engine(self, deserialize(Path(artifact)), feed, config, streams,
                            scales=sidecar_io_scales(artifact),
                            another_engine=lambda: deserialize(Path(artifact)))

    def cross_check(self, artifact: Path, feed: Mapping[str, np.ndarray],
                    config: HarnessConfig) -> dict[str, Any]:
        """Time the same engine's compute with torch.cuda events and with the harness
        (trtc.backends.torch_cuda.cross_check; scripts/bench_trt.py --cross-check)."""
        from trtc.backends.torch_cuda import cross_check

        engine = deserialize(Path(artifact))
        return cross_check(self.make_slots(engine, feed, 1, sidecar_io_scales(artifact)),
                           feed_batch(feed), config)


class _ActiveRunner:
    """``infer_fn``'s callable: an activated runner's copied outputs; ``close`` deactivates
    it (its engine, context and device buffers go; the engine budget builds one an
    evaluation, and Polygraphy warned of each left active)."""

    def __init__(self, runner: BaseRunner) -> None:
        import numpy as np
        from polygraphy.datatype import DataType

        self.runner = runner
        runner.activate()
        # TensorRT 8.6 imports an ONNX int64 input as int32 and TrtRunner refuses an int64
        # feed (DistilBERT's input_ids in the engine budget, 2026-12-04b): integer feeds
        # take the engine's integer type, as verify's data does (the sidecar's io types).
        self.int_inputs = {
            name: dt for name, meta in runner.get_input_metadata().items()
            if (dt := np.dtype(DataType.to_dtype(DataType.from_dtype(meta.dtype), "numpy")))
            .kind in "iu"}

    def __call__(self, feed: Feed) -> Any:
        import numpy as np

        fed = {name: (value.astype(self.int_inputs[name])
                      if name in self.int_inputs and value.dtype.kind in "iu"
                      and value.dtype != self.int_inputs[name] else value)
               for name, value in feed.items()}
        return {name: np.array(value, copy=True)
                for name, value in self.runner.infer(fed).items()}

    def close(self) -> None:
        if self.runner.is_active:
            self.runner.deactivate()


def formatted_model_dtypes(settings: TrtBuildSettings,
                           inputs: Mapping[str, tuple[str, Any]],
                           onnx_path: Path) -> dict[str, str]:
    """{tensor: ONNX dtype} of the inputs / outputs whose I/O formats the build set."""
    from trtc.tensorrt.model import onnx_outputs

    dtypes = {n: d for n, (d, _) in inputs.items()} if settings.input_formats else {}
    if settings.output_formats:
        dtypes.update({n: d for n, (d, _) in onnx_outputs(onnx_path)[0].items()})
    return dtypes


def _engine_facts(engine_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = deserialize(engine_path)
    return engine_io(engine), inspect_layers(engine)


def _machine_here() -> tuple[str, str, tuple[int, int]]:
    version, gpu = machine()
    return version, gpu.name, gpu.compute_capability


def engine_summary(engine_path: Path) -> dict[str, Any]:
    """What ``trtc inspect ENGINE`` shows (trtc.tensorrt.inspector.engine_summary), reading
    the engine itself only where its sidecar or layers.json is missing."""
    from trtc.tensorrt.inspector import engine_summary as summary

    return summary(engine_path, read_engine=_engine_facts, machine=_machine_here)
