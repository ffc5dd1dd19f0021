"""INT8 / FP8 Q/DQ quantization with ONNX Runtime's tools, placed for the target runtime.

The calibration math (histograms, entropy, percentile, scales) is ONNX
Runtime's: ``create_calibrator`` builds the augmented model,
``HistogramCollector`` collects and computes ranges, ``QDQQuantizer`` writes
Q/DQ. trtc adds three things around them:

* **placement by target** -- for TensorRT, Q/DQ only at the inputs of
  Conv/ConvTranspose/Gemm/MatMul and the residual input of Add (NVIDIA's
  recipe, tools/tensorflow-quantization ``ResidualConnectionQDQCase``),
  symmetric int8, per-channel weights, float biases (TensorRT 8.6's parser
  rejects an int32 bias DequantizeLinear); for ONNX Runtime on CPU, ORT's own
  defaults with uint8 activations and int8 per-channel weights;
* **one calibration pass, cached** -- every float activation's min/max and
  histograms are collected once per (model, data) and kept in the workspace,
  so another method or exclusion list reuses them without running the model;
* **checks with one-line errors** -- unknown excluded nodes/op types, a model
  with nothing to quantize.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtc.errors import ModelError, UsageError
from trtc.graph.names import name_nodes
from trtc.tensorrt.model import QDQ_PRECISION_KEY, QDQ_TARGET_KEY

TARGETS = ("tensorrt", "onnxruntime-cpu")
METHODS = ("minmax", "entropy", "percentile")
#: Ops whose inputs TensorRT wants quantized (it fuses Q/DQ into these kernels).
TRT_WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
#: Ops between a weighted op and an Add that still make its output the "conv branch".
_CONV_TAIL_OPS = ("BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSwish",
                  "Dropout", "Identity")
#: The model metadata build reads to refuse a Q/DQ model made for the other backend:
#: one definition, in the pure TensorRT decisions module that checks it.
META_TARGET = QDQ_TARGET_KEY
META_PRECISION = QDQ_PRECISION_KEY
#: Bins of the cached value histogram (entropy, fp8 'distribution' which needs >= 512, min/max).
#: ONNX Runtime's entropy search is quadratic in bins: 512 costs ~0.07 s per tensor.
NUM_BINS = 512
#: Bins of the |value| histogram for percentile (ONNX Runtime's default for that method).
NUM_ABS_BINS = 2048
#: Quantized bins for the entropy search: 128, as TensorRT's entropy calibrator uses.
NUM_QUANTIZED_BINS = 128
_CACHE_FORMAT = 1

Feed = dict[str, np.ndarray]
Progress = Callable[[int, int], None]


# --------------------------------------------------------------------------- placement


@dataclass(frozen=True)
class Placement:
    """Which nodes ONNX Runtime quantizes, and which Add inputs stay float afterwards."""

    nodes: tuple[str, ...]
    op_types: tuple[str, ...]
    #: Add node name -> the input index left float (the conv branch TensorRT fuses the Add into).
    float_add_inputs: dict[str, int] = field(default_factory=dict)


def check_exclusions(model: Any, exclude_nodes: Iterable[str], exclude_ops: Iterable[str],
                     where: str = "exclude_nodes") -> None:
    """Fail naming the first excluded node / op type the model does not have.

    Raises:
        UsageError: with a close-match suggestion.
    """
    names = [n.name for n in model.graph.node]
    for name in exclude_nodes:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            raise UsageError(f"{where}: the model has no node '{name}'",
                             f"did you mean '{close[0]}'?" if close else
                             "list node names with: trtc inspect MODEL.onnx --json")
    ops = sorted({n.op_type for n in model.graph.node})
    for op in exclude_ops:
        if op not in ops:
            close = difflib.get_close_matches(op, ops, n=1)
            raise UsageError(f"exclude_ops: the model has no '{op}' node",
                             f"did you mean '{close[0]}'?" if close else
                             f"op types in the model: {', '.join(ops)}")


def plan_placement(model: Any, target: str, exclude_nodes: Iterable[str] = (),
                   exclude_ops: Iterable[str] = ()) -> Placement:
    """Decide where Q/DQ go for ``target`` (pure: reads the graph, changes nothing).

    Raises:
        ModelError: no node of the model can be quantized for this target.
    """
    skip_nodes, skip_ops = set(exclude_nodes), set(exclude_ops)
    if target == "tensorrt":
        placement = _trt_placement(model, skip_nodes, skip_ops)
        wanted = "Conv, ConvTranspose, Gemm, MatMul or residual Add"
    else:
        ops = tuple(sorted(set(_ort_default_ops()) - skip_ops))
        nodes = tuple(n.name for n in model.graph.node
                      if n.op_type in ops and n.name not in skip_nodes)
        placement = Placement(nodes, ops)
        wanted = "op that ONNX Runtime quantizes"
    ops_of = {n.name: n.op_type for n in model.graph.node}
    useful = [n for n in placement.nodes if target != "tensorrt" or ops_of[n] != "Add"]
    if not useful:
        raise ModelError(f"the model has no quantizable nodes (no {wanted} left"
                         f"{' after exclusions' if skip_nodes or skip_ops else ''})",
                         "quantize a model with Conv/Gemm/MatMul layers, or use "
                         "--precision fp16")
    return placement


def _ort_default_ops() -> list[str]:
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return sorted(set(QDQRegistry) | set(QLinearOpsRegistry))


def _trt_placement(model: Any, skip_nodes: set[str], skip_ops: set[str]) -> Placement:
    graph = model.graph
    constants = {i.name for i in graph.initializer} | {
        o for n in graph.node if n.op_type == "Constant" for o in n.output}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, int] = {}
    for n in graph.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    graph_outputs = {o.name for o in graph.output}

    def conv_branch(tensor: str) -> bool:
        """Conv, Conv-BN, Conv-BN-Act, ...: a weighted op's own output, used only here."""
        seen = 0
        while tensor in producer and seen < 4:
            node = producer[tensor]
            if consumers.get(tensor, 0) != 1 or tensor in graph_outputs:
                return False
            if node.op_type in TRT_WEIGHTED_OPS:
                return True
            if node.op_type not in _CONV_TAIL_OPS:
                return False
            tensor, seen = node.input[0], seen + 1
        return False

    nodes: list[str] = []
    float_inputs: dict[str, int] = {}
    for node in graph.node:
        if node.name in skip_nodes or node.op_type in skip_ops:
            continue
        if node.op_type in TRT_WEIGHTED_OPS:
            nodes.append(node.name)
        elif node.op_type == "Add" and len(node.input) == 2 and \
                not any(i in constants for i in node.input):
            # NVIDIA: Q/DQ on every Add input except one conv branch, which the Add fuses into.
            conv_inputs = [k for k, t in enumerate(node.input) if conv_branch(t)]
            if conv_inputs:
                float_inputs[node.name] = conv_inputs[0]
            nodes.append(node.name)
    ops = tuple(op for op in (*TRT_WEIGHTED_OPS, "Add") if op not in skip_ops)
    return Placement(tuple(nodes), ops, float_inputs)


