"""What the GPU harness is told and what it returns, summarised as trtexec does (pure).

The cuda-python calls are in trtc.backends.cuda_harness; these are plain data
and numbers, shared with the stages and tested without a GPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trtc.metrics import latency_stats


@dataclass(frozen=True)
class HarnessConfig:
    """How long and how to measure (trtexec's --warmUp, --duration, --iterations ...)."""

    warmup_ms: float = 200.0
    duration_s: float = 3.0
    min_iterations: int = 10
    cuda_graph: bool = True
    #: Include the host<->device copies in every iteration (trtexec without --noDataTransfers).
    data_transfers: bool = True
    #: Iterations kept in flight per stream before the host reads their events.
    depth: int = 2


@dataclass
class HarnessResult:
    """Per-iteration samples (ms) and totals; keys follow trtexec's --exportTimes names."""

    samples: dict[str, list[float]]
    wall_s: float
    streams: int
    cuda_graph: bool
    notes: list[str] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        return len(self.samples["computeMs"])


def summarize(result: HarnessResult, batch: int) -> dict[str, Any]:
    """trtexec-style summary: GPU compute, H2D, D2H, latency and enqueue statistics.

    The top-level ``median_ms`` etc. are GPU compute time (what trtexec's "GPU Compute
    Time" reports and what the engine itself costs); ``throughput_*`` come from the
    host wall time with every stream busy, copies included (trtexec's "Throughput").
    """
    n = result.iterations
    compute = latency_stats(result.samples["computeMs"], batch, result.wall_s)
    out: dict[str, Any] = dict(compute)
    out.update({
        "timer": "cuda events",
        "cuda_graph": result.cuda_graph,
        "streams": result.streams,
        "throughput_qps": n / result.wall_s if result.wall_s > 0 else 0.0,
        "throughput_samples_s": n * batch / result.wall_s if result.wall_s > 0 else 0.0,
        "gpu_compute_time": _brief(result.samples["computeMs"], batch, result.wall_s),
        "h2d_latency": _brief(result.samples["h2dMs"], batch, result.wall_s),
        "d2h_latency": _brief(result.samples["d2hMs"], batch, result.wall_s),
        "latency": _brief(result.samples["latencyMs"], batch, result.wall_s),
        "enqueue_time": _brief(result.samples["enqueueMs"], batch, result.wall_s),
        "total_gpu_compute_time_s": sum(result.samples["computeMs"]) / 1000.0,
        "total_host_walltime_s": result.wall_s,
    })
    if result.notes:
        out["notes"] = list(result.notes)
    return out


def _brief(samples: list[float], batch: int, wall_s: float) -> dict[str, float]:
    s = latency_stats(samples, batch, wall_s)
    return {k: s[k] for k in ("min_ms", "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms",
                              "max_ms", "cov")}


def feed_batch(feed: Mapping[str, Any]) -> int:
    """The batch of a feed: the first input's leading dim (1 for an empty feed)."""
    return int(next(iter(feed.values())).shape[0]) if feed else 1
