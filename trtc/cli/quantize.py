"""trtc quantize: INT8/FP8 Q/DQ for TensorRT or ONNX Runtime, or FP16/BF16, within a budget."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

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
from trtc.recipe import override


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(t.strip() for t in text.split(",") if t.strip())


class _Bar:
    """A rich progress bar on stderr for one phase (a context manager yielding update)."""

    def __init__(self, out: Output, description: str, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress("[progress.description]{task.description}", BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=out.err,
                                 transient=True)
        self.task = self.progress.add_task(description, total=total or None)

    def __enter__(self) -> Callable[[int, int], None]:
        self.progress.start()
        return lambda done, n: self.progress.update(self.task, completed=done, total=n or None)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def progress_bar(out: Output) -> Callable[[str, int], Any] | None:
    """A factory of rich progress bars on stderr (None under --quiet / --json, or when
    stderr is not a terminal: a log gets no bar frames or blank lines)."""
    if out.json or out.quiet or not out.err.is_terminal:
        return None
    return lambda description, total: _Bar(out, description, total)


class CliReporter:
    """The stages' reporter on the terminal: rich progress bars on stderr, phases as lines."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.bars = progress_bar(out)

    def phase(self, name: str) -> None:
        self.out.info(f"  {name}")

    def progress(self, description: str, total: int) -> Any:
        from trtc.stages import NullReporter

        if self.bars is None:
            return NullReporter().progress(description, total)
        return self.bars(description, total)


def quantize(
    source: Annotated[str, typer.Argument(help="A recipe (.yaml) or an ONNX model.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Quantized ONNX path "
                                                "(flags mode).")] = None,
    precision: Annotated[str | None, typer.Option(help="int8, fp8, fp16 or bf16.")] = None,
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
    calib_method: Annotated[str | None, typer.Option(help="minmax, entropy or percentile.")
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
        help="Nodes moved back to float per step of the budget search (default 1).")] = None,
    keep_io_types: Annotated[bool | None, typer.Option(
        "--keep-io-types/--no-keep-io-types",
        help="fp16/bf16: keep float32 graph inputs/outputs (default) or convert them too.")
    ] = None,
    eval_data: Annotated[str | None, typer.Option(
        help="Labelled data (.npz with 'labels', or python:) for the top-1 budget "
        "(flags mode; default: cosine on the calibration data).")] = None,
    workspace: WorkspaceOpt = Path("build"),
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Quantize an ONNX model: INT8/FP8 Q/DQ (calibrated) or FP16/BF16."""
    out = Output(json_out, quiet, verbose)
    recipe = load_target(source)
    recipe = override(recipe, "quantize", enabled=True, precision=precision, target=target,
                      calib_data=calib_data, calib_samples=calib_samples,
                      calib_batch=calib_batch, calib_method=calib_method,
                      exclude_nodes=_names(exclude_nodes), exclude_ops=_names(exclude_ops),
                      max_drop=max_drop, budget_step=budget_step,
                      keep_io_types=keep_io_types)
    if calib_resize is not None or calib_crop is not None:
        import dataclasses

        pre = recipe.quantize.calib_preprocess
        pre = dataclasses.replace(pre, resize=pre.resize if calib_resize is None else calib_resize,
                                  crop=pre.crop if calib_crop is None else calib_crop)
        recipe = override(recipe, "quantize", calib_preprocess=pre)
    if is_recipe(source):
        if output is not None:
            raise UsageError("-o/--output is for flags mode; a recipe writes to the workspace",
                             f"the model goes to {workspace}/{recipe.name}/quantize/model.onnx")
        if eval_data is not None:
            raise UsageError("--eval-data is for flags mode; a recipe uses verify.data")
        outcome = run_one_stage(recipe, "quantize", workspace, force, out,
                                reporter=CliReporter(out))
        for w in outcome.warnings:
            out.warn(w)
        if outcome.manifest:
            _show(out, outcome.manifest.get("metrics", {}))
        out.result(outcome.to_dict())
        return
    if output is None:
        raise UsageError("flags mode needs -o OUT.onnx",
                         "e.g. trtc quantize model.onnx -o model.int8.onnx --calib-data "
                         "calib.npz")
    from trtc.pipeline import Plan
    from trtc.stages.quantize import CACHE_DIR, quantize_model

    recipe = override(recipe, "quantize", target=Plan(recipe).quantize_target)
    result = quantize_model(Path(source), output, recipe.quantize,
                            cache_dir=workspace / recipe.name / "quantize" / CACHE_DIR,
                            eval_source=eval_data, progress=progress_bar(out))
    result.metrics.pop("calibration_ranges", None)
    for w in result.warnings:
        out.warn(w)
    out.info(f"[green]quantized[/] {output} ({recipe.quantize.precision}"
             f"{', ' + recipe.quantize.target if result.metrics['target'] else ''})")
    _show(out, result.metrics)
    out.result({"output": str(output), "metrics": result.metrics,
                "warnings": result.warnings})


def _show(out: Output, metrics: dict[str, Any]) -> None:
    """One line per fact a user acts on: calibration, Q/DQ, accuracy, budget, kept nodes."""
    from rich.markup import escape

    calib = metrics.get("calibration")
    if calib:
        out.info(f"calibration: {calib['method']} on {calib['samples']} samples from "
                 f"{escape(str(calib['source']))} (cache {calib['cache']}, "
                 f"{calib['calibration_runs']} calibration runs)")
    qdq = metrics.get("qdq")
    if qdq:
        out.info(f"Q/DQ: {qdq['quantize_linear']} QuantizeLinear, {qdq['dequantize_linear']} "
                 f"DequantizeLinear; {len(qdq['quantized_nodes'])} nodes quantized")
    acc = metrics.get("accuracy")
    if acc:
        out.info(f"accuracy: {acc['metric']} {acc['value']:.4f} (FP32 {acc['reference']:.4f}, "
                 f"drop {acc['drop']:.4f})")
    budget = metrics.get("budget")
    if budget and budget.get("float_nodes"):
        out.info(f"budget {budget['max_drop']:g}: {budget['before']['drop']:.4f} -> "
                 f"{budget['after']['drop']:.4f} with {len(budget['float_nodes'])} node(s) in "
                 f"float: {escape(', '.join(budget['float_nodes']))}")
    for kept in metrics.get("kept_fp32", []):
        out.info(f"kept in fp32: {escape(str(kept.get('name')))} "
                 f"({escape(str(kept.get('op_type', '')))}): "
                 f"{escape(str(kept.get('reason', '')))}")
