"""trtc prune: 2:4 sparsity, unstructured magnitude or channel pruning of an ONNX model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, command
from trtc.report import prune_renderable


@command()
def prune(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or an ONNX model.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Pruned ONNX path "
                                                "(flags mode).")] = None,
    method: Annotated[str | None, typer.Option(
        help="2:4 (TensorRT sparse tensor cores), magnitude (unstructured; smaller "
             "compressed file, no speedup) or channel (removes channels; fewer FLOPs).")
    ] = None,
    ratio: Annotated[float | None, typer.Option(
        help="Fraction of weights (magnitude) or output channels (channel) to remove; "
             "between 0 and 1; ignored by 2:4.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="ONNX node name of a layer to leave dense (repeatable).")] = None,
    channel_multiple: Annotated[int | None, typer.Option(
        help="Round kept channel counts up to a multiple of this (e.g. 8 for tensor cores)."
    )] = None,
    *, common: Common,
) -> None:
    """Prune an ONNX model and report params, FLOPs and size before and after."""
    out = common.out
    outcome = api.prune(target, output=output, workspace=common.workspace, force=common.force,
                        reporter=out.reporter(), method=method, ratio=ratio,
                        exclude=tuple(exclude) if exclude else None,
                        channel_multiple=channel_multiple)
    if api.is_recipe(target):
        out.outcome(outcome)
        out.warnings(outcome.warnings)
        if outcome.manifest:
            out.show_err(prune_renderable(outcome.metrics))
        out.result(outcome.to_dict())
        return
    report = outcome.metrics
    out.show_err(prune_renderable(report))
    out.info(f"[green]pruned[/] {output} ({report['layers_pruned']} layer(s), method "
             f"{report['method']})")
    out.result({"output": str(output), "metrics": report})