# --------------------------------------------------------------------------- calibration


@dataclass
class Collection:
    """What one calibration pass saw: per tensor a value histogram and an |value| histogram.

    ``value[name] = (hist, edges, min, max, threshold)`` and ``absolute[name] =
    (hist, edges, min, max)``, in ONNX Runtime's ``HistogramCollector`` layouts, so
    its range computations run on them unchanged.
    """

    value: dict[str, tuple[np.ndarray, ...]]
    absolute: dict[str, tuple[np.ndarray, ...]]
    batches: int
    key: str = ""


@dataclass
class CalibrationResult:
    """A collection and how it was obtained (``runs`` = calibration model inferences now)."""

    collection: Collection
    cache_hit: bool
    runs: int
    cache_path: Path | None


def cache_key(model_sha256: str, data_fingerprint: str) -> str:
    """Key of a cached collection: the model, the data and the collection settings."""
    text = f"{_CACHE_FORMAT}:{model_sha256}:{data_fingerprint}:{NUM_BINS}:{NUM_ABS_BINS}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@contextlib.contextmanager
def _quiet_stdout() -> Any:
    """ONNX Runtime's calibrators print progress to stdout, where it would corrupt --json."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def collect(model_path: Path, feeds: Sequence[Feed], progress: Progress | None = None
            ) -> Collection:
    """Run the calibration model once over ``feeds``, collecting every float tensor.

    Raises:
        DataError: ONNX Runtime rejects a feed (wrong name, shape or dtype).
    """
    from onnxruntime.quantization.calibrate import (
        CalibrationMethod,
        HistogramCollector,
        create_calibrator,
    )

    from trtc.errors import DataError

    with tempfile.TemporaryDirectory(prefix="trtc-calib-") as tmp, _quiet_stdout():
        calibrator = create_calibrator(
            Path(model_path), None, augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.Entropy, extra_options={"num_bins": NUM_BINS})
        session = calibrator.infer_session
        names = [o.name for o in session.get_outputs()]
        wanted = set(calibrator.tensors_to_calibrate)
        value = HistogramCollector("entropy", False, NUM_BINS, NUM_QUANTIZED_BINS, 99.999, "same")
        absolute = HistogramCollector("percentile", True, NUM_ABS_BINS, NUM_QUANTIZED_BINS,
                                      99.999, "same")
        for i, feed in enumerate(feeds):
            try:
                outputs = session.run(None, feed)
            except Exception as exc:  # ORT raises its own InvalidArgument/Fail classes
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise DataError(f"calibration batch {i}: ONNX Runtime rejected the data: "
                                f"{first}", "make the calibration data match the model's "
                                "inputs (names, shapes, dtypes)") from None
            for name, out in zip(names, outputs):
                if name in wanted:
                    _collect_one(value, absolute, name, np.asarray(out).copy(), i)
            if progress is not None:
                progress(i + 1, len(feeds))
    return Collection(value.histogram_dict, absolute.histogram_dict, len(feeds))


def _collect_one(value: Any, absolute: Any, name: str, array: np.ndarray, batch: int) -> None:
    """Add one tensor of one batch to both histograms, naming it if ONNX Runtime cannot."""
    from trtc.errors import DataError

    try:
        value.collect({name: [array]})
        absolute.collect({name: [array]})
    except ValueError as exc:  # numpy: "Too many bins for data range" (e.g. a constant 1e5)
        span = f"{float(array.min()):g}..{float(array.max()):g}" if array.size else "empty"
        raise DataError(f"calibration batch {batch}: tensor '{name}' (values {span}) cannot be "
                        f"binned by ONNX Runtime's histogram: {str(exc).splitlines()[0]}",
                        "nearly constant values far from 0 cannot be binned: calibrate on "
                        "varied, real samples, in larger batches (--calib-batch)") from None


def calibrate(model_path: Path, feeds: Sequence[Feed], data_fingerprint: str,
              cache_dir: Path | None, progress: Progress | None = None) -> CalibrationResult:
    """Collect statistics, or load them from ``cache_dir`` when this model and data were seen."""
    from trtc.workspace import sha256_file

    key = cache_key(sha256_file(model_path), data_fingerprint)
    path = cache_dir / f"{key}.npz" if cache_dir is not None else None
    if path is not None and path.is_file():
        cached = load_collection(path)
        if cached is not None:
            return CalibrationResult(cached, True, 0, path)
    collection = collect(model_path, feeds, progress)
    collection.key = key
    if path is not None:
        save_collection(collection, path)
    return CalibrationResult(collection, False, len(feeds), path)


def save_collection(collection: Collection, path: Path) -> None:
    """Write a collection as one .npz (no pickles), atomically."""
    from trtc.workspace import atomic_path

    arrays: dict[str, np.ndarray] = {}
    names = sorted(collection.value)
    for i, name in enumerate(names):
        for j, part in enumerate(collection.value[name]):
            arrays[f"v{i}_{j}"] = np.asarray(part)
        for j, part in enumerate(collection.absolute.get(name, ())):
            arrays[f"a{i}_{j}"] = np.asarray(part)
    index = {"format": _CACHE_FORMAT, "names": names, "batches": collection.batches,
             "key": collection.key}
    arrays["index"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load_collection(path: Path) -> Collection | None:
    """Read a cached collection; None when it is unreadable or from another format."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            index = json.loads(bytes(npz["index"]).decode())
            if index.get("format") != _CACHE_FORMAT:
                return None
            value, absolute = {}, {}
            for i, name in enumerate(index["names"]):
                value[name] = tuple(npz[f"v{i}_{j}"] for j in range(5))
                absolute[name] = tuple(npz[f"a{i}_{j}"] for j in range(4))
    except (OSError, ValueError, KeyError):
        return None
    return Collection(value, absolute, int(index["batches"]), str(index.get("key", "")))


