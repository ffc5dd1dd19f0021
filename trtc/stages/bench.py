"""bench: trtexec-style latency/throughput of the artifact, with a PyTorch baseline.

Method (as trtexec): a time-based warm-up, then at least ``min_iterations``
runs and at least ``duration_s`` seconds; latency percentiles over the runs;
a warning when the run-to-run coefficient of variation exceeds ``cov_warn``.
How the artifact is timed (a CPU clock around ONNX Runtime, CUDA events around a
TensorRT engine) is the backend's :class:`~trtc.backends.base.Timer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.recipe import BenchSpec, ModelSpec
from trtc.stages import StageContext, StageResult
from trtc.workspace import write_json


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

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "shapes": dict(self.shapes), **self.runs, **self.derived}


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

    def to_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "backend": self.backend, "threads": self.threads,
                **self.context, "method": dict(self.method),
                "results": [r.to_dict() for r in self.results],
                "warnings": list(self.warnings)}


def run(job: BenchJob, ctx: StageContext) -> StageResult:
    """Benchmark ``ctx.inputs['artifact']`` (and the PyTorch baseline when there is one)."""
    report = measure_artifact(ctx.inputs["artifact"], job.bench, job.baseline)
    outputs: dict[str, Path] = {}
    if "report" in ctx.outputs:
        write_json(ctx.outputs["report"], report.to_dict())
        outputs["report"] = ctx.outputs["report"]
    return StageResult("bench", outputs, {"results": report.to_dict()["results"]},
                       warnings=list(report.warnings))


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
    for batch in _batches(spec, infos[0].name if infos else None, warnings):
        feed = random_dataset(infos, spec.shapes, batch, 1, spec.seed).feeds[0]
        stats, notes = timer.time(feed, batch)
        warnings.extend(n for n in notes if n not in warnings)
        runs = {backend.name: stats}
        derived: dict[str, Any] = {}
        if torch_model is not None:
            more, derived = timer.baseline(torch_model, feed, names, batch, stats)
            runs.update(more)
        for name, run_stats in runs.items():
            if run_stats["cov"] > spec.cov_warn:
                noisy.append(f"batch {batch} {name} {run_stats['cov'] * 100:.1f}%")
        rows.append(BenchRow(batch, {n: format_shape(a.shape) for n, a in feed.items()}, runs,
                             derived))
    if noisy:
        warnings.append(f"latency varies run to run (CoV above {spec.cov_warn * 100:.1f}%: "
                        f"{', '.join(noisy)}); {timer.noise_hint}")
    method = {"warmup_ms": spec.warmup_ms, "duration_s": spec.duration_s,
              "min_iterations": spec.min_iterations, **timer.method(),
              "inputs": f"random (seed {spec.seed})"}
    return BenchReport(str(artifact), backend.name, timer.threads, method, tuple(rows),
                       tuple(warnings), timer.context())


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
