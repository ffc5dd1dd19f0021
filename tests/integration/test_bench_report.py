"""bench on a real ONNX Runtime session: report shape and the CoV warning."""

from __future__ import annotations

from pathlib import Path

from trtc.recipe import BenchSpec
from trtc.stages.bench import benchmark

FAST = {"warmup_ms": 5.0, "duration_s": 0.05, "min_iterations": 5}


def test_cov_warning_follows_threshold(conv_onnx: Path) -> None:
    always = benchmark(conv_onnx, BenchSpec(batch=(1, 2), cov_warn=0.0, **FAST))
    assert len(always["warnings"]) == 1  # one line for every noisy run
    assert "batch 1 onnxruntime" in always["warnings"][0]
    assert "batch 2 onnxruntime" in always["warnings"][0]
    never = benchmark(conv_onnx, BenchSpec(batch=(1,), cov_warn=1e9, **FAST))
    assert never["warnings"] == []


def test_report_rows_follow_batches_and_thread_count(conv_onnx: Path) -> None:
    report = benchmark(conv_onnx, BenchSpec(batch=(1, 3), threads=1, **FAST))
    assert report["threads"] == 1
    assert [r["batch"] for r in report["results"]] == [1, 3]
    assert [r["shapes"]["x"] for r in report["results"]] == ["1x3x8x8", "3x3x8x8"]
    for row in report["results"]:
        stats = row["onnxruntime"]
        assert stats["iterations"] >= 5
        assert stats["min_ms"] <= stats["median_ms"] <= stats["p99_ms"] <= stats["max_ms"]
        assert "pytorch" not in row  # an ONNX file has no PyTorch baseline