class RangeBook:
    """Per-method tensor ranges computed from a collection, memoised and kept on disk.

    The quantizer asks for the tensors it needs; ranges already computed (in
    this process or an earlier one, ``<cache>.<method>.json``) are not computed
    again, so a budget search quantizing the model many times stays cheap.
    """

    def __init__(self, collection: Collection, cache_path: Path | None = None,
                 percentile: float = 99.999) -> None:
        self.collection = collection
        self.cache_path = cache_path
        self.percentile = percentile
        self._done: dict[str, dict[str, Any]] = {}

    def _file(self, method: str) -> Path | None:
        if self.cache_path is None:
            return None
        suffix = f"p{self.percentile:g}" if method == "percentile" else ""
        return self.cache_path.with_suffix(f".{method}{suffix}.json")

    def __call__(self, method: str, names: Iterable[str] | None = None) -> Any:
        """Return ONNX Runtime ``TensorsData`` for ``method`` and the tensors in ``names``."""
        from onnxruntime.quantization.calibrate import (
            TensorsData,
            load_tensors_data,
            save_tensors_data,
        )

        enum = _method_enum(method)
        done = self._done.get(method)
        path = self._file(method)
        if done is None:
            done = {}
            if path is not None and path.is_file():
                with contextlib.suppress(Exception):  # a damaged cache is recomputed
                    done = dict(load_tensors_data(path).data)
            self._done[method] = done
        wanted = set(self.collection.value if names is None else names) & \
            set(self.collection.value)
        missing = sorted(wanted - set(done))
        if missing:
            done.update(compute_ranges(self.collection, method, missing, self.percentile).data)
            if path is not None:
                from trtc.workspace import atomic_path

                with atomic_path(path) as tmp:
                    save_tensors_data(TensorsData(enum, done), tmp)
        return TensorsData(enum, {k: done[k] for k in sorted(wanted)})


