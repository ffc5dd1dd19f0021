"""bench: trtexec-style latency/throughput of the artifact, with a PyTorch baseline.

Method (as trtexec): a time-based warm-up, then at least ``min_iterations``
runs and at least ``duration_s`` seconds; latency percentiles over the runs;
a warning when the run-to-run coefficient of variation exceeds ``cov_warn``.
How the artifact is timed (a CPU clock around ONNX Runtime, CUDA events around a
TensorRT engine) is the backend's :class:`~trtc.backends.base.Timer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trtc.errors import DataError, UsageError, VerificationError
from trtc.recipe import BenchSpec, ModelSpec
from trtc.stages import StageContext, StageResult
from trtc.sweep import point_label
from trtc.workspace import read_json, write_json


@dataclass(frozen=True)
class BenchJob:
    """What bench needs: the bench section and, for a PyTorch source, the baseline model."""

    bench: BenchSpec
    baseline: ModelSpec | None = None


@dataclass(frozen=True)
class BenchRow:
    """One batch size: the shapes run, each timed runtime's statistics, derived keys."""

    batch: int
    shapes: dict[str, str]
    #: Latency statistics by runtime (``onnxruntime``, ``pytorch``, ``pytorch_fp16``...).
    runs: dict[str, dict[str, Any]]
    #: Speed-ups and aliases (``speedup_vs_pytorch``, ``pytorch`` = ``pytorch_fp32``).
    derived: dict[str, Any] = field(default_factory=dict)
    #: A sweep's streams for this row (None outside a sweep: the row has no such key).
    streams: int | None = None

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"batch": self.batch}
        if self.streams is not None:
            head["streams"] = self.streams
        return {**head, "shapes": dict(self.shapes), **self.runs, **self.derived}


@dataclass(frozen=True)
class BenchReport:
    """``bench/report.json``: how the artifact was timed and the results per batch."""

    artifact: str
    backend: str
    threads: int | None
    method: dict[str, Any]
    results: tuple[BenchRow, ...]
    warnings: tuple[str, ...] = ()
    #: Backend-specific keys (TensorRT: ``device``, ``engine``), after ``threads``.
    context: dict[str, Any] = field(default_factory=dict)
    #: ``bench.sweep``'s table and best point (trtc.sweep.summarize), or None.
    sweep: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"artifact": self.artifact, "backend": self.backend, "threads": self.threads,
               **self.context, "method": dict(self.method),
               "results": [r.to_dict() for r in self.results],
               "warnings": list(self.warnings)}
        if self.sweep is not None:
            out["sweep"] = self.sweep
        return out


def run(job: BenchJob, ctx: StageContext) -> StageResult:
    """Benchmark ``ctx.inputs['artifact']`` (and the PyTorch baseline when there is one);
    with ``bench.baseline_file``, fail on a median-latency regression beyond noise."""
    report = measure_artifact(ctx.inputs["artifact"], job.bench, job.baseline)
    data = report.to_dict()
    gate = None
    if job.bench.baseline_file:
        old = read_json(job.bench.baseline_file)
        if not isinstance(old, dict) or not isinstance(old.get("results"), list):
            raise DataError(f"bench.baseline_file: {job.bench.baseline_file} is not a bench "
                            "report (report.json with results)",
                            "give the report.json of an earlier trtc bench (--json output)")
        gate = compare_to_baseline(data, old, job.bench.max_regression,
                                   str(job.bench.baseline_file))
        data["baseline_gate"] = gate
    outputs: dict[str, Path] = {}
    where = "the report"
    if "report" in ctx.outputs:
        write_json(ctx.outputs["report"], data)
        outputs["report"] = ctx.outputs["report"]
        where = str(ctx.outputs["report"])
    if gate is not None and not gate["passed"]:
        raise VerificationError("; ".join(gate["failures"]),
                                f"see {where}; if the change is expected, bench again and "
                                "make that report the new baseline")
    metrics: dict[str, Any] = {"results": data["results"]}
    if gate is not None:
        metrics["baseline_gate"] = gate
    return StageResult("bench", outputs, metrics, warnings=list(report.warnings))


