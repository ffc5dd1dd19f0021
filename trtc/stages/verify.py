"""verify: compare the built artifact with a reference through Polygraphy's comparator.

The element-wise statistics (max/mean/median absolute and relative error) and
the verdict per output are Polygraphy's own (``Comparator.compare_accuracy``
with ``CompareFunc.simple``); trtc adds what Polygraphy does not give: cosine
similarity and the task metric (top-1 drop, or mean per-sample cosine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtc.backends.base import polygraphy_severity
from trtc.errors import DataError, ModelError, UsageError, VerificationError
from trtc.metrics import cosine, cosine_metric, top1_metric
from trtc.recipe import DEFAULT_TOLERANCES, ModelSpec, VerifySpec
from trtc.stages import StageContext, StageResult
from trtc.workspace import write_json


@dataclass(frozen=True)
class Reference:
    """What the candidate is compared with: an ONNX model (ONNX Runtime) or the PyTorch model."""

    onnx_path: Path | None = None
    model: ModelSpec | None = None

    def describe(self) -> str:
        return f"pytorch ({self.model.source})" if self.model else f"onnxruntime ({self.onnx_path})"


@dataclass(frozen=True)
class VerifyJob:
    """What verify needs: its section, the reference, and which stages changed the model."""

    verify: VerifySpec
    #: The PyTorch model when ``verify.reference`` is pytorch; else ``ctx.inputs['reference']``.
    reference_model: ModelSpec | None = None
    #: prune / quantize when they rewrote the model (judged by the task metric then).
    changed_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputStats:
    """One output over every iteration: Polygraphy's error statistics, cosine, tolerances."""

    max_abs: float
    mean_abs: float
    median_abs: float
    max_rel: float
    mean_rel: float
    median_rel: float
    cosine: float
    atol: float
    rtol: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"max_abs": self.max_abs, "mean_abs": self.mean_abs,
                "median_abs": self.median_abs, "max_rel": self.max_rel,
                "mean_rel": self.mean_rel, "median_rel": self.median_rel, "cosine": self.cosine,
                "atol": self.atol, "rtol": self.rtol, "passed": self.passed}


@dataclass(frozen=True)
class VerifyReport:
    """``verify/report.json``: per-output statistics, the task metric and the verdict."""

    candidate: str
    candidate_backend: str
    reference: str
    precision: str
    data: str
    samples: int
    outputs: dict[str, OutputStats]
    changed_by: list[str]
    elementwise_gates: bool
    #: ``top1_metric`` / ``cosine_metric``'s dict (with ``output``), or None.
    metric: dict[str, Any] | None = None
    failures: tuple[str, ...] = ()
    #: Not gating: e.g. an output whose declared shape the model does not keep.
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "candidate": self.candidate, "candidate_backend": self.candidate_backend,
            "reference": self.reference, "precision": self.precision, "data": self.data,
            "samples": self.samples,
            "outputs": {n: s.to_dict() for n, s in self.outputs.items()},
            "changed_by": list(self.changed_by), "elementwise_gates": self.elementwise_gates,
        }
        if self.metric is not None:
            out["metric"] = dict(self.metric)
        out["passed"] = self.passed
        out["failures"] = list(self.failures)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    def summary(self) -> dict[str, Any]:
        """The manifest's metrics: the verdict, precision, data, metric, per-output headline."""
        out: dict[str, Any] = {"passed": self.passed, "precision": self.precision,
                               "data": self.data}
        if self.metric is not None:
            out["metric"] = dict(self.metric)
        out["outputs"] = {n: {"max_abs": s.max_abs, "max_rel": s.max_rel, "cosine": s.cosine,
                              "passed": s.passed} for n, s in self.outputs.items()}
        return out


