"""The bounded accuracy-budget search with stand-in models: ranking, bisection, give-back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trtc.errors import ModelError, VerificationError
from trtc.optimize.sensitivity import Evaluation, meet_budget, score, search_bound

#: Drop each node costs while it is quantized (a stand-in for a measured model).
COST = {"a": 0.001, "b": 0.05, "c": 0.002}


def _make(float_nodes: tuple[str, ...]) -> tuple[str, ...]:
    if set(float_nodes) >= set(COST):
        raise ModelError("nothing left to quantize")
    return float_nodes


def _evaluate(model: tuple[str, ...]) -> Evaluation:
    drop = sum(cost for node, cost in COST.items() if node not in model)
    return Evaluation("cosine", 1.0 - drop, 1.0, drop)


class Synthetic:
    """``n`` nodes, each costing a little drop while quantized, ``harmful`` ones a lot.

    Monotone: floating more nodes never loses accuracy. Counts every evaluation.
    """

    def __init__(self, n: int, harmful: dict[int, float], each: float = 1e-6) -> None:
        self.names = [f"n{i}" for i in range(n)]
        self.cost = {f"n{i}": harmful.get(i, each) for i in range(n)}
        self.calls = 0

    def make(self, float_nodes: tuple[str, ...]) -> frozenset[str]:
        if len(set(float_nodes)) >= len(self.names):
            raise ModelError("nothing left to quantize")
        return frozenset(float_nodes)

    def __call__(self, model: frozenset[str]) -> Evaluation:
        self.calls += 1
        drop = sum(c for name, c in self.cost.items() if name not in model)
        return Evaluation("cosine", 1.0 - drop, 1.0, drop)

    def noisy_rank(self, seed: int = 0) -> dict[str, float]:
        """A cheap score that knows the harmful nodes only roughly (noise of the same size)."""
        rng = np.random.default_rng(seed)
        return {n: rng.random() + (0.6 if self.cost[n] > 1e-3 else 0.0) for n in self.names}


def test_a_met_budget_runs_no_search() -> None:
    seen: list[tuple[int, int]] = []
    model, result = meet_budget(_make, _evaluate, list(COST), 0.1,
                                progress=lambda d, t: seen.append((d, t)))
    assert model == () and result.met and not seen and result.to_dict()["float_nodes"] == []
    assert result.evaluations == 1 and result.to_dict()["candidates"][0]["nodes"] == []


@pytest.mark.parametrize("seed", range(5))
def test_two_harmful_nodes_of_64_are_found_in_log_n_evaluations(seed: int) -> None:
    problem = Synthetic(64, {3: 0.05, 17: 0.03})
    model, result = meet_budget(problem.make, problem, problem.names, 0.01,
                                rank=lambda _: problem.noisy_rank(seed))
    assert set(result.excluded) == {"n3", "n17"} and model == {"n3", "n17"}
    assert problem.calls == result.evaluations            # every evaluation is recorded
    # The all-int8 model, the bisection over k, the give-back: ~3 log2(n), not n.
    assert result.evaluations <= 1 + 3 * math.log2(64)
    assert result.final.drop <= 0.01 and result.met


def test_a_perfect_ranking_needs_only_the_bisection() -> None:
    problem = Synthetic(64, {3: 0.05, 17: 0.03})
    _, result = meet_budget(problem.make, problem, problem.names, 0.01,
                            rank=lambda _: {"n3": 2.0, "n17": 1.0})
    assert result.excluded == ["n3", "n17"]
    assert result.evaluations <= 2 + 2 * math.log2(64)


def test_the_evaluations_grow_with_log_n() -> None:
    counts = {}
    for n in (64, 1024):
        problem = Synthetic(n, {3: 0.05, 17: 0.03})
        _, result = meet_budget(problem.make, problem, problem.names, 0.01,
                                rank=lambda _, p=problem: p.noisy_rank())
        assert set(result.excluded) == {"n3", "n17"}
        counts[n] = result.evaluations
        assert result.evaluations <= search_bound(n)
    assert counts[1024] - counts[64] <= 3 * (math.log2(1024) - math.log2(64))


def test_without_a_ranker_nodes_are_ranked_group_wise_by_bisection() -> None:
    problem = Synthetic(64, {3: 0.05, 17: 0.03})
    _, result = meet_budget(problem.make, problem, problem.names, 0.01)
    assert set(result.excluded) == {"n3", "n17"}
    assert result.ranked_by == {"scored": 0, "groups": 64}
    assert result.ranking["n3"] > 0 and result.ranking["n40"] < 1e-4  # n40's half gains ~nothing
    assert result.evaluations <= search_bound(64)
    # Ranking group-wise costs at most 2 log2(n) of them.
    ranking_calls = sum(1 for c in result.candidates[1:] if c["float_nodes"] in (32, 16, 8, 4, 2, 1)
                        and len(c["nodes"]) == c["float_nodes"])
    assert ranking_calls >= 2


def test_unscored_nodes_whose_group_helps_go_before_the_scored_ones() -> None:
    problem = Synthetic(16, {3: 0.05, 9: 0.03})
    scores = {n: 1.0 for n in problem.names if n != "n9"}   # n9 cannot be scored
    _, result = meet_budget(problem.make, problem, problem.names, 0.01, rank=lambda _: scores)
    assert set(result.excluded) == {"n3", "n9"}
    assert result.ranked_by == {"scored": 15, "groups": 1}
    assert result.ranking["n9"] == pytest.approx(0.03)


def test_step_coarsens_the_bisection_and_the_give_back_trims_it() -> None:
    problem = Synthetic(64, {3: 0.05, 17: 0.03})
    _, result = meet_budget(problem.make, problem, problem.names, 0.01, step=8,
                            rank=lambda _: problem.noisy_rank())
    bisected = [c["float_nodes"] for c in result.candidates[1:4]]
    assert all(k % 8 == 0 for k in bisected)
    assert set(result.excluded) == {"n3", "n17"}


def test_every_measured_model_is_in_the_manifest() -> None:
    problem = Synthetic(8, {5: 0.05})
    progress: list[tuple[int, int]] = []
    _, result = meet_budget(problem.make, problem, problem.names, 0.01,
                            rank=lambda _: {n: float(n == "n5") for n in problem.names},
                            progress=lambda d, t: progress.append((d, t)))
    data = result.to_dict()
    assert data["evaluations"] == len(data["candidates"]) == problem.calls
    for candidate in data["candidates"]:
        assert set(candidate) >= {"float_nodes", "nodes", "metric", "value", "drop", "seconds"}
        assert candidate["float_nodes"] == len(candidate["nodes"])
        assert candidate["meets"] is (candidate["drop"] <= 0.01)  # the search's verdict
    assert data["float_nodes"] == ["n5"] and data["after"]["drop"] < 0.01
    assert data["ranking"]["scores"]["n5"] == 1.0 and data["seconds"] >= 0
    bound = search_bound(8)
    assert progress[0] == (1, bound) and progress[-1] == (bound, bound)


def test_the_most_harmful_node_goes_to_float_first() -> None:
    model, result = meet_budget(_make, _evaluate, list(COST), 0.01,
                                rank=lambda _: {"a": 0.1, "b": 0.9, "c": 0.2})
    assert model == ("b",) and result.met and result.excluded == ["b"]


def test_an_unreachable_budget_is_a_verification_error() -> None:
    # Floating all three leaves nothing quantized: two in float is the most there is.
    with pytest.raises(VerificationError,
                       match=r"budget missed.* 2 of 3 quantized nodes in float \(floating more "
                             r"leaves nothing quantized\) \(\d+ evaluations in"):
        meet_budget(_make, _evaluate, list(COST), 0.0)


def test_a_miss_with_every_node_in_float_says_so() -> None:
    def make(float_nodes: tuple[str, ...]) -> tuple[str, ...]:
        return float_nodes                          # something else stays quantized

    def evaluate(model: tuple[str, ...]) -> Evaluation:
        return Evaluation("cosine", 0.9, 1.0, 0.1)  # ...and costs the whole drop

    with pytest.raises(VerificationError, match=r"with 3 of 3 quantized nodes in float \("):
        meet_budget(make, evaluate, list(COST), 0.01)


def test_score_is_the_worst_output_cosine_or_top1_with_labels() -> None:
    ref = [[np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])]]
    out = [[np.array([[1.0, 0.0]]), np.array([[1.0, -1.0]])]]
    assert score(out, ref, None).value == pytest.approx(0.0)
    top1 = score(out, ref, [np.array([0])])
    assert (top1.metric, top1.value, top1.drop) == ("top1", 1.0, 0.0)


def test_latency_and_build_time_appear_only_when_measured() -> None:
    assert "latency_ms" not in Evaluation("cosine", 1.0, 1.0, 0.0).to_dict()
    timed = Evaluation("cosine", 1.0, 1.0, 0.0, latency_ms=1.23456, build_s=4.5).to_dict()
    assert timed["latency_ms"] == 1.2346 and timed["build_s"] == 4.5


class Timed(Synthetic):
    """Synthetic, plus a latency: every float node costs ``per_float`` ms, except that
    floating all of ``island`` (int8 between float neighbours) saves ``island_ms``."""

    def __init__(self, n: int, harmful: dict[int, float], per_float: float,
                 island: frozenset[str] = frozenset(), island_ms: float = 0.0) -> None:
        super().__init__(n, harmful)
        self.per_float, self.island, self.island_ms = per_float, island, island_ms

    def __call__(self, model: frozenset[str]) -> Evaluation:
        plain = super().__call__(model)
        latency = 1.0 + self.per_float * len(model)
        if self.island and self.island <= model:
            latency -= self.island_ms
        return Evaluation(plain.metric, plain.value, plain.reference, plain.drop,
                          latency_ms=latency)


def test_a_timed_search_returns_the_fastest_model_that_meets_the_budget() -> None:
    # n3 must go to float; floating n3 and n4 together is 10 % faster (n4 was an int8
    # island paying two reformats), and the bisection measures {n3, n4} on its way.
    problem = Timed(8, {3: 0.05}, per_float=0.01, island=frozenset({"n3", "n4"}),
                    island_ms=0.12)
    rank = {"n3": 2.0, "n4": 1.0}
    model, result = meet_budget(problem.make, problem, problem.names, 0.01,
                                rank=lambda _: rank)
    assert any(set(c["nodes"]) == {"n3", "n4"} for c in result.candidates)
    assert model == {"n3", "n4"} and set(result.excluded) == {"n3", "n4"}
    assert result.chosen_by == "fastest" and result.to_dict()["chosen_by"] == "fastest"
    assert result.final.latency_ms == pytest.approx(1.0 + 0.02 - 0.12)


def test_a_faster_model_within_the_noise_does_not_replace_fewer_float_nodes() -> None:
    problem = Timed(8, {3: 0.05}, per_float=0.01, island=frozenset({"n3", "n4"}),
                    island_ms=0.02)  # {n3, n4}: 0.99 ms against n3's 1.01 ms: 2 %
    model, result = meet_budget(problem.make, problem, problem.names, 0.01,
                                rank=lambda _: {"n3": 2.0, "n4": 1.0})
    assert model == {"n3"} and result.excluded == ["n3"] and result.chosen_by == "fastest"


def test_an_untimed_search_keeps_the_fewest_float_nodes() -> None:
    problem = Synthetic(8, {3: 0.05})
    _, result = meet_budget(problem.make, problem, problem.names, 0.01,
                            rank=lambda _: {"n3": 2.0})
    assert result.chosen_by == "fewest float nodes" and result.excluded == ["n3"]


def test_verdicts_count_where_onnxruntime_and_the_engine_disagree() -> None:
    from trtc.metrics import within_budget
    from trtc.report import budget_verdicts as verdicts

    def c(engine_drop: float, ort_drop: float | None) -> dict:
        # Each verdict as the search records it (``meets``, by within_budget).
        out: dict = {"drop": engine_drop, "meets": within_budget(engine_drop, 0.01)}
        if ort_drop is not None:
            out["onnxruntime"] = {"value": 1 - ort_drop, "drop": ort_drop,
                                  "meets": within_budget(ort_drop, 0.01)}
        return out

    budget = {"max_drop": 0.01, "candidates": [
        c(0.05, 0.004),   # ORT: meets; the engine: misses (ORT would ship a bad engine)
        c(0.008, 0.02),   # ORT: misses; the engine: meets
        c(0.002, 0.001), c(0.3, 0.2),  # agree (meets, misses)
        c(0.001, None)]}  # not cross-checked (fp16 regions ORT cannot run)
    assert verdicts(budget) == {"models": 4, "agree": 2, "ort_meets_engine_misses": 1,
                                "ort_misses_engine_meets": 1}
    assert verdicts({"max_drop": 0.01, "candidates": [c(0.0, None)]}) is None


def test_a_ranking_measured_apart_leaves_the_builds_to_the_bisection_and_give_back() -> None:
    """budget_on engine: the group-wise ranking runs on the cheap evaluator (ONNX Runtime),
    the expensive one (the engine) measures only the all-quantized model, the bisection and
    the give-back; the verdicts are the expensive one's."""
    cheap, costly = Synthetic(256, {3: 0.05, 17: 0.03}), Synthetic(256, {3: 0.05, 17: 0.03})
    _, together = meet_budget(cheap.make, cheap, cheap.names, 0.01)
    ranking_calls = cheap.calls
    cheap.calls = 0
    _, result = meet_budget(costly.make, costly, costly.names, 0.01,
                            rank_on=(cheap.make, cheap))
    assert set(result.excluded) == set(together.excluded) == {"n3", "n17"}
    assert costly.calls == result.evaluations <= search_bound(256, ranked_apart=True)
    assert search_bound(256, ranked_apart=True) < search_bound(256)
    assert costly.calls < ranking_calls and cheap.calls >= 3     # the ranking moved
    ranked = result.to_dict()["ranking"]
    assert ranked["measured_on"]["evaluations"] == cheap.calls
    assert ranked["signals"] == {"scored": 0, "groups": 256} and result.ranking["n3"] > 0


def test_a_ranking_apart_gives_the_ranker_its_own_all_quantized_model() -> None:
    problem = Synthetic(16, {3: 0.05})
    seen: list[object] = []

    def rank(model: object) -> dict[str, float]:
        seen.append(model)
        return {"n3": 1.0}

    _, result = meet_budget(lambda f: ("shipped", problem.make(f)), lambda m: problem(m[1]),
                            problem.names, 0.01, rank=rank, rank_on=(problem.make, problem))
    assert seen == [frozenset()] and result.excluded == ["n3"]


def test_a_candidate_make_refuses_is_named_in_the_miss() -> None:
    """make() raising for a float set that still leaves nodes quantized (a conversion bug)
    must not read as "floating more leaves nothing quantized"."""
    problem = Synthetic(16, {3: 0.05})

    def make(float_nodes: tuple[str, ...]) -> frozenset[str]:
        if float_nodes:
            raise ModelError("fp16 regions: duplicate node name 'c_cast'")
        return problem.make(float_nodes)

    with pytest.raises(VerificationError) as caught:
        meet_budget(make, problem, problem.names, 0.01)
    message = caught.value.message
    assert "could not be made" in message and "duplicate node name 'c_cast'" in message
    assert "nothing quantized" not in message
