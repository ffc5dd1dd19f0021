"""scripts/build_profile.py: a stamped TensorRT 8.6 verbose log summed by layer and runner."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_profile.py"

# What `trtc build -v` prints on 8.6 (TensorRT's VERBOSE lines arrive as Polygraphy's [X]),
# stamped by run.
_A = "*************** Autotuning format combination: "
LOG = "\n".join((
    "    0.100   parsing m.onnx (TensorRT 8.6.0)",
    "    2.000 [X] Graph optimization time: 0.0123 seconds.",
    "    3.000 [X] =============== Computing costs for /conv1/Conv + /relu/Relu",
    f"    3.001 [X] {_A}Half(150528,50176,224,1) -> Half(802816,12544,112,1) *****",
    "    3.002 [X] --------------- Timing Runner: /conv1/Conv + /relu/Relu "
    "(CaskConvolution[0x80000009])",
    "    3.500 [X] Tactic Name: sm90_xmma_fprop_f16f16 Tactic: 0x1 Time: 0.01",
    "    4.000 [X] Tactic Name: sm90_xmma_fprop_f16f16 Tactic: 0x2 Time: 0.02",
    "    5.000 [X] =============== Computing costs for ",  # 8.6: often no name
    f"    5.001 [X] {_A}Half(1,2) -> Half(1,2) ***************",
    "    5.002 [X] --------------- Timing Runner: /dw/Conv (CaskDepthwiseConvolution)",
    "    9.000 [X] Tactic: 0x3 Time: 0.5",
    "   19.000 [X] Tactic: 0x4 Time: 0.6",
    f"   19.001 [X] {_A}Half(8,1) -> Half(8,1) ***************",
    "   19.002 [X] --------------- Timing Runner: /dw/Conv (CaskConvolution)",
    "   21.000 [X] Tactic: 0x5 Time: 0.4",
    "   21.000 [X] =============== Computing reformatting costs",
    "   22.000 [X] Formats and tactics selection completed in 19.0 seconds.",
    "   30.000 [X] Engine generation completed in 28.1 seconds.",
    "   30.500   writing the engine"))


def _mod() -> dict[str, Any]:
    return runpy.run_path(str(SCRIPT))


def test_time_is_summed_by_layer_runner_and_phase() -> None:
    mod = _mod()
    prof = mod["profile"](mod["stamped"](LOG.splitlines()))
    assert prof["seconds"] == 30.4 and prof["lines"] == 19
    assert prof["phases"] == {"before_tactics_s": 2.9, "tactics_s": 19.0,
                              "after_tactics_s": 8.5}
    names = [(b["name"], b["seconds"], b["tactics"], b["formats"]) for b in prof["blocks"]]
    # The nameless 8.6 block is named after its first runner.
    assert names == [("/conv1/Conv + /relu/Relu", 2.0, 2, 1), ("/dw/Conv", 16.0, 3, 2),
                     ("(reformat)", 1.0, 0, 0)]
    runners = {r["runner"]: (r["seconds"], r["timed"], r["tactics"]) for r in prof["runners"]}
    # A runner lasts until the next runner or layer: 5.002 - 3.002 + 21.0 - 19.002.
    assert runners == {"CaskDepthwiseConvolution": (14.0, 1, 2), "CaskConvolution": (4.0, 2, 3)}
    assert prof["runners"][0]["runner"] == "CaskDepthwiseConvolution"  # slowest first
    assert any("Engine generation completed in 28.1" in s for s in prof["summary_lines"])


def test_markdown_names_the_slowest_layer_first_and_a_killed_build_still_profiles() -> None:
    mod = _mod()
    text = mod["markdown"](mod["profile"](mod["stamped"](LOG.splitlines())), top=2)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows[0].startswith("| `/dw/Conv` | 16.0 | 2 | 3 | CaskDepthwiseConvolution, "
                              "CaskConvolution |") and len(rows) == 2
    assert "| CaskDepthwiseConvolution | 14.0 |" in text
    # Killed in the middle of the depthwise layer: the open block runs to the last line.
    cut = mod["profile"](mod["stamped"](LOG.splitlines()[:12]))
    assert cut["blocks"][-1]["name"] == "/dw/Conv" and cut["blocks"][-1]["seconds"] == 14.0
    assert mod["profile"]([])["blocks"] == []


def test_polygraphy_side_gets_trts_verbose_level_and_no_trtc_flags() -> None:
    build_command = runpy.run_path(str(SCRIPT))["build_command"]
    poly = build_command("polygraphy", Path("m.onnx"), Path("m.engine"), ["--fp16"], 300.0)
    assert poly[3:7] == ["convert", "m.onnx", "-o", "m.engine"]
    assert poly[0] == sys.executable and "polygraphy.tools import main" in poly[2]
    assert "-vv" in poly and poly[-1] == "--fp16" and "--timeout-s" not in poly
    trtc = build_command("trtc", Path("m.onnx"), Path("m.engine"), ["--precision", "fp16"], 300.0)
    assert trtc[1:4] == ["-m", "trtc", "build"] and trtc[-2:] == ["--timeout-s", "300.0"]
    assert "--backend" in trtc and "-v" in trtc


def test_a_recipe_builds_into_its_workspace_without_an_output_path() -> None:
    build_command = runpy.run_path(str(SCRIPT))["build_command"]
    cmd = build_command("trtc", Path("r.yaml"), Path("model.engine"),
                        ["--workspace", "ws", "--force"], None)
    assert cmd[4] == "r.yaml" and "-o" not in cmd and cmd[-3:] == ["--workspace", "ws", "--force"]


def test_the_sweep_report_says_where_the_warm_build_spent_its_time() -> None:
    bench = runpy.run_path(str(SCRIPT.parent / "bench_trt.py"))
    mod = _mod()
    prof = mod["profile"](mod["stamped"]([
        "0.0 [V] start", "2.0 [X] =============== Computing costs for conv",
        "2.5 [V] Formats and tactics selection completed in 0.5 seconds.",
        "9.0 [V] Engine generation completed in 6.5 seconds."]))
    said = bench["_warm_phases"]({"warm_build_profile": prof})
    assert "2.0 s before tactic selection, 0.5 s in it and 6.5 s after it" in said
    assert "Engine generation completed in 6.5 seconds" in said
    assert bench["_warm_phases"]({}) == ""


def test_a_sparse_sweep_is_reported_apart_from_the_dense_one() -> None:
    bench = runpy.run_path(str(SCRIPT.parent / "bench_trt.py"))
    point = {"batch": 8, "streams": 1, "median_ms": 0.5, "latency_ms": 0.6,
             "samples_per_s": 13000.0}
    row = {"sweep": {"points": [point], "fastest": point}, "build_time_s": 90.0,
           "build_time_warm_cache_s": 30.0, "timing_cache_speedup": 3.0}
    settings = {"iterations": 300, "duration": 1.0, "eval_samples": 16}
    dense = bench["markdown"]({"command": "c", "settings": settings, "rows": {"sweep": row}})
    both = bench["markdown"]({"command": "c", "settings": settings, "rows": {
        "sweep": row, "sweep-sparse": {**row, "sparse_2of4": True}}})
    assert "2:4 sparse" not in dense and dense.count("## Sweep") == 1
    assert both.count("## Sweep") == 2 and "2:4 sparse weights" in both
