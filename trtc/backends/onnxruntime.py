"""ONNX Runtime backend: offline graph optimisation, Polygraphy runner, timing function."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.errors import DependencyError, ModelError

if TYPE_CHECKING:
    import onnxruntime as ort
    from polygraphy.backend.base import BaseRunner

    from trtc.backends.base import Feed
    from trtc.recipe import BuildSpec

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
                 optimized_path: str | Path | None = None) -> ort.InferenceSession:
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
    options.log_severity_level = 3
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

    def build(self, onnx_path: Path, out_path: Path, spec: BuildSpec) -> dict[str, Any]:
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

    def runner(self, artifact: Path, name: str, device: str = "cpu") -> BaseRunner:
        from polygraphy.backend.onnxrt import OnnxrtRunner

        return OnnxrtRunner(make_session(artifact, device=device), name=name)

    def infer_fn(self, artifact: Path, threads: int | None) -> Callable[[Feed], Any]:
        sess = make_session(artifact, threads=threads)
        output_names = [o.name for o in sess.get_outputs()]

        def infer(feed: Feed) -> Any:
            return sess.run(output_names, dict(feed))

        return infer

    def io_specs(self, artifact: Path) -> tuple[dict[str, tuple[str, tuple[int | str, ...]]],
                                                list[str]]:
        from trtc.graph.inspect import summarize_model

        summary = summarize_model(artifact)
        return ({t.name: (t.dtype, t.shape) for t in summary.inputs},
                [t.name for t in summary.outputs])
