"""``quantize.budget_on``: the evaluator the budget search measures with, and its fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtc.errors import DependencyError, RecipeError, UsageError
from trtc.optimize.engine_budget import BackendEvaluator, EngineBudget, budget_evaluator
from trtc.optimize.quantize import quantize_model
from trtc.optimize.sensitivity import OrtEvaluator
from trtc.recipe import QuantizeSpec, parse_recipe

from .test_quantize import make_hostile_model

SPEC = dict(enabled=True, calib_data="random", calib_samples=16, max_drop=0.01)


@pytest.fixture
def no_tensorrt(monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorRT unusable here, whatever this machine has."""
    from trtc.backends.tensorrt import TensorRTBackend

    def refuse(self: object, spec: object = None) -> None:
        raise DependencyError("TensorRT is not installed", "pip install tensorrt")

    monkeypatch.setattr(TensorRTBackend, "check_available", refuse)


@pytest.fixture
def tensorrt_present(monkeypatch: pytest.MonkeyPatch) -> None:
    from trtc.backends.tensorrt import TensorRTBackend

    monkeypatch.setattr(TensorRTBackend, "check_available", lambda self, spec=None: None)


def _ort() -> OrtEvaluator:
    return OrtEvaluator([], [], None)


def test_onnxruntime_is_the_default_evaluator(tmp_path: Path) -> None:
    ort = _ort()
    warnings: list[str] = []
    assert budget_evaluator(QuantizeSpec(), None, ort, ["y"], tmp_path, warnings) is ort
    assert warnings == []


def test_engine_without_tensorrt_runs_on_onnxruntime_and_says_so(tmp_path: Path,
                                                                 no_tensorrt: None) -> None:
    ort = _ort()
    warnings: list[str] = []
    chosen = budget_evaluator(QuantizeSpec(budget_on="engine"), None, ort, ["y"], tmp_path,
                              warnings)
    assert chosen is ort
    (line,) = warnings
    assert "budget_on engine" in line and "TensorRT is not installed" in line
    assert "runs on ONNX Runtime" in line


def test_engine_with_tensorrt_builds_engines(tmp_path: Path, tensorrt_present: None) -> None:
    chosen = budget_evaluator(QuantizeSpec(budget_on="engine"), None, _ort(), ["y"], tmp_path,
                              [])
    assert isinstance(chosen, BackendEvaluator) and chosen.name == "engine"
    assert chosen.backend.name == "tensorrt"


def test_engine_for_a_model_quantized_for_onnxruntime_cpu_is_a_usage_error(
        tmp_path: Path, tensorrt_present: None) -> None:
    spec = QuantizeSpec(budget_on="engine", target="onnxruntime-cpu")
    with pytest.raises(UsageError, match="budget_on engine builds TensorRT engines"):
        budget_evaluator(spec, None, _ort(), ["y"], tmp_path, [])


def test_the_recipe_refuses_engine_with_target_onnxruntime_cpu() -> None:
    with pytest.raises(RecipeError, match="quantize.budget_on"):
        parse_recipe({"name": "x", "model": {"source": "onnx:m.onnx"},
                      "quantize": {"budget_on": "engine", "target": "onnxruntime-cpu"}})
    with pytest.raises(RecipeError, match="quantize.budget_on"):
        parse_recipe({"name": "x", "model": {"source": "onnx:m.onnx"},
                      "quantize": {"budget_on": "gpu"}})


def test_the_fallback_search_is_recorded_as_onnxruntime(tmp_path: Path,
                                                        no_tensorrt: None) -> None:
    src = make_hostile_model(tmp_path / "hostile.onnx")
    report = quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(**SPEC, budget_on="engine"),
                            cache_dir=tmp_path / "cache")
    budget = report.to_dict()["budget"]
    assert budget["evaluator"] == "onnxruntime" and budget["float_nodes"] == ["gemm_b"]
    assert any("runs on ONNX Runtime" in w for w in report.warnings)


