"""The public Python API: the functions the ``trtc`` commands call.

Every function takes a recipe (a ``.yaml`` path or a :class:`trtc.recipe.Recipe`)
or a model path, plus keyword overrides of that stage's recipe section (the
keys of :class:`trtc.recipe.QuantizeSpec` for :func:`quantize`, and so on; a
flag ``--calib-data`` is the keyword ``calib_data``).

- Recipe mode runs the stage in its workspace folder
  (``WORKSPACE/<recipe-name>/<stage>/``), skips it when it is up to date and
  writes its manifest, as ``trtc run`` does.
- Flags mode (a model path) makes a recipe for that model with the same
  overrides and runs the same stage job, writing to ``output``; auxiliary files
  go beside it (quantize: ``OUT.calibration.json`` and a calibration cache in
  the output's folder).

Example::

    import trtc.api as trtc

    outcome = trtc.quantize("model.onnx", output="model.int8.onnx", precision="int8",
                            target="onnxruntime-cpu", calib_data="random")
    print(outcome.metrics["qdq"])

Errors are :class:`trtc.errors.TrtcError` subclasses (``UsageError``, ``ModelError``,
``DataError``, ``DependencyError``, ``VerificationError``), never ``SystemExit``.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.errors import UsageError, VerificationError
from trtc.pipeline import Plan, StageOutcome, collect_reports, run_job, run_recipe, workspace_for
from trtc.recipe import Recipe, load_recipe, override, parse_input, recipe_for_model, resolve_ref
from trtc.stages import NullReporter, Reporter, StageContext
from trtc.workspace import atomic_path, read_json

__all__ = ["ENGINE_SUFFIXES", "RunResult", "StageOutcome", "bench", "build", "build_plan",
           "export", "inspect", "is_recipe", "is_size", "prune", "quantize", "run", "verify"]

#: A recipe path, a loaded recipe, or a model path / source (flags mode).
Source = str | Path | Recipe
#: ``"x:1x3x640x640,y:1x128"`` or ``{"x": (1, 3, 640, 640)}``.
Shapes = str | Mapping[str, Sequence[int]] | None

#: File suffixes :func:`inspect` reads as TensorRT engines.
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def is_recipe(source: Source) -> bool:
    """Return whether ``source`` is a recipe (a Recipe, or a .yaml / .yml path)."""
    return isinstance(source, Recipe) or str(source).endswith((".yaml", ".yml"))


def is_size(value: str) -> bool:
    """Return whether ``value`` reads as a memory size (``4GiB``, ``512MiB``, bytes)."""
    from trtc.backends.trt_config import is_size as _is_size

    return bool(_is_size(value))


# --------------------------------------------------------------------------- stages


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
    recipe, in_workspace = _load(source)
    model = recipe.model
    if weights is not None:
        model = dataclasses.replace(model, weights=str(Path(weights).resolve()))
    if inputs:
        model = dataclasses.replace(model, inputs=tuple(parse_input(i) for i in inputs))
    recipe = override(dataclasses.replace(recipe, model=model), "export", **overrides)
    if in_workspace:
        _no_output(output, workspace, recipe, "export")
        return _in_workspace(recipe, "export", workspace, force, reporter)
    if not recipe.is_pytorch and output is None:
        raise UsageError("exporting an .onnx file needs -o OUT.onnx")
    if recipe.is_pytorch and not recipe.model.inputs:
        raise UsageError(f"{source}: a PyTorch model needs --input NAME:DIMS",
                         "e.g. --input input:batchx3x224x224")
    dest = Path(output or f"{recipe.name}.onnx")
    return _flags(Plan(recipe), "export", {}, {"model": dest}, reporter)


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
    recipe, in_workspace = _load(source)
    if ratio is not None:
        from trtc.optimize.prune import check_ratio

        check_ratio(method or recipe.prune.method, ratio)
    recipe = override(recipe, "prune", enabled=True, **overrides)
    if in_workspace:
        _no_output(output, workspace, recipe, "prune")
        return _in_workspace(recipe, "prune", workspace, force, reporter)
    if output is None:
        raise UsageError("flags mode needs -o OUT.onnx",
                         f"e.g. trtc prune {source} -o pruned.onnx --method channel --ratio 0.3")
    return _flags(Plan(recipe), "prune", {"model": _path(source)}, {"model": Path(output)},
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
    recipe, in_workspace = _load(source)
    recipe = override(recipe, "quantize", enabled=True, shapes=_shapes(shapes), **overrides)
    if calib_resize is not None or calib_crop is not None:
        pre = recipe.quantize.calib_preprocess
        pre = dataclasses.replace(pre, resize=pre.resize if calib_resize is None else calib_resize,
                                  crop=pre.crop if calib_crop is None else calib_crop)
        recipe = override(recipe, "quantize", calib_preprocess=pre)
    if eval_data is not None:  # the data verify judges by, and the budget with it
        recipe = _with_data(recipe, source=resolve_ref(eval_data, Path.cwd()))
    if in_workspace:
        _no_output(output, workspace, recipe, "quantize")
        return _in_workspace(recipe, "quantize", workspace, force, reporter)
    if output is None:
        raise UsageError("flags mode needs -o OUT.onnx",
                         "e.g. trtc quantize model.onnx -o model.int8.onnx --calib-data "
                         "calib.npz")
    out = Path(output)
    ranges = out.with_suffix(".calibration.json") if out.suffix == ".onnx" else \
        out.with_name(out.name + ".calibration.json")
    return _flags(Plan(recipe), "quantize", {"model": _path(source)},
                  {"model": out, "calibration": ranges}, reporter)


def build(source: Source, /, *, output: str | Path | None = None,
          workspace: str | Path = "build", force: bool = False,
          trt_workspace: str | int | None = None, profiles: Sequence[Any] | None = None,
          verbose: bool = False, reporter: Reporter | None = None,
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
    recipe, in_workspace = _build_recipe(source, trt_workspace, profiles, overrides)
    if in_workspace:
        if output is not None:
            raise UsageError("-o/--output is for flags mode; a recipe writes to the workspace")
        (outcome,) = run_recipe(recipe, workspace_for(recipe, workspace), only="build",
                                force=force, reporter=reporter, verbose=verbose)
        return outcome
    if output is None:
        raise UsageError("flags mode needs -o OUT (e.g. -o model.engine or -o model.ort.onnx)")
    return _flags(Plan(recipe, verbose=verbose), "build", {"model": _path(source)},
                  {"artifact": Path(output)}, reporter)


def build_plan(source: Source, /, *, output: str | Path | None = None,
               workspace: str | Path = "build", trt_version: str | None = None,
               trt_workspace: str | int | None = None, profiles: Sequence[Any] | None = None,
               **overrides: Any) -> dict[str, Any]:
    """Resolve the backend and build settings without building (``build --dry-run``).

    Args:
        source, output, workspace, trt_workspace, profiles, **overrides: as :func:`build`.
        trt_version: preview for this TensorRT version (8.6, 10, 11) where TensorRT
            is not installed.

    Returns:
        The plan: the backend chosen and why, the resolved settings and, for
        TensorRT, ``tensorrt`` (the settings sent) and ``trtexec`` (the equivalent line).
    """
    from trtc.pipeline import upstream_model
    from trtc.stages.build import plan_build, workspace_timing_cache_dir

    recipe, in_workspace = _build_recipe(source, trt_workspace, profiles, overrides)
    cache_dir = None
    if in_workspace:
        ws = workspace_for(recipe, workspace)
        onnx_path = upstream_model(recipe, ws)
        engine = str(ws.stage_dir("build") / "model.engine")
        cache_dir = workspace_timing_cache_dir(ws.stage_dir("build"))
        where = f"{workspace}/{recipe.name}/build/ (recipe mode)"
    else:
        onnx_path = _path(source)
        engine = str(output) if output else "model.engine"
        where = str(output) if output else "(give -o OUT)"
    plan = plan_build(recipe.build, onnx_path=onnx_path, hint=Plan(recipe).profile_hint(),
                      trt_version=trt_version, output=engine, timing_cache_dir=cache_dir)
    plan.update(input=str(source.path if isinstance(source, Recipe) else source), output=where)
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
    recipe, in_workspace = _load(source)
    changes = {"batch": batch, "iterations": iterations, "seed": seed,
               "source": resolve_ref(data, Path.cwd()) if data else None,
               "shapes": _shapes(shapes)}
    recipe = _with_data(recipe, **{k: v for k, v in changes.items() if v is not None})
    recipe = override(recipe, "verify", **overrides)
    if in_workspace:
        ws = workspace_for(recipe, workspace)
        try:
            outcome = _in_workspace(recipe, "verify", workspace, force, reporter)
        except VerificationError as exc:
            return _failed(exc, read_json(ws.stage_dir("verify") / "report.json"),
                           raise_on_failure)
        outcome.report = read_json(ws.stage_dir("verify") / "report.json")
        return outcome
    if reference is None:
        raise UsageError("verify needs --reference REFERENCE.onnx in flags mode",
                         "e.g. trtc verify model.ort.onnx --reference model.onnx")
    from trtc.stages.verify import failure_hint

    inputs = {"candidate": _path(source), "reference": Path(reference)}
    with _report_path(report) as path:
        try:
            outcome = _flags(Plan(recipe), "verify", inputs, {"report": path}, reporter)
        except VerificationError:
            result = read_json(path) or {}
            # Flags mode names the flags to change, not the recipe keys.
            error = VerificationError(result["failures"][0], failure_hint(result, flags=True))
            return _failed(error, result, raise_on_failure)
        outcome.report = read_json(path)
    return outcome


def bench(source: Source, /, *, shapes: Shapes = None, report: str | Path | None = None,
          workspace: str | Path = "build", force: bool = False,
          reporter: Reporter | None = None, **overrides: Any) -> StageOutcome:
    """Measure latency percentiles and throughput of an artifact (trtexec's method).

    Args:
        source: a recipe, or an artifact / ONNX model path.
        shapes: sizes for dynamic inputs (``bench.shapes``).
        report: flags mode: where to keep the JSON report (default: not kept).
        workspace: recipe mode: the artifact root.
        force: recipe mode: run even if up to date.
        reporter: where progress goes.
        **overrides: keys of the recipe's ``bench`` section (``batch``, ``duration_s``,
            ``warmup_ms``, ``min_iterations``, ``threads``, ``baseline``, ``cuda_graph``,
            ``streams``).

    Returns:
        The stage's outcome; ``outcome.report`` holds ``results`` (one row per batch
        and runtime) and ``warnings``.

    Raises:
        UsageError: ``baseline='pytorch'`` without a PyTorch recipe.
        DependencyError: an engine where TensorRT / CUDA cannot run.
    """
    recipe, in_workspace = _load(source)
    recipe = override(recipe, "bench", shapes=_shapes(shapes), **overrides)
    if in_workspace:
        outcome = _in_workspace(recipe, "bench", workspace, force, reporter)
        outcome.report = read_json(workspace_for(recipe, workspace).stage_dir("bench")
                                   / "report.json")
        return outcome
    if recipe.bench.baseline == "pytorch":
        raise UsageError("--baseline pytorch needs a recipe with a PyTorch model",
                         "run trtc bench RECIPE.yaml, or drop --baseline")
    with _report_path(report) as path:
        outcome = _flags(Plan(recipe), "bench", {"artifact": _path(source)},
                         {"report": path}, reporter)
        outcome.report = read_json(path)
    return outcome


# --------------------------------------------------------------------------- run, inspect


@dataclass
class RunResult:
    """What ``trtc run`` did: one outcome per stage, and the summary it wrote."""

    recipe: str
    workspace: Path
    outcomes: list[StageOutcome]
    #: ``report.md`` in the workspace (None for a dry run).
    report: Path | None = None
    #: The manifests and verify/bench reports the summary was made from.
    collected: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"recipe": self.recipe, "workspace": str(self.workspace),
                               "stages": [o.to_dict() for o in self.outcomes]}
        if self.report is not None:
            out["report"] = str(self.report)
        return out


def run(recipe: str | Path | Recipe, /, *, workspace: str | Path = "build",
        until: str | None = None, force: bool = False, dry_run: bool = False,
        on_outcome: Callable[[StageOutcome], None] | None = None,
        reporter: Reporter | None = None, verbose: bool = False) -> RunResult:
    """Run every enabled stage of a recipe in order, skipping those that are up to date.

    Args:
        recipe: a recipe path or a loaded Recipe.
        workspace: the artifact root (``WORKSPACE/<recipe-name>/<stage>/``).
        until: stop after this stage.
        force: run every stage even if up to date.
        dry_run: say what would run and why; run and write nothing.
        on_outcome: called with each stage's outcome as soon as it is known.
        reporter: where progress goes.
        verbose: TensorRT's builder log for the build stage.

    Returns:
        The outcomes, and (unless ``dry_run``) the ``report.md`` summary written.

    Raises:
        TrtcError: the first stage that fails stops the run (its error).
    """
    loaded = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    ws = workspace_for(loaded, workspace)
    outcomes = run_recipe(loaded, ws, until=until, force=force, dry_run=dry_run,
                          on_outcome=on_outcome, reporter=reporter, verbose=verbose)
    result = RunResult(loaded.name, ws.root, outcomes)
    if not dry_run:
        from trtc.report import summary_markdown

        result.collected = collect_reports(ws)
        result.report = ws.root / "report.md"
        with atomic_path(result.report) as tmp:
            tmp.write_text(summary_markdown(result.collected, loaded.name))
    return result


def inspect(model: str | Path, /, *, shapes: Shapes = None) -> dict[str, Any]:
    """Describe an ONNX model or a TensorRT engine.

    Args:
        model: an ONNX model, or an engine (``.engine``/``.plan``/``.trt``; read from
            its ``.engine.json`` sidecar where TensorRT is not installed).
        shapes: sizes for dynamic inputs, for the FLOPs estimate.

    Returns:
        ONNX: I/O, opset, op histogram, parameters, size, FLOPs. Engine: the
        sidecar's build facts, I/O, profiles and layers.

    Raises:
        ModelError: the file is missing or unreadable.
    """
    path = Path(model)
    if path.suffix.lower() in ENGINE_SUFFIXES:
        from trtc.backends.tensorrt import engine_summary

        return dict(engine_summary(path))
    from trtc.graph.inspect import summarize_model

    return dict(summarize_model(path, _shapes(shapes) or {}).to_dict())


# --------------------------------------------------------------------------- helpers


def _load(source: Source) -> tuple[Recipe, bool]:
    """The recipe and whether it is recipe mode (a Recipe / .yaml) or flags mode."""
    if isinstance(source, Recipe):
        return source, True
    if is_recipe(source):
        return load_recipe(source), True
    return recipe_for_model(source), False


def _path(source: Source) -> Path:
    """A flags-mode source as a path (a Recipe never reaches flags mode)."""
    if isinstance(source, Recipe):
        raise UsageError("a Recipe runs in its workspace; pass a model path for flags mode")
    return Path(source)


def _shapes(shapes: Shapes) -> dict[str, tuple[int, ...]] | None:
    if shapes is None or not shapes:
        return None
    if isinstance(shapes, str):
        from trtc.shapes import parse_shapes

        return parse_shapes(shapes) or None
    return {name: tuple(dims) for name, dims in shapes.items()}


def _with_data(recipe: Recipe, **changes: Any) -> Recipe:
    """``recipe`` with keys of ``verify.data`` replaced (validated as a recipe's)."""
    if not changes:
        return recipe
    data = dataclasses.replace(recipe.verify.data, **changes)
    return override(recipe, "verify", data=data)


def _build_recipe(source: Source, trt_workspace: str | int | None,
                  profiles: Sequence[Any] | None, overrides: dict[str, Any]
                  ) -> tuple[Recipe, bool]:
    level = overrides.get("optimization_level")
    if isinstance(level, str) and level.strip().isdigit():
        raise UsageError(f"--optimization-level {level}: that is ONNX Runtime's "
                         "level (disable, basic, extended, all)",
                         f"for TensorRT's builder level use --opt-level {level}")
    recipe, in_workspace = _load(source)
    recipe = override(recipe, "build", workspace=trt_workspace,
                      profiles=_profiles(profiles), **overrides)
    return recipe, in_workspace


def _profiles(profiles: Sequence[Any] | None) -> list[Any] | None:
    """Profiles as recipe data; ``'input:MIN,OPT,MAX'`` strings are parsed."""
    if not profiles:
        return None
    from trtc.backends.trt_config import parse_profile, profile_to_data

    return [profile_to_data(parse_profile(p)) if isinstance(p, str) else p for p in profiles]


def _no_output(output: str | Path | None, workspace: str | Path, recipe: Recipe,
               stage: str) -> None:
    if output is not None:
        raise UsageError("-o/--output is for flags mode; a recipe writes to the workspace",
                         f"the model goes to {workspace}/{recipe.name}/{stage}/model.onnx")


def _in_workspace(recipe: Recipe, stage: str, workspace: str | Path, force: bool,
                  reporter: Reporter | None) -> StageOutcome:
    (outcome,) = run_recipe(recipe, workspace_for(recipe, workspace), only=stage, force=force,
                            reporter=reporter)
    return outcome


def _flags(plan: Plan, stage: str, inputs: dict[str, Path], outputs: dict[str, Path],
           reporter: Reporter | None) -> StageOutcome:
    """Run ``stage``'s job from ``plan`` with the outputs at the given paths."""
    work_dir = next(iter(outputs.values())).parent
    ctx = StageContext(inputs=inputs, outputs=outputs, work_dir=work_dir,
                       reporter=reporter or NullReporter())
    return run_job(plan, stage, ctx)


class _report_path:  # noqa: N801 - used as a context manager, like a function
    """The report file: the given path, or one in a folder removed afterwards."""

    def __init__(self, given: str | Path | None) -> None:
        self.given = Path(given) if given is not None else None
        self.tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        if self.given is not None:
            return self.given
        self.tmp = tempfile.TemporaryDirectory(prefix="trtc-report-")
        return Path(self.tmp.name) / "report.json"

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()


def _failed(error: VerificationError, report: dict[str, Any] | None,
            raise_on_failure: bool) -> StageOutcome:
    if raise_on_failure:
        raise error
    return StageOutcome("verify", "failed", error.message, report=report, error=error)
