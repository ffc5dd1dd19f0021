"""Build, verify and bench: the functions that make and measure an artifact."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trtc.api._support import (
    ReportPath,
    Shapes,
    Source,
    build_recipe,
    failed,
    load_source,
    run_flags,
    run_in_workspace,
    shapes_of,
    source_path,
    with_data,
)
from trtc.errors import UsageError, VerificationError
from trtc.pipeline import Plan, StageOutcome, run_recipe, workspace_for
from trtc.recipe import Recipe, override, resolve_ref
from trtc.stages import Reporter
from trtc.workspace import read_json


def build(source: Source, /, *, output: str | Path | None = None,
          workspace: str | Path = "build", force: bool = False,
          trt_workspace: str | int | None = None, profiles: Sequence[Any] | None = None,
          shapes: Shapes = None, verbose: bool = False, reporter: Reporter | None = None,
          **overrides: Any) -> StageOutcome:
    """Build the artifact a runtime executes: a TensorRT engine or an ONNX Runtime model.

    Args:
        source: a recipe, or an ONNX model path.
        output: flags mode: the artifact to write (``OUT.engine`` / ``OUT.ort.onnx``).
        workspace: recipe mode: the artifact root (not TensorRT's memory pool:
            that is ``trt_workspace``).
        force: recipe mode: run even if up to date.
        trt_workspace: TensorRT's workspace memory pool (``4GiB``; ``build.workspace``).
        profiles: optimization profiles, ``'input:MIN,OPT,MAX'`` strings or recipe data.
        shapes: trtexec's ``--shapes``: build for exactly these shapes of the dynamic
            inputs when no profile is given (``build.shapes``; ``'x:1x3x640x640'``).
        verbose: TensorRT's builder log.
        reporter: where progress goes.
        **overrides: keys of the recipe's ``build`` section (``backend``,
            ``precision``, ``timing_cache``, ``sparsity``...).

    Returns:
        The stage's outcome; ``outcome.outputs['artifact']`` is the artifact and
        ``outcome.metrics`` its build facts (``backend_choice``, ``build_time_s``,
        ``settings``).

    Raises:
        UsageError: bad settings, ``output`` with a recipe or missing in flags mode.
        DependencyError: ``backend: tensorrt`` where TensorRT cannot run.
        ModelError: the model cannot be parsed or built.
    """
    recipe, in_workspace = build_recipe(source, trt_workspace, profiles,
                                        {**overrides, "shapes": shapes_of(shapes)})
    if in_workspace:
        if output is not None:
            raise UsageError("-o/--output is for flags mode; a recipe writes to the workspace")
        (outcome,) = run_recipe(recipe, workspace_for(recipe, workspace), only="build",
                                force=force, reporter=reporter, verbose=verbose)
        return outcome
    if output is None:
        raise UsageError("flags mode needs -o OUT (e.g. -o model.engine or -o model.ort.onnx)")
    return run_flags(Plan(recipe, verbose=verbose), "build", {"model": source_path(source)},
                  {"artifact": Path(output)}, reporter)


def build_plan(source: Source, /, *, output: str | Path | None = None,
               workspace: str | Path = "build", trt_version: str | None = None,
               trt_workspace: str | int | None = None, profiles: Sequence[Any] | None = None,
               shapes: Shapes = None, **overrides: Any) -> dict[str, Any]:
    """Resolve the backend and build settings without building (``build --dry-run``).

    Args:
        source, output, workspace, trt_workspace, profiles, **overrides: as :func:`build`.
        trt_version: preview for this TensorRT version (8.6, 10, 11) where TensorRT
            is not installed.

    Returns:
        The plan: the backend chosen and why, the resolved settings, ``warnings`` (what
        the dry run warns about: an opset newer than the parser documents...) and, for
        TensorRT, ``tensorrt`` (the settings sent) and ``trtexec`` (the equivalent line).
    """
    from trtc.pipeline import upstream_model
    from trtc.stages.build import plan_build, workspace_timing_cache_dir

    recipe, in_workspace = build_recipe(source, trt_workspace, profiles,
                                        {**overrides, "shapes": shapes_of(shapes)})
    cache_dir = None
    if in_workspace:
        ws = workspace_for(recipe, workspace)
        onnx_path = upstream_model(recipe, ws)
        engine = str(ws.stage_dir("build") / "model.engine")
        cache_dir = workspace_timing_cache_dir(ws.stage_dir("build"))
        where = f"{workspace}/{recipe.name}/build/ (recipe mode)"
    else:
        onnx_path = source_path(source)
        engine = str(output) if output else "model.engine"
        where = str(output) if output else "(give -o OUT)"
    plan = plan_build(recipe.build, onnx_path=onnx_path, hint=Plan(recipe).profile_hint(),
                      trt_version=trt_version, output=engine, timing_cache_dir=cache_dir)
    plan.update(input=str(source.path if isinstance(source, Recipe) else source), output=where,
                warnings=list((plan.get("tensorrt") or {}).get("notes", [])))
    return plan


def verify(source: Source, /, *, reference: str | Path | None = None,
           data: str | None = None, batch: int | None = None, iterations: int | None = None,
           seed: int | None = None, shapes: Shapes = None, report: str | Path | None = None,
           workspace: str | Path = "build", force: bool = False,
           raise_on_failure: bool = True, reporter: Reporter | None = None,
           **overrides: Any) -> StageOutcome:
    """Check that a built artifact matches its reference within tolerance.

    Args:
        source: a recipe, or a candidate artifact (``.onnx`` / ``.engine``).
        reference: flags mode: the reference ONNX model (run unoptimised on ONNX Runtime).
        data, batch, iterations, seed, shapes: the ``verify.data`` keys (``data`` is
            ``source``: random, an ``.npz``, ``python:MODULE:FUNCTION``).
        report: flags mode: where to keep the JSON report (default: not kept).
        workspace: recipe mode: the artifact root.
        force: recipe mode: run even if up to date.
        raise_on_failure: False: return a ``failed`` outcome (with ``error`` and
            ``report``) instead of raising VerificationError.
        reporter: where progress goes.
        **overrides: keys of the recipe's ``verify`` section (``atol``, ``rtol``,
            ``metric``, ``max_drop``, ``min_cosine``, ``elementwise``...).

    Returns:
        The stage's outcome; ``outcome.report`` is the comparison report (``passed``,
        per-output errors, the metric).

    Raises:
        VerificationError: the candidate does not match (unless ``raise_on_failure``
            is False).
        UsageError: no ``reference`` in flags mode.
        DataError: the data does not match the model.
    """
    recipe, in_workspace = load_source(source)
    changes = {"batch": batch, "iterations": iterations, "seed": seed,
               "source": resolve_ref(data, Path.cwd()) if data else None,
               "shapes": shapes_of(shapes)}
    recipe = with_data(recipe, **{k: v for k, v in changes.items() if v is not None})
    recipe = override(recipe, "verify", **overrides)
    if in_workspace:
        ws = workspace_for(recipe, workspace)
        try:
            outcome = run_in_workspace(recipe, "verify", workspace, force, reporter)
        except VerificationError as exc:
            return failed(exc, read_json(ws.stage_dir("verify") / "report.json"),
                           raise_on_failure)
        outcome.report = read_json(ws.stage_dir("verify") / "report.json")
        return outcome
    if reference is None:
        raise UsageError("verify needs --reference REFERENCE.onnx in flags mode",
                         "e.g. trtc verify model.ort.onnx --reference model.onnx")
    from trtc.stages.verify import failure_hint

    inputs = {"candidate": source_path(source), "reference": Path(reference)}
    with ReportPath(report) as path:
        try:
            outcome = run_flags(Plan(recipe), "verify", inputs, {"report": path}, reporter)
        except VerificationError:
            result = read_json(path) or {}
            # Flags mode names the flags to change, not the recipe keys.
            error = VerificationError(result["failures"][0], failure_hint(result, flags=True))
            return failed(error, result, raise_on_failure)
        outcome.report = read_json(path)
    return outcome


def bench(source: Source, /, *, shapes: Shapes = None, report: str | Path | None = None,
          workspace: str | Path = "build", force: bool = False,
          reporter: Reporter | None = None, raise_on_failure: bool = True,
          **overrides: Any) -> StageOutcome:
    """Measure latency percentiles and throughput of an artifact (trtexec's method).

    Args:
        source: a recipe, or an artifact / ONNX model path.
        shapes: sizes for dynamic inputs (``bench.shapes``).
        report: flags mode: where to keep the JSON report (default: not kept).
        workspace: recipe mode: the artifact root.
        force: recipe mode: run even if up to date.
        reporter: where progress goes.
        raise_on_failure: False: a baseline regression returns a ``failed`` outcome
            (with ``error`` and ``report``) instead of raising VerificationError.
        **overrides: keys of the recipe's ``bench`` section (``batch``, ``duration_s``,
            ``warmup_ms``, ``min_iterations``, ``threads``, ``baseline``, ``cuda_graph``,
            ``streams``, ``baseline_file`` (``--compare-to``), ``max_regression``).

    Returns:
        The stage's outcome; ``outcome.report`` holds ``results`` (one row per batch
        and runtime), ``warnings`` and, with a baseline file, ``baseline_gate``.

    Raises:
        VerificationError: slower than ``baseline_file`` beyond ``max_regression`` and
            noise (unless ``raise_on_failure`` is False).
        UsageError: ``baseline='pytorch'`` without a PyTorch recipe.
        DependencyError: an engine where TensorRT / CUDA cannot run.
    """
    recipe, in_workspace = load_source(source)
    recipe = override(recipe, "bench", shapes=shapes_of(shapes), **overrides)
    if in_workspace:
        path = workspace_for(recipe, workspace).stage_dir("bench") / "report.json"
        try:
            outcome = run_in_workspace(recipe, "bench", workspace, force, reporter)
        except VerificationError as exc:
            return failed(exc, read_json(path), raise_on_failure, "bench")
        outcome.report = read_json(path)
        return outcome
    if recipe.bench.baseline == "pytorch":
        raise UsageError("--baseline pytorch needs a recipe with a PyTorch model",
                         "run trtc bench RECIPE.yaml, or drop --baseline")
    with ReportPath(report) as path:
        try:
            outcome = run_flags(Plan(recipe), "bench", {"artifact": source_path(source)},
                                {"report": path}, reporter)
        except VerificationError as exc:
            return failed(exc, read_json(path), raise_on_failure, "bench")
        outcome.report = read_json(path)
    return outcome
