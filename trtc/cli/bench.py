"""trtc bench: trtexec-style latency and throughput, with a PyTorch baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc.cli.common import (
    ForceOpt,
    JsonOpt,
    Output,
    QuietOpt,
    ShapesOpt,
    VerboseOpt,
    WorkspaceOpt,
    is_recipe,
    load_target,
    run_one_stage,
)
from trtc.errors import UsageError
from trtc.recipe import override
from trtc.shapes import parse_shapes


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
    baseline: Annotated[str | None, typer.Option(help="auto, pytorch or none.")] = None,
    cuda_graph: Annotated[bool | None, typer.Option(
        "--cuda-graph/--no-cuda-graph", help="TensorRT: replay the engine as a CUDA graph "
        "(default: on, where the engine allows it).")] = None,
    streams: Annotated[int | None, typer.Option(help="TensorRT: streams run at once, each "
                                                "with its own context (throughput).")] = None,
    workspace: WorkspaceOpt = Path("build"),
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Measure latency percentiles and throughput of an artifact."""
    out = Output(json_out, quiet, verbose)
    recipe = load_target(target)
    parsed = parse_shapes(shapes)
    recipe = override(recipe, "bench", batch=_batches(batch), duration_s=duration,
                      warmup_ms=warmup, min_iterations=iterations, threads=threads,
                      baseline=baseline, shapes=parsed or None, cuda_graph=cuda_graph,
                      streams=streams)
    from trtc.report import bench_renderable

    if is_recipe(target):
        from trtc.pipeline import workspace_for
        from trtc.workspace import read_json

        run_one_stage(recipe, "bench", workspace, force, out)
        report = read_json(workspace_for(recipe, workspace).stage_dir("bench") / "report.json")
        if report is not None:
            out.show(bench_renderable(report))
        out.result(report)
        return
    from trtc.stages.bench import benchmark

    if recipe.bench.baseline == "pytorch":
        raise UsageError("--baseline pytorch needs a recipe with a PyTorch model",
                         "run trtc bench RECIPE.yaml, or drop --baseline")
    report = benchmark(Path(target), recipe.bench, None)
    out.show(bench_renderable(report))
    out.result(report)
