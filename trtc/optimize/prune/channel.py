"""Channel pruning: remove whole output channels and shrink every weight that reads them.

The lowest-L1 output channels of a producer's filters go, in
Conv(->BN)->activation->Conv and Conv->...->Flatten->Gemm chains (and
Gemm/MatMul -> Gemm/MatMul). The graph gets smaller: a real FLOP cut on every
backend. Channels that reach a residual Add, a Concat, a graph output or an op
we do not understand are left alone, with the reason reported. Every chain is
planned on the unmodified graph before any is cut.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtc.optimize.prune.report import ChainReport
from trtc.optimize.prune.weights import WEIGHT_OPS, weight_of

#: Elementwise ops: a channel removed before them is simply absent after them.
ELEMENTWISE_OPS = frozenset({
    "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu",
    "Selu", "Celu", "Softplus", "Softsign", "Gelu", "Mish", "Identity", "Dropout",
})
#: Pooling keeps NCHW channels independent (channel axis 1: only after a Conv).
POOL_OPS = frozenset({"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool"})


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
    weight, _ = weight_of(producer)
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
    weight, axis = weight_of(user)
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


def touched_layers(chains: list[ChainReport]) -> set[str]:
    touched: set[str] = set()
    for chain in chains:
        if chain.status == "pruned":
            touched.add(chain.producer)
            touched.update(chain.consumers)
    return touched
