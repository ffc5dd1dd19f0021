"""report.html (trtc.report_html): one self-contained page, with or without matplotlib."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from typing import Any

import pytest

import trtc.report_html as report_html
from trtc.tensorrt.inspector import precision_report

STATS = {"median_ms": 1.0, "mean_ms": 1.1, "min_ms": 0.9, "p90_ms": 1.2, "p95_ms": 1.3,
         "p99_ms": 1.5, "max_ms": 2.0, "cov": 0.01, "throughput_samples_s": 1000.0}


def collected() -> dict[str, Any]:
    layers = {"Layers": [
        {"Name": "Conv_1", "LayerType": "CaskConvolution", "ParameterType": "Convolution",
         "Inputs": [{"Format/Datatype": "Int8"}], "Outputs": [{"Format/Datatype": "Int8"}]},
        {"Name": "Gemm_2 <b>", "LayerType": "CaskGemmConvolution",
         "ParameterType": "FullyConnected", "Inputs": [{"Format/Datatype": "Row major FP32"}],
         "Outputs": [{"Format/Datatype": "FP32"}]}]}
    return {
        "export": {"metrics": {"parity": {"outputs": {"y": {"max_abs": 1e-6}}}},
                   "versions": {"trtc": "0.1.0", "tensorrt": None}},
        "quantize": {"metrics": {"accuracy": {"metric": "top1", "value": 0.97,
                                              "reference": 0.98, "drop": 0.01}}},
        "build": {"metrics": {"backend": "tensorrt", "precision": "best", "build_time_s": 12.5,
                              "layer_precision": precision_report(layers)},
                  "outputs": {"artifact": {"path": "build/m/build/model.engine",
                                           "bytes": 1234}}},
        "verify_report": {"candidate": "model.engine", "reference": "pytorch", "data": "npz",
                          "backend": "tensorrt", "elementwise_gates": False,
                          "changed_by": ["quantize"],
                          "outputs": {"y": {"max_abs": 0.1, "mean_abs": 0.01, "max_rel": 0.2,
                                            "cosine": 0.999, "atol": 0.2, "rtol": 0.1,
                                            "passed": True}},
                          "metric": {"name": "top1", "samples": 100, "candidate": 0.96,
                                     "reference": 0.98, "drop": 0.02, "max_drop": 0.03,
                                     "passed": True}},
        "bench_report": {"backend": "tensorrt", "threads": None, "device": {"name": "H200"},
                         "method": {"warmup_ms": 200, "duration_s": 3, "min_iterations": 10},
                         "results": [{"batch": b, "tensorrt": STATS,
                                      "pytorch_fp32": {**STATS, "median_ms": 4.0},
                                      "pytorch": {**STATS, "median_ms": 4.0},
                                      "pytorch_fp16": {**STATS, "median_ms": 2.0},
                                      "speedup_vs_pytorch": 4.0} for b in (1, 32)],
                         "warnings": []},
    }


class _Checker(HTMLParser):
    """Every opened tag that needs closing is closed, in order."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, tag


def _well_formed(page: str) -> None:
    checker = _Checker()
    checker.feed(page)
    assert checker.stack == []


def test_page_with_plots_embeds_pngs_and_every_section() -> None:
    pytest.importorskip("matplotlib")
    page = report_html.summary_html(collected(), "resnet50")
    _well_formed(page)
    for heading in ("accuracy per stage", "verify", "bench", "layer precision"):
        assert f"<h2>{heading}" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4  # accuracy, latency, speed-up, precision
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "http" not in page.replace("https://", "")  # opens alone: nothing fetched
    assert "Gemm_2 &lt;b&gt;" in page and "Gemm_2 <b>" not in page  # names are escaped
    assert "outside (not gating)" not in page and "4.00x" in page