def compare_to_baseline(new: dict[str, Any], old: dict[str, Any], max_regression: float,
                        source: str = "baseline") -> dict[str, Any]:
    """Compare median latencies per batch with an earlier bench report.

    A batch regresses when its median is slower by more than ``max_regression`` *and*
    by more than twice the larger run-to-run CoV of the two runs (within that, the
    difference is noise). Batches in only one report are listed, not judged.

    Returns ``{"baseline", "max_regression", "runtime", "batches": [...], "failures",
    "passed"}``; each batch has old/new medians, ``regression`` (0.1 = 10 % slower),
    ``allowed`` and ``passed``.
    """
    runtime = str(new.get("backend"))
    old_runtime = str(old.get("backend") or runtime)
    old_rows = {(int(r["batch"]), r.get("streams")): r for r in old.get("results", [])
                if "batch" in r}
    batches: list[dict[str, Any]] = []
    failures: list[str] = []
    for row in new.get("results", []):
        batch, streams = int(row["batch"]), row.get("streams")
        before = (old_rows.get((batch, streams)) or {}).get(old_runtime)
        now = row.get(runtime)
        point = {"batch": batch} | ({"streams": streams} if streams is not None else {})
        label = point_label(row)
        if not isinstance(before, dict) or not isinstance(now, dict):
            batches.append({**point, "compared": False})
            continue
        old_ms, new_ms = float(before["median_ms"]), float(now["median_ms"])
        regression = new_ms / old_ms - 1 if old_ms > 0 else 0.0
        noise = 2 * max(float(before.get("cov", 0.0)), float(now.get("cov", 0.0)))
        allowed = max(max_regression, noise)
        passed = regression <= allowed
        batches.append({**point, "compared": True, "old_median_ms": old_ms,
                        "new_median_ms": new_ms, "regression": round(regression, 4),
                        "allowed": round(allowed, 4), "passed": passed})
        if not passed:
            failures.append(f"{label}: median latency {new_ms:.3f} ms is "
                            f"{regression * 100:.1f}% slower than the baseline's "
                            f"{old_ms:.3f} ms (allowed {allowed * 100:.1f}%: max_regression "
                            f"{max_regression * 100:g}%, noise 2 x CoV {noise * 100:.1f}%)")
    return {"baseline": source, "max_regression": max_regression, "runtime": runtime,
            "batches": batches, "failures": failures, "passed": not failures}


def benchmark(artifact: Path, spec: BenchSpec, baseline: ModelSpec | None = None
              ) -> dict[str, Any]:
    """:func:`measure_artifact` as the JSON dict (``trtc bench``'s flags mode)."""
    return measure_artifact(artifact, spec, baseline).to_dict()


