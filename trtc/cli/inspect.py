"""trtc inspect: what is inside an ONNX model or a TensorRT engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc.cli.common import JsonOpt, Output, QuietOpt, ShapesOpt, VerboseOpt
from trtc.shapes import parse_shapes

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def inspect(
    model: Annotated[Path, typer.Argument(help="An ONNX model or a TensorRT engine.")],
    shapes: ShapesOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show an ONNX model's I/O, opset, ops, parameters, size and FLOPs, or an engine's
    build facts (its .engine.json sidecar), I/O, profiles and layers (--verbose lists them)."""
    out = Output(json_out, quiet, verbose)
    if model.suffix.lower() in ENGINE_SUFFIXES:
        from trtc.backends.tensorrt import engine_summary
        from trtc.report import engine_renderable

        summary = engine_summary(model)
        out.show(engine_renderable(summary, show_layers=out.verbose))
        out.result(summary)
        return
    from trtc.graph.inspect import summarize_model
    from trtc.report import inspect_renderable

    result = summarize_model(model, parse_shapes(shapes)).to_dict()
    out.show(inspect_renderable(result))
    out.result(result)
