"""CI output: --junit on verify, bench and run; bench's baseline gate (--compare-to)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml
from integration_helpers import FAST_BENCH_FLAGS, ok_json


def _cases(path: Path) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in ET.parse(path).getroot().iter("testcase")}


def test_failing_verify_junit_names_the_output(cli, conv_onnx: Path, other_conv_onnx: Path,
                                               tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "verify.xml"
    result = cli("verify", other_conv_onnx, "--reference", conv_onnx, "--junit", junit)
    assert result.exit_code == 1
    cases = _cases(junit)
    failure = cases["output y"].find("failure")
    assert failure is not None and "output 'y' differs" in failure.get("message", "")
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "1" and root.find("testsuite") is not None


def test_passing_verify_junit_has_no_failure(cli, conv_onnx: Path, tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    assert cli("verify", conv_onnx, "--reference", conv_onnx, "--junit", junit).exit_code == 0
    assert [c.find("failure") for c in _cases(junit).values()] == [None]


def test_bench_gate_fails_on_a_regression_and_names_the_batch(cli, conv_onnx: Path,
                                                              tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    first = ok_json(cli("bench", conv_onnx, "--batch", "1,2", *FAST_BENCH_FLAGS, "--json"))
    old.write_text(json.dumps(first))
    # The same model against itself: within 5 % or the noise (or faster).
    fast = first["results"][1]["onnxruntime"]
    fast.update(median_ms=fast["median_ms"] * 1e-3, cov=0.0)  # batch 2 "was" 1000x faster
    old.write_text(json.dumps(first))
    junit = tmp_path / "bench.xml"
    result = cli("bench", conv_onnx, "--batch", "1,2", *FAST_BENCH_FLAGS, "--compare-to", old,
                 "--max-regression", "0.05", "--junit", junit, "--json")
    assert result.exit_code == 1, result.output
    assert "batch 2: median latency" in result.stderr and "slower than the baseline" in \
        result.stderr
    gate = json.loads(result.stdout)["baseline_gate"]  # the report still comes out
    assert gate["batches"][1]["batch"] == 2 and gate["batches"][1]["passed"] is False
    cases = _cases(junit)
    assert cases["batch 2"].find("failure") is not None
    assert (cases["batch 1"].find("failure") is None) == gate["batches"][0]["passed"]


def test_bench_gate_passes_within_tolerance(cli, conv_onnx: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    first = ok_json(cli("bench", conv_onnx, *FAST_BENCH_FLAGS, "--json"))
    first["results"][0]["onnxruntime"]["median_ms"] *= 100  # the old run was far slower
    old.write_text(json.dumps(first))
    out = ok_json(cli("bench", conv_onnx, *FAST_BENCH_FLAGS, "--compare-to", old, "--json"))
    assert out["baseline_gate"]["passed"] is True


def test_run_junit_has_one_case_per_stage(cli, onnx_recipe: Path, ws: Path,
                                          tmp_path: Path) -> None:
    junit = tmp_path / "run.xml"
    assert cli("run", onnx_recipe, "--workspace", ws, "--junit", junit).exit_code == 0
    cases = _cases(junit)
    assert list(cases) == ["export", "build", "verify", "bench"]
    assert all(c.find("failure") is None for c in cases.values())


def test_run_junit_names_the_failing_stage(cli, onnx_recipe: Path, ws: Path,
                                           tmp_path: Path) -> None:
    data = yaml.safe_load(onnx_recipe.read_text())
    data["verify"].update(atol=0.0, rtol=0.0)  # the optimised graph differs in the last bits
    onnx_recipe.write_text(yaml.safe_dump(data))
    junit = tmp_path / "run.xml"
    result = cli("run", onnx_recipe, "--workspace", ws, "--junit", junit)
    assert result.exit_code == 1, result.output
    cases = _cases(junit)
    assert list(cases) == ["export", "build", "verify", "bench"]  # enabled stages only
    failure = cases["verify"].find("failure")
    assert failure is not None and "output 'y' differs" in failure.get("message", "")
    assert cases["export"].find("failure") is None
    assert cases["bench"].find("skipped") is not None


def test_missing_baseline_file_is_a_data_error(cli, onnx_recipe: Path, ws: Path) -> None:
    data = yaml.safe_load(onnx_recipe.read_text())
    data["bench"]["baseline_file"] = "missing.json"
    onnx_recipe.write_text(yaml.safe_dump(data))
    result = cli("run", onnx_recipe, "--workspace", ws)
    assert result.exit_code == 5 and "bench.baseline_file: file not found" in result.stderr
