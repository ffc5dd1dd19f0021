"""Prune an ONNX model: 2:4 structured sparsity, unstructured magnitude, or whole channels.

Three methods with three different promises, reported as such:

* ``2:4`` zeroes the 2 smallest-magnitude weights in every group of 4 consecutive
  weights along the reduction (input-channel) axis of Conv / Gemm / MatMul
  weights -- the layout TensorRT's sparse tensor-core kernels read (Ampere and
  newer, fp16/int8, ``kSPARSE_WEIGHTS``). Dense runtimes (ONNX Runtime) run it
  at the same speed; FLOPs are reported dense.
* ``magnitude`` zeroes the smallest ``ratio`` of each layer's weights
  (per layer, not global: layers have very different weight scales, and a
  global threshold would empty whole small-scale layers). It changes how well
  the file compresses, not how fast it runs.
* ``channel`` removes whole output channels (lowest L1 norm of the producer's
  filters) from Conv(->BN)->activation->Conv and Conv->...->Flatten->Gemm chains and
  shrinks every weight that reads them. The graph gets smaller: a real FLOP cut
  on every backend. Channels that reach a residual Add, a Concat, a graph output
  or an op we do not understand are left alone, with the reason reported.

Pure numpy decisions (``mask_2_4``, ``magnitude_mask``, ``channels_to_keep``) are
separate from the graph work (onnx-graphsurgeon), which is separate from the
bookkeeping (params / FLOPs / size before and after, per layer and in total).
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtc.errors import ModelError, UsageError
from trtc.recipe import PruneSpec

WEIGHT_OPS = ("Conv", "Gemm", "MatMul")
#: Below this many weights a layer is not worth a sparse kernel (launch and
#: metadata overheads dominate); TensorRT keeps such layers dense anyway.
MIN_SPARSE_WEIGHTS = 1024
_FLOAT_TYPES = (np.float16, np.float32, np.float64)

#: Elementwise ops: a channel removed before them is simply absent after them.
ELEMENTWISE_OPS = frozenset({
    "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu",
    "Selu", "Celu", "Softplus", "Softsign", "Gelu", "Mish", "Identity", "Dropout",
})
#: Pooling keeps NCHW channels independent (channel axis 1: only after a Conv).
POOL_OPS = frozenset({"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool"})

GZIP_LEVEL = 6

# --------------------------------------------------------------------------- pure numpy


def mask_2_4(weights: np.ndarray, axis: int) -> np.ndarray:
    """Return the keep-mask of 2:4 sparsity: the 2 largest |w| of each group of 4 along ``axis``.

    Ties keep the earlier weight (stable sort), so the result is deterministic.

    Raises:
        ValueError: the axis length is not a multiple of 4.
    """
    axis = axis % weights.ndim
    length = weights.shape[axis]
    if length % 4:
        raise ValueError(f"axis {axis} has {length} elements, not a multiple of 4")
    moved = np.moveaxis(weights, axis, -1)
    groups = np.abs(moved).reshape(*moved.shape[:-1], length // 4, 4)
    order = np.argsort(groups, axis=-1, kind="stable")
    keep = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(keep, order[..., 2:], True, axis=-1)
    return np.moveaxis(keep.reshape(moved.shape), -1, axis)


def is_2_4_sparse(weights: np.ndarray, axis: int) -> bool:
    """Tell whether every group of 4 along ``axis`` has at least 2 zeros (TensorRT's check)."""
    axis = axis % weights.ndim
    length = weights.shape[axis]
    if length % 4:
        return False
    moved = np.moveaxis(weights, axis, -1)
    groups = moved.reshape(*moved.shape[:-1], length // 4, 4)
    return bool((np.count_nonzero(groups, axis=-1) <= 2).all())


def magnitude_mask(weights: np.ndarray, ratio: float) -> np.ndarray:
    """Return the keep-mask that zeroes the ``round(ratio * size)`` smallest |w| of one tensor."""
    flat = np.abs(weights).ravel()
    n_zero = int(round(ratio * flat.size))
    keep = np.ones(flat.size, dtype=bool)
    keep[np.argsort(flat, kind="stable")[:n_zero]] = False
    return keep.reshape(weights.shape)


def channels_to_keep(weights: np.ndarray, ratio: float, multiple: int = 1) -> np.ndarray:
    """Return the sorted indices of the output channels (axis 0) with the highest L1 norm.

    ``floor(K * ratio)`` channels go; the number kept is rounded up to ``multiple``
    (tensor cores like channel counts that are multiples of 8) and is at least 1.
    """
    count = weights.shape[0]
    l1 = np.abs(weights.reshape(count, -1)).sum(axis=1)
    n_keep = max(1, count - int(math.floor(count * ratio + 1e-9)))
    n_keep = min(count, math.ceil(n_keep / max(1, multiple)) * max(1, multiple))
    return np.sort(np.argsort(-l1, kind="stable")[:n_keep])


def zeros_fraction(arrays: Iterable[np.ndarray]) -> float:
    """Fraction of exactly-zero elements over all arrays (0.0 for none)."""
    arrays = list(arrays)
    total = sum(a.size for a in arrays)
    return sum(a.size - np.count_nonzero(a) for a in arrays) / total if total else 0.0


# --------------------------------------------------------------------------- reports


@dataclass
class LayerReport:
    """One Conv / Gemm / MatMul: what happened to its weight, and why not if skipped."""

    name: str
    op: str
    weight: str
    status: str  # "pruned" | "skipped"
    reason: str = ""
    shape_before: list[int] = field(default_factory=list)
    shape_after: list[int] = field(default_factory=list)
    params_before: int = 0
    params_after: int = 0
    flops_before: int | None = None
    flops_after: int | None = None
    zeros_before: float = 0.0
    zeros_after: float = 0.0


@dataclass
class ChainReport:
    """One channel-pruning chain: producer, the layers that read its channels, the cut."""

    producer: str
    consumers: list[str]
    channels_before: int
    channels_after: int
    status: str  # "pruned" | "skipped"
    reason: str = ""


@dataclass
class PruneReport:
    """What a prune did, per layer and in total; ``to_dict`` goes into the manifest."""

    method: str
    ratio: float | None
    source: str
    output: str
    layers: list[LayerReport]
    chains: list[ChainReport]
    before: dict[str, Any]
    after: dict[str, Any]
    note: str

    @property
    def pruned_layers(self) -> list[LayerReport]:
        return [layer for layer in self.layers if layer.status == "pruned"]

    def to_dict(self) -> dict[str, Any]:
        change = {k: _ratio(self.after.get(k), v) for k, v in self.before.items()
                  if isinstance(v, int) and not isinstance(v, bool)}
        return {"method": self.method, "ratio": self.ratio, "source": self.source,
                "output": self.output, "before": self.before, "after": self.after,
                "after_over_before": change, "note": self.note,
                "layers_pruned": len(self.pruned_layers),
                "layers_skipped": len(self.layers) - len(self.pruned_layers),
                "layers": [asdict(layer) for layer in self.layers],
                "chains": [asdict(chain) for chain in self.chains]}


def _ratio(after: Any, before: Any) -> float | None:
    if not isinstance(after, (int, float)) or not before:
        return None
    return round(after / before, 4)


NOTES = {
    "2:4": "2:4 sparsity runs faster only on TensorRT sparse tensor cores (Ampere or newer, "
           "fp16/int8, sparsity enabled in the build); FLOPs are counted dense and ONNX "
           "Runtime runs the model at the same speed",
    "magnitude": "unstructured zeros make the file compress better (see gzip_bytes); dense "
                 "kernels run at the same speed, so this is not a speedup",
    "channel": "whole channels removed: fewer params and FLOPs on every backend; accuracy "
               "changes without fine-tuning, check it with trtc verify",
}


# --------------------------------------------------------------------------- entry point


def check_ratio(method: str, ratio: float, where: str = "--ratio") -> None:
    """Reject a ratio that makes no sense for the method (2:4 ignores it).

    Raises:
        UsageError: ``ratio`` is not in (0, 1) for magnitude / channel pruning.
    """
    if method != "2:4" and not 0.0 < ratio < 1.0:
        raise UsageError(f"{where} {ratio:g} is out of range for --method {method}: it must be "
                         "between 0 and 1 (exclusive)",
                         "e.g. --ratio 0.3 removes 30 % of the channels / weights")


def prune_model(src: str | Path, dst: str | Path, spec: PruneSpec) -> PruneReport:
    """Prune ``src`` into ``dst`` with ``spec.method``; write nothing if nothing is eligible.

    Raises:
        UsageError: the ratio is out of range, or an excluded node is not in the model.
        ModelError: the model cannot be read, has nothing eligible for the method, or
            the pruned graph fails the ONNX checker.
    """
    import onnx
    import onnx_graphsurgeon as gs

    from trtc.graph.cleanup import check_and_infer, load_onnx, save_onnx
    from trtc.graph.inspect import summarize_model
    from trtc.optimize.quantize import check_exclusions
    from trtc.workspace import atomic_path

    check_ratio(spec.method, spec.ratio)
    src, dst = Path(src), Path(dst)
    model = load_onnx(src)
    check_exclusions(model, spec.exclude, (), where="prune.exclude")
    shapes_before = static_shapes(model)
    graph = gs.import_onnx(model)
    exclude = set(spec.exclude)
    weights_before = {name: arr.copy() for name, arr in _layer_weights(graph).items()}
    chains: list[ChainReport] = []
    if spec.method == "channel":
        chains = prune_channels(graph, spec.ratio, spec.channel_multiple, exclude, shapes_before)
        touched = _touched_layers(chains)
        skipped = {c.producer: c.reason for c in chains if c.status == "skipped"}
        decisions = {name: "" if name in touched else
                     skipped.get(name, "not part of a prunable chain") for name in
                     _layer_names(graph)}
    else:
        decisions = sparsify_weights(graph, spec.method, spec.ratio, exclude)
    if not any(reason == "" for reason in decisions.values()):
        raise ModelError(f"{src}: nothing to prune with --method {spec.method}: "
                         f"{_why_nothing(decisions, chains)}", _hint_nothing(spec.method))
    _forget_shapes(graph)
    pruned = gs.export_onnx(graph.cleanup().toposort())
    pruned.ir_version = model.ir_version
    # Keep the source's metadata and say what was done: verify reads this to judge a
    # pruned model by its task metric rather than by FP32 tolerances.
    props = {p.key: p.value for p in model.metadata_props}
    props.update({"trtc.prune.method": spec.method,
                  "trtc.prune.ratio": "" if spec.method == "2:4" else f"{spec.ratio:g}"})
    onnx.helper.set_model_props(pruned, props)
    pruned = check_and_infer(pruned, f"{dst} (pruned)")
    with atomic_path(dst) as staged:
        save_onnx(pruned, staged)
    shapes_after = static_shapes(pruned)
    after_graph = gs.import_onnx(pruned)
    layers = _layer_reports(gs.import_onnx(model), after_graph, decisions, shapes_before,
                            shapes_after)
    compress = spec.method != "channel"
    before = _totals(summarize_model(src), src, weights_before.values(), compress)
    after = _totals(summarize_model(dst), dst, _layer_weights(after_graph).values(), compress)
    return PruneReport(spec.method, None if spec.method == "2:4" else spec.ratio, str(src),
                       str(dst), layers, chains, before, after, NOTES[spec.method])


def _why_nothing(decisions: Mapping[str, str], chains: list[ChainReport]) -> str:
    if not decisions:
        return "the model has no Conv, Gemm or MatMul"
    reasons: dict[str, list[str]] = {}
    for name, reason in decisions.items():
        reasons.setdefault(reason, []).append(name)
    parts = [f"{reason} ({', '.join(names[:2])}{', ...' if len(names) > 2 else ''})"
             for reason, names in sorted(reasons.items(), key=lambda kv: -len(kv[1]))[:3]]
    prefix = f"{len(chains)} chain(s) skipped; " if chains else ""
    return prefix + "; ".join(parts)


def _hint_nothing(method: str) -> str:
    if method == "2:4":
        return ("2:4 needs constant Conv/Gemm/MatMul weights with input channels a multiple "
                "of 4 and at least 1024 weights; run trtc prune --json to see every layer")
    if method == "channel":
        return ("channel pruning needs a Conv whose output reaches only other Convs or a "
                "Flatten->Gemm through BN / activations / pooling; try --method magnitude")
    return "magnitude pruning needs constant float Conv/Gemm/MatMul weights"


def _totals(summary: Any, path: Path, weights: Iterable[np.ndarray],
            compress: bool) -> dict[str, Any]:
    totals: dict[str, Any] = {"params": summary.parameter_count, "flops": summary.flops,
                              "size_bytes": summary.size_bytes,
                              "weight_zeros_fraction": round(zeros_fraction(weights), 4)}
    if compress:
        totals["gzip_bytes"] = len(gzip.compress(path.read_bytes(), GZIP_LEVEL))
    return totals


# --------------------------------------------------------------------------- shapes


def static_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Return every tensor shape shape inference can fix, with dynamic input dims set to 1."""
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for vi in probe.graph.input:
        for dim in vi.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.dim_value = 1
    del probe.graph.value_info[:]
    try:
        probe = onnx.shape_inference.infer_shapes(probe, data_prop=True)
    except Exception:  # noqa: BLE001 - per-layer FLOPs are then unknown, nothing worse
        return {}
    shapes: dict[str, tuple[int, ...]] = {
        t.name: tuple(int(d) for d in t.dims) for t in probe.graph.initializer}
    for vi in (*probe.graph.input, *probe.graph.value_info, *probe.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = tuple(int(d.dim_value) for d in dims)
    return shapes


def _forget_shapes(graph: Any) -> None:
    """Drop the shapes of inner tensors: pruning changed channel counts; inference redoes them."""
    import onnx_graphsurgeon as gs

    io = {t.name for t in (*graph.inputs, *graph.outputs)}
    for tensor in graph.tensors().values():
        if isinstance(tensor, gs.Variable) and tensor.name not in io:
            tensor.shape = None


# --------------------------------------------------------------------------- layers


def _weight_of(node: Any) -> tuple[Any, int] | tuple[None, str]:
    """Return (constant weight, reduction axis) of a Conv/Gemm/MatMul, or (None, why not)."""
    import onnx_graphsurgeon as gs

    if len(node.inputs) < 2:
        return None, "no weight input"
    weight = node.inputs[1]
    if not isinstance(weight, gs.Constant):
        return None, "weight is not a constant initializer"
    values = weight.values
    if values.dtype.type not in _FLOAT_TYPES:
        return None, f"weight dtype {values.dtype} is not float (prune before quantizing)"
    if node.op == "Conv":
        if values.ndim < 3:
            return None, f"Conv weight of rank {values.ndim}"
        return weight, 1
    if node.op == "Gemm":
        if values.ndim != 2:
            return None, f"Gemm weight of rank {values.ndim}"
        return weight, 1 if node.attrs.get("transB", 0) else 0
    if values.ndim < 2:
        return None, "1-D MatMul weight"
    return weight, values.ndim - 2


def _layer_names(graph: Any) -> list[str]:
    return [node.name for node in graph.nodes if node.op in WEIGHT_OPS]


def _layer_weights(graph: Any) -> dict[str, np.ndarray]:
    """Constant float weights of all Conv/Gemm/MatMul, by initializer name."""
    out = {}
    for node in graph.nodes:
        if node.op in WEIGHT_OPS:
            weight, _ = _weight_of(node)
            if weight is not None:
                out[weight.name] = np.asarray(weight.values)
    return out


def sparsity_eligibility(node: Any) -> tuple[int | None, str]:
    """Return (reduction axis, "") if 2:4 applies to this layer, else (None, why not).

    TensorRT's rule: for weights [K, C, R, S], each group of 4 consecutive input
    channels C for a given (k, r, s) has at least 2 zeros, with C % 4 == 0;
    grouped and depthwise convolutions have no sparse kernels.
    """
    weight, axis = _weight_of(node)
    if weight is None:
        return None, str(axis)
    assert isinstance(axis, int)
    values = weight.values
    if node.op == "Conv" and int(node.attrs.get("group", 1)) != 1:
        kind = "depthwise" if values.shape[1] == 1 else "grouped"
        return None, f"{kind} Conv (group={node.attrs['group']}): no sparse kernels"
    channels = values.shape[axis]
    if channels % 4:
        return None, f"reduction dim C={channels} is not a multiple of 4"
    if values.size < MIN_SPARSE_WEIGHTS:
        return None, f"too small ({values.size} weights < {MIN_SPARSE_WEIGHTS})"
    return axis, ""


def sparsify_weights(graph: Any, method: str, ratio: float,
                     exclude: set[str]) -> dict[str, str]:
    """Zero weights in place (2:4 or magnitude); return each layer's skip reason ("" = pruned)."""
    decisions: dict[str, str] = {}
    done: set[str] = set()  # a weight shared by several layers is pruned once
    for node in graph.nodes:
        if node.op not in WEIGHT_OPS:
            continue
        if node.name in exclude:
            decisions[node.name] = "excluded"
            continue
        if method == "2:4":
            axis, reason = sparsity_eligibility(node)
        else:
            weight, why = _weight_of(node)
            axis, reason = (0, "") if weight is not None else (None, str(why))
        decisions[node.name] = reason
        if axis is None:
            continue
        weight = node.inputs[1]
        if weight.name in done:
            continue
        values = np.asarray(weight.values)
        mask = mask_2_4(values, axis) if method == "2:4" else magnitude_mask(values, ratio)
        weight.values = np.where(mask, values, 0).astype(values.dtype)
        done.add(weight.name)
    return decisions


def _layer_flops(node: Any, weight_shape: tuple[int, ...],
                 shapes: Mapping[str, tuple[int, ...]]) -> int | None:
    """Dense FLOPs of one layer (multiply-add = 2) at the probe shapes, None if unknown."""
    out = shapes.get(node.outputs[0].name) if node.outputs else None
    if out is None or not weight_shape:
        return None
    if node.op == "Conv":
        return 2 * math.prod(out) * math.prod(weight_shape[1:])
    if node.op == "Gemm":
        reduction = weight_shape[1] if node.attrs.get("transB", 0) else weight_shape[0]
        return 2 * math.prod(out) * reduction
    return 2 * math.prod(out) * weight_shape[-2]


def _layer_reports(before: Any, after: Any, decisions: Mapping[str, str],
                   shapes_before: Mapping[str, tuple[int, ...]],
                   shapes_after: Mapping[str, tuple[int, ...]]) -> list[LayerReport]:
    after_nodes = {node.name: node for node in after.nodes}
    reports = []
    for node in before.nodes:
        if node.op not in WEIGHT_OPS:
            continue
        reason = decisions.get(node.name, "not considered")
        weight, _ = _weight_of(node)
        new = after_nodes.get(node.name)
        new_weight = _weight_of(new)[0] if new is not None else None
        if weight is None or new_weight is None:
            reports.append(LayerReport(node.name, node.op, node.inputs[1].name
                                       if len(node.inputs) > 1 else "", "skipped",
                                       reason or "weight not found after pruning"))
            continue
        w0, w1 = np.asarray(weight.values), np.asarray(new_weight.values)
        reports.append(LayerReport(
            node.name, node.op, weight.name, "pruned" if reason == "" else "skipped", reason,
            list(w0.shape), list(w1.shape), int(w0.size), int(w1.size),
            _layer_flops(node, w0.shape, shapes_before),
            _layer_flops(new, w1.shape, shapes_after),
            round(zeros_fraction([w0]), 4), round(zeros_fraction([w1]), 4)))
    return reports


# --------------------------------------------------------------------------- channels


@dataclass
class _Chain:
    """A planned channel cut: who produces the channels and every weight that reads them."""

    producer: Any
    out_axis: int  # the producer weight's output-channel axis
    bns: list[Any] = field(default_factory=list)
    convs: list[Any] = field(default_factory=list)  # consumers: shrink W[:, keep]
    # (Gemm/MatMul node, reduction axis of its weight, H*W per channel (1 without a
    # flatten), Reshape whose target shape must shrink too or None)
    flat: list[tuple[Any, int, int, Any]] = field(default_factory=list)


class _Skip(Exception):
    """A chain we do not understand well enough to cut; the message says why."""


def _single_use(tensor: Any) -> bool:
    return len(tensor.outputs) == 1


def _is_plain_conv(node: Any) -> bool:
    import onnx_graphsurgeon as gs

    return (node.op == "Conv" and int(node.attrs.get("group", 1)) == 1 and len(node.inputs) >= 2
            and isinstance(node.inputs[1], gs.Constant) and node.inputs[1].values.ndim >= 3)


def _reduce_keeps_channels(node: Any, rank: int) -> bool:
    import onnx_graphsurgeon as gs

    axes = node.attrs.get("axes")
    if axes is None and len(node.inputs) > 1:
        if not isinstance(node.inputs[1], gs.Constant):
            return False
        axes = node.inputs[1].values.tolist()
    if not axes or not node.attrs.get("keepdims", 1):
        return False  # no axes = reduce everything; keepdims=0 moves the channel axis
    return 1 not in {int(a) % rank for a in axes}


def _output_axis(producer: Any) -> int:
    """The producer weight's output-channel axis, or raise _Skip."""
    if producer.op == "Conv":
        if not _is_plain_conv(producer):
            raise _Skip("grouped Conv or non-constant weight")
        return 0
    weight, _ = _weight_of(producer)
    if weight is None or weight.values.ndim != 2:
        raise _Skip("weight is not a 2-D constant")
    if producer.op == "Gemm":
        if producer.attrs.get("transA", 0):
            raise _Skip("Gemm with transA")
        return 0 if producer.attrs.get("transB", 0) else 1
    return 1


def _plan_chain(producer: Any, graph_outputs: set[str],
                shapes: Mapping[str, tuple[int, ...]]) -> _Chain:
    """Follow the producer's channels to every layer that reads them, or raise _Skip."""
    import onnx_graphsurgeon as gs

    out_axis = _output_axis(producer)
    if not _single_use(producer.inputs[1]):
        raise _Skip("weight shared with another layer")
    count = producer.inputs[1].values.shape[out_axis]
    if len(producer.inputs) > 2 and producer.inputs[2].name:
        bias = producer.inputs[2]
        if not isinstance(bias, gs.Constant) or not _single_use(bias) or \
                bias.values.size not in (1, count) or \
                (bias.values.size == count and bias.values.shape[-1] != count):
            raise _Skip("bias is not a per-channel constant used once")
    chain = _Chain(producer, out_axis)
    frontier = [producer.outputs[0]]
    seen: set[str] = set()
    while frontier:
        tensor = frontier.pop()
        if tensor.name in seen:
            continue
        seen.add(tensor.name)
        if tensor.name in graph_outputs:
            raise _Skip(f"channels reach graph output '{tensor.name}'")
        if not tensor.outputs:
            raise _Skip(f"'{tensor.name}' has no consumer")
        for node in tensor.outputs:
            frontier += _follow(chain, node, tensor, count, shapes)
    if not chain.convs and not chain.flat:
        raise _Skip("no layer reads the channels")
    return chain


def _follow(chain: _Chain, node: Any, tensor: Any, count: int,
            shapes: Mapping[str, tuple[int, ...]]) -> list[Any]:
    """Handle one consumer of a channel tensor; return the tensors to follow further."""
    import onnx_graphsurgeon as gs

    where = f"{node.op} '{node.name}'"
    # After a Gemm/MatMul the channels are the last axis: BN and pooling read axis 1.
    channel_axis_is_1 = chain.producer.op == "Conv" or len(shapes.get(tensor.name, ())) == 2
    if node.op == "BatchNormalization" and channel_axis_is_1:
        params = node.inputs[1:5]
        if node.inputs[0] is not tensor or len(params) != 4 or not all(
                isinstance(p, gs.Constant) and p.values.shape == (count,) and _single_use(p)
                for p in params):
            raise _Skip(f"{where} has non-constant or shared parameters")
        chain.bns.append(node)
        return [node.outputs[0]]
    if node.op in ELEMENTWISE_OPS or (node.op in POOL_OPS and chain.producer.op == "Conv"):
        extra = [t for t in node.inputs[1:] if t is not None and t.name]
        if node.inputs[0] is not tensor or any(
                not isinstance(t, gs.Constant) or t.values.size != 1 for t in extra):
            raise _Skip(f"{where} has per-channel or non-constant parameters")
        return [node.outputs[0]]
    rank = len(shapes.get(tensor.name, ())) or 4
    if node.op == "ReduceMean" and chain.producer.op == "Conv" and \
            _reduce_keeps_channels(node, rank):
        return [node.outputs[0]]
    if node.op == "Conv":
        if node.inputs[0] is not tensor or not _is_plain_conv(node):
            raise _Skip(f"channels feed {where} as other than its data input, or it is grouped")
        if not _single_use(node.inputs[1]):
            raise _Skip(f"{where} shares its weight")
        chain.convs.append(node)
        return []
    if node.op in ("Flatten", "Reshape") and chain.producer.op == "Conv":
        _plan_flatten(chain, node, tensor, count, shapes)
        return []
    if node.op in ("Gemm", "MatMul") and chain.producer.op != "Conv":
        _plan_reader(chain, node, tensor, 1, None)
        return []
    if node.op in ("Add", "Sum"):
        raise _Skip(f"channels feed {where} (residual)")
    raise _Skip(f"channels feed {where}, which channel pruning does not handle")


def _plan_flatten(chain: _Chain, node: Any, tensor: Any, count: int,
                  shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Accept Flatten(axis=1) / Reshape(-1, C*H*W) feeding only Gemm / MatMul weights."""
    import onnx_graphsurgeon as gs

    where = f"{node.op} '{node.name}'"
    shape = shapes.get(tensor.name)
    if shape is None or len(shape) < 2 or shape[1] != count:
        raise _Skip(f"{where}: the input shape is unknown")
    spatial = math.prod(shape[2:])
    reshape = None
    if node.op == "Flatten":
        if int(node.attrs.get("axis", 1)) != 1:
            raise _Skip(f"{where} does not flatten from axis 1")
    else:
        target = node.inputs[1]
        if not isinstance(target, gs.Constant):
            raise _Skip(f"{where} has a computed shape")
        dims = [int(d) for d in target.values.tolist()]
        if dims == [-1, count * spatial]:
            reshape = node
        elif not (dims == [0, -1] and not node.attrs.get("allowzero", 0)):
            raise _Skip(f"{where} to {dims} is not a flatten from axis 1")
    flat = node.outputs[0]
    if not flat.outputs:
        raise _Skip(f"{where} output has no consumer")
    for user in flat.outputs:
        _plan_reader(chain, user, flat, spatial, reshape)


def _plan_reader(chain: _Chain, user: Any, tensor: Any, spatial: int, reshape: Any) -> None:
    """Accept a Gemm / MatMul that reads the channels through its constant 2-D weight."""
    user_where = f"{user.op} '{user.name}'"
    if user.op not in ("Gemm", "MatMul") or user.inputs[0] is not tensor or \
            (user.op == "Gemm" and user.attrs.get("transA", 0)):
        raise _Skip(f"channels feed {user_where}, which channel pruning does not handle")
    weight, axis = _weight_of(user)
    if weight is None or weight.values.ndim != 2 or not _single_use(weight) or \
            not isinstance(axis, int):
        raise _Skip(f"{user_where} weight is not a 2-D constant used once")
    chain.flat.append((user, axis, spatial, reshape))


def _apply_chain(chain: _Chain, keep: np.ndarray) -> None:
    """Cut the channels not in ``keep`` out of every tensor the chain touches."""
    import onnx_graphsurgeon as gs

    producer = chain.producer
    weight = producer.inputs[1]
    weight.values = np.take(np.asarray(weight.values), keep, axis=chain.out_axis)
    if len(producer.inputs) > 2 and producer.inputs[2].name:
        bias = np.asarray(producer.inputs[2].values)
        if bias.size > 1:  # a broadcast scalar bias stays as it is
            producer.inputs[2].values = np.take(bias, keep, axis=-1)
    for bn in chain.bns:
        for param in bn.inputs[1:5]:
            param.values = np.asarray(param.values)[keep]
    for conv in chain.convs:
        conv.inputs[1].values = np.asarray(conv.inputs[1].values)[:, keep]
    for user, axis, spatial, reshape in chain.flat:
        index = (keep[:, None] * spatial + np.arange(spatial)[None, :]).ravel()
        user.inputs[1].values = np.take(np.asarray(user.inputs[1].values), index, axis=axis)
        if reshape is not None:
            reshape.inputs[1] = gs.Constant(f"{reshape.name}_pruned_shape",
                                            np.array([-1, index.size], dtype=np.int64))


def prune_channels(graph: Any, ratio: float, multiple: int, exclude: set[str],
                   shapes: Mapping[str, tuple[int, ...]]) -> list[ChainReport]:
    """Plan every chain on the unmodified graph, then cut the ones that are safe."""
    outputs = {t.name for t in graph.outputs}
    plans: list[tuple[_Chain, np.ndarray]] = []
    reports = []
    for node in graph.nodes:
        if node.op not in WEIGHT_OPS:
            continue
        if node.name in exclude:
            reports.append(ChainReport(node.name, [], 0, 0, "skipped", "excluded"))
            continue
        try:
            chain = _plan_chain(node, outputs, shapes)
        except _Skip as why:
            reports.append(ChainReport(node.name, [], 0, 0, "skipped", str(why)))
            continue
        filters = np.moveaxis(np.asarray(node.inputs[1].values), chain.out_axis, 0)
        count = filters.shape[0]
        keep = channels_to_keep(filters, ratio, multiple)
        consumers = [c.name for c in chain.convs] + [u.name for u, *_ in chain.flat]
        if excluded := [name for name in consumers if name in exclude]:
            reports.append(ChainReport(node.name, consumers, count, count, "skipped",
                                       f"reader {excluded[0]} is excluded"))
            continue
        status, reason = ("pruned", "") if keep.size < count else \
            ("skipped", f"{count} channels: nothing left to cut at this ratio")
        reports.append(ChainReport(node.name, consumers, count, int(keep.size), status, reason))
        if keep.size < count:
            plans.append((chain, keep))
    for chain, keep in plans:  # after planning: a cut never changes another chain's plan
        _apply_chain(chain, keep)
    return reports


def _touched_layers(chains: list[ChainReport]) -> set[str]:
    touched: set[str] = set()
    for chain in chains:
        if chain.status == "pruned":
            touched.add(chain.producer)
            touched.update(chain.consumers)
    return touched