def run(job: VerifyJob, ctx: StageContext) -> StageResult:
    """Verify ``ctx.inputs['candidate']`` against the reference; write the report."""
    reference = (Reference(model=job.reference_model) if job.reference_model is not None
                 else Reference(onnx_path=ctx.inputs["reference"]))
    report = compare(ctx.inputs["candidate"], reference, job.verify,
                     changed_by=list(job.changed_by) or None)
    outputs: dict[str, Path] = {}
    where = "the report"
    if "report" in ctx.outputs:
        write_json(ctx.outputs["report"], report.to_dict())
        outputs["report"] = ctx.outputs["report"]
        where = str(ctx.outputs["report"])
    if not report.passed:
        failures = report.failures
        raise VerificationError(failures[0] + (
            f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""),
            f"see {where}; " + failure_hint(report.to_dict(), flags=False))
    return StageResult("verify", outputs, report.summary(), warnings=list(report.warnings))


def failure_hint(report: Mapping[str, Any], *, flags: bool) -> str:
    """What to do about a failed verify: the task metric that gated, or the tolerances."""
    metric = report.get("metric") or {}
    if metric and not metric.get("passed", True):
        knob = {"cosine": "--min-cosine" if flags else "verify.min_cosine",
                "top1": "--max-drop" if flags else "verify.max_drop"}[metric["name"]]
        less = ("prune/quantize less (or keep the worst layers in float), or "
                if report.get("changed_by") else "")
        return f"{less}relax {knob} only if the drop is expected"
    return ("loosen --atol/--rtol only if the difference is expected" if flags else
            "loosen verify.atol/rtol or per_output only if expected")


def precision_of(artifact: Path) -> str:
    """The artifact's precision: its build manifest, else what the backend reads from it."""
    from trtc.backends import backend_for_artifact
    from trtc.workspace import manifest_beside

    metrics = (manifest_beside(artifact) or {}).get("metrics")
    if isinstance(metrics, dict) and "precision" in metrics:
        return str(metrics["precision"])
    return backend_for_artifact(artifact).precision_of(artifact)


def tolerances(spec: VerifySpec, precision: str, outputs: list[str]) -> dict[str, dict[str, float]]:
    """Resolve per-output (atol, rtol): per_output > recipe-wide > precision default."""
    base_atol, base_rtol = DEFAULT_TOLERANCES.get(precision, DEFAULT_TOLERANCES["fp32"])
    atol = spec.atol if spec.atol is not None else base_atol
    rtol = spec.rtol if spec.rtol is not None else base_rtol
    for name in spec.per_output:
        if name not in outputs:
            raise UsageError(f"verify.per_output.{name}: the model has no output '{name}'",
                             f"outputs are: {', '.join(outputs)}")
    out = {}
    for name in outputs:
        per = spec.per_output.get(name)
        out[name] = {"atol": per.atol if per and per.atol is not None else atol,
                     "rtol": per.rtol if per and per.rtol is not None else rtol}
    return out


def combine_compare_results(results: Sequence[tuple[Any, int]]) -> dict[str, float]:
    """One output's Polygraphy ``OutputCompareResult`` per iteration, over all iterations.

    ``results`` pairs each iteration's result with its element count. Maxima are
    the maximum, means the element-weighted mean, medians the element-weighted
    median of the iterations' medians (exact for one iteration). No elements: zeros.
    """
    sized = [(r, n) for r, n in results if n]
    keys = ("abs", "rel")
    if not sized:
        return {f"{s}_{k}": 0.0 for k in keys for s in ("max", "mean", "median")}
    total = sum(n for _, n in sized)
    out: dict[str, float] = {}
    for k in keys:
        out[f"max_{k}"] = float(max(getattr(r, f"max_{k}diff") for r, _ in sized))
        out[f"mean_{k}"] = float(sum(getattr(r, f"mean_{k}diff") * n for r, n in sized) / total)
        out[f"median_{k}"] = _weighted_median([(float(getattr(r, f"median_{k}diff")), n)
                                               for r, n in sized])
    return {k: out[k] for k in ("max_abs", "mean_abs", "median_abs", "max_rel", "mean_rel",
                                "median_rel")}


def _weighted_median(values: Sequence[tuple[float, int]]) -> float:
    ordered = sorted(values)
    half = sum(n for _, n in ordered) / 2.0
    seen = 0
    for value, n in ordered:
        seen += n
        if seen >= half:
            return value
    return ordered[-1][0]