def test_without_matplotlib_the_tables_remain_with_a_note(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setattr(report_html, "_matplotlib", lambda: None)
    page = report_html.summary_html(collected(), "resnet50")
    _well_formed(page)
    assert "<img" not in page and "plots need matplotlib" in page
    assert "INT8" in page and "50.0%" in page and "0.9600" in page


def test_an_empty_run_still_renders() -> None:
    page = report_html.summary_html({}, "nothing", plots=False)
    _well_formed(page)
    assert "<h1>trtc report: nothing</h1>" in page and "<h2>" not in page


def _candidate(nodes: list[str], value: float, latency: float | None) -> dict[str, Any]:
    c: dict[str, Any] = {"float_nodes": len(nodes), "nodes": nodes, "metric": "cosine",
                         "value": value, "reference": 1.0, "drop": 1.0 - value,
                         "meets": 1.0 - value <= 0.01, "seconds": 1.0}
    if latency is not None:
        c.update(latency_ms=latency, build_s=20.0)
    return c


def _budget(timed: bool) -> dict[str, Any]:
    lat = (lambda v: v) if timed else (lambda v: None)
    candidates = [_candidate([], 0.95, lat(0.50)), _candidate(["a", "b"], 0.995, lat(0.58)),
                  _candidate(["a"], 0.992, lat(0.52)), _candidate(["b"], 0.97, lat(0.51))]
    budget = {"met": True, "max_drop": 0.01, "before": candidates[0], "after": candidates[2],
              "float_nodes": ["a"], "evaluator": "engine" if timed else "onnxruntime",
              "evaluations": 4, "seconds": 80.0, "candidates": candidates,
              "chosen_by": "fastest" if timed else "fewest float nodes"}
    if timed:
        budget["baseline"] = {"precision": "fp16", **_candidate([], 1.0, 0.80)}
    return budget


@pytest.mark.parametrize("timed", [True, False])
def test_the_budget_search_gets_a_trade_off_plot_and_every_candidate(timed: bool) -> None:
    pytest.importorskip("matplotlib")
    data = collected()
    data["quantize"]["metrics"]["budget"] = _budget(timed)
    page = report_html.summary_html(data, "m")
    _well_formed(page)
    assert "<h2>accuracy budget search" in page
    images = re.findall(r'src="data:image/png;base64,', page)
    assert len(images) == 5                    # the four above and the trade-off
    rows = re.findall(r"<tr><td>(\d)</td>", page)
    assert rows == ["0", "1", "2", "3"] and page.count(">chosen<") == 1
    assert ("0.520" in page) is timed          # latencies only where they were measured
    without = collected()
    assert "budget search" not in report_html.summary_html(without, "m", plots=False)


def test_quantize_lines_show_the_chosen_models_trade_off() -> None:
    from trtc.report import quantize_lines

    lines = quantize_lines({"budget": _budget(True)})
    (line,) = [x for x in lines if x.startswith("budget trade-off")]
    assert "chosen (fastest): 0.520 ms" in line and "1.04x the all-quantized" in line
    assert "1.54x faster than fp16 (0.800 ms)" in line
    assert not any(x.startswith("budget trade-off") for x in quantize_lines(
        {"budget": _budget(False)}))


def test_the_chosen_candidate_is_the_met_one_with_the_returned_float_set() -> None:
    budget = _budget(True)
    assert report_html.chosen_candidate(budget) == 2
    budget["candidates"].append(_candidate(["a"], 0.992, 0.52))   # measured again: first wins
    assert report_html.chosen_candidate(budget) == 2
    budget["candidates"][2]["meets"] = False
    assert report_html.chosen_candidate(budget) == 4
    assert report_html.chosen_candidate({**budget, "float_nodes": ["z"]}) is None


def test_a_ranking_measured_apart_is_named_in_the_budget_section() -> None:
    data = collected()
    budget = _budget(True)
    budget["ranking"] = {"measured_on": {"evaluator": "onnxruntime", "evaluations": 7}}
    data["quantize"]["metrics"]["budget"] = budget
    page = report_html.summary_html(data, "m", plots=False)
    assert "nodes ranked on onnxruntime (7 models)" in page
