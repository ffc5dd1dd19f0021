"""Accuracy budget for reduced precision: rank nodes cheaply, bisect how many go to float.

The metric is top-1 accuracy when the evaluation data has labels, else the
cosine similarity with the FP32 model's outputs (drop = 1 - cosine). An
:class:`Evaluator` measures one candidate model: ONNX Runtime on CPU
(:class:`OrtEvaluator`), or a model built by a trtc backend
(:class:`trtc.optimize.engine_budget.BackendEvaluator`, ``budget_on: engine``).

When the all-quantized model misses ``max_drop``, the search is bounded in the
number of quantize + evaluate calls (one per node took ppocr_rec's 346 nodes past
900 s on 2 cores):

1. Rank. ``rank(model)`` scores nodes without re-quantizing per node; quantize
   passes each node's isolated output error under its Q/DQ
   (:func:`trtc.optimize.layer_error.layer_errors`: two ONNX Runtime passes).
   Nodes it does not score are measured group-wise: a group's halves are floated
   in turn and the more harmful half is split again (at most ``2 ceil(log2(m+1))``
   evaluations for ``m`` such nodes). Nodes whose group gains accuracy go first,
   then the scored nodes by score, then the rest.
2. Bisect ``k``, the number of top-ranked nodes in float, for the smallest that
   meets the budget (``ceil(log2(n/step)) + 1`` evaluations). The metric is assumed
   monotone in ``k`` but never inferred: the returned model is one that was measured.
3. Give back: the float set's lower-ranked halves return to int8 while the budget
   holds, a failed half split in two (at most ``2 ceil(log2(n+1))`` evaluations).
4. Choose. When the evaluator times what ships (an engine, or ONNX Runtime running
   a model quantized for its CPU kernels), the fastest measured model that meets
   the budget is returned; one with fewer nodes in float is kept unless another is
   faster by more than :data:`LATENCY_NOISE` (a float node can also make the
   model faster: one int8 island between float layers costs two reformats).

Every model evaluated is recorded in :class:`BudgetResult` (the manifest).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from trtc.errors import ModelError, VerificationError
from trtc.metrics import cosine, top1_metric, within_budget
from trtc.report import budget_verdicts

Feed = dict[str, np.ndarray]
#: ``make(float_nodes)``: the reduced-precision model with those nodes left in float.
Make = Callable[[tuple[str, ...]], Any]
#: ``rank(all_quantized_model)``: {node: error score}, larger = more harmful.
Ranker = Callable[[Any], dict[str, float]]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Evaluation:
    """One model's score against the FP32 reference on the evaluation data."""

    metric: str                    # "top1" | "cosine"
    value: float                   # accuracy, or cosine with the reference
    reference: float               # the FP32 model's accuracy (1.0 for cosine)
    drop: float
    #: Median latency where the evaluator times it (engines), at ``latency_batch``.
    latency_ms: float | None = None
    #: Seconds to build the artifact measured (engines).
    build_s: float | None = None
    #: The same model scored by ONNX Runtime on CPU (engines: what ``budget_on:
    #: onnxruntime`` would have said of it), {"value", "drop"}; None where not run.
    onnxruntime: dict[str, float] | None = None
    #: The batch ``latency_ms`` was timed at (None: not recorded).
    latency_batch: int | None = None
    #: Read back from an earlier run's record of the same candidate (not measured again).
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric, "value": round(self.value, 6),
                               "reference": round(self.reference, 6),
                               "drop": round(self.drop, 6)}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 4)
            if self.latency_batch is not None:
                out["latency_batch"] = self.latency_batch
        if self.build_s is not None:
            out["build_s"] = round(self.build_s, 3)
        if self.onnxruntime is not None:
            out["onnxruntime"] = {k: round(v, 6) for k, v in self.onnxruntime.items()}
        if self.reused:
            out["reused"] = True
        return out


class Evaluator(Protocol):
    """Measures one candidate model against the FP32 reference: the budget's pluggable part."""

    def __call__(self, model: Any, /) -> Evaluation: ...


