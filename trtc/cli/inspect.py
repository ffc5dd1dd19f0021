"""trtc inspect: what is inside an ONNX model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc.cli.common import JsonOpt, Output, QuietOpt, ShapesOpt, VerboseOpt
from trtc.recipe import parse_shapes


def inspect(
    model: Annotated[Path, typer.Argument(help="An ONNX model.")],
    shapes: ShapesOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show an ONNX model's inputs/outputs, opset, ops, parameters, size and FLOPs."""
    from trtc.graph.inspect import summarize_model

    out = Output(json_out, quiet, verbose)
    from trtc.report import inspect_renderable

    summary = summarize_model(model, parse_shapes(shapes)).to_dict()
    out.show(inspect_renderable(summary))
    out.result(summary)
