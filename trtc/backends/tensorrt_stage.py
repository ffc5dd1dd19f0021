"""The backend interface's TensorRT side that :class:`TensorRTBackend` does not have yet.

:class:`TensorRTStageBackend` adds the methods the stages call (build planning,
the dry-run preview, the timer, the engine's precision and source metadata) on
top of the adapter in :mod:`trtc.backends.tensorrt`, using only what that
module already offers; they belong in ``TensorRTBackend`` itself, where they
can move as they are. Nothing here imports tensorrt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.backends.tensorrt import TensorRTBackend
from trtc.tensorrt.engine_file import read_sidecar

if TYPE_CHECKING:
    from trtc.backends.base import BuildRequest, Feed, PreparedBuild, ProfileHint, Timer
    from trtc.recipe import BenchSpec, BuildSpec


class TensorRTStageBackend(TensorRTBackend):
    """TensorRTBackend with the whole :class:`trtc.backends.base.Backend` interface."""

    def prepare_build(self, request: BuildRequest) -> PreparedBuild:
        """Plan the engine for the installed TensorRT (settings, files, shape preflight)."""
        from trtc.backends.tensorrt import tensorrt_version
        from trtc.backends.tensorrt_plan import prepare

        return prepare(request, tensorrt_version() or "")

    def build(self, onnx_path: Path, out_path: Path, spec: BuildSpec, *,
              plan: PreparedBuild | None = None, verbose: bool = False,
              settings: Any = None) -> dict[str, Any]:
        """TensorRTBackend.build with the prepared plan's settings."""
        if plan is not None:
            settings = plan.settings
        return super().build(onnx_path, out_path, spec, settings=settings, verbose=verbose)

    def finish_build(self, artifact: Path, plan: PreparedBuild,
                     info: Mapping[str, Any]) -> dict[str, Path]:
        """The sidecar, layers.json and the int8 calibration cache, by role."""
        extra = self.after_build(artifact, info)
        cache = ((plan.settings.calibration if plan.settings is not None else None)
                 or {}).get("cache")
        if cache and Path(cache).is_file():
            extra.setdefault("calibration_cache", Path(cache))
        return extra

    def preview_build(self, spec: BuildSpec, *, onnx_path: Path | None,
                      hint: ProfileHint | None, version: str | None, output: str | None,
                      timing_cache_dir: Path | None) -> dict[str, Any]:
        from trtc.backends.tensorrt_plan import preview

        return preview(spec, onnx_path=onnx_path, hint=hint, version=version, output=output,
                       timing_cache_dir=timing_cache_dir)

    def timer(self, artifact: Path, spec: BenchSpec) -> Timer:
        return GpuTimer(self, artifact, spec)

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


class GpuTimer:
    """A TensorRT engine timed as trtexec does, with PyTorch eager on the same GPU.

    GPU compute time (CUDA events around the enqueue or graph launch) is the
    headline latency, H2D/D2H are reported beside it, and throughput is measured
    with every stream busy, copies included. The PyTorch baseline runs eagerly on
    the same GPU in fp32 and fp16 with its inputs already on the device, timed by
    torch.cuda events, so the speedup compares GPU time with GPU time.
    """

    threads: int | None = None
    noise_hint = "compare medians, not means"

    def __init__(self, backend: TensorRTBackend, artifact: Path, spec: BenchSpec) -> None:
        from trtc.backends.cuda_harness import HarnessConfig

        self.backend, self.artifact, self.spec = backend, artifact, spec
        self.config = HarnessConfig(warmup_ms=spec.warmup_ms, duration_s=spec.duration_s,
                                    min_iterations=spec.min_iterations,
                                    cuda_graph=spec.cuda_graph)

    def method(self) -> dict[str, Any]:
        return {"timer": "cuda events", "cuda_graph": self.spec.cuda_graph,
                "streams": self.spec.streams,
                "latency": "GPU compute time (trtexec's 'GPU Compute Time')"}

    def context(self) -> dict[str, Any]:
        from trtc.backends.cuda_harness import gpu_info

        side = read_sidecar(self.artifact) or {}
        return {"device": gpu_info(0).to_dict(),
                "engine": {k: side[k] for k in side if k != "io"}}

    def time(self, feed: Feed, batch: int) -> tuple[dict[str, Any], list[str]]:
        stats = self.backend.bench(self.artifact, feed, self.config, self.spec.streams)
        stats.pop("samples", None)
        return stats, list(stats.get("notes", []))

    def baseline(self, model: Any, feed: Feed, input_names: Sequence[str], batch: int,
                 main: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        from trtc.backends.torch_cuda import torch_cuda_baseline

        spec = self.spec
        runs = torch_cuda_baseline(model, dict(feed), list(input_names), ("fp32", "fp16"),
                                   spec.warmup_ms, spec.duration_s, spec.min_iterations)
        return runs, {"pytorch": runs["pytorch_fp32"],
                      "speedup_vs_pytorch": runs["pytorch_fp32"]["median_ms"]
                      / main["median_ms"],
                      "speedup_vs_pytorch_fp16": runs["pytorch_fp16"]["median_ms"]
                      / main["median_ms"]}
