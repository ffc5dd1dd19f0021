"""The accuracy-budget search with stand-in models: ranking, steps, stop conditions."""

from __future__ import annotations

import numpy as np
import pytest

from trtc.errors import ModelError, VerificationError
from trtc.optimize.sensitivity import Evaluation, meet_budget, score

#: Drop each node costs while it is quantized (a stand-in for a measured model).
COST = {"a": 0.001, "b": 0.05, "c": 0.002}


def _make(float_nodes: tuple[str, ...]) -> tuple[str, ...]:
    if set(float_nodes) >= set(COST):
        raise ModelError("nothing left to quantize")
    return float_nodes


def _evaluate(model: tuple[str, ...]) -> Evaluation:
    drop = sum(cost for node, cost in COST.items() if node not in model)
    return Evaluation("cosine", 1.0 - drop, 1.0, drop)


def test_the_most_harmful_node_goes_to_float_first() -> None:
    seen: list[tuple[int, int]] = []
    model, result = meet_budget(_make, _evaluate, list(COST), 0.01,
                                progress=lambda d, t: seen.append((d, t)))
    assert model == ("b",) and result.met and result.excluded == ["b"]
    assert result.sensitivity["b"] == pytest.approx(0.05)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_met_budget_runs_no_search() -> None:
    seen: list[tuple[int, int]] = []
    model, result = meet_budget(_make, _evaluate, list(COST), 0.1,
                                progress=lambda d, t: seen.append((d, t)))
    assert model == () and result.met and not seen and result.to_dict()["float_nodes"] == []


def test_an_unreachable_budget_is_a_verification_error() -> None:
    with pytest.raises(VerificationError, match="budget missed"):
        meet_budget(_make, _evaluate, list(COST), 0.0)


def test_score_is_the_worst_output_cosine_or_top1_with_labels() -> None:
    ref = [[np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])]]
    out = [[np.array([[1.0, 0.0]]), np.array([[1.0, -1.0]])]]
    assert score(out, ref, None).value == pytest.approx(0.0)
    top1 = score(out, ref, [np.array([0])])
    assert (top1.metric, top1.value, top1.drop) == ("top1", 1.0, 0.0)
