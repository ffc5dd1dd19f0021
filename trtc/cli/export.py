"""trtc export: PyTorch -> ONNX (or check and clean up an existing ONNX file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, command, one_of
from trtc.recipe import Cleanup


@command()
def export(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml), or a model source: "
                                          "torchvision:NAME, python:MODULE:FACTORY, or an "
                                          ".onnx file.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output ONNX path "
                                                "(flags mode).")] = None,
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", help="Input spec NAME:DIMS[:DTYPE], e.g. input:batchx3x224x224 "
        "(repeat per input; named dims are dynamic).")] = None,
    weights: Annotated[Path | None, typer.Option(help="State dict to load "
                                                 "(torch.load(weights_only=True)).")] = None,
    opset: Annotated[int | None, typer.Option(
        help="ONNX opset (default: auto, 17 for a TensorRT 8.x build, else 18).")] = None,
    exporter: Annotated[str | None, typer.Option(
        help="auto (legacy below opset 18, else dynamo), dynamo or legacy (TorchScript)."
        )] = None,
    cleanup: Annotated[str | None, typer.Option(help=f"{one_of(Cleanup)}.")] = None,
    *, common: Common,
) -> None:
    """Export a PyTorch model to ONNX, check it, clean it up and test parity."""
    out = common.out
    outcome = api.export(target, output=output, inputs=inputs, weights=weights,
                         workspace=common.workspace, force=common.force,
                         reporter=out.reporter(), opset=opset, exporter=exporter,
                         cleanup=cleanup)
    if api.is_recipe(target):
        out.outcome(outcome)
        out.warnings(outcome.warnings)
        out.result(outcome.to_dict())
        return
    nodes = outcome.metrics["nodes"]
    dest = outcome.outputs["model"]
    out.info(f"[green]exported[/] {dest} (nodes {nodes['before']} -> {nodes['after']})")
    out.warnings(outcome.warnings)
    out.result({"output": str(dest), "metrics": outcome.metrics, "warnings": outcome.warnings})
