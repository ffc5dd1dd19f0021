"""JUnit XML (trtc.junit): the structure CI reporters read, from plain reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

from trtc.errors import ModelError
from trtc.junit import bench_suite, run_suite, to_xml, verify_suite, write_junit

VERIFY = {
    "outputs": {"logits": {"max_abs": 0.5, "max_rel": 0.2, "cosine": 0.99, "atol": 1e-4,
                           "rtol": 1e-3, "passed": False},
                "probs": {"max_abs": 0.0, "max_rel": 0.0, "cosine": 1.0, "atol": 1e-4,
                          "rtol": 1e-3, "passed": True}},
    "elementwise_gates": True,
    "metric": {"name": "cosine", "passed": True},
    "failures": ["output 'logits' differs by up to 0.5 abs / 0.2 rel (atol 0.0001, rtol 0.001)"],
    "passed": False,
}


def _root(suites: list) -> ET.Element:  # type: ignore[type-arg]
    return ET.fromstring(to_xml(suites))


def test_verify_has_one_case_per_output_and_the_failure_names_it() -> None:
    root = _root([verify_suite(VERIFY, "model.ort.onnx")])
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "trtc verify model.ort.onnx" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"output logits", "output probs", "metric cosine"}
    failure = cases["output logits"].find("failure")
    assert failure is not None and "output 'logits' differs" in (failure.get("message") or "")
    assert failure.text == failure.get("message") and failure.get("type")
    assert cases["output probs"].find("failure") is None
    assert all(c.get("classname") == "trtc.verify.model_ort_onnx" and c.get("time")
               for c in cases.values())


def test_a_metric_failure_is_the_metric_case() -> None:
    report = {**VERIFY, "elementwise_gates": False,
              "metric": {"name": "top1", "passed": False},
              "failures": ["top-1 accuracy dropped by 3.00 points"]}
    cases = {c.name: c for c in verify_suite(report, "m").cases}
    assert cases["output logits"].failure is None  # reported, not gating
    assert cases["metric top1"].failure == "top-1 accuracy dropped by 3.00 points"


def test_bench_has_one_case_per_batch_failing_on_regression() -> None:
    stats = {"median_ms": 2.0, "p99_ms": 3.0, "cov": 0.01, "wall_s": 1.5}
    report = {"backend": "onnxruntime",
              "results": [{"batch": 1, "onnxruntime": stats}, {"batch": 8, "onnxruntime": stats}],
              "baseline_gate": {"batches": [
                  {"batch": 1, "compared": True, "old_median_ms": 1.9, "regression": 0.05,
                   "allowed": 0.05},
                  {"batch": 8, "compared": True, "old_median_ms": 1.0, "regression": 1.0,
                   "allowed": 0.05}],
                  "failures": ["batch 8: median latency 2.000 ms is 100.0% slower"]}}
    suite = _root([bench_suite(report, "m.onnx")]).find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["batch 1"].find("failure") is None and cases["batch 1"].get("time") == "1.500"
    failure = cases["batch 8"].find("failure")
    assert failure is not None and failure.get("message", "").startswith("batch 8: ")


def test_run_has_one_case_per_stage_and_skips_what_did_not_run(tmp_path: Path) -> None:
    outcomes = [SimpleNamespace(stage="export", status="ran", reason="--force", wall_time_s=1.25,
                                error=None),
                SimpleNamespace(stage="prune", status="disabled", reason="off",
                                wall_time_s=0.0, error=None)]
    error = ModelError("build: cannot parse node Conv_3", "re-export")
    suite = run_suite("digits", outcomes, error, "build",
                      ("export", "prune", "build", "verify", "bench"))
    path = write_junit(tmp_path / "ci" / "junit.xml", [suite])
    root = ET.parse(path).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == ["export", "prune", "build", "verify", "bench"]
    assert cases["export"].get("time") == "1.250" and cases["export"].find("failure") is None
    assert cases["prune"].find("skipped") is not None
    failure = cases["build"].find("failure")
    assert failure is not None and failure.get("message") == "build: cannot parse node Conv_3"
    assert failure.get("type") == "model_error"
    assert cases["bench"].find("skipped") is not None
    assert root.get("failures") == "1" and root.get("skipped") == "3"
