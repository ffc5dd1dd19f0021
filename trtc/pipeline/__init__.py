"""Run a recipe's stages in order, skipping those that are up to date.

This module decides *whether* a stage runs and records what it did; the
stages in ``trtc.stages`` decide *how*. The skip path reads only JSON and
hashes files: it imports neither torch nor onnxruntime.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.errors import TrtcError, UsageError
from trtc.pipeline.plan import MODEL_STAGES, Plan
from trtc.recipe import STAGES, Recipe
from trtc.stages import NullReporter, Reporter, StageContext, StageResult
from trtc.usercode import ref_file
from trtc.workspace import (
    StageRecord,
    Workspace,
    check_output_path,
    disk_error,
    read_json,
)


@dataclass
class StageOutcome:
    """What happened to one stage: ran (and what it produced), skipped, or would run.

    Attributes:
        stage: the stage's name.
        status: ``ran``, ``skipped``, ``would run``, ``disabled`` or ``failed``
            (verify: the check did not pass; ``error`` says why).
        reason: why it ran (``--force``, what changed) or did not.
        manifest: the stage's manifest (workspace mode; None in flags mode).
        warnings: what the stage warned about.
        wall_time_s: seconds the stage ran.
        result: the stage's own result when it ran in this call.
        report: verify's / bench's report (the JSON they write), when there is one.
        error: verify's failure (``failed``), when the caller asked not to raise it.
    """

    stage: str
    status: str
    reason: str
    manifest: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0
    result: StageResult | None = None
    report: dict[str, Any] | None = None
    error: TrtcError | None = None
    #: Where the stage's manifest is (workspace mode, once it ran or was up to date).
    manifest_path: Path | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """The stage's metrics: from this run's result, else from its manifest."""
        if self.result is not None:
            return self.result.metrics
        return dict((self.manifest or {}).get("metrics") or {})

    @property
    def outputs(self) -> dict[str, Path]:
        """The artifacts by role (``model``, ``artifact``, ``report``, ``calibration``)."""
        if self.result is not None:
            return dict(self.result.outputs)
        return {role: Path(o["path"]) for role, o in
                ((self.manifest or {}).get("outputs") or {}).items()}

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "status": self.status, "reason": self.reason,
                "wall_time_s": round(self.wall_time_s, 4), "warnings": self.warnings,
                "metrics": (self.manifest or {}).get("metrics")}


def workspace_for(recipe: Recipe, root: str | Path = "build") -> Workspace:
    return Workspace(root, recipe.name)


def _file_inputs(recipe: Recipe) -> dict[str, str]:
    """Files the recipe itself points at (weights, factory file, data) whose edits matter."""
    files: dict[str, str] = {}
    if recipe.model.weights:
        files["weights"] = recipe.model.weights
    src = recipe.model.source
    if src.startswith("onnx:"):
        files["source_onnx"] = src[len("onnx:"):]
    elif (factory := ref_file(src)) is not None:
        files["factory"] = factory
    return files


def stage_inputs(recipe: Recipe, ws: Workspace, stage: str) -> dict[str, Path]:
    """Return the files ``stage`` reads, by role: the previous stages' outputs and user files."""
    model_files = {k: Path(v) for k, v in _file_inputs(recipe).items()}
    if stage == "export":
        return model_files
    if stage == "quantize":
        return {"model": upstream_model(recipe, ws, stage), **_quantize_data(recipe)}
    if stage in ("prune", "build"):
        return {"model": upstream_model(recipe, ws, stage)}
    exported = exported_model(recipe, ws)
    artifact = _artifact(ws)
    if stage == "verify":
        inputs = {"candidate": artifact}
        if recipe.verify.reference == "export":
            inputs["reference"] = exported
        else:
            inputs.update(model_files)
        data = recipe.verify.data.source
        if data.startswith("npz:"):
            inputs["data"] = Path(data[4:])
        elif (loader := ref_file(data)) is not None:
            inputs["data_loader"] = Path(loader)
        return inputs
    if stage == "package":
        return {"artifact": artifact}
    if stage == "bench":
        inputs = {"artifact": artifact}
        if recipe.bench.baseline_file:
            inputs["baseline_file"] = Path(recipe.bench.baseline_file)
        if recipe.is_pytorch and recipe.bench.baseline != "none":
            inputs.update({k: v for k, v in model_files.items() if k != "source_onnx"})
        return inputs
    raise UsageError(f"unknown stage {stage!r}", f"stages are: {', '.join(STAGES)}")


def _quantize_data(recipe: Recipe) -> dict[str, Path]:
    """Calibration / evaluation files whose edits make quantize stale (folders: every image)."""
    files: dict[str, Path] = {}
    source = recipe.quantize.calib_data
    if source and source != "random":
        if (loader := ref_file(source)) is not None:
            files["calib_loader"] = Path(loader)
        elif not source.startswith("python:"):
            path = Path(source)
            if path.is_dir():
                from trtc.optimize.calibdata import image_files

                for image in image_files(path):
                    files[f"calib_data/{image.relative_to(path)}"] = image
            else:
                files["calib_data"] = path
    data = recipe.verify.data.source
    if recipe.quantize.max_drop is not None and data != "random":
        if data.startswith("npz:"):
            files["eval_data"] = Path(data[4:])
        elif (loader := ref_file(data)) is not None:
            files["eval_loader"] = Path(loader)
    return files


