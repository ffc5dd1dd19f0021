"""prune: sparsify or shrink the upstream ONNX model (2:4, magnitude or whole channels)."""

from __future__ import annotations

from dataclasses import dataclass

from trtc.recipe import PruneSpec
from trtc.stages import StageContext, StageResult


@dataclass(frozen=True)
class PruneJob:
    """What prune needs: the recipe's prune section."""

    prune: PruneSpec


def run(job: PruneJob, ctx: StageContext) -> StageResult:
    """Prune ``ctx.inputs['model']`` into ``ctx.outputs['model']`` as the job says."""
    from trtc.optimize.prune import prune_model

    out = ctx.outputs["model"]
    report = prune_model(ctx.inputs["model"], out, job.prune)
    return StageResult("prune", {"model": out}, report.to_dict())
