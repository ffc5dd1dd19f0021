"""prune: placeholder until the optimisation stage lands (issue 4)."""

from __future__ import annotations

from pathlib import Path

from trtc.errors import UsageError
from trtc.recipe import Recipe
from trtc.stages import StageResult


def run(recipe: Recipe, inputs: dict[str, Path], out_dir: Path) -> StageResult:
    raise UsageError("the prune stage is not implemented yet", "set prune.enabled: false")