@dataclass
class BudgetResult:
    """What the budget search did: the float nodes, the ranking and every model it measured."""

    met: bool
    max_drop: float
    initial: Evaluation
    final: Evaluation
    excluded: list[str] = field(default_factory=list)
    #: node -> ranking score: the ranker's error score, or its group's measured gain.
    ranking: dict[str, float] = field(default_factory=dict)
    #: How many nodes each signal ranked: {"scored": n, "groups": m}.
    ranked_by: dict[str, int] = field(default_factory=dict)
    #: Every model evaluated: float node count and names, the evaluation, seconds.
    candidates: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    ranking_s: float = 0.0
    evaluator: str = "onnxruntime"
    #: How the returned model was chosen among those meeting the budget: "fewest float
    #: nodes" (untimed evaluators) or "fastest".
    chosen_by: str = "fewest float nodes"
    #: The float model measured the same way (an fp16 engine), when the evaluator does.
    baseline: dict[str, Any] | None = None
    #: Where the ranking was measured apart (``rank_on``): its evaluator, its evaluation
    #: count and its all-quantized score; None: by ``evaluator``, among ``candidates``.
    ranked_on: dict[str, Any] | None = None

    @property
    def evaluations(self) -> int:
        return len(self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return {"met": self.met, "max_drop": self.max_drop, "before": self.initial.to_dict(),
                "after": self.final.to_dict(), "float_nodes": self.excluded,
                "evaluator": self.evaluator, "evaluations": self.evaluations,
                "seconds": round(self.seconds, 3), "chosen_by": self.chosen_by,
                **({"baseline": self.baseline} if self.baseline else {}),
                "ranking": {"seconds": round(self.ranking_s, 3), "signals": self.ranked_by,
                            **({"measured_on": self.ranked_on} if self.ranked_on else {}),
                            "scores": {k: round(v, 6) for k, v in self.ranking.items()}},
                "candidates": self.candidates}

    def verdicts(self) -> dict[str, int] | None:
        """:func:`trtc.report.budget_verdicts` of this search."""
        return budget_verdicts(self.to_dict())


def cpu_session(model: Any) -> Any:
    """An ONNX Runtime CPU session on an in-memory ONNX model (its warnings silenced)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), sess_options=options,
                                providers=["CPUExecutionProvider"])


def run_outputs(model: Any, feeds: Sequence[Feed]) -> list[list[np.ndarray]]:
    """Run an in-memory ONNX model on every feed with ONNX Runtime (CPU)."""
    session = cpu_session(model)
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


def timed_outputs(model: Any, feeds: Sequence[Feed]) -> tuple[list[list[np.ndarray]], float]:
    """Run every feed once after one warm-up run; the outputs and the median latency (ms)."""
    session = cpu_session(model)
    session.run(None, feeds[0])
    outputs, seconds = [], []
    for feed in feeds:
        started = time.perf_counter()
        outputs.append(session.run(None, feed))
        seconds.append(time.perf_counter() - started)
    return outputs, float(np.median(seconds)) * 1000.0


class OrtEvaluator:
    """The model run by ONNX Runtime on CPU, scored against the FP32 model's outputs.

    ``timed``: the model ships to ONNX Runtime's CPU kernels (``target:
    onnxruntime-cpu``), so its latency here is the deployment's and is recorded (a
    Q/DQ graph for TensorRT runs fake-quantized on CPU: its time says nothing).
    """

    name = "onnxruntime"

    def __init__(self, feeds: Sequence[Feed], reference: list[list[np.ndarray]],
                 labels: Sequence[np.ndarray] | None, *, timed: bool = False) -> None:
        self.feeds, self.reference, self.labels = list(feeds), reference, labels
        self.timed = timed

    def __call__(self, model: Any, /) -> Evaluation:
        if not self.timed:
            return score(run_outputs(model, self.feeds), self.reference, self.labels)
        outputs, latency_ms = timed_outputs(model, self.feeds)
        return dataclasses.replace(score(outputs, self.reference, self.labels),
                                   latency_ms=latency_ms)

    def baseline(self, model: Any, warnings: list[str], /) -> dict[str, Any] | None:
        """The FP32 model timed the same way (the speed-up's reference), or None untimed."""
        if not self.timed:
            return None
        return {"precision": "fp32", **self(model).to_dict()}


#: The share of the drop over the budget a group of unscored nodes must recover to be
#: floated before the scored nodes.
HELPFUL_SHARE = 0.05


def _log_bound(n: int) -> int:
    """The evaluations the group-wise ranking and the give-back may each spend: 2 log2(n+1)."""
    return 2 * math.ceil(math.log2(n + 1))


def _give_back_bound(n: int, ranked_apart: bool) -> int:
    """The give-back's evaluations: 2 log2(n+1), half that when every evaluation is a build
    (``ranked_apart``: the ranking measured on a cheaper evaluator)."""
    return math.ceil(math.log2(n + 1)) if ranked_apart else _log_bound(n)


def search_bound(candidates: int, step: int = 1, ranked_apart: bool = False) -> int:
    """The most evaluations :func:`meet_budget` makes for ``candidates`` nodes with its own
    evaluator: the ranking too, unless ``ranked_apart`` (``rank_on``)."""
    bisection = math.ceil(math.log2(max(1, math.ceil(candidates / step)))) + 1
    ranking = 0 if ranked_apart else _log_bound(candidates)
    return 1 + ranking + bisection + _give_back_bound(candidates, ranked_apart)


def meet_budget(make: Make, evaluate: Evaluator, candidates: Sequence[str], max_drop: float,
                step: int = 1, progress: Progress | None = None, rank: Ranker | None = None,
                rank_on: tuple[Make, Evaluator] | None = None) -> tuple[Any, BudgetResult]:
    """Find few nodes to leave in float so that ``evaluate(model).drop <= max_drop``.

    ``candidates`` are the nodes ``make`` may leave in float; ``make`` raises
    ModelError when those leave nothing quantized (that model is the FP32 one, so
    the budget counts as missed there). ``step``: the bisection's resolution in
    nodes. ``progress(done, bound)`` is called per evaluation once the first model
    misses the budget. ``rank`` (None: group-wise ranking only) is in the module
    docstring. ``rank_on`` = (make, evaluate) measures the group-wise ranking (and
    gives ``rank`` its all-quantized model) instead: ``budget_on: engine`` ranks on ONNX
    Runtime, so only the bisection, the give-back (half its bound) and the choice build
    engines; the ranking only orders the nodes, every verdict is ``evaluate``'s.

    Raises:
        VerificationError: the budget is missed with every node that can go to float in float.
    """
    started = time.perf_counter()
    model = make(())
    initial = evaluate(model)
    result = BudgetResult(within_budget(initial.drop, max_drop), max_drop, initial, initial,
                          evaluator=getattr(evaluate, "name", "onnxruntime"))
    apart = rank_on is not None
    search = _Search(make, evaluate, max_drop, result, progress,
                     search_bound(len(candidates), step, apart))
    search.record((), initial, time.perf_counter() - started)
    if not result.met:
        order = _ranked(*_ranking_search(search, rank_on, model), list(candidates), rank)
        model, final, kept = _bisect(search, order, max(1, step))
        model, final, kept = _give_back(search, kept, model, final,
                                        _give_back_bound(len(order), apart),
                                        last_needed=step <= 1)
        model, final, kept = _fastest(search, model, final, kept)
        result.met, result.final, result.excluded = True, final, kept
        search.done()
    result.seconds = time.perf_counter() - started
    return model, result


def _ranking_search(search: _Search, rank_on: tuple[Make, Evaluator] | None, model: Any
                    ) -> tuple[_Search, Any]:
    """The search the ranking measures with and the all-quantized model ``rank`` scores:
    ``search`` and ``model`` themselves, or a search on ``rank_on``'s evaluator with its
    own all-quantized model, whose ranking lands in ``search.result`` (``ranked_on``)."""
    if rank_on is None:
        return search, model
    make, evaluate = rank_on
    started = time.perf_counter()
    model = make(())
    initial = evaluate(model)
    own = BudgetResult(False, search.max_drop, initial, initial,
                       evaluator=getattr(evaluate, "name", "onnxruntime"))
    ranking = _Search(make, evaluate, search.max_drop, own, None, 0)
    ranking.record((), initial, time.perf_counter() - started)
    ranking.into = search.result
    return ranking, model


class _Search:
    """Measures each float set once, records it, and reports progress against the bound."""

    def __init__(self, make: Make, evaluate: Evaluator, max_drop: float, result: BudgetResult,
                 progress: Progress | None, bound: int) -> None:
        self.make, self.evaluate, self.max_drop = make, evaluate, max_drop
        self.result, self.progress, self.bound = result, progress, bound
        #: Where a ranking measured apart reports (:func:`_ranking_search`); None: here.
        self.into: BudgetResult | None = None
        #: Float-set size -> why ``make`` refused it (ModelError), first message per size.
        self.unmade: dict[int, str] = {}
        self.seen: dict[frozenset[str], Evaluation | None] = {}
        #: The miss with the most nodes in float, for the error message.
        self.widest_miss: tuple[int, Evaluation] = (0, result.initial)

    def meets(self, evaluation: Evaluation | None) -> bool:
        return evaluation is not None and within_budget(evaluation.drop, self.max_drop)

    def build(self, nodes: Sequence[str]) -> Any | None:
        try:
            return self.make(tuple(nodes))
        except ModelError as exc:  # nothing left quantized, or a candidate that cannot be made
            self.unmade.setdefault(len(nodes), exc.message)
            return None

    def measure(self, nodes: Sequence[str]) -> tuple[Any, Evaluation | None]:
        """The model with ``nodes`` in float and its evaluation; (None, None): nothing quantized.

        A float set measured before is not evaluated again; its model is rebuilt
        only when it meets the budget (models are not kept: they can be large).
        """
        key = frozenset(nodes)
        if key in self.seen:
            known = self.seen[key]
            return (self.build(nodes) if self.meets(known) else None), known
        started = time.perf_counter()
        model = self.build(nodes)
        evaluation = None if model is None else self.evaluate(model)
        self.seen[key] = evaluation
        if evaluation is not None:
            self.record(nodes, evaluation, time.perf_counter() - started)
            if not self.meets(evaluation) and len(nodes) >= self.widest_miss[0]:
                self.widest_miss = (len(nodes), evaluation)
        return model, evaluation

    def record(self, nodes: Sequence[str], evaluation: Evaluation, seconds: float) -> None:
        self.seen[frozenset(nodes)] = evaluation
        entry = {"float_nodes": len(nodes), "nodes": list(nodes), **evaluation.to_dict(),
                 "meets": self.meets(evaluation), "seconds": round(seconds, 3)}
        if evaluation.onnxruntime is not None:
            entry["onnxruntime"]["meets"] = within_budget(evaluation.onnxruntime["drop"],
                                                          self.max_drop)
        self.result.candidates.append(entry)
        if self.progress is not None and len(self.result.candidates) > 1:
            self.progress(len(self.result.candidates) - 1, self.bound)

    def done(self) -> None:
        if self.progress is not None:
            self.progress(self.bound, self.bound)


def _ranked(search: _Search, model: Any, candidates: list[str], rank: Ranker | None
            ) -> list[str]:
    """Candidates, most harmful first: scored by ``rank`` (on ``model``, the all-quantized
    one), the rest measured group-wise."""
    started = time.perf_counter()
    wanted = set(candidates)
    scores = {n: s for n, s in (rank(model) if rank is not None else {}).items()
              if n in wanted}
    rest = [n for n in candidates if n not in scores]
    # A group "helps" when floating it recovers a twentieth of the drop over the budget;
    # less is within the noise of a small evaluation set, and is not split further.
    helps = max(0.0, HELPFUL_SHARE * (search.result.initial.drop - search.max_drop))
    gains = _group_gains(search, rest, _log_bound(len(rest)), helps)
    index = {n: i for i, n in enumerate(candidates)}
    result = search.into or search.result
    result.ranking = {**scores, **gains}
    result.ranked_by = {"scored": len(scores), "groups": len(gains)}
    result.ranking_s = time.perf_counter() - started
    if search.into is not None:
        result.ranked_on = {"evaluator": search.result.evaluator,
                            "evaluations": search.result.evaluations,
                            "before": search.result.initial.to_dict()}
    helpful = sorted((n for n in rest if gains[n] > helps),
                     key=lambda n: (-gains[n], index[n]))
    scored = sorted(scores, key=lambda n: (-scores[n], index[n]))
    return helpful + scored + [n for n in rest if gains[n] <= helps]


def _group_gains(search: _Search, nodes: list[str], limit: int, helps: float
                 ) -> dict[str, float]:
    """Each node's drop gained by floating its smallest measured group (bisection).

    A group's two halves are floated in turn (the rest stays quantized); the half
    gaining most is split next, a half gaining no more than ``helps`` is not split.
    """
    if not nodes:
        return {}

    def gain(group: list[str]) -> float:
        _, evaluation = search.measure(group)
        return search.result.initial.drop - (0.0 if evaluation is None else evaluation.drop)

    order = itertools.count()
    # The root's gain is not measured (it would be every unscored node at once) unless it
    # is one node: then that is its score.
    root = gain(nodes) if len(nodes) == 1 else math.inf
    frontier: list[tuple[float, int, list[str]]] = [(-root, next(order), nodes)]
    leaves: list[tuple[float, list[str]]] = []
    used = int(len(nodes) == 1)
    while frontier:
        negative, _, group = heapq.heappop(frontier)
        if len(group) < 2 or used + 2 > limit or -negative <= helps:
            leaves.append((0.0 if math.isinf(negative) else -negative, group))
            continue
        for half in (group[:len(group) // 2], group[len(group) // 2:]):
            heapq.heappush(frontier, (-gain(half), next(order), half))
        used += 2
    return {n: value for value, group in leaves for n in group}


def _bisect(search: _Search, order: list[str], step: int
            ) -> tuple[Any, Evaluation, list[str]]:
    """The smallest top-``k`` of ``order`` (``k`` a multiple of ``step``, or all) that meets.

    Raises:
        VerificationError: even the largest buildable ``k`` misses the budget.
    """
    n = len(order)
    units = math.ceil(n / step)

    def top(unit: int) -> list[str]:
        return order[:min(unit * step, n)]

    low, high = 0, units          # low misses (the all-quantized model); high is assumed to meet
    while high - low > 1:
        middle = (low + high) // 2
        _, evaluation = search.measure(top(middle))
        if evaluation is None or search.meets(evaluation):
            high = middle
        else:
            low = middle
    model, evaluation = search.measure(top(high))
    if evaluation is None or not search.meets(evaluation):
        raise _missed(search, n)
    return model, evaluation, top(high)


def _give_back(search: _Search, kept: list[str], model: Any, evaluation: Evaluation,
               limit: int, last_needed: bool) -> tuple[Any, Evaluation, list[str]]:
    """Return float nodes to int8 group by group while the budget holds (group testing).

    A group that cannot go back is split, its lower-ranked half tried first.
    ``last_needed``: the bisection measured ``kept`` without its last node missing, so
    (monotone) no subset of ``kept`` without it meets: it is never tried.
    """
    queue = [kept[:-1] if last_needed else list(kept)]
    used = 0
    while queue and queue[0] and used < limit:
        group = set(queue.pop(0))
        trial = [n for n in kept if n not in group]
        met = False
        if trial:
            before = search.result.evaluations
            trial_model, trial_eval = search.measure(trial)
            used += search.result.evaluations - before
            met = trial_model is not None and search.meets(trial_eval)
        if met:
            assert trial_eval is not None
            kept, model, evaluation = trial, trial_model, trial_eval
        elif len(group) > 1:
            queue[0:0] = _halves([n for n in kept if n in group])
    return model, evaluation, kept


#: A model meeting the budget with more nodes in float replaces the chosen one only when
#: it is faster by more than this share (timings of one evaluation set are this noisy).
LATENCY_NOISE = 0.03


def _fastest(search: _Search, model: Any, evaluation: Evaluation, kept: list[str]
             ) -> tuple[Any, Evaluation, list[str]]:
    """The fastest measured model meeting the budget, when every one of them was timed.

    ``kept`` (the give-back's result) stays unless a measured candidate is faster by
    more than :data:`LATENCY_NOISE`; the chosen model is rebuilt from its float set.
    """
    met = [c for c in search.result.candidates if c["meets"] and c["float_nodes"] > 0]
    if not met or any(c.get("latency_ms") is None for c in met) \
            or evaluation.latency_ms is None:
        return model, evaluation, kept
    search.result.chosen_by = "fastest"
    best = min(met, key=lambda c: (c["latency_ms"], c["float_nodes"]))
    if best["latency_ms"] >= evaluation.latency_ms * (1.0 - LATENCY_NOISE) \
            or set(best["nodes"]) == set(kept):
        return model, evaluation, kept
    chosen, known = search.measure(best["nodes"])
    assert chosen is not None and known is not None  # it met the budget when measured
    return chosen, known, list(best["nodes"])


def _halves(nodes: list[str]) -> list[list[str]]:
    """The lower-ranked half first, then the higher-ranked one (empty halves left out)."""
    middle = len(nodes) // 2
    return [h for h in (nodes[middle:], nodes[:middle]) if h]


def _missed(search: _Search, candidates: int) -> VerificationError:
    floated, evaluation = search.widest_miss
    result = search.result
    # make() refusing a float set smaller than all candidates is not "nothing left to
    # quantize": say why, it is what stopped the search (G12: fp16 regions on the GPU host).
    refused = {n: why for n, why in search.unmade.items() if 0 < n < candidates}
    if refused:
        smallest = min(refused)
        more = (f"; {len(refused)} larger float set(s) could not be made, the smallest "
                f"({smallest} nodes): {refused[smallest]}")
    else:
        more = " (floating more leaves nothing quantized)" if floated < candidates else ""
    return VerificationError(
        f"accuracy budget missed: {evaluation.metric} drop {evaluation.drop:.4g} > max_drop "
        f"{result.max_drop:g} even with {floated} of {candidates} quantized nodes in "
        f"float{more} ({result.evaluations} evaluations in "
        f"{sum(c['seconds'] for c in result.candidates):.1f} s)",
        "raise quantize.max_drop, calibrate on more/real data, or use --precision fp16"
        + ("; the refused candidates are a bug in trtc's quantize: report it" if refused
           else ""))