def _method_enum(method: str) -> Any:
    from onnxruntime.quantization.calibrate import CalibrationMethod

    enums = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
             "percentile": CalibrationMethod.Percentile,
             "distribution": CalibrationMethod.Distribution}
    if method not in enums:
        raise UsageError(f"unknown calibration method {method!r}",
                         f"use one of: {', '.join(METHODS)}")
    return enums[method]


def compute_ranges(collection: Collection, method: str, names: Iterable[str] | None = None,
                   percentile: float = 99.999) -> Any:
    """Return ONNX Runtime ``TensorsData`` for ``method`` from a collection (no inference).

    ``method`` is minmax, entropy, percentile or distribution (fp8); the range
    math is ONNX Runtime's ``HistogramCollector``.
    """
    from onnxruntime.quantization.calibrate import HistogramCollector, TensorsData

    enum = _method_enum(method)
    keep = set(names) if names is not None else set(collection.value)
    value = {k: v for k, v in collection.value.items() if k in keep}
    if method == "minmax":
        return TensorsData(enum, {
            k: (np.asarray(v[2], dtype=np.float32), np.asarray(v[3], dtype=np.float32))
            for k, v in value.items()})
    if method == "percentile":
        hists = {k: v for k, v in collection.absolute.items() if k in keep}
        collector = HistogramCollector("percentile", True, NUM_ABS_BINS, NUM_QUANTIZED_BINS,
                                       percentile, "same")
    else:
        hists = value
        collector = HistogramCollector(method, False, NUM_BINS, NUM_QUANTIZED_BINS, percentile,
                                       "same")
    if not hists:
        return TensorsData(enum, {})
    collector.histogram_dict = {k: tuple(v) for k, v in hists.items()}
    with _quiet_stdout():
        result = collector.compute_collection_result()
    return TensorsData(enum, result)


