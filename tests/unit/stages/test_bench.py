"""Tests for trtc.stages.bench: the batches run, the report's JSON, a real CPU run."""

from __future__ import annotations

from pathlib import Path

from trtc.recipe import BenchSpec
from trtc.stages import StageContext, bench
from trtc.stages.bench import BenchJob, BenchReport, BenchRow

FAST = BenchSpec(batch=(1, 2), warmup_ms=1.0, duration_s=0.01, min_iterations=3)


def test_shapes_fix_the_batch_that_is_run_and_say_which_batches_were_dropped() -> None:
    warnings: list[str] = []
    spec = BenchSpec(batch=(1, 8), shapes={"x": [4, 3, 8, 8]})
    assert bench._batches(spec, "x", warnings) == (4,)
    assert warnings == ["--shapes sets x to batch 4; batch sizes [1, 8] were not used"]
    warnings.clear()
    assert bench._batches(BenchSpec(batch=(1, 4), shapes={"x": [4, 3]}), "x", warnings) == (4,)
    assert bench._batches(BenchSpec(batch=(2, 8)), "x", warnings) == (2, 8)
    assert warnings == []


def _stats(median: float, cov: float = 0.0) -> dict[str, float]:
    return {"median_ms": median, "cov": cov}


def test_report_to_dict_keeps_the_json_layout() -> None:
    row = BenchRow(2, {"x": "2x3"}, {"onnxruntime": _stats(1.0), "pytorch": _stats(3.0)},
                   {"speedup_vs_pytorch": 3.0})
    report = BenchReport("m.ort.onnx", "onnxruntime", 4, {"warmup_ms": 1.0}, (row,), ("w",))
    data = report.to_dict()
    assert list(data) == ["artifact", "backend", "threads", "method", "results", "warnings"]
    assert data["results"] == [{"batch": 2, "shapes": {"x": "2x3"},
                                "onnxruntime": _stats(1.0), "pytorch": _stats(3.0),
                                "speedup_vs_pytorch": 3.0}]
    assert data["warnings"] == ["w"]
    gpu = BenchReport("m.engine", "tensorrt", None, {}, (), (),
                      {"device": {"name": "H200"}, "engine": {}}).to_dict()
    assert list(gpu) == ["artifact", "backend", "threads", "device", "engine", "method",
                         "results", "warnings"]


def test_run_times_an_onnx_model_on_the_cpu(conv_onnx: Path, tmp_path: Path) -> None:
    ctx = StageContext(inputs={"artifact": conv_onnx},
                       outputs={"report": tmp_path / "report.json"}, work_dir=tmp_path)
    result = bench.run(BenchJob(FAST), ctx)
    assert result.outputs == {"report": tmp_path / "report.json"}
    rows = result.metrics["results"]
    assert [r["batch"] for r in rows] == [1, 2]
    assert rows[0]["onnxruntime"]["iterations"] >= 3
    report = bench.measure_artifact(conv_onnx, FAST)
    assert report.backend == "onnxruntime" and report.method["timer"] == "time.perf_counter"
    assert report.threads is not None and report.threads >= 1


def test_run_without_a_report_role_writes_nothing(conv_onnx: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = bench.run(BenchJob(FAST), StageContext(inputs={"artifact": conv_onnx}, outputs={},
                                                    work_dir=work))
    assert result.outputs == {}
    assert list(work.iterdir()) == []


def test_baseline_gate_allows_tolerance_and_noise_and_names_the_batch() -> None:
    from trtc.stages.bench import compare_to_baseline

    def report(medians: dict[int, float], cov: float) -> dict:  # type: ignore[type-arg]
        return {"backend": "onnxruntime",
                "results": [{"batch": b, "onnxruntime": {"median_ms": m, "cov": cov}}
                            for b, m in medians.items()]}

    old = report({1: 1.0, 8: 4.0, 64: 9.0}, 0.01)
    same = compare_to_baseline(report({1: 1.04, 8: 4.0}, 0.01), old, 0.05)
    assert same["passed"] and same["batches"][0]["regression"] == 0.04
    slower = compare_to_baseline(report({1: 1.04, 8: 5.0, 16: 1.0}, 0.01), old, 0.05)
    assert not slower["passed"] and len(slower["failures"]) == 1
    assert slower["failures"][0].startswith("batch 8: median latency 5.000 ms is 25.0% slower")
    assert slower["batches"][2] == {"batch": 16, "compared": False}  # not in the baseline
    noisy = compare_to_baseline(report({8: 5.0}, 0.15), old, 0.05)  # 2 x CoV 30 % > 25 %
    assert noisy["passed"] and noisy["batches"][0]["allowed"] == 0.3
