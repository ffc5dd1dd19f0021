"""prune: sparsify or shrink the upstream ONNX model (2:4, magnitude or whole channels)."""

from __future__ import annotations

from pathlib import Path

from trtc.recipe import Recipe
from trtc.stages import StageResult


def run(recipe: Recipe, inputs: dict[str, Path], out_dir: Path) -> StageResult:
    """Prune ``inputs['model']`` into ``out_dir/model.onnx`` as ``recipe.prune`` says."""
    from trtc.optimize.prune import prune_model

    out = out_dir / "model.onnx"
    report = prune_model(inputs["model"], out, recipe.prune)
    return StageResult("prune", {"model": out}, report.to_dict())