def measure_artifact(artifact: Path, spec: BenchSpec, baseline: ModelSpec | None = None
                     ) -> BenchReport:
    """Measure the artifact at every batch size (and the PyTorch baseline, same inputs)."""
    from trtc.backends import backend_for_artifact
    from trtc.data import input_infos, random_dataset
    from trtc.shapes import format_shape

    backend = backend_for_artifact(artifact)
    inputs, _ = backend.io_specs(artifact)
    infos = input_infos(inputs)
    timer = backend.timer(artifact, spec)
    torch_model = None
    if baseline is not None:
        from trtc.backends import torch as torch_backend

        torch_model = torch_backend.load_model(baseline)
    names = [i.name for i in infos]
    rows: list[BenchRow] = []
    warnings: list[str] = []
    noisy: list[str] = []
    swept = spec.swept()
    points: list[tuple[int, int | None]]
    if swept is None:
        points = [(b, None) for b in _batches(spec, infos[0].name if infos else None,
                                              warnings)]
    else:
        streams = swept.streams
        if backend.name != "tensorrt" and streams != (1,):
            warnings.append(f"bench.sweep streams={','.join(map(str, streams))}: streams "
                            f"apply to TensorRT engines only; {backend.name} swept batch alone")
            streams = (1,)
        points = list(replace(swept, streams=streams).points())
    timers: dict[int | None, Any] = {None: timer, spec.streams: timer}
    skipped: list[str] = []
    for batch, streams_n in points:
        if streams_n is not None and streams_n not in timers:
            timers[streams_n] = backend.timer(artifact, replace(spec, streams=streams_n))
        shapes = spec.shapes if swept is None else _shapes_at(spec.shapes, batch)
        feed = random_dataset(infos, shapes, batch, 1, spec.seed).feeds[0]
        try:
            stats, notes = timers[streams_n].time(feed, batch)
        except UsageError as exc:
            if swept is None or not streams_n or streams_n == 1:
                raise
            # A sweep goes on where the engine has too few profiles for more streams.
            skipped.append(f"batch {batch} streams {streams_n} ({exc.message})")
            continue
        warnings.extend(n for n in notes if n not in warnings)
        runs = {backend.name: stats}
        derived: dict[str, Any] = {}
        # PyTorch once per batch (the first streams value), not at every point of a sweep.
        if torch_model is not None and streams_n in (None, points[0][1]):
            more, derived = timer.baseline(torch_model, feed, names, batch, stats)
            runs.update(more)
        where = f"batch {batch}" + (f" streams {streams_n}" if streams_n is not None else "")
        for name, run_stats in runs.items():
            if run_stats["cov"] > spec.cov_warn:
                noisy.append(f"{where} {name} {run_stats['cov'] * 100:.1f}%")
        rows.append(BenchRow(batch, {n: format_shape(a.shape) for n, a in feed.items()}, runs,
                             derived, streams_n))
    if skipped:
        warnings.append("sweep points skipped: " + "; ".join(skipped))
    sweep = None
    if swept is not None:
        from trtc.sweep import summarize

        sweep = summarize([{"batch": r.batch, "streams": r.streams, **r.runs[backend.name]}
                           for r in rows], spec.max_latency_ms)
        if spec.max_latency_ms is not None and sweep["best"] is None:
            warnings.append(f"no sweep point has a latency within bench.max_latency_ms "
                            f"{spec.max_latency_ms:g} ms")
    if noisy:
        warnings.append(f"latency varies run to run (CoV above {spec.cov_warn * 100:.1f}%: "
                        f"{', '.join(noisy)}); {timer.noise_hint}")
    method = {"warmup_ms": spec.warmup_ms, "duration_s": spec.duration_s,
              "min_iterations": spec.min_iterations, **timer.method(),
              "inputs": f"random (seed {spec.seed})"}
    return BenchReport(str(artifact), backend.name, timer.threads, method, tuple(rows),
                       tuple(warnings), timer.context(), sweep)


def _shapes_at(shapes: dict[str, tuple[int, ...]], batch: int) -> dict[str, tuple[int, ...]]:
    """``--shapes`` at another batch, for a sweep: the inputs whose dim 0 is the first
    shaped input's (the batch the shapes were written for) take ``batch`` there."""
    if not shapes:
        return shapes
    written = next(iter(shapes.values()))
    if not written:
        return shapes
    return {name: ((batch, *dims[1:]) if dims and dims[0] == written[0] else dims)
            for name, dims in shapes.items()}


def _batches(spec: BenchSpec, first_input: str | None, warnings: list[str]) -> tuple[int, ...]:
    """The batch sizes to run: ``spec.batch``, or the one ``--shapes`` fixes for input 0."""
    if first_input and first_input in spec.shapes and spec.shapes[first_input]:
        # --shapes fixes the first input's dim 0: that is the batch actually run and counted.
        shaped = int(spec.shapes[first_input][0])
        if set(spec.batch) - {1, shaped}:
            warnings.append(f"--shapes sets {first_input} to batch {shaped}; "
                            f"batch sizes {list(spec.batch)} were not used")
        return (shaped,)
    return tuple(spec.batch)