def test_a_backend_evaluator_builds_times_and_scores_every_candidate(tmp_path: Path) -> None:
    # The engine path end to end with the backend that runs here: each candidate is
    # built by trtc's build path (ONNX Runtime's offline optimisation) and timed.
    src = make_hostile_model(tmp_path / "hostile.onnx")
    report = quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(**SPEC, budget_on="engine"),
                            cache_dir=tmp_path / "cache",
                            engine=EngineBudget(backend="onnxruntime"))
    budget = report.to_dict()["budget"]
    assert budget["evaluator"] == "engine" and budget["met"]
    assert budget["float_nodes"] == ["gemm_b"]
    for candidate in budget["candidates"]:
        assert candidate["latency_ms"] > 0 and candidate["build_s"] >= 0
        # ONNX Runtime's score of the same model beside the engine's (here the same runtime)
        assert candidate["onnxruntime"]["drop"] == pytest.approx(candidate["drop"], abs=1e-5)
    assert budget["after"]["latency_ms"] > 0
    assert report.budget is not None and report.budget.verdicts() == {
        "models": 2, "agree": 2, "ort_meets_engine_misses": 0, "ort_misses_engine_meets": 0}
    from trtc.report import quantize_lines

    assert any("budget search on engine: 2 models measured" in line and "latency" in line
               for line in quantize_lines(report.to_dict()))


def test_every_candidates_runner_is_closed_after_it_is_measured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TensorRT candidate's activated runner holds its engine and device buffers: the
    search closes each one it measured (ppocr_cls's search left every one active)."""
    from trtc.backends.onnxruntime import OnnxRuntimeBackend

    opened: list[object] = []
    closed: list[object] = []
    plain = OnnxRuntimeBackend.infer_fn

    class Holding:
        def __init__(self, backend: OnnxRuntimeBackend, artifact: Path, threads: int | None):
            self.infer = plain(backend, artifact, threads)
            opened.append(self)

        def __call__(self, feed: dict) -> object:
            assert self not in closed
            return self.infer(feed)

        def close(self) -> None:
            closed.append(self)

    monkeypatch.setattr(OnnxRuntimeBackend, "infer_fn",
                        lambda self, artifact, threads: Holding(self, artifact, threads))
    src = make_hostile_model(tmp_path / "hostile.onnx")
    report = quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(**SPEC, budget_on="engine"),
                            cache_dir=tmp_path / "cache",
                            engine=EngineBudget(backend="onnxruntime"))
    assert report.to_dict()["budget"]["met"]
    assert len(opened) >= 2 and closed == opened


def test_the_searchs_builds_share_one_worker_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each TensorRT build runs in a child process; the search's run in one long-lived
    worker (which keeps the builder's kernel library loaded, 6-10 s a load on 8.6)."""
    from trtc.backends.isolated import run_isolated
    from trtc.backends.onnxruntime import OnnxRuntimeBackend

    pids: list[int] = []
    plain = OnnxRuntimeBackend.build

    def build(self: OnnxRuntimeBackend, *args: object, **kwargs: object) -> object:
        pids.append(run_isolated("os:getpid", (), what="a candidate's build"))
        return plain(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(OnnxRuntimeBackend, "build", build)
    src = make_hostile_model(tmp_path / "hostile.onnx")
    quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(**SPEC, budget_on="engine"),
                   cache_dir=tmp_path / "cache", engine=EngineBudget(backend="onnxruntime"))
    assert len(pids) >= 2 and len(set(pids)) == 1
    quantize_model(src, tmp_path / "q2.onnx", QuantizeSpec(**SPEC, budget_on="engine"),
                   cache_dir=tmp_path / "cache2", engine=EngineBudget(backend="onnxruntime"))
    assert len(set(pids)) == 2  # the worker ended with its search; the next has its own


def test_with_a_bench_section_candidates_are_timed_by_the_bench_timer_at_its_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GPU latency the way trtc bench measures it (TensorRT: GPU compute, CUDA graph), at
    # the recipe's largest bench batch; ONNX Runtime's CPU timer stands in for it here.
    from trtc.backends.onnxruntime import OnnxRuntimeBackend
    from trtc.recipe import BenchSpec

    timed: list[tuple[int, tuple[int, ...]]] = []
    original = OnnxRuntimeBackend.timer

    def spy(self: OnnxRuntimeBackend, artifact: Path, spec: BenchSpec) -> object:
        timer = original(self, artifact, spec)
        real = timer.time

        def time(feed: dict, batch: int) -> tuple[dict, list[str]]:
            timed.append((batch, next(iter(feed.values())).shape))
            return real(feed, batch)

        timer.time = time  # type: ignore[method-assign]
        return timer

    monkeypatch.setattr(OnnxRuntimeBackend, "timer", spy)
    src = make_hostile_model(tmp_path / "hostile.onnx")
    bench = BenchSpec(batch=(1, 4), duration_s=0.05, warmup_ms=1.0, min_iterations=2)
    report = quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(**SPEC, budget_on="engine"),
                            cache_dir=tmp_path / "cache",
                            engine=EngineBudget(backend="onnxruntime", bench=bench))
    budget = report.to_dict()["budget"]
    measured = [*budget["candidates"], budget["baseline"]]
    assert len(timed) == len(measured) and all(b == 4 and shape[0] == 4 for b, shape in timed)
    assert all(c["latency_batch"] == 4 and c["latency_ms"] > 0 for c in measured)
    assert EngineBudget().time_batch is None and EngineBudget(bench=bench).time_batch == 4


