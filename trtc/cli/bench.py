"""trtc bench: trtexec-style latency and throughput, with a PyTorch baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, JunitOpt, ShapesOpt, command, one_of
from trtc.errors import UsageError
from trtc.junit import bench_suite, write_junit
from trtc.recipe import Baseline
from trtc.report import bench_renderable


def _batches(values: list[str] | None) -> tuple[int, ...] | None:
    if not values:
        return None
    out = []
    for value in values:
        for part in value.split(","):
            if not part.strip().isdigit() or int(part) <= 0:
                raise UsageError(f"--batch {value!r}: expected positive integers",
                                 "e.g. --batch 1 --batch 8, or --batch 1,8")
            out.append(int(part))
    return tuple(out)


@command()
def bench(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or an artifact / ONNX model.")],
    batch: Annotated[list[str] | None, typer.Option(
        help="Batch size(s): repeat or comma-separate (1,8,32).")] = None,
    shapes: ShapesOpt = None,
    duration: Annotated[float | None, typer.Option(help="Minimum timed seconds per run.")
                        ] = None,
    warmup: Annotated[float | None, typer.Option(help="Warm-up in milliseconds.")] = None,
    iterations: Annotated[int | None, typer.Option(help="Minimum timed runs.")] = None,
    threads: Annotated[int | None, typer.Option(help="Threads for every runtime "
                                                "(default: all usable cores).")] = None,
    baseline: Annotated[str | None, typer.Option(help=f"{one_of(Baseline)}.")] = None,
    cuda_graph: Annotated[bool | None, typer.Option(
        "--cuda-graph/--no-cuda-graph", help="TensorRT: replay the engine as a CUDA graph "
        "(default: on, where the engine allows it).")] = None,
    streams: Annotated[int | None, typer.Option(help="TensorRT: streams run at once, each "
                                                "with its own context (throughput).")] = None,
    compare_to: Annotated[str | None, typer.Option(
        "--compare-to", metavar="OLD.json", help="An earlier bench report.json: fail (exit 1) "
        "when a batch's median latency regressed beyond --max-regression and noise "
        "(bench.baseline_file).")] = None,
    max_regression: Annotated[float | None, typer.Option(
        help="Allowed median-latency regression against --compare-to (default 0.05 = 5 %; "
        "within 2 x CoV it is noise).")] = None,
    sweep: Annotated[str | None, typer.Option(
        metavar="'batch=1,8,32 streams=1,2'", help="Time every point of the grid in one run "
        "(bench.sweep); the table and the best point under --max-latency-ms.")] = None,
    max_latency_ms: Annotated[float | None, typer.Option(
        help="With --sweep: the best point is the most samples/s whose request latency "
        "(TensorRT: host latency, copies included) is at most this (bench.max_latency_ms).")
        ] = None,
    junit: JunitOpt = None,
    *, common: Common,
) -> None:
    """Measure latency percentiles and throughput of an artifact."""
    out = common.out
    outcome = api.bench(target, shapes=shapes, workspace=common.workspace, force=common.force,
                        reporter=out.reporter(), batch=_batches(batch), duration_s=duration,
                        warmup_ms=warmup, min_iterations=iterations, threads=threads,
                        baseline=baseline, cuda_graph=cuda_graph, streams=streams,
                        baseline_file=compare_to, max_regression=max_regression,
                        sweep=sweep, max_latency_ms=max_latency_ms,
                        raise_on_failure=False)
    if api.is_recipe(target) and outcome.error is None:
        out.outcome(outcome)
    if outcome.report is not None:
        out.show(bench_renderable(outcome.report))
        if junit is not None:
            write_junit(junit, [bench_suite(outcome.report, Path(target).name)])
    out.result(outcome.report)
    if outcome.error is not None:
        raise outcome.error
