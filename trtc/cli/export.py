"""trtc export: PyTorch -> ONNX (or check and clean up an existing ONNX file)."""

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
from trtc.recipe import InputSpec, Recipe, override


def parse_input(text: str) -> InputSpec:
    """Parse ``NAME:DIMS[:DTYPE]``, dims joined by 'x'; a non-numeric dim is a named dynamic dim."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise UsageError(f"--input {text!r}: expected NAME:DIMS[:DTYPE]",
                         "e.g. --input input:batchx3x224x224:float32")
    dims = tuple(int(d) if d.isdigit() else d for d in parts[1].split("x"))
    return InputSpec(name=parts[0], shape=dims, dtype=parts[2] if len(parts) == 3 else "float32")


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
    opset: Annotated[int | None, typer.Option(help="ONNX opset.")] = None,
    exporter: Annotated[str | None, typer.Option(help="dynamo (torch's default) or "
                                                 "legacy (TorchScript).")] = None,
    cleanup: Annotated[str | None, typer.Option(help="onnxslim, graphsurgeon or none.")] = None,
    workspace: WorkspaceOpt = Path("build"),
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Export a PyTorch model to ONNX, check it, clean it up and test parity."""
    import dataclasses

    out = Output(json_out, quiet, verbose)
    recipe: Recipe = load_target(target)
    if weights is not None or inputs:
        model = recipe.model
        if weights is not None:
            model = dataclasses.replace(model, weights=str(weights.resolve()))
        if inputs:
            model = dataclasses.replace(model, inputs=tuple(parse_input(i) for i in inputs))
        recipe = dataclasses.replace(recipe, model=model)
    recipe = override(recipe, "export", opset=opset, exporter=exporter, cleanup=cleanup)
    if is_recipe(target):
        if output is not None:
            raise UsageError("-o/--output is for flags mode; a recipe writes to the workspace",
                             f"the model goes to {workspace}/{recipe.name}/export/model.onnx")
        out.result(run_one_stage(recipe, "export", workspace, force, out).to_dict())
        return
    if not recipe.is_pytorch and output is None:
        raise UsageError("exporting an .onnx file needs -o OUT.onnx")
    if recipe.is_pytorch and not recipe.model.inputs:
        raise UsageError(f"{target}: a PyTorch model needs --input NAME:DIMS",
                         "e.g. --input input:batchx3x224x224")
    from trtc.stages.export import export_model

    dest = output or Path(f"{recipe.name}.onnx")
    result = export_model(recipe.model, recipe.export, dest)
    out.info(f"[green]exported[/] {dest} (nodes {result.metrics['nodes']['before']} -> "
             f"{result.metrics['nodes']['after']})")
    for w in result.warnings:
        out.warn(w)
    out.result({"output": str(dest), "metrics": result.metrics})
