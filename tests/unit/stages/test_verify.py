"""Tests for trtc.stages.verify: error statistics, tolerances, top-1, the report, a CPU run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trtc.errors import UsageError
from trtc.metrics import cosine_metric, top1_metric
from trtc.recipe import ToleranceSpec, VerifySpec
from trtc.stages import StageContext, verify
from trtc.stages.verify import (
    OutputStats,
    Reference,
    VerifyJob,
    VerifyReport,
    changed_on_purpose,
    combine_compare_results,
    error_stats,
    failure_hint,
    gates,
    tolerances,
)

# --------------------------------------------------------------------------- error_stats


def test_equal_arrays() -> None:
    a = np.array([1.0, -2.0, 3.0, 4.0], np.float32)
    s = error_stats(a, a.copy())
    assert s == {"max_abs": 0.0, "mean_abs": 0.0, "median_abs": 0.0, "max_rel": 0.0,
                 "mean_rel": 0.0, "median_rel": 0.0, "cosine": pytest.approx(1.0)}


def test_hand_made_differences() -> None:
    cand = np.array([1.5, 2.0, 2.0, 4.0], np.float32)
    ref = np.array([1.0, 2.0, 4.0, 4.0], np.float32)
    s = error_stats(cand, ref)
    # |diff| = 0.5, 0, 2, 0; rel = 0.5/1, 0/2, 2/4, 0/4 = 0.5, 0, 0.5, 0
    assert s["max_abs"] == 2.0
    assert s["mean_abs"] == 0.625
    assert s["median_abs"] == 0.25  # mean of 0 and 0.5
    assert s["max_rel"] == 0.5
    assert s["mean_rel"] == 0.25
    assert s["median_rel"] == 0.25
    # cos = (1.5 + 4 + 8 + 16) / (|c| |r|) = 29.5 / sqrt(26.25 * 37)
    assert s["cosine"] == pytest.approx(29.5 / np.sqrt(26.25 * 37.0))


def test_odd_count_median() -> None:
    s = error_stats(np.array([1.0, 5.0, 10.0]), np.array([1.0, 2.0, 4.0]))
    # |diff| = 0, 3, 6 -> median 3; rel = 0, 1.5, 1.5 -> median 1.5
    assert s["median_abs"] == 3.0
    assert s["mean_abs"] == 3.0
    assert s["median_rel"] == 1.5
    assert s["max_rel"] == 1.5


def test_relative_error_is_against_reference() -> None:
    s = error_stats(np.array([4.0]), np.array([2.0]))
    assert s["max_rel"] == 1.0   # |4 - 2| / |2|, not / |4|
    s = error_stats(np.array([-3.0]), np.array([-2.0]))
    assert s["max_rel"] == 0.5   # divides by the absolute reference


def test_cosine_negated_and_orthogonal() -> None:
    a = np.array([1.0, -2.0, 3.0], np.float32)
    assert error_stats(-a, a)["cosine"] == pytest.approx(-1.0)
    assert error_stats(np.array([1.0, 0.0]), np.array([0.0, 1.0]))["cosine"] == 0.0
    assert error_stats(np.array([1.0, 2.0]), np.array([2.0, 4.0]))["cosine"] == pytest.approx(1.0)


def test_zero_vectors() -> None:
    z = np.zeros(3, np.float32)
    assert error_stats(z, z)["cosine"] == 1.0
    assert error_stats(z, np.ones(3, np.float32))["cosine"] == 0.0


def test_zero_reference_gives_huge_but_finite_relative_error() -> None:
    s = error_stats(np.array([1e-3], np.float32), np.array([0.0], np.float32))
    assert np.isfinite(s["max_rel"])
    # Polygraphy adds 2.2e-16 to zero reference values before dividing.
    assert s["max_rel"] > 1e12
    assert s["max_abs"] == pytest.approx(1e-3)


def test_multi_dim_and_half_precision() -> None:
    cand = np.array([[1.0, 2.0], [3.0, 4.5]], np.float16)
    ref = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    s = error_stats(cand, ref)
    assert s["max_abs"] == 0.5
    assert s["mean_abs"] == 0.125
    assert s["max_rel"] == 0.125
    assert all(isinstance(v, float) for v in s.values())


def test_empty_arrays() -> None:
    e = np.zeros(0, np.float32)
    s = error_stats(e, e)
    assert s["max_abs"] == 0.0 and s["mean_abs"] == 0.0 and s["median_abs"] == 0.0
    assert s["max_rel"] == 0.0 and s["mean_rel"] == 0.0 and s["median_rel"] == 0.0


# --------------------------------------------------------------------------- tolerances


OUTS = ["logits", "feat"]


@pytest.mark.parametrize(("precision", "atol", "rtol"), [
    ("fp32", 1e-4, 1e-3),
    ("tf32", 5e-2, 1e-2),
    ("fp16", 5e-2, 2e-2),
    ("bf16", 1e-1, 5e-2),
    ("int8", 2e-1, 1e-1),
    ("fp8", 2e-1, 1e-1),
    ("something-new", 1e-4, 1e-3),  # unknown precision falls back to fp32's
])
def test_precision_defaults(precision: str, atol: float, rtol: float) -> None:
    tols = tolerances(VerifySpec(), precision, OUTS)
    assert tols == {"logits": {"atol": atol, "rtol": rtol}, "feat": {"atol": atol, "rtol": rtol}}


def test_spec_wide_overrides_precision_default() -> None:
    tols = tolerances(VerifySpec(atol=0.3), "fp16", OUTS)
    assert tols["logits"] == {"atol": 0.3, "rtol": 2e-2}  # rtol still from fp16
    tols = tolerances(VerifySpec(atol=0.3, rtol=0.4), "fp16", OUTS)
    assert tols["feat"] == {"atol": 0.3, "rtol": 0.4}


def test_spec_wide_zero_is_used_not_treated_as_unset() -> None:
    tols = tolerances(VerifySpec(atol=0.0, rtol=0.0), "int8", OUTS)
    assert tols["logits"] == {"atol": 0.0, "rtol": 0.0}


def test_per_output_overrides_spec_wide() -> None:
    spec = VerifySpec(atol=0.3, rtol=0.4,
                      per_output={"logits": ToleranceSpec(atol=0.5)})
    tols = tolerances(spec, "fp32", OUTS)
    assert tols["logits"] == {"atol": 0.5, "rtol": 0.4}  # rtol falls back to spec-wide
    assert tols["feat"] == {"atol": 0.3, "rtol": 0.4}


def test_per_output_over_precision_default() -> None:
    spec = VerifySpec(per_output={"feat": ToleranceSpec(atol=1.0, rtol=2.0),
                                  "logits": ToleranceSpec(rtol=0.0)})
    tols = tolerances(spec, "fp16", OUTS)
    assert tols["feat"] == {"atol": 1.0, "rtol": 2.0}
    assert tols["logits"] == {"atol": 5e-2, "rtol": 0.0}


def test_per_output_unknown_name() -> None:
    spec = VerifySpec(per_output={"prob": ToleranceSpec(atol=1.0)})
    with pytest.raises(UsageError) as info:
        tolerances(spec, "fp32", OUTS)
    assert info.value.message == "verify.per_output.prob: the model has no output 'prob'"
    assert info.value.hint == "outputs are: logits, feat"
    assert info.value.exit_code == 2


# --------------------------------------------------------------------------- top1_metric


CAND = [np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]]), np.array([[0.0, 0.0, 1.0]])]  # 1, 0, 2
REF = [np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]), np.array([[0.0, 0.0, 1.0]])]   # 1, 1, 2
LABELS = [np.array([1, 1]), np.array([2])]                                           # 1, 1, 2


def test_top1_hand_made() -> None:
    m = top1_metric(CAND, REF, LABELS, max_drop=0.01)
    assert m["name"] == "top1"
    assert m["candidate"] == pytest.approx(2 / 3)
    assert m["reference"] == 1.0
    assert m["drop"] == pytest.approx(1 / 3)
    assert m["agreement"] == pytest.approx(2 / 3)
    assert m["samples"] == 3
    assert m["max_drop"] == 0.01
    assert m["passed"] is False


def test_top1_passes_within_max_drop() -> None:
    assert top1_metric(CAND, REF, LABELS, max_drop=0.34)["passed"] is True
    # exactly at the limit (float noise aside) passes
    assert top1_metric(CAND, REF, LABELS, max_drop=1 / 3)["passed"] is True
    assert top1_metric(CAND, REF, LABELS, max_drop=0.33)["passed"] is False


def test_top1_candidate_better_than_reference() -> None:
    m = top1_metric(REF, CAND, LABELS, max_drop=0.0)
    assert m["drop"] == pytest.approx(-1 / 3)
    assert m["passed"] is True


def test_top1_identical_outputs() -> None:
    m = top1_metric(REF, REF, LABELS, max_drop=0.0)
    assert m["drop"] == 0.0
    assert m["agreement"] == 1.0
    assert m["passed"] is True


def test_top1_labels_shape_and_extra_logit_dims() -> None:
    # logits of shape (N, 1, C) and labels of shape (N, 1) flatten the same way
    cand = [np.array([[[0.0, 2.0]], [[3.0, 1.0]], [[0.0, 1.0]], [[5.0, 0.0]]])]  # 1, 0, 1, 0
    labels = [np.array([[1], [1], [1], [0]])]
    m = top1_metric(cand, cand, labels, max_drop=0.0)
    assert m["candidate"] == 0.75
    assert m["reference"] == 0.75
    assert m["samples"] == 4


# ------------------------------------------------------------------ gates for changed models

def test_gates_dense_model_uses_tolerances_and_the_recipe_metric() -> None:
    assert gates(VerifySpec(), None) == (True, "none")
    assert gates(VerifySpec(metric="top1"), []) == (True, "top1")


def test_gates_pruned_or_quantized_model_is_judged_by_the_metric() -> None:
    # Tolerances stop gating; with no metric set, cosine similarity decides.
    assert gates(VerifySpec(), ["quantize"]) == (False, "cosine")
    assert gates(VerifySpec(metric="top1"), ["prune", "quantize"]) == (False, "top1")


def test_gates_reduced_precision_build_is_judged_by_the_metric_it_names() -> None:
    assert gates(VerifySpec(metric="cosine"), None, "fp16") == (False, "cosine")
    assert gates(VerifySpec(metric="top1"), [], "best") == (False, "top1")
    # No metric named: the precision's tolerances gate; fp32 / tf32 always gate.
    assert gates(VerifySpec(), None, "fp16") == (True, "none")
    assert gates(VerifySpec(metric="cosine"), None, "fp32") == (True, "cosine")
    assert gates(VerifySpec(metric="cosine"), None, "tf32") == (True, "cosine")
    assert gates(VerifySpec(metric="cosine", elementwise="on"), None, "fp16") == \
        (True, "cosine")


def test_gates_explicit_elementwise_wins() -> None:
    assert gates(VerifySpec(elementwise="on"), ["quantize"]) == (True, "none")
    assert gates(VerifySpec(elementwise="off"), None) == (False, "none")


def test_cosine_metric_per_sample() -> None:
    ref = [np.array([[1.0, 0.0], [0.0, 1.0]])]
    cand = [np.array([[1.0, 0.0], [1.0, 1.0]])]   # second sample at 45 degrees
    m = cosine_metric(cand, ref, min_cosine=0.9)
    assert m["samples"] == 2
    assert m["min"] == pytest.approx(np.sqrt(0.5))
    assert m["mean"] == pytest.approx((1 + np.sqrt(0.5)) / 2)
    assert m["passed"] is False   # mean 0.854 < 0.9
    assert m["agreement"] == 0.5  # argmax of [1, 1] is 0, the reference says 1
    assert cosine_metric(cand, ref, min_cosine=0.85)["passed"] is True


def test_cosine_metric_zero_rows_count_as_equal_only_when_equal() -> None:
    ref = [np.zeros((2, 3))]
    m = cosine_metric([np.zeros((1, 3)), np.ones((1, 3))], ref, min_cosine=0.5)
    assert m["min"] == 0.0 and m["mean"] == 0.5


def test_changed_on_purpose_reads_trtc_metadata(conv_onnx: Path, tmp_path: Path) -> None:
    import onnx

    path = conv_onnx
    assert changed_on_purpose(path) == []
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {"trtc.quantize.target": "tensorrt",
                                        "trtc.prune.method": "2:4", "other": "x"})
    onnx.save(model, str(path))
    assert changed_on_purpose(path) == ["prune", "quantize"]
    assert changed_on_purpose(tmp_path / "m.engine") == []
    # An engine says what was done to the ONNX it was built from in its engine.json.
    (tmp_path / "m.engine.json").write_text(json.dumps(
        {"onnx_metadata": {"trtc.quantize.target": "tensorrt", "trtc.quantize.precision":
                           "int8"}}))
    assert changed_on_purpose(tmp_path / "m.engine") == ["quantize"]


def test_failure_hint_names_the_knob_that_gated() -> None:
    cosine = {"metric": {"name": "cosine", "passed": False}, "changed_by": ["quantize"]}
    assert failure_hint(cosine, flags=True) == ("prune/quantize less (or keep the worst layers "
                                                "in float), or relax --min-cosine only if the "
                                                "drop is expected")
    top1 = {"metric": {"name": "top1", "passed": False}, "changed_by": []}
    assert failure_hint(top1, flags=False) == "relax verify.max_drop only if the drop is expected"
    tolerances = {"metric": {"name": "top1", "passed": True}, "elementwise_gates": True}
    assert "--atol/--rtol" in failure_hint(tolerances, flags=True)
    assert "verify.atol/rtol" in failure_hint({}, flags=False)


# --------------------------------------------------------------------------- Polygraphy's stats


class _Result:
    """The attributes of Polygraphy's OutputCompareResult that trtc reads."""

    def __init__(self, max_: float, mean: float, median: float) -> None:
        for kind in ("abs", "rel"):
            setattr(self, f"max_{kind}diff", max_)
            setattr(self, f"mean_{kind}diff", mean)
            setattr(self, f"median_{kind}diff", median)