def plain_ranges(ranges: Any) -> dict[str, tuple[float, float]]:
    """Per-tensor (low, high) floats from ``TensorsData`` (for calibration.json and fp16)."""
    out = {}
    for name, data in ranges.items():
        lo, hi = data.range_value
        out[name] = (float(np.min(lo)), float(np.max(hi)))
    return out


# --------------------------------------------------------------------------- quantize


@dataclass(frozen=True)
class QuantizeOptions:
    """Resolved settings for one Q/DQ quantization (from the recipe's quantize section)."""

    precision: str = "int8"            # int8 | fp8
    target: str = "tensorrt"
    method: str = "minmax"
    exclude_nodes: tuple[str, ...] = ()
    exclude_ops: tuple[str, ...] = ()
    percentile: float = 99.999


def preprocess(model_path: Path, out_path: Path) -> list[str]:
    """Write the model ONNX Runtime's quantizer works on to ``out_path``; return warnings.

    ONNX Runtime's quantization pre-processing with shape inference only: graph
    optimisation is skipped so node names stay the user's (exclusions name them;
    trtc's export already folded BatchNorm and constants). Where it fails (e.g.
    symbolic shape inference on an unusual op) the model is used as it is, with a
    warning. Unnamed nodes get stable names (``<op>_<index>``) so that every node
    can be excluded, ranked and reported.
    """
    import onnx
    from onnxruntime.quantization import quant_pre_process

    warnings: list[str] = []
    try:
        with _quiet_stdout():
            quant_pre_process(str(model_path), str(out_path), skip_optimization=True)
        model = onnx.load(str(out_path))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        warnings.append(f"ONNX Runtime's quantization pre-processing failed ({first}); "
                        "quantizing the model as it is")
        from trtc.graph.cleanup import load_onnx

        model = load_onnx(model_path)
    if name_nodes(model.graph) or not out_path.is_file():
        onnx.save(model, str(out_path))
    return warnings


def quantize_qdq(model: Any, ranges_for: Callable[[str, Sequence[str]], Any],
                 options: QuantizeOptions, extra_exclude: Iterable[str] = ()) -> Any:
    """Return a Q/DQ copy of ``model`` for ``options.target`` (``model`` is left untouched).

    ``ranges_for(method, tensor_names)`` returns ONNX Runtime ``TensorsData``;
    it is called with the cached collection, so this never runs the model.
    """
    from onnxruntime.quantization import QDQQuantizer, QuantType
    from onnxruntime.quantization.quant_utils import update_opset_version

    excluded = (*options.exclude_nodes, *extra_exclude)
    placement = plan_placement(model, options.target, excluded, options.exclude_ops)
    work = copy.deepcopy(model)
    if options.precision == "fp8":
        qtype = QuantType.QFLOAT8E4M3FN
        method = "distribution"  # ONNX Runtime's only calibration for float8
    else:
        method = options.method
        qtype = QuantType.QInt8
    act_type = QuantType.QUInt8 if options.target == "onnxruntime-cpu" and \
        options.precision == "int8" else qtype
    if options.target == "tensorrt":
        extra: dict[str, Any] = {
            "ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
            "DedicatedQDQPair": True,
            "OpTypesToExcludeOutputQuantization": list(placement.op_types)}
    else:
        extra = {}
    work = update_opset_version(work, qtype, act_type)
    ranges = ranges_for(method, _activation_names(work, placement))
    with _quiet_stdout():
        quantizer = QDQQuantizer(work, options.precision == "int8", False, qtype, act_type,
                                 ranges, list(placement.nodes), list(excluded),
                                 list(placement.op_types), extra)
        try:
            out = quantizer.quantize_model()
        except ValueError as exc:  # e.g. an all-zero weight gives fp8 a NaN scale
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise ModelError(f"ONNX Runtime's quantizer cannot quantize this model to "
                             f"{options.precision}: {first}",
                             "keep the layer it names in float (--exclude-nodes), or use "
                             "another precision") from None
    _restore_float_inputs(out, [*placement.float_add_inputs.items(),
                                *((name, None) for name in excluded)])
    set_metadata(out, options.target, options.precision)
    return out