def exported_model(recipe: Recipe, ws: Workspace) -> Path:
    """The exported full-precision, dense model (verify's ``reference: export``).

    With export disabled, an ``onnx:`` source is read as it is.
    """
    if not recipe.export.enabled and recipe.model.source.startswith("onnx:"):
        return Path(recipe.model.source[len("onnx:"):])
    return ws.stage_dir("export") / "model.onnx"


def upstream_model(recipe: Recipe, ws: Workspace, stage: str = "build") -> Path:
    """The ONNX model ``stage`` reads: the nearest earlier enabled stage's output."""
    earlier = MODEL_STAGES[: MODEL_STAGES.index(stage)] if stage in MODEL_STAGES \
        else MODEL_STAGES
    for name in reversed(earlier):
        if getattr(recipe, name).enabled:
            return ws.stage_dir(name) / "model.onnx"
    return exported_model(recipe, ws)


def _artifact(ws: Workspace) -> Path:
    manifest = ws.read_manifest("build")
    if manifest and "artifact" in manifest.get("outputs", {}):
        return Path(manifest["outputs"]["artifact"]["path"])
    # Not built yet: the ONNX Runtime name; the build manifest fixes it once built.
    return ws.stage_dir("build") / "model.ort.onnx"


#: Stages whose output is a folder tree they create (``package``: a Triton model
#: repository under ``--triton DIR``); every other flags-mode output needs its folder.
TREE_STAGES = ("package",)


def run_job(plan: Plan, stage: str, ctx: StageContext) -> StageOutcome:
    """Run one stage's job outside a workspace (flags mode): no manifest, no skipping.

    The job comes from ``plan`` exactly as in a workspace run, so a flag means what
    its recipe key means.
    """
    module = importlib.import_module(f"trtc.stages.{stage}")
    job = plan.job(stage)  # resolves the backend first: a missing one writes nothing
    for role, path in ctx.outputs.items():
        flag = {"report": "--report", "calibration": "calibration ranges"}.get(role, "-o")
        # never replace a device, a link or a folder
        check_output_path(path, flag, make_parents=stage in TREE_STAGES)
        if stage in TREE_STAGES:
            try:  # a folder tree is this stage's output: make its folders
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise disk_error(exc, path.parent) from None
    start = time.perf_counter()
    result = module.run(job, ctx)
    elapsed = time.perf_counter() - start
    return StageOutcome(stage, "ran", "flags mode", None, list(result.warnings), elapsed,
                        result=result)


def run_stage(recipe: Recipe, stage: str, ws: Workspace, *, force: bool = False,
              dry_run: bool = False, upstream_ran: bool = False,
              before_run: Callable[[], None] | None = None, plan: Plan | None = None,
              reporter: Reporter | None = None) -> StageOutcome:
    """Run one stage unless it is up to date; write its manifest last.

    ``before_run`` is called once the stage is known to run, before it writes anything.
    """
    section = getattr(recipe, stage)
    if not section.enabled:
        return StageOutcome(stage, "disabled", f"{stage}.enabled is false")
    inputs = stage_inputs(recipe, ws, stage)
    plan = plan or Plan(recipe, ws)
    spec: dict[str, Any] = {"section": recipe.section(stage), "model": recipe.section("model")}
    if stage == "quantize" and recipe.quantize.target == "auto":
        # The placement follows this machine's backend: re-quantize when that changes.
        spec["target"] = plan.quantize_target
    if stage == "export" and recipe.is_pytorch and "auto" in (recipe.export.opset,
                                                             recipe.export.exporter):
        # The opset / exporter follow the TensorRT the build uses: re-export when it changes.
        spec["opset"], spec["exporter"], _ = plan.export_settings
    if force:
        reason: str | None = "--force"
    elif upstream_ran and dry_run:
        reason = "an earlier stage will run"
    else:
        reason = ws.staleness(stage, spec, inputs)
    if reason is None:
        return StageOutcome(stage, "skipped", "up to date", ws.read_manifest(stage),
                            manifest_path=ws.manifest_path(stage))
    if dry_run:
        return StageOutcome(stage, "would run", reason)
    if before_run is not None:
        before_run()
    for role, path in inputs.items():
        if not path.is_file():
            raise _missing_input(recipe, stage, role, path)
    module = importlib.import_module(f"trtc.stages.{stage}")
    out_dir = ws.stage_dir(stage)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise disk_error(exc, out_dir) from None
    ws.invalidate(stage)
    start = time.perf_counter()
    ctx = StageContext(inputs=inputs, outputs=plan.outputs(stage, out_dir), work_dir=out_dir,
                       reporter=reporter or NullReporter())
    result = module.run(plan.job(stage), ctx)
    elapsed = time.perf_counter() - start
    record = StageRecord(stage=stage, spec=spec, inputs={k: str(v) for k, v in inputs.items()},
                         outputs={k: str(v) for k, v in result.outputs.items()},
                         metrics=result.metrics, device=result.device, wall_time_s=elapsed)
    manifest = ws.write_manifest(record)
    return StageOutcome(stage, "ran", reason, manifest, result.warnings, elapsed, result=result,
                        manifest_path=ws.manifest_path(stage))