def test_combine_weights_means_by_elements_and_takes_the_max() -> None:
    s = combine_compare_results([(_Result(1.0, 0.5, 0.4), 30), (_Result(3.0, 1.0, 0.9), 10)])
    assert s["max_abs"] == 3.0 and s["max_rel"] == 3.0
    assert s["mean_abs"] == pytest.approx((0.5 * 30 + 1.0 * 10) / 40)
    assert s["median_abs"] == 0.4  # 30 of the 40 elements are in the first iteration
    assert list(s) == ["max_abs", "mean_abs", "median_abs", "max_rel", "mean_rel", "median_rel"]


def test_combine_of_nothing_is_zero() -> None:
    assert set(combine_compare_results([(_Result(9.0, 9.0, 9.0), 0)]).values()) == {0.0}


# --------------------------------------------------------------------------- the report


def _stats(passed: bool = True) -> OutputStats:
    return OutputStats(0.1, 0.01, 0.0, 0.2, 0.02, 0.0, 0.99, 1e-4, 1e-3, passed)


def test_report_to_dict_and_summary_keep_the_json_layout() -> None:
    report = VerifyReport("c.onnx", "onnxruntime", "onnxruntime (r.onnx)", "fp32", "random",
                          8, {"y": _stats(False)}, [], True, None, ("output 'y' differs",))
    data = report.to_dict()
    assert list(data) == ["candidate", "candidate_backend", "reference", "precision", "data",
                          "samples", "outputs", "changed_by", "elementwise_gates", "passed",
                          "failures"]
    assert data["passed"] is False and data["failures"] == ["output 'y' differs"]
    assert list(data["outputs"]["y"]) == ["max_abs", "mean_abs", "median_abs", "max_rel",
                                          "mean_rel", "median_rel", "cosine", "atol", "rtol",
                                          "passed"]
    assert report.summary() == {"passed": False, "precision": "fp32", "data": "random",
                                "outputs": {"y": {"max_abs": 0.1, "max_rel": 0.2,
                                                  "cosine": 0.99, "passed": False}}}
    metric = {"name": "cosine", "passed": True}
    with_metric = VerifyReport("c", "onnxruntime", "r", "fp32", "d", 1, {}, ["prune"], False,
                               metric).to_dict()
    assert list(with_metric)[-3:] == ["metric", "passed", "failures"]


