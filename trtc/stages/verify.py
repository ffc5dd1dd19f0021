"""verify: compare the built artifact with a reference through Polygraphy's comparator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtc.errors import DataError, UsageError, VerificationError
from trtc.metrics import top1_metric
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


def run(job: VerifyJob, ctx: StageContext) -> StageResult:
    """Verify ``ctx.inputs['candidate']`` against the reference; write the report."""
    reference = (Reference(model=job.reference_model) if job.reference_model is not None
                 else Reference(onnx_path=ctx.inputs["reference"]))
    precision = _precision_of(ctx.inputs["candidate"])
    report = verify_artifact(ctx.inputs["candidate"], reference, job.verify, precision,
                             changed_by=list(job.changed_by) or None)
    report_path = ctx.outputs["report"]
    write_json(report_path, report)
    if not report["passed"]:
        raise VerificationError(report["failures"][0] + (
            f" (+{len(report['failures']) - 1} more)" if len(report["failures"]) > 1 else ""),
            f"see {report_path}; " + failure_hint(report, flags=False))
    return StageResult("verify", {"report": report_path}, _summary(report))


def failure_hint(report: dict[str, Any], *, flags: bool) -> str:
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


def _precision_of(artifact: Path) -> str:
    """The artifact's precision: its build manifest, else a TensorRT engine's sidecar."""
    manifest = artifact.parent / "manifest.json"
    try:
        return str(json.loads(manifest.read_text())["metrics"]["precision"])
    except (OSError, KeyError, ValueError):
        pass
    from trtc.tensorrt.engine_file import read_sidecar

    side = read_sidecar(artifact) or {}
    precision = str(side.get("precision") or "fp32")
    if precision == "fp32" and side.get("tf32") and not side.get("strongly_typed"):
        return "tf32"  # TensorRT's fp32 engines use TF32 math unless built with --no-tf32
    return precision


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keep = ("passed", "precision", "data", "metric")
    out = {k: report[k] for k in keep if k in report}
    out["outputs"] = {n: {k: v for k, v in s.items() if k in ("max_abs", "max_rel", "cosine",
                                                                "passed")}
                      for n, s in report["outputs"].items()}
    return out


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


def error_stats(candidate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Return max/mean/median absolute and relative error and cosine similarity."""
    from trtc.metrics import cosine as cosine_of

    a = candidate.astype(np.float64).ravel()
    b = reference.astype(np.float64).ravel()
    diff = np.abs(a - b)
    rel = diff / np.maximum(np.abs(b), np.finfo(np.float32).tiny)
    cosine = cosine_of(a, b)
    if not diff.size:
        return {"max_abs": 0.0, "mean_abs": 0.0, "median_abs": 0.0, "max_rel": 0.0,
                "mean_rel": 0.0, "median_rel": 0.0, "cosine": cosine}
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean()),
            "median_abs": float(np.median(diff)), "max_rel": float(rel.max()),
            "mean_rel": float(rel.mean()), "median_rel": float(np.median(rel)), "cosine": cosine}


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
    """The trtc stages that rewrote the candidate's model: ``trtc.prune.*`` /
    ``trtc.quantize.*`` metadata of an ONNX, or of the ONNX a TensorRT engine was built
    from (its engine.json sidecar); other files report none."""
    keys: list[str] = []
    if candidate.suffix.lower() == ".onnx":
        import onnx

        try:
            model = onnx.load(str(candidate), load_external_data=False)
        except Exception:  # noqa: BLE001 - the runner reports an unreadable model properly
            return []
        keys = [p.key for p in model.metadata_props]
    else:
        from trtc.tensorrt.engine_file import read_sidecar

        keys = list((read_sidecar(candidate) or {}).get("onnx_metadata") or {})
    return sorted({k.split(".")[1] for k in keys
                   if k.startswith(("trtc.prune.", "trtc.quantize."))})


def gates(spec: VerifySpec, changed_by: list[str] | None) -> tuple[bool, str]:
    """Decide what fails verify: (element-wise tolerances gate?, metric that gates).

    A pruned or quantized model differs from its dense FP32 reference by design, so with
    ``elementwise: auto`` its tolerances are reported, and the task metric (top-1 drop, or
    cosine similarity when no metric is set) decides.
    """
    approximate = bool(changed_by)
    elementwise = spec.elementwise == "on" or (spec.elementwise == "auto" and not approximate)
    metric = spec.metric
    if metric == "none" and approximate and spec.elementwise == "auto":
        metric = "cosine"
    return elementwise, metric


def cosine_metric(cand_out: list[np.ndarray], ref_out: list[np.ndarray],
                  min_cosine: float) -> dict[str, Any]:
    """Per-sample cosine similarity of candidate and reference outputs (first axis = batch)."""
    a = np.concatenate([np.asarray(x, np.float64).reshape(len(x), -1) for x in cand_out])
    b = np.concatenate([np.asarray(x, np.float64).reshape(len(x), -1) for x in ref_out])
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.where(norms > 0, (a * b).sum(1) / np.maximum(norms, np.finfo(np.float64).tiny),
                   np.all(a == b, axis=1).astype(np.float64))
    mean = float(cos.mean())
    return {"name": "cosine", "mean": mean, "min": float(cos.min()), "min_cosine": min_cosine,
            "agreement": float((a.argmax(1) == b.argmax(1)).mean()), "samples": int(len(cos)),
            "passed": mean >= min_cosine}