def error_stats(candidate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Polygraphy's max/mean/median absolute and relative error of one pair, and the cosine.

    Relative errors are against the reference (Polygraphy divides by its second output).
    """
    from polygraphy.comparator import CompareFunc
    from polygraphy.comparator.struct import IterationResult

    size = int(np.asarray(reference).size)
    compared: list[tuple[Any, int]] = []
    if size:  # Polygraphy's mean of nothing is NaN (with a warning); nothing differs
        with polygraphy_severity("CRITICAL"):
            result = CompareFunc.simple()(IterationResult({"o": candidate}, runner_name="c"),
                                          IterationResult({"o": reference}, runner_name="r"))
        compared.append((result["o"], size))
    return {**combine_compare_results(compared), "cosine": cosine(candidate, reference)}


def load_dataset(spec: VerifySpec, inputs: list[Any]) -> Any:
    from trtc import data

    if spec.data.source == "random":
        if spec.metric == "top1":
            raise UsageError(f"verify.metric: {spec.metric} needs labelled data",
                             "set verify.data.source to an .npz or python: loader with labels")
        return data.random_dataset(inputs, spec.data.shapes, spec.data.batch,
                                   spec.data.iterations, spec.data.seed)
    arrays = data.load_arrays(spec.data.source)
    return data.array_dataset(arrays, inputs, spec.data.batch, spec.data.labels_key,
                              spec.data.source)


def changed_on_purpose(candidate: Path) -> list[str]:
    """The trtc stages that rewrote the candidate's model: the ``trtc.prune.*`` /
    ``trtc.quantize.*`` metadata of the ONNX the artifact is or was built from
    (a TensorRT engine's sidecar keeps it); other files report none."""
    from trtc.backends import backend_for_artifact

    try:
        backend = backend_for_artifact(candidate)
    except UsageError:
        return []
    keys = backend.source_metadata(candidate)
    return sorted({k.split(".")[1] for k in keys
                   if k.startswith(("trtc.prune.", "trtc.quantize."))})


#: Build precisions that round on purpose: an engine of one is judged by the metric the
#: recipe names, when it names one.
REDUCED_PRECISIONS = frozenset({"fp16", "bf16", "int8", "fp8", "best"})


def gates(spec: VerifySpec, changed_by: list[str] | None,
          precision: str | None = None) -> tuple[bool, str]:
    """Decide what fails verify: (element-wise tolerances gate?, metric that gates).

    A pruned or quantized model differs from its dense FP32 reference by design, so with
    ``elementwise: auto`` its tolerances are reported, and the task metric (top-1 drop, or
    cosine similarity when no metric is set) decides. So does a metric the recipe names
    for a reduced-precision build (fp16, bf16, int8, fp8, best): one pixel of a 640x640
    fp16 probability map off by 0.27 fails atol 0.05 while the map's cosine is 0.99998.
    With no metric named, such a build is gated by its precision's tolerances.
    """
    approximate = bool(changed_by) or (spec.metric != "none" and
                                       precision in REDUCED_PRECISIONS)
    elementwise = spec.elementwise == "on" or (spec.elementwise == "auto" and not approximate)
    metric = spec.metric
    if metric == "none" and approximate and spec.elementwise == "auto":
        metric = "cosine"
    return elementwise, metric


def verify_artifact(candidate: Path, reference: Reference, spec: VerifySpec,
                    precision: str | None = None,
                    changed_by: list[str] | None = None) -> dict[str, Any]:
    """:func:`compare` as the report's JSON dict (``trtc verify``'s flags mode)."""
    return compare(candidate, reference, spec, precision, changed_by).to_dict()


def compare(candidate: Path, reference: Reference, spec: VerifySpec,
            precision: str | None = None, changed_by: list[str] | None = None) -> VerifyReport:
    """Run candidate and reference on the same data and compare every output.

    ``changed_by`` names the stages that changed the model on purpose (prune, quantize);
    None reads it from the candidate's (source) metadata. Returns the report (``passed``
    False when a gating check fails); raises only for unusable inputs (missing files,
    mismatching data).
    """
    # Polygraphy logs to stdout; trtc reports every mismatch itself, and Polygraphy's
    # critical errors still raise. Restored afterwards: the process may go on using it.
    with polygraphy_severity("CRITICAL"):
        return _compare(candidate, reference, spec, precision, changed_by)


def _compare(candidate: Path, reference: Reference, spec: VerifySpec, precision: str | None,
             changed_by: list[str] | None) -> VerifyReport:
    from polygraphy.comparator import Comparator, CompareFunc

    from trtc.backends import backend_for_artifact
    from trtc.data import input_infos

    if precision is None:
        precision = precision_of(candidate)
    if changed_by is None:
        changed_by = changed_on_purpose(candidate)
    elementwise_gates, metric_name = gates(spec, changed_by, precision)
    backend = backend_for_artifact(candidate)
    inputs, outputs = backend.io_specs(candidate)
    if not inputs:
        raise ModelError(f"{candidate}: the model has no inputs: there is nothing to feed "
                         "and compare", "verify a model that takes inputs")
    dataset = load_dataset(spec, input_infos(inputs))
    if metric_name == "top1" and dataset.labels is None:
        raise DataError(f"verify.metric top1: {spec.data.source} has no "
                        f"'{spec.data.labels_key}' array", "add labels, or set metric: none")
    ref_runner = _reference_runner(reference, inputs, outputs)
    tols = tolerances(spec, precision, outputs)
    # Candidate first: Polygraphy's relative error divides by the second (the reference).
    results = Comparator.run([backend.runner(candidate, name="candidate"), ref_runner],
                             data_loader=dataset.feeds)
    _check_output_shapes(candidate, results[0][1], results[1][1], outputs)
    warnings = tuple(declared_shape_mismatches(
        _declared_output_shapes(reference.onnx_path or candidate),
        {n: tuple(np.shape(v)) for n, v in results[1][1][0].items()} if results[1][1] else {}))
    verdict = Comparator.compare_accuracy(
        results, compare_func=CompareFunc.simple(
            atol={n: t["atol"] for n, t in tols.items()},
            rtol={n: t["rtol"] for n, t in tols.items()}))
    cand_iters, ref_iters = results[0][1], results[1][1]
    # Newer Polygraphy returns one AccuracyResult per compare function, older a single one.
    accuracy = verdict if hasattr(verdict, "values") else next(iter(verdict))
    per_iteration = next(iter(accuracy.values()))
    report_outputs: dict[str, OutputStats] = {}
    failures: list[str] = []
    for name in outputs:
        compared = [(it[name], int(np.asarray(c[name]).size))
                    for it, c in zip(per_iteration, cand_iters) if name in it]
        cand = np.concatenate([np.asarray(it[name]).reshape(-1) for it in cand_iters])
        ref = np.concatenate([np.asarray(it[name]).reshape(-1) for it in ref_iters])
        stats = OutputStats(**combine_compare_results(compared), cosine=cosine(cand, ref),
                            atol=tols[name]["atol"], rtol=tols[name]["rtol"],
                            passed=all(bool(r) for r, _ in compared))
        report_outputs[name] = stats
        if not stats.passed and elementwise_gates:
            failures.append(f"output '{name}' differs by up to {stats.max_abs:.3g} abs / "
                            f"{stats.max_rel:.3g} rel (atol {stats.atol:g}, "
                            f"rtol {stats.rtol:g})")
    metric, failure = _task_metric(metric_name, spec, outputs[0],
                                   [it[outputs[0]] for it in cand_iters],
                                   [it[outputs[0]] for it in ref_iters], dataset.labels,
                                   dataset.per_feed)
    if failure:
        failures.append(failure)
    return VerifyReport(str(candidate), backend.name, reference.describe(), precision,
                        dataset.description, dataset.samples, report_outputs, changed_by,
                        elementwise_gates, metric, tuple(failures), warnings)


def _declared_output_shapes(model: Path) -> dict[str, tuple[Any, ...] | None]:
    """Each graph output's declared shape (None: no rank declared); {} for an engine."""
    if model.suffix != ".onnx":
        return {}
    from trtc.graph.io import has_rank, load_proto, tensor_info

    graph = load_proto(model).graph
    return {vi.name: tensor_info(vi).shape if has_rank(vi) else None for vi in graph.output}


def declared_shape_mismatches(declared: Mapping[str, tuple[Any, ...] | None],
                              actual: Mapping[str, tuple[int, ...]]) -> list[str]:
    """Outputs whose shape on real data breaks the model's own declaration (rank, or a
    static dim). ddddocr's CRNN declares ``1 x seqlen`` and gives ``32 x 1 x 8210``: a
    Triton config, or anything else that reads the declared shape, is wrong with it."""
    notes = []
    for name, got in actual.items():
        want = declared.get(name)
        if want is None:
            continue
        if len(want) != len(got) or any(isinstance(w, int) and w != g
                                         for w, g in zip(want, got)):
            shown = "x".join(str(d) for d in want) or "a scalar"
            notes.append(f"output '{name}': the model declares {shown} and gives "
                         f"{'x'.join(map(str, got)) or 'a scalar'}; fix the declaration "
                         f"(onnx.shape_inference, or the exporter's output names and dynamic "
                         f"axes) before packaging it: the Triton config reads it")
    return notes


def _check_output_shapes(candidate: Path, cand_iters: Sequence[Any],
                         ref_iters: Sequence[Any], outputs: list[str]) -> None:
    """Candidate and reference must give every output the same shape (not the same model)."""
    for cand, ref in zip(cand_iters, ref_iters):
        for name in outputs:
            if name in cand and name in ref:
                a, b = np.shape(cand[name]), np.shape(ref[name])
                if a != b:
                    raise ModelError(f"{candidate}: output '{name}' has shape {list(a)}, the "
                                     f"reference's has {list(b)} on the same input",
                                     "compare an artifact with the model it was built from")


def _reference_runner(reference: Reference, inputs: Mapping[str, Any],
                      outputs: list[str]) -> Any:
    """The reference's Polygraphy runner: PyTorch on the CPU, or ONNX Runtime unoptimised."""
    from trtc.backends.onnxruntime import OnnxRuntimeBackend

    if reference.model is not None:
        from trtc.backends import torch as torch_backend

        model = torch_backend.load_model(reference.model)
        return torch_backend.runner(model, inputs, outputs, name="reference")
    if reference.onnx_path is None:
        raise UsageError("verify needs a reference: an ONNX model or the PyTorch model")
    ort = OnnxRuntimeBackend()
    _, ref_outputs = ort.io_specs(reference.onnx_path)
    missing = [o for o in outputs if o not in ref_outputs]
    if missing:
        raise UsageError(f"reference {reference.onnx_path} has no output(s) "
                         f"{', '.join(missing)}", "compare models with the same outputs")
    # The reference runs unoptimised: the most literal reading of the graph.
    return ort.runner(reference.onnx_path, name="reference", level="disable")


def _task_metric(name: str, spec: VerifySpec, output: str, cand: list[np.ndarray],
                 ref: list[np.ndarray], labels: list[np.ndarray] | None,
                 per_feed: list[int] | None = None
                 ) -> tuple[dict[str, Any] | None, str | None]:
    """The gating task metric of the first output and its failure message (None: passed)."""
    if name == "cosine":
        metric = {**cosine_metric(cand, ref, spec.min_cosine, per_feed), "output": output}
        return metric, None if metric["passed"] else (
            f"output '{output}': mean cosine similarity {metric['mean']:.4f} is below "
            f"min_cosine {spec.min_cosine:g}")
    if name == "top1":
        if labels is None:
            raise DataError("verify.metric top1: the data has no labels",
                            "add labels, or set metric: none")
        metric = {**top1_metric(cand, ref, labels, spec.max_drop), "output": output}
        return metric, None if metric["passed"] else (
            f"top-1 accuracy dropped by {metric['drop'] * 100:.2f} points "
            f"({metric['reference'] * 100:.2f}% -> {metric['candidate'] * 100:.2f}%), more "
            f"than max_drop {spec.max_drop * 100:.2f}")
    return None, None

