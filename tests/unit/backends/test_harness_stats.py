"""The harness's results summarised as trtexec does (trtc.backends.harness_stats), on CPU."""

from __future__ import annotations

import pytest

from trtc.backends.harness_stats import HarnessResult, summarize


def result(notes: list[str] | None = None) -> HarnessResult:
    compute = [1.0, 2.0, 3.0, 4.0]
    samples = {"computeMs": compute, "h2dMs": [0.5] * 4, "d2hMs": [0.25] * 4,
               "latencyMs": [c + 0.75 for c in compute], "enqueueMs": [0.1] * 4}
    return HarnessResult(samples, wall_s=2.0, streams=2, cuda_graph=True, notes=notes or [])


def test_top_level_numbers_are_gpu_compute_time_and_throughput_is_wall_time() -> None:
    out = summarize(result(), batch=8)
    assert out["median_ms"] == 2.5 and out["min_ms"] == 1.0 and out["max_ms"] == 4.0
    assert out["timer"] == "cuda events" and out["streams"] == 2 and out["cuda_graph"] is True
    assert out["throughput_qps"] == 2.0 and out["throughput_samples_s"] == 16.0
    assert out["h2d_latency"]["median_ms"] == 0.5 and out["d2h_latency"]["max_ms"] == 0.25
    assert out["latency"]["median_ms"] == pytest.approx(3.25)
    assert out["total_gpu_compute_time_s"] == pytest.approx(0.01)
    assert set(out["enqueue_time"]) == {"min_ms", "mean_ms", "median_ms", "p90_ms", "p95_ms",
                                        "p99_ms", "max_ms", "cov"}
    assert "notes" not in out


def test_notes_are_carried() -> None:
    assert summarize(result(["CUDA graph capture failed"]), 1)["notes"] == [
        "CUDA graph capture failed"]
