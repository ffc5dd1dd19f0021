"""trtc package: a Triton Inference Server model repository from a built artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, command
from trtc.report import package_lines


@command()
def package(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml), a TensorRT engine (with its "
                                          ".engine.json sidecar) or an ONNX Runtime model.")],
    triton: Annotated[Path | None, typer.Option(
        "--triton", help="The Triton model repository folder to write into (recipe: "
        "package.repository, default WORKSPACE/<name>/package/triton).")] = None,
    name: Annotated[str | None, typer.Option(help="The model's name in the repository "
                                             "(default: the recipe's or file's name).")
                    ] = None,
    max_batch: Annotated[int | None, typer.Option(
        help="Triton's max_batch_size (default: the engine profile's largest batch; "
             "0: no batching).")] = None,
    dynamic_batching: Annotated[bool | None, typer.Option(
        "--dynamic-batching/--no-dynamic-batching",
        help="Let Triton batch requests together (default: on for a batched model).")] = None,
    *, common: Common,
) -> None:
    """Write DIR/NAME/config.pbtxt and DIR/NAME/1/model.plan (or model.onnx) for Triton;
    an engine for another GPU kind is added beside the first (cc_model_filenames)."""
    out = common.out
    outcome = api.package(target, triton=triton, name=name, max_batch=max_batch,
                          dynamic_batching=dynamic_batching, workspace=common.workspace,
                          force=common.force, reporter=out.reporter())
    if api.is_recipe(target):
        out.outcome(outcome)
    out.warnings(outcome.warnings)
    for line in package_lines(outcome.metrics):
        out.info(line)
    out.result(outcome.metrics)
