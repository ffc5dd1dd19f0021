"""``quantize_model``: the one path from an FP32 ONNX file to its reduced-precision copy.

The model is loaded and pre-processed once, the Q/DQ placement is planned once,
the calibration pass runs once (or comes from the cache), and every candidate
the accuracy budget tries is built from those: a node left in float is the
same placement without it, with the same cached ranges.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.errors import ModelError, UsageError
from trtc.graph.io import QDQ_OPS
from trtc.optimize.quantize.report import QuantizeReport, kept_dict
from trtc.recipe import QuantizeSpec

if TYPE_CHECKING:
    from trtc.optimize.engine_budget import EngineBudget
    from trtc.optimize.sensitivity import BudgetResult, OrtEvaluator

Progress = Callable[[str, int], Any]
Inputs = dict[str, tuple[str, tuple[int | str, ...]]]


def quantize_model(model_path: Path, out_path: Path, spec: QuantizeSpec, *,
                   shapes: Mapping[str, Sequence[int]] | None = None,
                   cache_dir: Path | None = None, eval_source: str | None = None,
                   labels_key: str = "labels", eval_batch: int = 1,
                   progress: Progress | None = None,
                   engine: EngineBudget | None = None) -> QuantizeReport:
    """Quantize one ONNX model; the library function behind ``trtc quantize``.

    Args:
        model_path: the FP32 ONNX model.
        out_path: where the quantized model goes (written atomically).
        spec: the quantize section with ``target`` resolved (``tensorrt`` or
            ``onnxruntime-cpu``, never ``auto``).
        shapes: concrete shapes per input (trtexec style, batch included) for inputs
            with named dims: random calibration data is made in these shapes, and
            .npz / python data is checked against them.
        cache_dir: where calibration statistics are cached (None: no cache).
        eval_source: labelled data (.npz / python:) for the top-1 budget; None = cosine
            against FP32 on the calibration data.
        progress: ``progress(description, total)`` returning a context manager that
            yields ``update(done, total)``; None = silent.
        engine: how ``budget_on: engine`` builds candidates (None: the default build
            section, timing caches in the search's temporary folder).

    Returns:
        What was done; ``to_dict()`` is the metrics JSON, ``ranges`` calibration.json.

    Raises:
        UsageError: missing calibration data or shapes, unknown excluded node / op type.
        ModelError: unreadable or already quantized / fp16 model, nothing to quantize.
        DataError: calibration / evaluation data not matching the model.
        VerificationError: ``max_drop`` missed with every node that can go to float in float.
    """
    import onnx

    from trtc.graph.cleanup import load_onnx
    from trtc.graph.io import model_io
    from trtc.optimize.quantize.placement import check_exclusions
    from trtc.optimize.sensitivity import OrtEvaluator, run_outputs
    from trtc.workspace import atomic_path

    if spec.target not in ("tensorrt", "onnxruntime-cpu"):
        raise UsageError(f"quantize.target {spec.target} reached the quantizer unresolved",
                         "resolve it with trtc.pipeline.plan (a bug if you see this)")
    source = load_onnx(model_path)  # a missing/corrupt file fails here first
    reduced = already_reduced(source)
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
    inputs: Inputs = model_io(source, str(model_path)).input_specs()
    shapes = dict(shapes or {})
    report = QuantizeReport(out_path, spec.precision, spec.target if reduced_int else None,
                            list(spec.exclude_nodes), list(spec.exclude_ops))
    # Data first: a missing shape or a bad file fails before seconds of pre-processing.
    if spec.calib_data:
        check_shapes(inputs, shapes, random=spec.calib_data == "random")
    calib = _calibration_set(spec, inputs, shapes) if spec.calib_data else None
    if calib is not None:
        report.warnings += calib.warnings
    feeds, labels = _eval_data(inputs, calib, eval_source, labels_key, eval_batch)
    if spec.max_drop is not None and not feeds:
        raise UsageError("quantize.max_drop needs data to measure accuracy on",
                         "pass --calib-data or --eval-data")
    if spec.max_drop is not None and eval_source is None and spec.calib_data != "random":
        # Measured on the samples the ranges came from, the budget is optimistic and picks
        # nodes for those samples (zoo: ppocr_cls 0.999 there, 0.966 on held-out lines).
        report.warnings.append("quantize.max_drop is measured on the calibration samples, "
                               "which the ranges fit: pass held-out --eval-data (an .npz; "
                               "without labels the budget is cosine vs FP32 on it)")
    with tempfile.TemporaryDirectory(prefix="trtc-quantize-") as tmp:
        pre_path = Path(tmp) / "preprocessed.onnx"
        source_path = model_path
        if spec.precision == "int8":  # per-channel weights: DequantizeLinear's axis (opset 13)
            upgraded = per_channel_opset(source, model_path)
            if upgraded is not None:
                source, note = upgraded
                report.warnings.append(note)
                source_path = Path(tmp) / "opset13.onnx"
                _save(source, source_path)
        model, warned = preprocess(source, source_path, pre_path)
        report.warnings += warned
        check_exclusions(model, spec.exclude_nodes, spec.exclude_ops)
        candidates = _Candidates(spec, model)
        implied = candidates.placement.implied if candidates.placement else ()
        if implied:
            report.warnings.append(
                f"quantize: {', '.join(implied)} kept in float with the excluded Resize(s): "
                "TensorRT moves a Q/DQ pair across a Resize (and a Q across a Concat), "
                "which would make it int8 again")
        if calib is not None:
            with _progress(progress, "calibrating", len(calib.feeds)) as update:
                report.calibration = candidates.calibrate(pre_path, calib, cache_dir, update)
        plain = candidates.build(())
        unrunnable = _cpu_cannot_run(plain, feeds[:1]) if feeds else None
        if unrunnable is not None:
            if spec.max_drop is not None:
                raise UsageError(f"quantize.max_drop: ONNX Runtime on CPU cannot run the "
                                 f"{spec.precision} model to measure it ({unrunnable})",
                                 "drop max_drop for this precision, or use int8 / fp16")
            report.warnings.append(f"accuracy not measured: ONNX Runtime on CPU cannot run "
                                   f"the {spec.precision} model ({unrunnable})")
            feeds = []
        out_model, final_extra = plain, ()  # type: tuple[Any, tuple[str, ...]]
        if feeds:
            measure = OrtEvaluator(feeds, run_outputs(model, feeds), labels,
                                   timed=spec.target == "onnxruntime-cpu")
            if spec.max_drop is not None:
                from trtc.optimize.engine_budget import MEMO_FILE

                memo = cache_dir / MEMO_FILE if cache_dir else None
                out_model, report.budget = _search_budget(
                    spec, candidates, plain, model, measure, engine, Path(tmp), report.warnings,
                    progress, memo)
                report.accuracy = report.budget.final
                final_extra = tuple(report.budget.excluded)
            else:
                report.accuracy = measure(out_model)
        if reduced_int:
            report.qdq, report.ranges = candidates.qdq_facts(out_model, report.calibration)
            if spec.float_precision == "fp16":
                out_model, report.float_regions = candidates.fp16_regions(out_model)
                if report.accuracy is not None and not (report.budget is not None
                                                        and report.budget.evaluator == "engine"):
                    report.warnings.append(
                        "quantize.float_precision fp16: accuracy was measured on ONNX Runtime "
                        "before the float part went to fp16 (its CPU kernels have few fp16 "
                        "ops); verify the built engine (trtc verify) for the fp16 part's error")
        else:
            report.kept_fp32 = candidates.kept.get(final_extra, [])
            if candidates.peaks is not None:
                measured, peaks = candidates.peaks
                report.fp16_peaks = {"tensors_measured": measured,
                                     "top": [p.to_dict() for p in peaks]}
        with atomic_path(out_path) as staged:
            onnx.save(out_model, str(staged))
            check_output(staged, spec.precision)
    return report


def _search_budget(spec: QuantizeSpec, candidates: _Candidates, plain: Any, model: Any,
                   measure: OrtEvaluator, engine: EngineBudget | None, work_dir: Path,
                   warnings: list[str], progress: Progress | None, memo: Path | None = None
                   ) -> tuple[Any, BudgetResult]:
    """Run the budget search (trtc.optimize.sensitivity) on the evaluator budget_on names.

    int8 / fp8 candidates are ranked by their isolated output error under Q/DQ
    (trtc.optimize.layer_error); fp16 / bf16 ones, which have no Q/DQ to copy,
    group-wise only.
    """
    import contextlib

    from trtc.backends.isolated import reuse_worker
    from trtc.optimize.engine_budget import budget_evaluator
    from trtc.optimize.layer_error import layer_errors
    from trtc.optimize.sensitivity import Ranker, meet_budget, search_bound

    assert spec.max_drop is not None
    evaluate = budget_evaluator(spec, engine, measure, [o.name for o in model.graph.output],
                                work_dir, warnings, memo)
    rank: Ranker | None = None
    if candidates.placement is not None:
        def rank(quantized: Any) -> dict[str, float]:
            return layer_errors(model, quantized, candidates.names, measure.feeds)

    def quantized(extra: tuple[str, ...]) -> Any:
        return candidates.build(extra) if extra else plain

    # An engine measures what ships: the float part in fp16 where the recipe says so.
    shipped = spec.float_precision == "fp16" and evaluate is not measure

    def make(extra: tuple[str, ...]) -> Any:
        built = quantized(extra)
        return candidates.fp16_regions(built)[0] if shipped else built

    # Engines build only the bisection's and give-back's candidates: the ranking (it only
    # orders nodes) runs on ONNX Runtime with the Q/DQ model (ppocr_rec: 29 evaluations).
    rank_on = None if evaluate is measure else (quantized, measure)
    bound = search_bound(len(candidates.names), spec.budget_step, rank_on is not None)
    # Every engine of the search is built in one worker process, which keeps TensorRT's
    # builder (its kernel library: 6-10 s to load on 8.6) alive from one build to the next.
    with reuse_worker() if evaluate is not measure else contextlib.nullcontext():
        with _LazyProgress(progress, "budget search", bound) as update:
            model_out, result = meet_budget(make, evaluate, candidates.names, spec.max_drop,
                                            spec.budget_step, progress=update, rank=rank,
                                            rank_on=rank_on)
        baseline = getattr(evaluate, "baseline", None)
        if baseline is not None:
            result.baseline = baseline(model, warnings)
    if shipped:  # the search returns the shipped form; the caller converts the Q/DQ model
        model_out = quantized(tuple(result.excluded))
    return model_out, result


#: The first default-domain opset where DequantizeLinear takes ``axis`` (per-channel scales).
PER_CHANNEL_OPSET = 13


def per_channel_opset(model: Any, model_path: Path) -> tuple[Any, str] | None:
    """The model converted to opset 13 when its default-domain opset is lower, with a warning.

    Per-channel weight scales are a DequantizeLinear ``axis``, which exists from
    opset 13; ONNX Runtime's quantizer writes it whatever the model's opset, and
    an opset-11/12 model with it is invalid ONNX. None: the opset is high enough.

    Raises:
        ModelError: ONNX's version converter cannot convert the model.
    """
    from onnx import version_converter

    from trtc.graph.io import DEFAULT_DOMAINS

    opset = max((o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS),
                default=0)
    if not opset or opset >= PER_CHANNEL_OPSET:
        return None
    try:
        converted = version_converter.convert_version(model, PER_CHANNEL_OPSET)
    except Exception as exc:  # the converter raises RuntimeError / ConvertError / ValueError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{model_path}: opset {opset} cannot be converted to opset "
                         f"{PER_CHANNEL_OPSET}, which int8's per-channel weights need: {first}",
                         f"re-export the model at opset {PER_CHANNEL_OPSET} or later") from None
    return converted, (f"the model is opset {opset}: converted to opset {PER_CHANNEL_OPSET} "
                       "for int8's per-channel weight scales (DequantizeLinear axis)")


def check_output(path: Path, precision: str) -> None:
    """Run the ONNX checker on the written model: a broken output fails here, not in build.

    Raises:
        ModelError: the quantized model is invalid ONNX (one line: the checker's first).
    """
    import onnx

    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"the {precision} model is invalid ONNX: {first}",
                         "a bug in trtc or ONNX Runtime's quantizer: quantize the model to "
                         "another precision, or keep the node it names in float "
                         "(--exclude-nodes)") from None


def _save(model: Any, path: Path) -> None:
    """Save ``model``; weights go beside it in ``<name>.data`` past protobuf's 2 GiB."""
    import onnx

    large = sum(len(i.raw_data) for i in model.graph.initializer) > (1 << 31) - (1 << 26)
    onnx.save(model, str(path), save_as_external_data=large,
              location=f"{path.name}.data" if large else None)


class _Candidates:
    """Builds the reduced-precision model with some nodes left in float, from one plan.

    int8 / fp8: one Q/DQ placement and one range book; fp16 / bf16: the converter
    with the calibrated min/max (when there is calibration data) for overflow checks.
    """

    def __init__(self, spec: QuantizeSpec, model: Any) -> None:
        from trtc.optimize.quantize.placement import plan_placement

        self.spec, self.model = spec, model
        self.book: Any = None
        self.kept: dict[tuple[str, ...], list[Any]] = {}
        #: fp16 with calibration data: (tensors measured, the peaks nearest fp16's max).
        self.peaks: tuple[int, list[Any]] | None = None
        self.placement = None
        if spec.precision in ("int8", "fp8"):
            self.placement = plan_placement(model, spec.target, spec.exclude_nodes,
                                            spec.exclude_ops)
            self.names = list(self.placement.nodes)
        else:
            self.names = [n.name for n in model.graph.node
                          if n.name not in spec.exclude_nodes and
                          n.op_type not in spec.exclude_ops]

    @property
    def method(self) -> str:
        return "distribution" if self.spec.precision == "fp8" else self.spec.calib_method

    def calibrate(self, pre_path: Path, calib: Any, cache_dir: Path | None,
                  update: Callable[[int, int], None]) -> Any:
        """Run (or reuse) the one calibration pass; return what the report says about it."""
        from trtc.optimize.quantize.calibrate import calibrate
        from trtc.optimize.quantize.ranges import RangeBook
        from trtc.optimize.quantize.report import CalibrationInfo

        calibrated = calibrate(pre_path, calib.feeds, calib.fingerprint, cache_dir, update)
        if self.placement is not None and calibrated.collection.empty:
            from trtc.optimize.quantize.placement import reading_empty

            # Nothing to scale an empty tensor by: the nodes quantizing one stay float.
            self.placement = self.placement.without(
                reading_empty(self.model, self.placement, calibrated.collection.empty))
            self.names = list(self.placement.nodes)
        self.book = RangeBook(calibrated.collection, calibrated.cache_path,
                              self.spec.calib_percentile)
        return CalibrationInfo(
            calib.source, calib.samples, len(calib.feeds), calib.fingerprint, self.method,
            "hit" if calibrated.cache_hit else "miss", calibrated.runs,
            str(calibrated.cache_path) if calibrated.cache_path else None)

    def build(self, extra: tuple[str, ...]) -> Any:
        """The model with ``extra`` nodes left in float too (ModelError: nothing left)."""
        from trtc.optimize.quantize.qdq import qdq_model, set_metadata

        spec = self.spec
        if self.placement is not None:
            from trtc.optimize.quantize.placement import check_quantizable

            placement = self.placement.without(extra)
            check_quantizable(self.model, placement, spec.target)
            return qdq_model(self.model, placement, self.book, precision=spec.precision,
                             target=spec.target, method=spec.calib_method)
        from trtc.optimize.fp16 import convert_float
        from trtc.optimize.quantize.ranges import plain_ranges

        ranges = plain_ranges(self.book("minmax")) if self.book is not None else None
        if ranges and spec.precision == "fp16" and self.peaks is None:
            from trtc.optimize.fp16 import measured_peaks

            self.peaks = measured_peaks(self.model, ranges)
        converted, kept_nodes = convert_float(
            self.model, "bf16" if spec.precision == "bf16" else "fp16",
            keep_io_types=spec.keep_io_types, block_ops=spec.exclude_ops,
            block_nodes=(*spec.exclude_nodes, *extra), ranges=ranges)
        self.kept[extra] = kept_nodes
        set_metadata(converted, None, spec.precision)
        return converted

    def fp16_regions(self, model: Any) -> tuple[Any, dict[str, Any]]:
        """``float_precision: fp16``: the Q/DQ model's float part in fp16, and what changed.

        The calibrated ranges keep a node that would overflow fp16 in fp32.
        """
        from trtc.optimize.quantize.ranges import plain_ranges
        from trtc.optimize.quantize.regions import fp16_regions

        ranges = plain_ranges(self.book("minmax")) if self.book is not None else None
        before = {n.name for n in model.graph.node}
        converted, kept = fp16_regions(model, ranges)
        casts = sum(1 for n in converted.graph.node
                    if n.op_type == "Cast" and n.name not in before)
        halves = _half_nodes(converted)
        return converted, {"precision": "fp16", "fp16_nodes": halves, "casts": casts,
                           "kept_fp32": [kept_dict(k) for k in kept]}

    def qdq_facts(self, out_model: Any, calibration: Any) -> tuple[Any, dict[str, Any]]:
        """The Q/DQ summary and calibration.json's content for the chosen model."""
        from trtc.optimize.quantize.qdq import qdq_inputs, qdq_summary
        from trtc.optimize.quantize.ranges import plain_ranges

        about = {} if calibration is None else {
            "source": calibration.source, "samples": calibration.samples,
            "fingerprint": calibration.fingerprint}
        ranges = plain_ranges(self.book(self.method, qdq_inputs(out_model)))
        return qdq_summary(out_model), {"method": self.method, **about,
                                        "ranges": {k: list(v) for k, v in ranges.items()}}


def _half_nodes(model: Any) -> int:
    """Nodes (Casts aside) that write an fp16 tensor, by the model's inferred value types."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    half = {v.name for v in (*inferred.graph.value_info, *inferred.graph.output)
            if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16}
    return sum(1 for n in model.graph.node
               if n.op_type != "Cast" and any(o in half for o in n.output))


#: Ops only a quantized model has: Q/DQ, and the integer ops of ONNX Runtime's dynamic and
#: weight-only quantization (ddddocr ships a `quantize_dynamic` CRNN: ConvInteger after
#: DynamicQuantizeLinear, which ONNX Runtime's quantizer then crashed on, exit 70).
INTEGER_OPS = frozenset({*QDQ_OPS, "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger",
                         "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulNBits",
                         "QGemm", "QAttention", "DynamicQuantizeLSTM"})


def already_reduced(model: Any) -> str | None:
    """Say how ``model`` is already in reduced precision (Q/DQ nodes, fp16/bf16 weights), or None.

    Quantizing such a model again stacks Q/DQ, or calibrates on half-precision tensors
    whose histograms ONNX Runtime cannot bin.
    """
    from onnx import TensorProto

    qdq = sorted({n.op_type for n in model.graph.node
                  if n.op_type in INTEGER_OPS or n.op_type.startswith("QLinear")})
    if qdq:
        return f"quantized (it has {', '.join(qdq)} nodes)"
    half = {TensorProto.FLOAT16: "fp16", TensorProto.BFLOAT16: "bf16"}
    floats = [i.data_type for i in model.graph.initializer
              if i.data_type in (TensorProto.FLOAT, TensorProto.DOUBLE, *half)]
    if floats and all(t in half for t in floats):
        return f"{half[floats[0]]} (every float weight is {half[floats[0]]})"
    return None


def preprocess(model: Any, model_path: Path, out_path: Path) -> tuple[Any, list[str]]:
    """Return the model ONNX Runtime's quantizer works on (also written to ``out_path``).

    ONNX Runtime's quantization pre-processing with shape inference only: graph
    optimisation is skipped so node names stay the user's (exclusions name them;
    trtc's export already folded BatchNorm and constants). Where it fails (e.g.
    symbolic shape inference on an unusual op) the model is used as it is, with a
    warning. Unnamed nodes get stable names (``<op>_<index>``) so that every node
    can be excluded, ranked and reported.
    """
    import onnx
    from onnxruntime.quantization import quant_pre_process
    from onnxruntime.quantization.quant_utils import add_infer_metadata

    from trtc.graph.names import name_nodes
    from trtc.optimize.quantize.calibrate import quiet_stdout

    warnings: list[str] = []
    source, target = str(model_path.resolve()), str(out_path.resolve())  # before the chdir
    try:
        # ONNX Runtime's symbolic shape inference saves sym_shape_infer_temp.onnx and a
        # model-sized <uuid>.data in the working directory when it cannot finish: run it
        # in a directory of its own, removed afterwards.
        with tempfile.TemporaryDirectory(prefix="trtc-preprocess-") as scratch, \
                contextlib.chdir(scratch), quiet_stdout():
            # The path, not the loaded proto: external weights resolve beside the file.
            quant_pre_process(source, target, skip_optimization=True)
        model = onnx.load(str(out_path))
        # Shapes are inferred now: ONNX Runtime's quantizer would otherwise save, re-infer
        # and reload the model for every candidate the budget search builds.
        add_infer_metadata(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        warnings.append(f"ONNX Runtime's quantization pre-processing failed ({first}); "
                        "quantizing the model as it is")
    if name_nodes(model.graph) or not out_path.is_file():
        onnx.save(model, str(out_path))
    return model, warnings


def check_shapes(inputs: Inputs, shapes: Mapping[str, Sequence[int]], *, random: bool) -> None:
    """Fail at once when ``shapes`` names no input, or random data lacks a named dim's size.

    The batch dim (axis 0, or a state's dim named like it) may stay named: calibration
    batches set it.

    Raises:
        UsageError: one line naming the input and its named dims, with the --shapes to pass.
    """
    from trtc.data import batch_axes, check_shape_names, input_infos

    infos = input_infos(inputs)
    check_shape_names(infos, shapes, "--shapes")
    if not random:
        return  # real data carries its own shapes (checked against ``shapes`` when given)
    axes = batch_axes(infos)
    for name, (_, dims) in inputs.items():
        named = [str(d) for axis, d in enumerate(dims)
                 if axis != axes[name] and not isinstance(d, int)]
        if named and name not in shapes:
            example = "x".join(str(d) if isinstance(d, int) else "1" if axis == 0 else "N"
                               for axis, d in enumerate(dims))
            raise UsageError(
                f"quantize: input '{name}' has named dims {', '.join(named)} (shape "
                f"{'x'.join(map(str, dims))}): random calibration data needs their sizes",
                f"pass --shapes {name}:{example} with N set (recipe: quantize.shapes), or "
                "calibrate on real data (.npz, an image folder, python:module:function)")


def _calibration_set(spec: QuantizeSpec, inputs: Inputs, shapes: dict[str, Sequence[int]]
                     ) -> Any:
    from trtc.optimize.calibdata import calibration_batches

    assert spec.calib_data is not None
    return calibration_batches(
        spec.calib_data, inputs, samples=spec.calib_samples, batch=spec.calib_batch,
        seed=spec.calib_seed, preprocess=spec.calib_preprocess, shapes=shapes)


def _eval_data(inputs: Inputs, calib: Any, eval_source: str | None, labels_key: str,
               batch: int) -> tuple[list[Any], list[Any] | None]:
    """Labelled evaluation data when given, else the calibration feeds (cosine vs FP32)."""
    if eval_source is not None:
        from trtc import data

        arrays = data.load_arrays(eval_source)
        dataset = data.array_dataset(arrays, data.input_infos(inputs), batch, labels_key,
                                     eval_source)
        return dataset.feeds, dataset.labels
    if calib is not None:
        return list(calib.feeds), None
    return [], None


def _cpu_cannot_run(model: Any, feeds: list[Any]) -> str | None:
    """Why ONNX Runtime's CPU provider cannot run ``model`` (bf16 kernels...), or None."""
    from trtc.optimize.sensitivity import run_outputs

    try:
        run_outputs(model, feeds)
    except Exception as exc:  # ORT raises NotImplemented / Fail / InvalidGraph classes
        text = str(exc).strip()
        return " ".join(text.split())[:200] if text else type(exc).__name__
    return None


class _NullProgress:
    def __enter__(self) -> Callable[[int, int], None]:
        return lambda done, total: None

    def __exit__(self, *exc: object) -> None:
        return None


class _LazyProgress:
    """A progress bar that opens on its first update: the budget search reports progress
    only when it runs (a met budget shows no bar)."""

    def __init__(self, factory: Progress | None, description: str, total: int) -> None:
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


def _progress(factory: Progress | None, description: str, total: int) -> Any:
    return factory(description, total) if factory is not None else _NullProgress()
