"""trtc quantize: INT8/FP8 Q/DQ for TensorRT or ONNX Runtime, or FP16/BF16, within a budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, ShapesOpt, command, one_of
from trtc.recipe import BudgetOn, CalibMethod, FloatPrecision, QuantizePrecision
from trtc.report import quantize_lines


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(t.strip() for t in text.split(",") if t.strip())


@command()
def quantize(
    source: Annotated[str, typer.Argument(help="A recipe (.yaml) or an ONNX model.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Quantized ONNX path "
                                                "(flags mode).")] = None,
    precision: Annotated[str | None, typer.Option(help=f"{one_of(QuantizePrecision)}.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="Q/DQ placement: tensorrt (symmetric int8, Q/DQ where TensorRT fuses "
        "them), onnxruntime-cpu (uint8 activations) or auto (TensorRT if it is usable here, "
        "else onnxruntime-cpu).")] = None,
    calib_data: Annotated[str | None, typer.Option(
        help="Calibration data: an .npz, an image folder, python:MODULE:FUNCTION, or "
        "'random' (a smoke test only).")] = None,
    calib_samples: Annotated[int | None, typer.Option(help="Samples to calibrate on.")] = None,
    calib_batch: Annotated[int | None, typer.Option(help="Samples per calibration batch.")
                           ] = None,
    calib_method: Annotated[str | None, typer.Option(help=f"{one_of(CalibMethod)}.")
                            ] = None,
    calib_resize: Annotated[int | None, typer.Option(
        help="Image folder: resize the shorter side to this many pixels (default 256).")
    ] = None,
    calib_crop: Annotated[int | None, typer.Option(
        help="Image folder: center-crop to this size (default 224); mean/std/layout come "
        "from the recipe's quantize.calib_preprocess.")] = None,
    exclude_nodes: Annotated[str | None, typer.Option(
        help="Comma-separated node names to keep in float.")] = None,
    exclude_ops: Annotated[str | None, typer.Option(
        help="Comma-separated op types to keep in float (e.g. Add,Softmax).")] = None,
    max_drop: Annotated[float | None, typer.Option(
        help="Accuracy budget: allowed top-1 drop (labelled --eval-data) or 1 - cosine vs "
        "FP32; missed -> the most harmful nodes go back to float.")] = None,
    budget_step: Annotated[int | None, typer.Option(
        help="Resolution of the budget search's bisection, in nodes (default 1).")] = None,
    budget_on: Annotated[str | None, typer.Option(
        help=f"What the budget search measures: {one_of(BudgetOn)} (engine: each candidate "
        "built as a TensorRT engine; without TensorRT, ONNX Runtime with a warning).")
    ] = None,
    float_precision: Annotated[str | None, typer.Option(
        help=f"int8/fp8 for TensorRT: what the nodes outside Q/DQ run in, "
        f"{one_of(FloatPrecision)} (fp16: written as fp16 with Casts, TensorRT 11's strongly "
        "typed way; 8.6/10 set the fp16 flag for it).")] = None,
    keep_io_types: Annotated[bool | None, typer.Option(
        "--keep-io-types/--no-keep-io-types",
        help="fp16/bf16: keep float32 graph inputs/outputs (default) or convert them too.")
    ] = None,
    eval_data: Annotated[str | None, typer.Option(
        help="Labelled data (.npz with 'labels', or python:) for the top-1 budget "
        "(verify.data.source; default: cosine on the calibration data).")] = None,
    shapes: ShapesOpt = None,
    *, common: Common,
) -> None:
    """Quantize an ONNX model: INT8/FP8 Q/DQ (calibrated) or FP16/BF16."""
    out = common.out
    outcome = api.quantize(
        source, output=output, shapes=shapes, eval_data=eval_data, calib_resize=calib_resize,
        calib_crop=calib_crop, workspace=common.workspace, force=common.force,
        reporter=out.reporter(), precision=precision, target=target, calib_data=calib_data,
        calib_samples=calib_samples, calib_batch=calib_batch, calib_method=calib_method,
        exclude_nodes=_names(exclude_nodes), exclude_ops=_names(exclude_ops),
        max_drop=max_drop, budget_step=budget_step, budget_on=budget_on,
        float_precision=float_precision, keep_io_types=keep_io_types)
    metrics = outcome.metrics
    if api.is_recipe(source):
        out.outcome(outcome)
        out.warnings(outcome.warnings)
        for line in quantize_lines(metrics):
            out.info(line)
        out.result(outcome.to_dict())
        return
    out.warnings(outcome.warnings)
    target_text = f", {metrics['target']}" if metrics.get("target") else ""
    out.info(f"[green]quantized[/] {output} ({metrics['precision']}{target_text})")
    for line in quantize_lines(metrics):
        out.info(line)
    out.result({"output": str(output), "metrics": metrics, "warnings": outcome.warnings,
                "calibration": str(outcome.outputs.get("calibration", ""))})
