"""What a prune did, per layer, per channel chain and in total (params, FLOPs, size)."""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtc.optimize.prune.weights import WEIGHT_OPS, weight_of, zeros_fraction

GZIP_LEVEL = 6


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


@dataclass(frozen=True)
class ModelTotals:
    """One model's size: params, FLOPs (dense, at batch 1), bytes, zeros, gzip'd bytes."""

    params: int
    flops: int
    size_bytes: int
    weight_zeros_fraction: float
    gzip_bytes: int | None = None  # magnitude / 2:4 only: zeros pay off in compression

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.gzip_bytes is None:
            del out["gzip_bytes"]
        return out


@dataclass
class PruneReport:
    """What a prune did, per layer and in total; ``to_dict`` goes into the manifest."""

    method: str
    ratio: float | None
    source: str
    output: str
    layers: list[LayerReport]
    chains: list[ChainReport]
    before: ModelTotals
    after: ModelTotals
    note: str

    @property
    def pruned_layers(self) -> list[LayerReport]:
        return [layer for layer in self.layers if layer.status == "pruned"]

    def to_dict(self) -> dict[str, Any]:
        before, after = self.before.to_dict(), self.after.to_dict()
        change = {k: _ratio(after.get(k), v) for k, v in before.items()
                  if isinstance(v, int) and not isinstance(v, bool)}
        return {"method": self.method, "ratio": self.ratio, "source": self.source,
                "output": self.output, "before": before, "after": after,
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


def model_totals(summary: Any, path: Path, weights: Iterable[np.ndarray],
                 compress: bool) -> ModelTotals:
    """The totals of the model at ``path`` (``summary``: its trtc.graph.inspect summary)."""
    return ModelTotals(summary.parameter_count, summary.flops, summary.size_bytes,
                       round(zeros_fraction(weights), 4),
                       len(gzip.compress(path.read_bytes(), GZIP_LEVEL)) if compress else None)


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


def layer_reports(before: Any, after: Any, decisions: Mapping[str, str],
                   shapes_before: Mapping[str, tuple[int, ...]],
                   shapes_after: Mapping[str, tuple[int, ...]]) -> list[LayerReport]:
    after_nodes = {node.name: node for node in after.nodes}
    reports = []
    for node in before.nodes:
        if node.op not in WEIGHT_OPS:
            continue
        reason = decisions.get(node.name, "not considered")
        weight, _ = weight_of(node)
        new = after_nodes.get(node.name)
        new_weight = weight_of(new)[0] if new is not None else None
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
