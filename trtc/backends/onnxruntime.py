"""ONNX Runtime backend: offline graph optimisation, Polygraphy runner, timing function."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.backends.base import PreparedBuild
from trtc.errors import DependencyError, ModelError, UsageError

if TYPE_CHECKING:
    import onnxruntime as ort
    from polygraphy.backend.base import BaseRunner

    from trtc.backends.base import BuildRequest, Feed, IoSpecs, ProfileHint, Timer
    from trtc.graph.io import ModelIO
    from trtc.recipe import BenchSpec, BuildSpec

_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
           "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
_PROVIDERS = {"cpu": ["CPUExecutionProvider"],
              "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}
#: Built artifacts are already optimised; loading them again skips the work.
BUILT_SUFFIX = ".ort.onnx"


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - a core dependency
        raise DependencyError("onnxruntime is not installed",
                              "pip install onnxruntime") from None
    return onnxruntime


def make_session(path: str | Path, *, device: str = "cpu", level: str | None = None,
                 threads: int | None = None,
                 optimized_path: str | Path | None = None,
                 log_severity: int = 3) -> ort.InferenceSession:
    """Create an InferenceSession, turning ONNX Runtime's load errors into ModelError.

    ``level=None`` keeps ONNX Runtime's default, except that a built artifact
    (``*.ort.onnx``) is loaded with optimisations off: it is already optimised.
    """
    ort_mod = _ort()
    options = ort_mod.SessionOptions()
    if level is None and str(path).endswith(BUILT_SUFFIX):
        level = "disable"
    if level is not None:
        options.graph_optimization_level = getattr(ort_mod.GraphOptimizationLevel, _LEVELS[level])
    if threads is not None:
        options.intra_op_num_threads = threads
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    options.log_severity_level = log_severity  # 3: errors; 4: fatal only (a probe run)
    providers = _PROVIDERS[device]
    if not Path(path).is_file():
        raise ModelError(f"model file not found: {path}", "check the path")
    try:
        return ort_mod.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/... classes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: ONNX Runtime cannot load the model: {first}",
                         "check that the file is a complete, valid ONNX model "
                         "(re-run the stage that wrote it with --force)") from None


class OnnxRuntimeBackend:
    """Build = ONNX Runtime's offline graph optimisation written to disk."""

    name = "onnxruntime"
    artifact_name = "model" + BUILT_SUFFIX

    def check_available(self, spec: BuildSpec) -> None:
        ort_mod = _ort()
        if spec.device == "cuda" and \
                "CUDAExecutionProvider" not in ort_mod.get_available_providers():
            raise DependencyError(
                "ONNX Runtime here has no CUDAExecutionProvider (device: cuda)",
                "install onnxruntime-gpu on a machine with a GPU, or set build.device: cpu")

    # ----------------------------------------------------------------- build

    def prepare_build(self, request: BuildRequest) -> PreparedBuild:
        """Check the Q/DQ target and the precision: ONNX Runtime runs the model's own types.

        Under ``backend: auto`` a TensorRT-style Q/DQ model and a TensorRT precision are
        reported, not refused: the pipeline goes on, without the speed-up.
        """
        from trtc.tensorrt.model import check_qdq_target

        spec, model = request.spec, request.model
        auto = spec.backend == "auto"
        warnings: list[str] = []
        try:
            check_qdq_target(model.metadata, self.name, str(request.onnx_path))
        except UsageError as exc:
            # A TensorRT-style (s8/s8) Q/DQ model still runs correctly here, only without
            # the speed-up; asked for explicitly, it is refused.
            if not auto:
                raise
            warnings.append(f"{exc.message}: it runs on ONNX Runtime, without the int8 "
                            "speed-up (ONNX Runtime's CPU kernels want --target "
                            "onnxruntime-cpu)")
        if auto:
            reason = request.why
            prefix = f"{self.name} (auto: "
            if reason.startswith(prefix) and reason.endswith(")"):
                reason = reason[len(prefix):-1]
            warnings.append(f"backend auto chose {self.name}, not TensorRT: {reason}")
        precision = self._precision(spec, model, warnings)
        return PreparedBuild(precision, warnings=tuple(warnings))

    @staticmethod
    def _precision(spec: BuildSpec, model: ModelIO, warnings: list[str]) -> str:
        """The precision the model holds; ``build.precision`` is a TensorRT builder setting.

        Asked of ONNX Runtime directly it is refused; when ``auto`` fell back to ONNX
        Runtime it is reported, not applied.
        """
        from trtc.tensorrt.model import qdq_precision

        held = qdq_precision(model.metadata) or ("int8" if model.has_qdq else "fp32")
        if spec.precision in ("fp32", held):
            return held
        message = (f"build.precision {spec.precision} is a TensorRT builder setting; ONNX "
                   f"Runtime runs the model's own types ({held})")
        hint = (f"write it into the model: trtc quantize MODEL.onnx -o OUT.onnx --precision "
                f"{spec.precision} --target onnxruntime-cpu, then build OUT.onnx")
        if spec.backend == "onnxruntime":
            raise UsageError(message, hint)
        warnings.append(f"{message}: built as {held}")
        return held

    def build(self, onnx_path: Path, out_path: Path, spec: BuildSpec, *,
              plan: PreparedBuild | None = None, verbose: bool = False,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
        self.check_available(spec)
        # Optimised graphs at level 'all' contain provider-specific fused ops and
        # layouts, so the artifact is tied to the provider (and CPU type) it was built for.
        sess = make_session(onnx_path, device=spec.device, level=spec.optimization_level,
                            threads=spec.threads, optimized_path=out_path)
        settings = {
            "providers": sess.get_providers(),
            "graph_optimization_level": _LEVELS[spec.optimization_level],
            "intra_op_num_threads": spec.threads if spec.threads is not None else "default",
            "load_with": "graph_optimization_level=ORT_DISABLE_ALL (already optimised)",
        }
        return {"settings": settings, "device": {"provider": sess.get_providers()[0],
                                                  "cpu_count": os.cpu_count()}}

    def finish_build(self, artifact: Path, plan: PreparedBuild,
                     info: Mapping[str, Any]) -> dict[str, Path]:
        return {}  # the optimised model is the whole artifact

    def preview_build(self, spec: BuildSpec, *, onnx_path: Path | None,
                      hint: ProfileHint | None, version: str | None, output: str | None,
                      timing_cache_dir: Path | None) -> dict[str, Any]:
        return {}  # the recipe section is the whole plan

    # ----------------------------------------------------------------- run

    def runner(self, artifact: Path, name: str, device: str = "cpu",
               level: str | None = None) -> BaseRunner:
        """Polygraphy's OnnxrtRunner; ``level="disable"`` reads the graph most literally."""
        from polygraphy.backend.onnxrt import OnnxrtRunner

        return OnnxrtRunner(make_session(artifact, device=device, level=level), name=name)

    def infer_fn(self, artifact: Path, threads: int | None) -> Callable[[Feed], Any]:
        sess = make_session(artifact, threads=threads)
        output_names = [o.name for o in sess.get_outputs()]

        def infer(feed: Feed) -> Any:
            return sess.run(output_names, dict(feed))

        return infer

    def timer(self, artifact: Path, spec: BenchSpec) -> Timer:
        return CpuTimer(self.infer_fn, artifact, spec)

    # ----------------------------------------------------------------- io

    def io_specs(self, artifact: Path) -> IoSpecs:
        from trtc.graph.io import read_model_io

        return read_model_io(artifact).io_specs()

    def precision_of(self, artifact: Path) -> str:
        return "fp32"  # no manifest: an ONNX file says nothing of how it was meant to run

    def source_metadata(self, artifact: Path) -> dict[str, str]:
        from trtc.errors import ModelError
        from trtc.graph.io import read_model_io

        try:
            return read_model_io(artifact).metadata
        except ModelError:  # the runner reports an unreadable model properly
            return {}


class CpuTimer:
    """``time.perf_counter`` around synchronous runs, the PyTorch baseline on the same threads.

    Both runtimes get the same thread count, so the ratio compares runtimes, not
    thread pools.
    """

    noise_hint = ("the machine may be busy, or runs are so short that scheduler noise "
                  "dominates: compare medians, not means")

    def __init__(self, make_infer: Callable[[Path, int | None], Callable[[Feed], Any]],
                 artifact: Path, spec: BenchSpec) -> None:
        from trtc.metrics import default_threads

        self.spec = spec
        self.threads: int | None = spec.threads or default_threads()
        self._infer = make_infer(artifact, self.threads)

    def method(self) -> dict[str, Any]:
        return {"timer": "time.perf_counter"}

    def context(self) -> dict[str, Any]:
        return {}

    def _measure(self, fn: Callable[[], Any], batch: int) -> dict[str, Any]:
        from trtc.metrics import latency_stats, measure

        spec = self.spec
        lat, wall = measure(fn, spec.warmup_ms, spec.duration_s, spec.min_iterations)
        return latency_stats(lat, batch, wall)

    def time(self, feed: Feed, batch: int) -> tuple[dict[str, Any], list[str]]:
        return self._measure(partial(self._infer, feed), batch), []

    def baseline(self, model: Any, feed: Feed, input_names: Sequence[str], batch: int,
                 main: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        from trtc.backends import torch as torch_backend

        infer = torch_backend.infer_fn(model, list(input_names))
        with torch_backend.torch_threads(self.threads):
            stats = self._measure(partial(infer, feed), batch)
        return {"pytorch": stats}, {"speedup_vs_pytorch": stats["median_ms"] / main["median_ms"]}
