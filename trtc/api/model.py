"""Export, prune and quantize: the functions that write an ONNX model."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trtc.api._support import (
    Shapes,
    Source,
    load_source,
    no_output,
    run_flags,
    run_in_workspace,
    shapes_of,
    source_path,
    with_data,
)
from trtc.errors import UsageError
from trtc.pipeline import Plan, StageOutcome
from trtc.recipe import override, parse_input, resolve_ref
from trtc.stages import Reporter


def export(source: Source, /, *, output: str | Path | None = None,
           inputs: Sequence[str] | None = None, weights: str | Path | None = None,
           workspace: str | Path = "build", force: bool = False,
           reporter: Reporter | None = None, **overrides: Any) -> StageOutcome:
    """Export a PyTorch model to ONNX (or check and clean up an ONNX model).

    Args:
        source: a recipe, or a model source (``torchvision:NAME``,
            ``python:MODULE:FACTORY``, an ``.onnx`` path).
        output: flags mode: the ONNX file to write (default ``<name>.onnx`` for a
            PyTorch source; required for an ONNX source).
        inputs: input specs ``NAME:DIMS[:DTYPE]`` (``input:batchx3x224x224``).
        weights: a state dict to load (``torch.load(weights_only=True)``).
        workspace: recipe mode: the artifact root.
        force: recipe mode: run even if up to date.
        reporter: where progress goes (default: nowhere).
        **overrides: keys of the recipe's ``export`` section (``opset``, ``exporter``,
            ``cleanup``...).

    Returns:
        The stage's outcome; ``outcome.outputs['model']`` is the ONNX file.

    Raises:
        UsageError: bad arguments (``output`` with a recipe, no inputs for PyTorch).
        ModelError: the model cannot be built, exported or checked.
        VerificationError: ONNX Runtime disagrees with PyTorch beyond tolerance.
    """
    recipe, in_workspace = load_source(source)
    model = recipe.model
    if weights is not None:
        model = dataclasses.replace(model, weights=str(Path(weights).resolve()))
    if inputs:
        model = dataclasses.replace(model, inputs=tuple(parse_input(i) for i in inputs))
    if not in_workspace and recipe.is_pytorch and not model.inputs:
        raise UsageError(f"{source}: a PyTorch model needs --input NAME:DIMS",
                         "e.g. --input input:batchx3x224x224")
    recipe = override(dataclasses.replace(recipe, model=model), "export", **overrides)
    if in_workspace:
        no_output(output, workspace, recipe, "export")
        return run_in_workspace(recipe, "export", workspace, force, reporter)
    if not recipe.is_pytorch and output is None:
        raise UsageError("exporting an .onnx file needs -o OUT.onnx")
    dest = Path(output or f"{recipe.name}.onnx")
    return run_flags(Plan(recipe), "export", {}, {"model": dest}, reporter)


def prune(source: Source, /, *, output: str | Path | None = None,
          workspace: str | Path = "build", force: bool = False,
          reporter: Reporter | None = None, **overrides: Any) -> StageOutcome:
    """Prune an ONNX model: 2:4 sparsity, unstructured magnitude, or whole channels.

    Args:
        source: a recipe, or an ONNX model path.
        output: flags mode: the pruned ONNX file to write (required).
        workspace: recipe mode: the artifact root.
        force: recipe mode: run even if up to date.
        reporter: where progress goes (default: nowhere).
        **overrides: keys of the recipe's ``prune`` section (``method``, ``ratio``,
            ``exclude``, ``channel_multiple``).

    Returns:
        The stage's outcome; ``outcome.metrics`` is the prune report (params, FLOPs and
        size before and after, per layer).

    Raises:
        UsageError: an unknown method, a ratio outside (0, 1), no ``output``.
        ModelError: the model cannot be read or pruned.
    """
    from typing import get_args

    from trtc.recipe import PruneMethod

    method, ratio = overrides.get("method"), overrides.get("ratio")
    if method is not None and method not in get_args(PruneMethod):
        raise UsageError(f"--method {method!r} is not one of {', '.join(get_args(PruneMethod))}",
                         "e.g. --method channel --ratio 0.3")
    recipe, in_workspace = load_source(source)
    if ratio is not None:
        from trtc.optimize.prune import check_ratio

        check_ratio(method or recipe.prune.method, ratio)
    recipe = override(recipe, "prune", enabled=True, **overrides)
    if in_workspace:
        no_output(output, workspace, recipe, "prune")
        return run_in_workspace(recipe, "prune", workspace, force, reporter)
    if output is None:
        raise UsageError("flags mode needs -o OUT.onnx",
                         f"e.g. trtc prune {source} -o pruned.onnx --method channel --ratio 0.3")
    return run_flags(Plan(recipe), "prune", {"model": source_path(source)}, {"model": Path(output)},
                  reporter)


def quantize(source: Source, /, *, output: str | Path | None = None, shapes: Shapes = None,
             eval_data: str | None = None, calib_resize: int | None = None,
             calib_crop: int | None = None, workspace: str | Path = "build",
             force: bool = False, reporter: Reporter | None = None,
             **overrides: Any) -> StageOutcome:
    """Quantize an ONNX model: INT8/FP8 Q/DQ (calibrated) or FP16/BF16 casts.

    Args:
        source: a recipe, or an ONNX model path.
        output: flags mode: the quantized ONNX file to write (required). The
            calibration ranges go to ``OUT.calibration.json`` beside it and the
            calibration cache to ``calibration-cache/`` in its folder.
        shapes: sizes for dynamic inputs while calibrating (``quantize.shapes``).
        eval_data: labelled data (``.npz`` / ``python:``) for the top-1 budget
            (``verify.data.source``; used with ``max_drop``).
        calib_resize: image folders: resize the shorter side to this many pixels.
        calib_crop: image folders: center-crop to this size.
        workspace: recipe mode: the artifact root.
        force: recipe mode: run even if up to date.
        reporter: where progress goes (calibration, budget search).
        **overrides: keys of the recipe's ``quantize`` section (``precision``,
            ``target``, ``calib_data``, ``calib_samples``, ``max_drop``...).

    Returns:
        The stage's outcome; ``outcome.metrics`` holds ``calibration``, ``qdq``,
        ``accuracy``, ``budget`` and ``kept_fp32``.

    Raises:
        UsageError: missing calibration data, unknown excluded node / op type, no
            ``output`` in flags mode.
        ModelError: unreadable or already quantized model, nothing to quantize.
        DataError: calibration / evaluation data not matching the model.
    """
    recipe, in_workspace = load_source(source)
    recipe = override(recipe, "quantize", enabled=True, shapes=shapes_of(shapes), **overrides)
    if calib_resize is not None or calib_crop is not None:
        pre = recipe.quantize.calib_preprocess
        pre = dataclasses.replace(pre, resize=pre.resize if calib_resize is None else calib_resize,
                                  crop=pre.crop if calib_crop is None else calib_crop)
        recipe = override(recipe, "quantize", calib_preprocess=pre)
    if eval_data is not None:  # the data verify judges by, and the budget with it
        recipe = with_data(recipe, source=resolve_ref(eval_data, Path.cwd()))
    if in_workspace:
        no_output(output, workspace, recipe, "quantize")
        return run_in_workspace(recipe, "quantize", workspace, force, reporter)
    if output is None:
        raise UsageError("flags mode needs -o OUT.onnx",
                         "e.g. trtc quantize model.onnx -o model.int8.onnx --calib-data "
                         "calib.npz")
    out = Path(output)
    ranges = out.with_suffix(".calibration.json") if out.suffix == ".onnx" else \
        out.with_name(out.name + ".calibration.json")
    return run_flags(Plan(recipe), "quantize", {"model": source_path(source)},
                  {"model": out, "calibration": ranges}, reporter)
