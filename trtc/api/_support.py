"""What the API functions share: recipe or flags mode, overrides, where outputs go."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trtc.errors import UsageError, VerificationError
from trtc.pipeline import Plan, StageOutcome, run_job, run_recipe, workspace_for
from trtc.recipe import Recipe, load_recipe, override, recipe_for_model
from trtc.stages import NullReporter, Reporter, StageContext

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
    from trtc.tensorrt.settings import is_size as _is_size

    return bool(_is_size(value))



# --------------------------------------------------------------------------- helpers


def load_source(source: Source) -> tuple[Recipe, bool]:
    """The recipe and whether it is recipe mode (a Recipe / .yaml) or flags mode."""
    if isinstance(source, Recipe):
        return source, True
    if is_recipe(source):
        return load_recipe(source), True
    return recipe_for_model(source), False


def source_path(source: Source) -> Path:
    """A flags-mode source as a path (a Recipe never reaches flags mode)."""
    if isinstance(source, Recipe):
        raise UsageError("a Recipe runs in its workspace; pass a model path for flags mode")
    return Path(source)


def shapes_of(shapes: Shapes) -> dict[str, tuple[int, ...]] | None:
    if shapes is None or not shapes:
        return None
    if isinstance(shapes, str):
        from trtc.shapes import parse_shapes

        return parse_shapes(shapes) or None
    return {name: tuple(dims) for name, dims in shapes.items()}


def with_data(recipe: Recipe, **changes: Any) -> Recipe:
    """``recipe`` with keys of ``verify.data`` replaced (validated as a recipe's)."""
    if not changes:
        return recipe
    data = dataclasses.replace(recipe.verify.data, **changes)
    return override(recipe, "verify", data=data)


def build_recipe(source: Source, trt_workspace: str | int | None,
                  profiles: Sequence[Any] | None, overrides: dict[str, Any]
                  ) -> tuple[Recipe, bool]:
    """The recipe ``build`` / ``build_plan`` run: the source with the build overrides."""
    level = overrides.get("optimization_level")
    if isinstance(level, str) and level.strip().isdigit():
        raise UsageError(f"--optimization-level {level}: that is ONNX Runtime's "
                         "level (disable, basic, extended, all)",
                         f"for TensorRT's builder level use --opt-level {level}")
    recipe, in_workspace = load_source(source)
    recipe = override(recipe, "build", workspace=trt_workspace,
                      profiles=profile_data(profiles), **overrides)
    return recipe, in_workspace


def profile_data(profiles: Sequence[Any] | None) -> list[Any] | None:
    """Profiles as recipe data; ``'input:MIN,OPT,MAX'`` strings are parsed."""
    if not profiles:
        return None
    from trtc.tensorrt.profiles import parse_profile, profile_to_data

    return [profile_to_data(parse_profile(p)) if isinstance(p, str) else p for p in profiles]


def no_output(output: str | Path | None, workspace: str | Path, recipe: Recipe,
               stage: str) -> None:
    if output is not None:
        raise UsageError("-o/--output is for flags mode; a recipe writes to the workspace",
                         f"the model goes to {workspace}/{recipe.name}/{stage}/model.onnx")


def run_in_workspace(recipe: Recipe, stage: str, workspace: str | Path, force: bool,
                  reporter: Reporter | None) -> StageOutcome:
    (outcome,) = run_recipe(recipe, workspace_for(recipe, workspace), only=stage, force=force,
                            reporter=reporter)
    return outcome


def run_flags(plan: Plan, stage: str, inputs: dict[str, Path], outputs: dict[str, Path],
           reporter: Reporter | None) -> StageOutcome:
    """Run ``stage``'s job from ``plan`` with the outputs at the given paths."""
    work_dir = next(iter(outputs.values())).parent
    ctx = StageContext(inputs=inputs, outputs=outputs, work_dir=work_dir,
                       reporter=reporter or NullReporter())
    return run_job(plan, stage, ctx)


class ReportPath:
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


def failed(error: VerificationError, report: dict[str, Any] | None,
            raise_on_failure: bool, stage: str = "verify") -> StageOutcome:
    if raise_on_failure:
        raise error
    return StageOutcome(stage, "failed", error.message, report=report, error=error)
