"""trtexec-style timing of a TensorRT engine, with PyTorch eager on the same GPU.

Pure orchestration over :mod:`trtc.backends.tensorrt` (the engine, the harness) and
:mod:`trtc.backends.torch_cuda` (the baseline); nothing here imports tensorrt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.tensorrt.engine_file import read_sidecar

if TYPE_CHECKING:
    from trtc.backends.base import Feed
    from trtc.backends.harness_stats import HarnessConfig
    from trtc.backends.tensorrt import TensorRTBackend
    from trtc.recipe import BenchSpec


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


def bench_engine(backend: TensorRTBackend, engine: Any, feed: Mapping[str, Any],
                 config: HarnessConfig, streams: int = 1,
                 scales: Mapping[str, float] | None = None,
                 another_engine: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Run the cuda-python harness on ``engine`` (one slot per stream); summary + samples.

    The feed is converted to the engine's I/O types and formats once, when the slots
    are made, before anything is timed (``scales``: its int8 inputs' quantization). The
    streams the engine's profiles cannot serve run on copies from ``another_engine``."""
    from trtc.backends.cuda_harness import run_harness
    from trtc.backends.harness_stats import feed_batch, summarize

    slots = backend.make_slots(engine, feed, streams, scales, another_engine)
    copies = len({id(slot.keepalive[1]) for slot in slots})  # (context, engine) each
    try:
        result = run_harness(slots, config)
    finally:
        for slot in slots:
            slot.free()
    out = summarize(result, feed_batch(feed))
    # Streams beyond the profiles that hold the shapes run on more copies (trtexec's way).
    out["engine_copies"] = copies
    out["samples"] = result.samples
    return out