def _missing_input(recipe: Recipe, stage: str, role: str, path: Path) -> Exception:
    """Name the recipe key behind a missing file, with the error class of its kind."""
    from trtc.errors import DataError, ModelError

    if role == "source_onnx":
        return ModelError(f"model.source: ONNX model not found: {path}",
                          "check the path (relative to the recipe file)")
    if role == "weights":
        return ModelError(f"model.weights: file not found: {path}",
                          "check the path (relative to the recipe file), or train/download it")
    if role == "factory":
        return ModelError(f"model.source: python file not found: {path}",
                          "check the path (relative to the recipe file)")
    if role.startswith(("calib_data", "calib_loader")):
        return DataError(f"quantize.calib_data: file not found: {path}",
                         "check the path (relative to the recipe file)")
    if role == "baseline_file":
        return DataError(f"bench.baseline_file: file not found: {path}",
                         "give the report.json of an earlier bench (relative to the recipe)")
    if role in ("data", "data_loader", "eval_data", "eval_loader"):
        return DataError(f"verify.data.source: file not found: {path}",
                         "check the path (relative to the recipe file)")
    return UsageError(f"{stage}: {role} not found: {path}",
                      f"run the earlier stages first: trtc run {recipe.path or 'RECIPE'}")


def run_recipe(recipe: Recipe, ws: Workspace, *, until: str | None = None,
               only: str | None = None, force: bool = False, dry_run: bool = False,
               on_outcome: Any = None, reporter: Reporter | None = None,
               verbose: bool = False) -> list[StageOutcome]:
    """Run every enabled stage in order (up to ``until``); return what happened to each.

    ``verbose`` asks the build for TensorRT's log (see :class:`Plan`).
    """
    if until is not None and until not in STAGES:
        raise UsageError(f"--until {until!r} is not a stage", f"stages are: {', '.join(STAGES)}")
    if only:
        stages = [only]
    else:
        # Disabled stages are left out of a run (prune and quantize are off by default).
        last = STAGES.index(until) if until else len(STAGES) - 1
        stages = [s for s in recipe.enabled_stages() if STAGES.index(s) <= last]
    plan = Plan(recipe, ws, verbose=verbose)

    def check_backend() -> None:
        # Fail fast: a backend that cannot run here (backend: tensorrt without TensorRT)
        # stops the run before export and quantize spend minutes on a build that cannot
        # be. Checked when the first stage is about to run: the skip path stays cheap.
        if "build" in stages and recipe.build.enabled:
            plan.backend  # noqa: B018 - resolves once, raises DependencyError

    outcomes: list[StageOutcome] = []
    ran = False
    # A dry run only reads, and promises to write nothing: not even the lock file.
    with contextlib.nullcontext() if dry_run else ws.lock():
        for stage in stages:
            try:
                outcome = run_stage(recipe, stage, ws, force=force, dry_run=dry_run,
                                    upstream_ran=ran, before_run=check_backend, plan=plan,
                                    reporter=reporter)
            except TrtcError as exc:
                exc.stage = exc.stage or stage
                raise
            ran = ran or outcome.status in ("ran", "would run")
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return outcomes


def collect_reports(ws: Workspace) -> dict[str, Any]:
    """Read the stage manifests and the verify/bench reports for the summary.

    A verify or bench report is shown only when its manifest records the artifact the
    build manifest has now (same path and hash): an older one is listed under
    ``stale`` (stage -> why), never shown as current.
    """
    out: dict[str, Any] = {}
    for stage in STAGES:
        manifest = ws.read_manifest(stage)
        if manifest:
            out[stage] = manifest
    built = ((out.get("build") or {}).get("outputs") or {}).get("artifact") or {}
    stale: dict[str, str] = {}
    for stage, role in (("verify", "candidate"), ("bench", "artifact")):
        report = read_json(ws.stage_dir(stage) / "report.json")
        if report is None:
            continue
        used = ((out.get(stage) or {}).get("inputs") or {}).get(role) or {}
        if not used:
            stale[stage] = "its manifest is missing (the run did not finish)"
        elif not built or used.get("sha256") != built.get("sha256") or \
                used.get("path") != built.get("path"):
            stale[stage] = "it measured an earlier build; run it again"
        else:
            out[f"{stage}_report"] = report
    if stale:
        out["stale"] = stale
    return out
