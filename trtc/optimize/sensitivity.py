"""Accuracy budget for reduced precision: measure, rank nodes by harm, move the worst to float.

The metric is top-1 accuracy when the evaluation data has labels, else the
cosine similarity with the FP32 model's outputs (drop = 1 - cosine), both
measured with ONNX Runtime on CPU. When the quantized model misses
``max_drop``, each quantized node is left in float once (with the cached
calibration ranges, so nothing is recalibrated) to measure what it costs; the
worst nodes move to float ``step`` at a time until the budget is met.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtc.errors import ModelError, VerificationError
from trtc.metrics import cosine, top1_metric

Feed = dict[str, np.ndarray]


@dataclass(frozen=True)
class Evaluation:
    """One model's score against the FP32 reference on the evaluation data."""

    metric: str                    # "top1" | "cosine"
    value: float                   # accuracy, or cosine with the reference
    reference: float               # the FP32 model's accuracy (1.0 for cosine)
    drop: float

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": round(self.value, 6),
                "reference": round(self.reference, 6), "drop": round(self.drop, 6)}


@dataclass
class BudgetResult:
    """What the budget search did: the kept-float nodes and each step's measured effect."""

    met: bool
    max_drop: float
    initial: Evaluation
    final: Evaluation
    excluded: list[str] = field(default_factory=list)
    sensitivity: dict[str, float] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"met": self.met, "max_drop": self.max_drop, "before": self.initial.to_dict(),
                "after": self.final.to_dict(), "float_nodes": self.excluded,
                "sensitivity": {k: round(v, 6) for k, v in self.sensitivity.items()},
                "steps": self.steps}


def run_outputs(model: Any, feeds: Sequence[Feed]) -> list[list[np.ndarray]]:
    """Run an in-memory ONNX model on every feed with ONNX Runtime (CPU)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    return [session.run(None, feed) for feed in feeds]


def score(outputs: list[list[np.ndarray]], reference: list[list[np.ndarray]],
          labels: Sequence[np.ndarray] | None) -> Evaluation:
    """Top-1 (labels given; first output) or the worst output's cosine with the reference."""
    if labels is not None:

        top1 = top1_metric([r[0] for r in outputs], [r[0] for r in reference], list(labels),
                           max_drop=0.0)
        return Evaluation("top1", top1["candidate"], top1["reference"], top1["drop"])
    worst = min(cosine(np.concatenate([r[k].ravel() for r in outputs]),
                       np.concatenate([r[k].ravel() for r in reference]))
                for k in range(len(reference[0])))
    return Evaluation("cosine", worst, 1.0, 1.0 - worst)


def meet_budget(make: Callable[[tuple[str, ...]], Any], evaluate: Callable[[Any], Evaluation],
                candidates: Sequence[str], max_drop: float, step: int = 1,
                progress: Callable[[int, int], None] | None = None
                ) -> tuple[Any, BudgetResult]:
    """Move the most harmful nodes to float until ``evaluate(model).drop <= max_drop``.

    ``make(float_nodes)`` returns the reduced-precision model with those nodes
    left in float; ``candidates`` are the nodes it may leave out. ``make`` raises
    ModelError when those nodes leave nothing quantized: that model is the FP32
    one, so the search stops there and reports the budget as missed.
    ``progress(done, total)`` is called once per sensitivity candidate, only when the
    first model misses the budget (one quantize + one evaluation each: the slow part).

    Raises:
        VerificationError: the budget is missed with every node that can go to float in float.
    """

    def make_or_none(float_nodes: tuple[str, ...]) -> Any | None:
        try:
            return make(float_nodes)
        except ModelError:
            return None

    model = make(())
    initial = evaluate(model)
    result = BudgetResult(initial.drop <= max_drop + 1e-12, max_drop, initial, initial)
    if result.met:
        return model, result
    # Sensitivity: what the metric becomes with only this node in float.
    for i, node in enumerate(candidates):
        alone = make_or_none((node,))
        # Floating the only quantized node gains the whole drop.
        result.sensitivity[node] = initial.drop - (0.0 if alone is None else
                                                   evaluate(alone).drop)
        if progress is not None:
            progress(i + 1, len(candidates))
    ranked = sorted(candidates, key=lambda n: (-result.sensitivity[n], n))
    excluded: list[str] = []
    current = initial
    for start in range(0, len(ranked), max(1, step)):
        batch = ranked[start:start + max(1, step)]
        candidate = make_or_none((*excluded, *batch))
        if candidate is None:
            break
        excluded += batch
        model, current = candidate, evaluate(candidate)
        result.steps.append({"float_nodes": list(batch), **current.to_dict()})
        if current.drop <= max_drop + 1e-12:
            result.met = True
            break
    result.final, result.excluded = current, excluded
    if not result.met:
        raise VerificationError(
            f"accuracy budget missed: {current.metric} drop {current.drop:.4g} > max_drop "
            f"{max_drop:g} even with {len(excluded)} of {len(candidates)} quantized nodes in "
            f"float{' (floating more leaves nothing quantized)' if excluded != ranked else ''}",
            "raise quantize.max_drop, calibrate on more/real data, or use --precision fp16")
    return model, result
