"""2:4 and magnitude pruning: zero weights of Conv / Gemm / MatMul in place.

* ``2:4`` zeroes the 2 smallest-magnitude weights in every group of 4 consecutive
  weights along the reduction (input-channel) axis -- the layout TensorRT's sparse
  tensor-core kernels read (Ampere and newer, fp16/int8, ``kSPARSE_WEIGHTS``).
  Dense runtimes (ONNX Runtime) run it at the same speed; FLOPs are reported dense.
* ``magnitude`` zeroes the smallest ``ratio`` of each layer's weights (per layer,
  not global: layers have very different weight scales, and a global threshold
  would empty whole small-scale layers). It changes how well the file
  compresses, not how fast it runs.

The masks are pure numpy; the graph is onnx-graphsurgeon's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

WEIGHT_OPS = ("Conv", "Gemm", "MatMul")
#: Below this many weights a layer is not worth a sparse kernel (launch and
#: metadata overheads dominate); TensorRT keeps such layers dense anyway.
MIN_SPARSE_WEIGHTS = 1024
_FLOAT_TYPES = (np.float16, np.float32, np.float64)


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


def magnitude_mask(weights: np.ndarray, ratio: float) -> np.ndarray:
    """Return the keep-mask that zeroes the ``round(ratio * size)`` smallest |w| of one tensor."""
    flat = np.abs(weights).ravel()
    n_zero = int(round(ratio * flat.size))
    keep = np.ones(flat.size, dtype=bool)
    keep[np.argsort(flat, kind="stable")[:n_zero]] = False
    return keep.reshape(weights.shape)


def zeros_fraction(arrays: Iterable[np.ndarray]) -> float:
    """Fraction of exactly-zero elements over all arrays (0.0 for none)."""
    arrays = list(arrays)
    total = sum(a.size for a in arrays)
    return sum(a.size - np.count_nonzero(a) for a in arrays) / total if total else 0.0


def weight_of(node: Any) -> tuple[Any, int] | tuple[None, str]:
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


def layer_names(graph: Any) -> list[str]:
    return [node.name for node in graph.nodes if node.op in WEIGHT_OPS]


def layer_weights(graph: Any) -> dict[str, np.ndarray]:
    """Constant float weights of all Conv/Gemm/MatMul, by initializer name."""
    out = {}
    for node in graph.nodes:
        if node.op in WEIGHT_OPS:
            weight, _ = weight_of(node)
            if weight is not None:
                out[weight.name] = np.asarray(weight.values)
    return out


def sparsity_eligibility(node: Any) -> tuple[int | None, str]:
    """Return (reduction axis, "") if 2:4 applies to this layer, else (None, why not).

    TensorRT's rule: for weights [K, C, R, S], each group of 4 consecutive input
    channels C for a given (k, r, s) has at least 2 zeros, with C % 4 == 0;
    grouped and depthwise convolutions have no sparse kernels.
    """
    weight, axis = weight_of(node)
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
            weight, why = weight_of(node)
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
