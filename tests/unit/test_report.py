"""trtc.report: the renderers the CLI prints and report.md, from plain data."""

from __future__ import annotations

from rich.console import Console

from trtc.pipeline import StageOutcome
from trtc.report import (
    dry_run_settings,
    outcome_line,
    plan_table,
    prune_renderable,
    quantize_lines,
    summary_markdown,
)


def _text(renderable: object) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_outcome_line_says_what_happened_how_long_and_why() -> None:
    ran = StageOutcome("build", "ran", "build section changed", wall_time_s=1.234)
    assert outcome_line(ran) == "[green]build    ran[/] in 1.23 s (build section changed)"
    skipped = StageOutcome("export", "skipped", "up to date")
    assert outcome_line(skipped) == "[dim]export   skipped[/] (up to date)"
    # A reason holding brackets is shown as written, not read as markup.
    assert r"\[x]" in outcome_line(StageOutcome("verify", "would run", "[x] changed"))


def test_dry_run_settings_show_what_is_sent_to_tensorrt() -> None:
    plan = {"backend": "tensorrt", "settings": {"raw": 1}, "trtexec": "trtexec --onnx=m",
            "tensorrt": {"version": "10.0", "workspace_bytes": None, "fp16": None,
                         "builder_optimization_level": 5, "notes": ["n"]}}
    shown = dry_run_settings(plan)
    assert shown == {"backend": "tensorrt", "tensorrt": {
        "version": "10.0", "workspace_bytes": "TensorRT's default (the GPU's memory)",
        "fp16": "none", "builder_optimization_level": 5}}
    assert dry_run_settings({"backend": "onnxruntime"}) == {"backend": "onnxruntime"}
    assert "tensorrt.fp16" in _text(plan_table(shown))


def test_quantize_lines_one_fact_each() -> None:
    metrics = {
        "calibration": {"method": "minmax", "samples": 8, "source": "random", "cache": "miss",
                        "calibration_runs": 1},
        "qdq": {"quantize_linear": 3, "dequantize_linear": 5, "quantized_nodes": ["a", "b"]},
        "accuracy": {"metric": "cosine", "value": 0.99871, "reference": 1.0, "drop": 0.00129},
        "kept_fp32": [{"name": "[sm]", "op_type": "Softmax", "reason": "sensitive"}],
    }
    assert quantize_lines(metrics) == [
        "calibration: minmax on 8 samples from random (cache miss, 1 calibration runs)",
        "Q/DQ: 3 QuantizeLinear, 5 DequantizeLinear; 2 nodes quantized",
        "accuracy: cosine 0.9987 (FP32 1.0000, drop 0.0013)",
        r"kept in fp32: \[sm] (Softmax): sensitive",
    ]
    assert quantize_lines({}) == []


def test_prune_renderable_lists_layers_and_totals() -> None:
    row = {"name": "conv", "op": "Conv", "status": "pruned", "shape_before": [4, 3, 3, 3],
           "shape_after": [2, 3, 3, 3], "params_before": 112, "params_after": 56,
           "flops_before": 1_500_000, "flops_after": None, "zeros_after": 0.0, "reason": ""}
    report = {"method": "channel", "layers": [row], "chains": [],
              "before": {"params": 112}, "after": {"params": 56},
              "after_over_before": {"params": 0.5}, "note": "fewer FLOPs"}
    text = _text(prune_renderable(report))
    assert "4x3x3x3 -> 2x3x3x3" in text and "1.50M" not in text  # flops after unknown: ?
    assert "112 -> 56" in text and "0.500" in text and "note: fewer FLOPs" in text


def test_summary_markdown_of_export_and_build() -> None:
    collected = {
        "export": {"metrics": {"opset": 17, "nodes": {"before": 5, "after": 4,
                                                      "method": "onnxslim"}}},
        "build": {"metrics": {"backend": "onnxruntime", "precision": "fp32",
                              "build_time_s": 0.5},
                  "outputs": {"artifact": {"bytes": 2048}}},
    }
    assert summary_markdown(collected, "m").splitlines()[:4] == [
        "# trtc report: m", "",
        "- export: opset 17, nodes 5 -> 4 (onnxslim)",
        "- build: onnxruntime fp32, 2.0 KiB, 0.50 s"]


def test_summary_markdown_bench_names_the_gpu_not_none_threads() -> None:
    bench = {"backend": "tensorrt", "threads": None, "device": {"name": "NVIDIA H200"},
             "method": {"warmup_ms": 200, "duration_s": 1, "min_iterations": 10},
             "results": []}
    text = summary_markdown({"bench_report": bench}, "m")
    assert "tensorrt, NVIDIA H200, warm-up 200 ms" in text
    assert "None threads" not in text
    cpu = summary_markdown({"bench_report": {**bench, "backend": "onnxruntime",
                                             "threads": 2, "device": None}}, "m")
    assert "onnxruntime, 2 threads, warm-up" in cpu
