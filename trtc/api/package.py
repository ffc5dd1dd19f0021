"""Package a built artifact for a model server (Triton's model repository)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtc.api._support import Source, load_source, run_flags, run_in_workspace, source_path
from trtc.errors import UsageError
from trtc.pipeline import Plan, StageOutcome
from trtc.recipe import override
from trtc.stages import Reporter


def package(source: Source, /, *, triton: str | Path | None = None, name: str | None = None,
            max_batch: int | None = None, workspace: str | Path = "build",
            force: bool = False, reporter: Reporter | None = None,
            **overrides: Any) -> StageOutcome:
    """Write a Triton model repository for a built artifact (``NAME/config.pbtxt``,
    ``NAME/1/model.plan`` or ``model.onnx``); another GPU kind's engine is added beside.

    Args:
        source: a recipe (packages its build artifact), or an artifact path
            (``model.engine`` with its sidecar, or an ONNX Runtime ``.onnx``).
        triton: the model repository folder (recipe mode: ``package.repository``,
            default ``WORKSPACE/<name>/package/triton``).
        name: the model's name in the repository (default: the recipe's / file's name).
        max_batch: Triton's max_batch_size (default: the engine profile's largest
            batch; 0: no batching).
        workspace: recipe mode: the artifact root.
        force: recipe mode: run even if up to date.
        reporter: where progress goes.
        **overrides: keys of the recipe's ``package`` section (``dynamic_batching``,
            ``version``).

    Returns:
        The stage's outcome; ``outcome.metrics`` holds the config and model file written,
        the platform, max_batch_size and cc_model_filenames.

    Raises:
        UsageError: no ``triton`` folder in flags mode, a bad name, an existing model
            with other inputs/outputs.
        ModelError: the artifact is missing, or an engine has no sidecar.
        DependencyError: tritonclient is not installed (``pip install 'trtc[triton]'``).
    """
    recipe, in_workspace = load_source(source)
    repository = str(Path(triton).resolve()) if triton is not None else None
    recipe = override(recipe, "package", enabled=True, repository=repository,
                      model_name=name, max_batch_size=max_batch, **overrides)
    if in_workspace:
        return run_in_workspace(recipe, "package", workspace, force, reporter)
    if triton is None:
        raise UsageError("package needs --triton DIR (the model repository) in flags mode",
                         "e.g. trtc package model.engine --triton models/")
    artifact = source_path(source)
    model_name = name or artifact.name.split(".")[0] or "model"
    recipe = override(recipe, "package", model_name=model_name)
    config = Path(triton) / model_name / "config.pbtxt"
    return run_flags(Plan(recipe), "package", {"artifact": artifact}, {"config": config},
                     reporter)