def test_a_backend_search_measures_the_fp16_reference_and_picks_by_latency(
        tmp_path: Path) -> None:
    src = make_hostile_model(tmp_path / "hostile.onnx")
    report = quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(**SPEC, budget_on="engine"),
                            cache_dir=tmp_path / "cache",
                            engine=EngineBudget(backend="onnxruntime"))
    budget = report.to_dict()["budget"]
    assert budget["chosen_by"] == "fastest"
    # ONNX Runtime's backend has no fp16 build: the reference is the float model as the
    # build section builds it (TensorRT's is an fp16 engine: tests/trt).
    base = budget["baseline"]
    assert base["precision"] == "fp32" and base["latency_ms"] > 0 and base["drop"] <= 1e-6


def test_onnxruntime_cpu_targets_are_timed_and_get_an_fp32_reference(tmp_path: Path) -> None:
    # A model quantized for ONNX Runtime's CPU kernels ships to them: its latency on this
    # CPU is the deployment's, so the search picks by it, against the FP32 model's.
    src = make_hostile_model(tmp_path / "hostile.onnx")
    report = quantize_model(src, tmp_path / "q.onnx",
                            QuantizeSpec(**SPEC, target="onnxruntime-cpu"),
                            cache_dir=tmp_path / "cache")
    budget = report.to_dict()["budget"]
    assert budget["chosen_by"] == "fastest" and budget["evaluator"] == "onnxruntime"
    assert all(c["latency_ms"] > 0 for c in budget["candidates"])
    assert budget["baseline"]["precision"] == "fp32" and budget["baseline"]["latency_ms"] > 0
    # For TensorRT the Q/DQ graph runs fake-quantized on CPU: not timed, no reference.
    report = quantize_model(src, tmp_path / "t.onnx", QuantizeSpec(**SPEC),
                            cache_dir=tmp_path / "cache")
    budget = report.to_dict()["budget"]
    assert budget["chosen_by"] == "fewest float nodes" and "baseline" not in budget
    assert all("latency_ms" not in c for c in budget["candidates"])


def test_ort_evaluator_times_only_when_asked(tmp_path: Path) -> None:
    import numpy as np
    import onnx

    from trtc.optimize.sensitivity import run_outputs

    model = onnx.load(str(make_hostile_model(tmp_path / "m.onnx")))
    feeds = [{"x": np.ones((1, 16), np.float32)}] * 3
    reference = run_outputs(model, feeds)
    assert OrtEvaluator(feeds, reference, None)(model).latency_ms is None
    timed = OrtEvaluator(feeds, reference, None, timed=True)
    evaluation = timed(model)
    assert evaluation.latency_ms is not None and evaluation.latency_ms > 0
    assert evaluation.drop == pytest.approx(0.0, abs=1e-6)
    assert OrtEvaluator(feeds, reference, None).baseline(model, []) is None