def verify_artifact(candidate: Path, reference: Reference, spec: VerifySpec,
                    precision: str | None = None,
                    changed_by: list[str] | None = None) -> dict[str, Any]:
    """Run candidate and reference on the same data and compare every output.

    ``changed_by`` names the stages that changed the model on purpose (prune, quantize);
    None reads it from an ONNX candidate's metadata. Returns the report (``passed`` False
    when a gating check fails); raises only for unusable inputs (missing files,
    mismatching data).
    """
    from polygraphy.comparator import Comparator, CompareFunc
    from polygraphy.logger import G_LOGGER

    from trtc.backends import backend_for_artifact, get_backend
    from trtc.data import InputInfo

    # Polygraphy prints its log to stdout, where it would corrupt `--json`; trtc reports
    # every mismatch itself, and Polygraphy's critical errors still raise (and go to stderr).
    G_LOGGER.module_severity = G_LOGGER.CRITICAL
    if precision is None:
        precision = _precision_of(candidate)
    if changed_by is None:
        changed_by = changed_on_purpose(candidate)
    elementwise_gates, metric_name = gates(spec, changed_by)
    backend = backend_for_artifact(candidate)
    inputs, outputs = backend.io_specs(candidate)
    infos = [InputInfo(n, d, s) for n, (d, s) in inputs.items()]
    dataset = load_dataset(spec, infos)
    if metric_name == "top1" and dataset.labels is None:
        raise DataError(f"verify.metric top1: {spec.data.source} has no "
                        f"'{spec.data.labels_key}' array", "add labels, or set metric: none")

    cand_runner = backend.runner(candidate, name="candidate")
    if reference.model is not None:
        from trtc.backends import torch as torch_backend

        model = torch_backend.load_model(reference.model)
        ref_runner = torch_backend.runner(model, {i.name: (i.dtype, i.shape) for i in infos},
                                          outputs, name="reference")
    else:
        from polygraphy.backend.onnxrt import OnnxrtRunner

        from trtc.backends.onnxruntime import make_session

        assert reference.onnx_path is not None
        _, ref_outputs = get_backend("onnxruntime").io_specs(reference.onnx_path)
        missing = [o for o in outputs if o not in ref_outputs]
        if missing:
            raise UsageError(f"reference {reference.onnx_path} has no output(s) "
                             f"{', '.join(missing)}", "compare models with the same outputs")
        # The reference runs unoptimised: the most literal reading of the graph.
        ref_runner = OnnxrtRunner(make_session(reference.onnx_path, level="disable"),
                                  name="reference")

    tols = tolerances(spec, precision, outputs)
    results = Comparator.run([ref_runner, cand_runner], data_loader=dataset.feeds)
    verdict = Comparator.compare_accuracy(
        results, compare_func=CompareFunc.simple(
            atol={n: t["atol"] for n, t in tols.items()},
            rtol={n: t["rtol"] for n, t in tols.items()}))

    ref_iters = results[0][1]
    cand_iters = results[1][1]
    # Newer Polygraphy returns one AccuracyResult per compare function, older a single one.
    accuracy = verdict if hasattr(verdict, "values") else next(iter(verdict))
    per_iteration = next(iter(accuracy.values()))
    report_outputs: dict[str, Any] = {}
    failures: list[str] = []
    for name in outputs:
        cand = np.concatenate([np.asarray(it[name]).reshape(-1) for it in cand_iters])
        ref = np.concatenate([np.asarray(it[name]).reshape(-1) for it in ref_iters])
        stats = error_stats(cand, ref)
        passed = all(bool(it[name]) for it in per_iteration if name in it)
        stats.update(tols[name], passed=passed)
        report_outputs[name] = stats
        if not passed and elementwise_gates:
            failures.append(f"output '{name}' differs by up to {stats['max_abs']:.3g} abs / "
                            f"{stats['max_rel']:.3g} rel (atol {tols[name]['atol']:g}, "
                            f"rtol {tols[name]['rtol']:g})")

    report: dict[str, Any] = {
        "candidate": str(candidate), "candidate_backend": backend.name,
        "reference": reference.describe(), "precision": precision,
        "data": dataset.description, "samples": dataset.samples, "outputs": report_outputs,
        "changed_by": changed_by, "elementwise_gates": elementwise_gates,
    }
    if metric_name == "cosine":
        metric = cosine_metric([it[outputs[0]] for it in cand_iters],
                               [it[outputs[0]] for it in ref_iters], spec.min_cosine)
        metric["output"] = outputs[0]
        report["metric"] = metric
        if not metric["passed"]:
            failures.append(f"output '{outputs[0]}': mean cosine similarity "
                            f"{metric['mean']:.4f} is below min_cosine {spec.min_cosine:g}")
    if metric_name == "top1":
        assert dataset.labels is not None
        metric = top1_metric([it[outputs[0]] for it in cand_iters],
                             [it[outputs[0]] for it in ref_iters], dataset.labels, spec.max_drop)
        metric["output"] = outputs[0]
        report["metric"] = metric
        if not metric["passed"]:
            failures.append(f"top-1 accuracy dropped by {metric['drop'] * 100:.2f} points "
                            f"({metric['reference'] * 100:.2f}% -> "
                            f"{metric['candidate'] * 100:.2f}%), more than max_drop "
                            f"{spec.max_drop * 100:.2f}")
    report["passed"] = not failures
    report["failures"] = failures
    return report
