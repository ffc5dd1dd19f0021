"""quantize: write reduced precision into the ONNX graph, within an accuracy budget.

int8 / fp8 become Q/DQ through ONNX Runtime's quantization tools, placed for
the target runtime (``trtc.optimize.quantize``); fp16 / bf16 become casts
(``trtc.optimize.fp16``). Calibration statistics are cached in the stage's
folder, so re-quantizing with another method or exclusion list does not run
the model again. With ``max_drop`` set, a missed budget moves the most harmful
nodes back to float (``trtc.optimize.sensitivity``).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trtc.errors import ModelError, UsageError
from trtc.recipe import QuantizeSpec
from trtc.stages import StageContext, StageResult
from trtc.workspace import atomic_path, write_json

Target = Literal["tensorrt", "onnxruntime-cpu", "auto"]

#: Name of the calibration cache folder inside the stage folder.
CACHE_DIR = "calibration-cache"


@dataclass(frozen=True)
class QuantizeJob:
    """What quantize needs: its section with the target resolved, and the budget's data.

    ``eval_source`` is labelled data for the top-1 budget (verify's data when the
    recipe has a budget and real data); None = cosine on the calibration data.
    """

    quantize: QuantizeSpec
    eval_source: str | None = None
    labels_key: str = "labels"
    eval_batch: int = 1


def run(job: QuantizeJob, ctx: StageContext) -> StageResult:
    """Quantize ``ctx.inputs['model']`` into ``ctx.outputs['model']``; write the ranges."""
    if job.quantize.target == "auto":
        raise UsageError("quantize.target auto reached the stage unresolved",
                         "resolve it with trtc.pipeline.plan (a bug if you see this)")
    result = quantize_model(ctx.inputs["model"], ctx.outputs["model"], job.quantize,
                            cache_dir=ctx.work_dir / CACHE_DIR, eval_source=job.eval_source,
                            labels_key=job.labels_key, eval_batch=job.eval_batch,
                            progress=ctx.reporter.progress)
    ranges = result.metrics.pop("calibration_ranges", {})
    if "calibration" in ctx.outputs:
        write_json(ctx.outputs["calibration"], ranges)
        result.outputs["calibration"] = ctx.outputs["calibration"]
    return result


def quantize_model(model_path: Path, out_path: Path, spec: QuantizeSpec, *,
                   cache_dir: Path | None = None, eval_source: str | None = None,
                   labels_key: str = "labels", eval_batch: int = 1,
                   progress: Callable[[str, int], Any] | None = None) -> StageResult:
    """Quantize one ONNX model; the public Python API behind ``trtc quantize``.

    Args:
        model_path: the FP32 ONNX model.
        out_path: where the quantized model goes (written atomically).
        spec: the recipe's quantize section (precision, target, calibration, budget).
        cache_dir: where calibration statistics are cached (None: no cache).
        eval_source: labelled data (.npz / python:) for the top-1 budget; None = cosine
            against FP32 on the calibration data.
        progress: ``progress(description, total)`` returning a context manager that
            yields ``update(done, total)``; None = silent.

    Raises:
        UsageError: missing calibration data, unknown excluded node / op type.
        ModelError: unreadable or already quantized / fp16 model, nothing to quantize.
        DataError: calibration / evaluation data not matching the model.
        VerificationError: ``max_drop`` missed with every node that can go to float in float.
    """
    import onnx

    from trtc.graph.cleanup import load_onnx
    from trtc.optimize import quantize as q
    from trtc.optimize.sensitivity import meet_budget, run_outputs, score

    reduced = already_reduced(load_onnx(model_path))  # a missing/corrupt file fails here first
    if reduced is not None:
        raise ModelError(f"{model_path}: the model is already {reduced}",
                         "quantize the FP32 model (the export or prune output), not a "
                         "quantized one")
    reduced_int = spec.precision in ("int8", "fp8")
    if reduced_int and not spec.calib_data:
        raise UsageError(f"quantize: {spec.precision} needs calibration data "
                         "(quantize.calib_data / --calib-data)",
                         "pass --calib-data calib.npz (or an image folder, python:mod:fn, "
                         "or 'random' for a smoke test)")
    metrics: dict[str, Any] = {"precision": spec.precision,
                               "target": spec.target if reduced_int else None}
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="trtc-quantize-") as tmp:
        pre_path = Path(tmp) / "preprocessed.onnx"
        warnings += q.preprocess(model_path, pre_path)
        model = onnx.load(str(pre_path))
        q.check_exclusions(model, spec.exclude_nodes, spec.exclude_ops)
        if reduced_int:
            q.plan_placement(model, spec.target, spec.exclude_nodes, spec.exclude_ops)
        calib = None
        book = None
        if spec.calib_data:
            calib = _calibration_set(spec, model_path)
            warnings += calib.warnings
            with _progress(progress, "calibrating", len(calib.feeds)) as update:
                calibrated = q.calibrate(pre_path, calib.feeds, calib.fingerprint, cache_dir,
                                         update)
            book = q.RangeBook(calibrated.collection, calibrated.cache_path,
                               spec.calib_percentile)
            metrics["calibration"] = {
                "source": calib.source, "samples": calib.samples, "batches": len(calib.feeds),
                "fingerprint": calib.fingerprint, "method": spec.calib_method
                if spec.precision != "fp8" else "distribution",
                "cache": "hit" if calibrated.cache_hit else "miss",
                "calibration_runs": calibrated.runs,
                "cache_file": str(calibrated.cache_path) if calibrated.cache_path else None}

        kept: dict[tuple[str, ...], list[Any]] = {}
        build, candidates = _builder(spec, model, book, kept)
        plain: dict[tuple[str, ...], Any] = {}

        def make(extra: tuple[str, ...]) -> Any:
            """The model with ``extra`` nodes left in float (the plain one is built once)."""
            if extra:
                return build(extra)
            if () not in plain:
                plain[()] = build(())
            return plain[()]

        feeds, labels = _eval_data(spec, model_path, calib, eval_source, labels_key,
                                   eval_batch)
        if spec.max_drop is not None and not feeds:
            raise UsageError("quantize.max_drop needs data to measure accuracy on",
                             "pass --calib-data or --eval-data")
        unrunnable = _cpu_cannot_run(make(()), feeds[:1]) if feeds else None
        if unrunnable is not None:
            if spec.max_drop is not None:
                raise UsageError(f"quantize.max_drop: ONNX Runtime on CPU cannot run the "
                                 f"{spec.precision} model to measure it ({unrunnable})",
                                 "drop max_drop for this precision, or use int8 / fp16")
            warnings.append(f"accuracy not measured: ONNX Runtime on CPU cannot run the "
                            f"{spec.precision} model ({unrunnable})")
            feeds = []
        if feeds:
            reference = run_outputs(model, feeds)

            def evaluate(candidate: Any) -> Any:
                return score(run_outputs(candidate, feeds), reference, labels)

            if spec.max_drop is not None:
                with _LazyProgress(progress, "sensitivity", len(candidates)) as update:
                    out_model, budget = meet_budget(make, evaluate, candidates,
                                                    spec.max_drop, spec.budget_step,
                                                    progress=update)
                metrics["budget"] = budget.to_dict()
                metrics["float_nodes"] = budget.excluded
                metrics["accuracy"] = budget.final.to_dict()
                final_extra = tuple(budget.excluded)
            else:
                out_model = make(())
                metrics["accuracy"] = evaluate(out_model).to_dict()
                final_extra = ()
        else:
            out_model, final_extra = make(()), ()
        metrics["excluded_nodes"] = list(spec.exclude_nodes)
        metrics["excluded_ops"] = list(spec.exclude_ops)
        if reduced_int:
            metrics["qdq"] = q.qdq_summary(out_model)
            assert book is not None
            method = "distribution" if spec.precision == "fp8" else spec.calib_method
            metrics["calibration_ranges"] = {
                "method": method, **{k: v for k, v in metrics.get("calibration", {}).items()
                                     if k in ("source", "samples", "fingerprint")},
                "ranges": {k: list(v) for k, v in q.plain_ranges(
                    book(method, _qdq_inputs(out_model))).items()}}
        else:
            metrics["kept_fp32"] = [_kept_dict(k) for k in kept.get(final_extra, [])]
        with atomic_path(out_path) as staged:
            onnx.save(out_model, str(staged))
    return StageResult("quantize", {"model": out_path}, metrics, warnings=warnings)


def already_reduced(model: Any) -> str | None:
    """Say how ``model`` is already in reduced precision (Q/DQ nodes, fp16/bf16 weights), or None.

    Quantizing such a model again stacks Q/DQ, or calibrates on half-precision tensors
    whose histograms ONNX Runtime cannot bin.
    """
    from onnx import TensorProto

    qdq = sorted({n.op_type for n in model.graph.node
                  if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                  or n.op_type.startswith("QLinear")})
    if qdq:
        return f"quantized (it has {', '.join(qdq)} nodes)"
    half = {TensorProto.FLOAT16: "fp16", TensorProto.BFLOAT16: "bf16"}
    floats = [i.data_type for i in model.graph.initializer
              if i.data_type in (TensorProto.FLOAT, TensorProto.DOUBLE, *half)]
    if floats and all(t in half for t in floats):
        return f"{half[floats[0]]} (every float weight is {half[floats[0]]})"
    return None


def _builder(spec: QuantizeSpec, model: Any, book: Any, kept: dict[tuple[str, ...], list[Any]]
             ) -> tuple[Callable[[tuple[str, ...]], Any], list[str]]:
    """``build(float_nodes)`` making the reduced-precision model, and the nodes it may leave out.

    fp16/bf16 record their kept-FP32 nodes in ``kept`` (by the float_nodes asked for).
    """
    from trtc.optimize import quantize as q

    if spec.precision in ("int8", "fp8"):
        options = q.QuantizeOptions(spec.precision, spec.target, spec.calib_method,
                                    spec.exclude_nodes, spec.exclude_ops, spec.calib_percentile)

        def build_qdq(extra: tuple[str, ...]) -> Any:
            return q.quantize_qdq(model, book, options, extra)

        placement = q.plan_placement(model, spec.target, spec.exclude_nodes, spec.exclude_ops)
        return build_qdq, list(placement.nodes)

    from trtc.optimize.fp16 import convert_float

    ranges = q.plain_ranges(book("minmax")) if book is not None else None

    def build_float(extra: tuple[str, ...]) -> Any:
        converted, kept_nodes = convert_float(
            model, "bf16" if spec.precision == "bf16" else "fp16",
            keep_io_types=spec.keep_io_types,
            block_ops=spec.exclude_ops, block_nodes=(*spec.exclude_nodes, *extra),
            ranges=ranges)
        kept[extra] = kept_nodes
        q.set_metadata(converted, None, spec.precision)
        return converted

    return build_float, [n.name for n in model.graph.node
                         if n.name not in spec.exclude_nodes and
                         n.op_type not in spec.exclude_ops]


def _cpu_cannot_run(model: Any, feeds: list[Any]) -> str | None:
    """Why ONNX Runtime's CPU provider cannot run ``model`` (bf16 kernels...), or None."""
    from trtc.optimize.sensitivity import run_outputs

    try:
        run_outputs(model, feeds)
    except Exception as exc:  # ORT raises NotImplemented / Fail / InvalidGraph classes
        text = str(exc).strip()
        return " ".join(text.split())[:200] if text else type(exc).__name__
    return None


