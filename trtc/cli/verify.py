"""trtc verify: compare a built artifact with a reference (Polygraphy's comparator)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, JunitOpt, ShapesOpt, command
from trtc.junit import verify_suite, write_junit
from trtc.report import verify_renderable


@command()
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
    junit: JunitOpt = None,
    *, common: Common,
) -> None:
    """Check that a built artifact matches its reference within tolerance (exit 1 if not)."""
    out = common.out
    outcome = api.verify(target, reference=reference, data=data, batch=batch,
                         iterations=iterations, seed=seed, shapes=shapes,
                         workspace=common.workspace, force=common.force, raise_on_failure=False,
                         reporter=out.reporter(), atol=atol, rtol=rtol, metric=metric,
                         max_drop=max_drop, min_cosine=min_cosine, elementwise=elementwise)
    if outcome.report is not None:
        out.show(verify_renderable(outcome.report))
        if junit is not None:
            write_junit(junit, [verify_suite(outcome.report, Path(target).name)])
    if outcome.error is not None:
        if not api.is_recipe(target):
            out.result(outcome.report)
        raise outcome.error
    if api.is_recipe(target):
        out.outcome(outcome)
    out.result(outcome.report)