def test_candidates_profile_covers_the_time_batch_with_the_samples_other_dims(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ppocr_cls (x: batch x 3 x h x w): the sample's shape alone made a batch-1 profile,
    # and TensorRT refused the time batch 32 ("Static dimension mismatch").
    import numpy as np

    from trtc.backends.onnxruntime import OnnxRuntimeBackend
    from trtc.recipe import BenchSpec
    from trtc.tensorrt.profiles import default_profile

    hints: list[object] = []
    original = OnnxRuntimeBackend.prepare_build

    def spy(self: OnnxRuntimeBackend, request: object) -> object:
        hints.append(request.hint)  # type: ignore[attr-defined]
        return original(self, request)  # type: ignore[arg-type]

    monkeypatch.setattr(OnnxRuntimeBackend, "prepare_build", spy)
    src = make_hostile_model(tmp_path / "hostile.onnx")
    bench = BenchSpec(batch=(4,), duration_s=0.05, warmup_ms=1.0, min_iterations=2)
    quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(**SPEC, budget_on="engine"),
                   cache_dir=tmp_path / "cache",
                   engine=EngineBudget(backend="onnxruntime", bench=bench))
    assert hints
    hint = hints[0]
    shapes = hint.shapes  # type: ignore[attr-defined]
    assert [next(iter(s.values()))[0] for s in shapes] == [1, 4]
    assert len({next(iter(s.values()))[1:] for s in shapes}) == 1
    # Fed to the default profile of a (batch, 3, h, w) input, that is batch 1..4 at the
    # sample's h and w.
    feed = {"x": np.zeros((1, 3, 48, 192), np.float32)}
    from trtc.optimize.engine_budget import _repeated_shape

    profile = default_profile({"x": ("float32", ("batch", 3, "h", "w"))},
                              shapes=[{"x": _repeated_shape(feed["x"], b)} for b in (1, 32)])
    assert profile["x"] == ((1, 3, 48, 192), (32, 3, 48, 192), (32, 3, 48, 192))


def test_a_search_run_again_reads_back_what_it_measured_and_builds_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A device call's time limit cuts a search of minutes-long builds: run again, it
    # measures only what it had not (the record sits beside the calibration cache).
    from trtc.backends.onnxruntime import OnnxRuntimeBackend

    builds: list[Path] = []
    original = OnnxRuntimeBackend.build

    def spy(self: OnnxRuntimeBackend, onnx_path: Path, *args: object, **kwargs: object) -> object:
        builds.append(onnx_path)
        return original(self, onnx_path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(OnnxRuntimeBackend, "build", spy)
    src = make_hostile_model(tmp_path / "hostile.onnx")

    def search(cache: Path) -> dict:
        spec = QuantizeSpec(**SPEC, budget_on="engine")
        return quantize_model(src, tmp_path / "q.onnx", spec, cache_dir=cache,
                              engine=EngineBudget(backend="onnxruntime")).to_dict()["budget"]

    first = search(tmp_path / "cache")
    made = len(builds)
    assert made >= 2 and (tmp_path / "cache" / "engine-evaluations.json").is_file()
    again = search(tmp_path / "cache")
    assert len(builds) == made  # nothing built the second time
    assert all(c.get("reused") for c in again["candidates"])
    assert [c["drop"] for c in again["candidates"]] == [c["drop"] for c in first["candidates"]]
    assert again["float_nodes"] == first["float_nodes"]
    from trtc.report import budget_search_line

    assert f"{len(again['candidates'])} read back from an earlier run" in \
        budget_search_line(again)
    assert "read back" not in budget_search_line(first)
    search(tmp_path / "other-cache")  # no record there: measured again
    assert len(builds) > made