def test_run_compares_a_model_with_itself(conv_onnx: Path, tmp_path: Path) -> None:
    ctx = StageContext(inputs={"candidate": conv_onnx, "reference": conv_onnx},
                       outputs={"report": tmp_path / "report.json"}, work_dir=tmp_path)
    result = verify.run(VerifyJob(VerifySpec()), ctx)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] is True and result.metrics["passed"] is True
    assert report["outputs"]["y"]["max_abs"] < 1e-5  # optimised candidate, literal reference
    assert report["outputs"]["y"]["cosine"] == pytest.approx(1.0)
    assert report["precision"] == "fp32"  # no manifest beside it: the backend's reading


def test_compare_reports_a_difference_against_the_reference(conv_onnx: Path,
                                                             tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(conv_onnx))
    bias = next(t for t in model.graph.initializer if t.name == "fcb")
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 0.5, "fcb"))
    cand = tmp_path / "shifted.onnx"
    onnx.save(model, str(cand))
    report = verify.compare(cand, Reference(onnx_path=conv_onnx), VerifySpec())
    assert not report.passed
    assert report.failures[0].startswith("output 'y' differs by up to")
    assert report.outputs["y"].max_abs == pytest.approx(0.5, abs=1e-5)
    assert report.outputs["y"].mean_abs == pytest.approx(0.5, abs=1e-5)


def test_outputs_that_break_their_declared_shape_are_named() -> None:
    """ddddocr's CRNN declares 1 x seqlen and gives 32 x 1 x 8210."""
    from trtc.stages.verify import declared_shape_mismatches

    notes = declared_shape_mismatches(
        {"387": (1, "seqlen"), "ok": ("batch", 4), "free": None, "dim": (1, 4)},
        {"387": (32, 1, 8210), "ok": (3, 4), "free": (7,), "dim": (1, 5)})
    assert len(notes) == 2
    assert notes[0].startswith("output '387': the model declares 1xseqlen and gives 32x1x8210")
    assert notes[1].startswith("output 'dim': the model declares 1x4 and gives 1x5")
