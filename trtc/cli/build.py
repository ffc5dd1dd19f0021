"""trtc build: make the artifact a runtime executes (ONNX Runtime now; TensorRT next)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc.cli.common import (
    ForceOpt,
    JsonOpt,
    Output,
    QuietOpt,
    VerboseOpt,
    WorkspaceOpt,
    is_recipe,
    load_target,
    run_one_stage,
)
from trtc.errors import UsageError
from trtc.recipe import override
from trtc.report import plan_table


def build(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or an ONNX model.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Artifact path "
                                                "(flags mode).")] = None,
    backend: Annotated[str | None, typer.Option(help="auto, onnxruntime or tensorrt.")] = None,
    device: Annotated[str | None, typer.Option(help="ONNX Runtime provider: cpu or cuda.")
                      ] = None,
    optimization_level: Annotated[str | None, typer.Option(
        help="ONNX Runtime graph optimisation: disable, basic, extended or all.")] = None,
    threads: Annotated[int | None, typer.Option(help="Intra-op threads.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved settings; "
                                          "build nothing.")] = False,
    workspace: WorkspaceOpt = Path("build"),
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Build an optimised artifact from an ONNX model."""
    out = Output(json_out, quiet, verbose)
    recipe = load_target(target)
    recipe = override(recipe, "build", backend=backend, device=device,
                      optimization_level=optimization_level, threads=threads)
    if dry_run:
        from trtc.stages.build import plan_build

        plan = plan_build(recipe.build)
        plan.update(input=target, output=str(output) if output else
                    f"{workspace}/{recipe.name}/build/ (recipe mode)")
        out.show(plan_table(plan))
        out.result(plan)
        return
    if is_recipe(target):
        if output is not None:
            raise UsageError("-o/--output is for flags mode; a recipe writes to the workspace")
        out.result(run_one_stage(recipe, "build", workspace, force, out).to_dict())
        return
    if output is None:
        raise UsageError("flags mode needs -o OUT (e.g. -o model.ort.onnx or -o model.engine)")
    from trtc.stages.build import build_artifact

    result = build_artifact(Path(target), output, recipe.build)
    out.info(f"[green]built[/] {output} with {result.metrics['backend_choice']} in "
             f"{result.metrics['build_time_s']:.2f} s")
    out.result({"output": str(output), "metrics": result.metrics})
