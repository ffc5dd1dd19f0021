"""trtc verify: compare a built artifact with a reference (Polygraphy's comparator)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

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
    outcome_line,
)
from trtc.errors import UsageError, VerificationError
from trtc.recipe import Recipe, override, resolve_ref
from trtc.shapes import parse_shapes


def verify(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or a candidate artifact.")],
    reference: Annotated[Path | None, typer.Option(help="Reference ONNX model "
                                                   "(run unoptimised on ONNX Runtime).")] = None,
    atol: Annotated[float | None, typer.Option(help="Absolute tolerance for every output.")
                    ] = None,
    rtol: Annotated[float | None, typer.Option(help="Relative tolerance for every output.")
                    ] = None,
    data: Annotated[str | None, typer.Option(help="random, an .npz file, or "
                                             "python:MODULE:FUNCTION.")] = None,
    batch: Annotated[int | None, typer.Option(help="Batch size of the feeds.")] = None,
    iterations: Annotated[int | None, typer.Option(help="Random feeds to compare.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for random feeds.")] = None,
    shapes: ShapesOpt = None,
    metric: Annotated[str | None, typer.Option(
        help="none, top1 (labelled data) or cosine.")] = None,
    max_drop: Annotated[float | None, typer.Option(help="Allowed top-1 drop (0.01 = 1 point).")
                        ] = None,
    min_cosine: Annotated[float | None, typer.Option(
        help="Lowest mean per-sample cosine similarity (metric cosine).")] = None,
    elementwise: Annotated[str | None, typer.Option(
        help="auto, on or off: do atol/rtol gate? auto: not for pruned/quantized models, "
             "where the metric (default cosine) decides.")] = None,
    workspace: WorkspaceOpt = Path("build"),
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Check that a built artifact matches its reference within tolerance (exit 1 if not)."""
    out = Output(json_out, quiet, verbose)
    recipe: Recipe = load_target(target)
    data_spec = recipe.verify.data
    flags: dict[str, Any] = {"batch": batch, "iterations": iterations, "seed": seed,
                             "source": resolve_ref(data, Path.cwd()) if data else None,
                             "shapes": parse_shapes(shapes) or None}
    changes = {k: v for k, v in flags.items() if v is not None}
    if changes:
        recipe = dataclasses.replace(recipe, verify=dataclasses.replace(
            recipe.verify, data=dataclasses.replace(data_spec, **changes)))
    recipe = override(recipe, "verify", atol=atol, rtol=rtol, metric=metric, max_drop=max_drop,
                      min_cosine=min_cosine, elementwise=elementwise)
    from trtc.report import verify_renderable

    if is_recipe(target):
        from trtc.pipeline import run_recipe, workspace_for
        from trtc.workspace import read_json

        ws = workspace_for(recipe, workspace)
        try:
            (outcome,) = run_recipe(recipe, ws, only="verify", force=force)
        finally:
            report = read_json(ws.stage_dir("verify") / "report.json")
            if report is not None:
                out.show(verify_renderable(report))
        out.info(outcome_line(outcome))
        out.result(report)
        return
    if reference is None:
        raise UsageError("verify needs --reference REFERENCE.onnx in flags mode",
                         "e.g. trtc verify model.ort.onnx --reference model.onnx")
    from trtc.stages.verify import Reference, verify_artifact

    report = verify_artifact(Path(target), Reference(onnx_path=reference), recipe.verify)
    out.show(verify_renderable(report))
    out.result(report)
    if not report["passed"]:
        from trtc.stages.verify import failure_hint

        raise VerificationError(report["failures"][0], failure_hint(report, flags=True))
