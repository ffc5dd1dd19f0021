"""trtc inspect: what is inside an ONNX model or a TensorRT engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, ShapesOpt, command
from trtc.report import engine_renderable, inspect_renderable


@command(workspace=False)
def inspect(
    model: Annotated[Path, typer.Argument(help="An ONNX model or a TensorRT engine.")],
    shapes: ShapesOpt = None,
    *, common: Common,
) -> None:
    """Show an ONNX model's I/O, opset, ops, parameters, size and FLOPs, or an engine's
    build facts (its .engine.json sidecar), I/O, profiles and layers (--verbose lists them)."""
    out = common.out
    summary = api.inspect(model, shapes=shapes)
    if model.suffix.lower() in api.ENGINE_SUFFIXES:
        out.show(engine_renderable(summary, show_layers=out.verbose))
    else:
        out.show(inspect_renderable(summary))
    out.result(summary)