def _qdq_inputs(model: Any) -> list[str]:
    return [n.input[0] for n in model.graph.node if n.op_type == "QuantizeLinear"]


def _kept_dict(kept: Any) -> dict[str, Any]:

    if dataclasses.is_dataclass(kept) and not isinstance(kept, type):
        return dataclasses.asdict(kept)
    return {"name": str(kept)}


def _model_inputs(model_path: Path) -> dict[str, tuple[str, tuple[int | str, ...]]]:
    from trtc.graph.inspect import summarize_model

    return {t.name: (t.dtype, t.shape) for t in summarize_model(model_path).inputs}


def _calibration_set(spec: QuantizeSpec, model_path: Path) -> Any:
    from trtc.optimize.calibdata import calibration_batches

    assert spec.calib_data is not None
    return calibration_batches(
        spec.calib_data, _model_inputs(model_path), samples=spec.calib_samples,
        batch=spec.calib_batch, seed=spec.calib_seed,
        preprocess=spec.calib_preprocess)


def _eval_data(spec: QuantizeSpec, model_path: Path, calib: Any, eval_source: str | None,
               labels_key: str, batch: int) -> tuple[list[Any], list[Any] | None]:
    """Labelled evaluation data when given, else the calibration feeds (cosine vs FP32)."""
    if eval_source is not None:
        from trtc import data

        infos = [data.InputInfo(n, d, s) for n, (d, s) in _model_inputs(model_path).items()]
        arrays = data.load_arrays(eval_source)
        dataset = data.array_dataset(arrays, infos, batch, labels_key, eval_source)
        return dataset.feeds, dataset.labels
    if calib is not None:
        return list(calib.feeds), None
    return [], None


class _NullProgress:
    def __enter__(self) -> Callable[[int, int], None]:
        return lambda done, total: None

    def __exit__(self, *exc: object) -> None:
        return None


class _LazyProgress:
    """A progress bar that opens on its first update: the budget search reports progress
    only when it runs (a met budget shows no bar)."""

    def __init__(self, factory: Callable[[str, int], Any] | None, description: str,
                 total: int) -> None:
        self.factory, self.description, self.total = factory, description, total
        self.bar: Any = None
        self.update: Callable[[int, int], None] | None = None

    def __enter__(self) -> Callable[[int, int], None]:
        def update(done: int, total: int) -> None:
            if self.update is None:
                self.bar = _progress(self.factory, self.description, self.total)
                self.update = self.bar.__enter__()
            assert self.update is not None
            self.update(done, total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _progress(factory: Callable[[str, int], Any] | None, description: str, total: int) -> Any:
    return factory(description, total) if factory is not None else _NullProgress()