def _activation_names(model: Any, placement: Placement) -> list[str]:
    nodes = set(placement.nodes)
    return sorted({t for n in model.graph.node if n.name in nodes for t in (*n.input, *n.output)
                   if t})


def _restore_float_inputs(model: Any, float_inputs: Iterable[tuple[str, int | None]]) -> None:
    """Feed float tensors back to (node, input index | None = every input) past Q/DQ pairs.

    ONNX Runtime quantizes a tensor once for all its readers, so a node left in
    float (excluded, or an Add's conv branch) may still read the DequantizeLinear
    output another node asked for; here it reads the original tensor again, and
    Q/DQ nodes nobody reads any more are dropped.
    """
    graph = model.graph
    wanted: dict[str, set[int] | None] = {}
    for name, index in float_inputs:
        if index is None:
            wanted[name] = None
        elif wanted.get(name, set()) is not None:
            wanted.setdefault(name, set()).add(index)  # type: ignore[union-attr]
    producer = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.name not in wanted:
            continue
        indices = wanted[node.name]
        for k, tensor in enumerate(node.input):
            if indices is not None and k not in indices:
                continue
            dq = producer.get(tensor)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            qnode = producer.get(dq.input[0])
            if qnode is not None and qnode.op_type == "QuantizeLinear":
                node.input[k] = qnode.input[0]
    _drop_unread(model)


def _drop_unread(model: Any) -> None:
    graph = model.graph
    outputs = {o.name for o in graph.output}
    changed = True
    while changed:
        read = {i for n in graph.node for i in n.input} | outputs
        dead = [n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                and not any(o in read for o in n.output)]
        for n in dead:
            graph.node.remove(n)
        changed = bool(dead)
    read = {i for n in graph.node for i in n.input} | outputs
    for init in [i for i in graph.initializer if i.name not in read]:
        graph.initializer.remove(init)


def set_metadata(model: Any, target: str | None, precision: str) -> None:
    """Record target and precision in the model (build refuses a model made for another target).

    ``target`` None (fp16/bf16: plain casts, no Q/DQ) leaves the target key out,
    so every backend accepts the model.
    """
    for entry in [p for p in model.metadata_props if p.key in (META_TARGET, META_PRECISION)]:
        model.metadata_props.remove(entry)
    for key, value in ((META_TARGET, target), (META_PRECISION, precision)):
        if value is not None:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value


def read_metadata(model: Any) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props if p.key.startswith("trtc.")}


def qdq_summary(model: Any) -> dict[str, Any]:
    """Count Q/DQ nodes and list the nodes that read a DequantizeLinear output."""
    producer = {o: n for n in model.graph.node for o in n.output}
    quantized = sorted({n.name for n in model.graph.node
                        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and
                        any(producer.get(i) is not None and
                            producer[i].op_type == "DequantizeLinear" for i in n.input)})
    ops = [n.op_type for n in model.graph.node]
    return {"quantize_linear": ops.count("QuantizeLinear"),
            "dequantize_linear": ops.count("DequantizeLinear"),
            "quantized_nodes": quantized}
