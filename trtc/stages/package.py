"""package: put the built artifact into a Triton Inference Server model repository.

The repository layout and config are :mod:`trtc.serving.triton`'s; this stage
only says where (``ctx.outputs['config']`` is ``REPOSITORY/NAME/config.pbtxt``;
the model file goes beside it, in the version folder).
"""

from __future__ import annotations

from dataclasses import dataclass

from trtc.recipe import PackageSpec
from trtc.stages import StageContext, StageResult


@dataclass(frozen=True)
class PackageJob:
    """What package needs: its section, the model name, and the batches the recipe runs."""

    package: PackageSpec
    name: str
    #: The batch sizes verify and bench run (a dynamic-batch ONNX model's max_batch_size).
    batches: tuple[int, ...] = ()


def run(job: PackageJob, ctx: StageContext) -> StageResult:
    """Package ``ctx.inputs['artifact']`` into the repository ``ctx.outputs['config']`` is in."""
    from trtc.serving.triton import package_artifact

    config = ctx.outputs["config"]
    result = package_artifact(ctx.inputs["artifact"], config.parent.parent, job.name,
                              max_batch=job.package.max_batch_size, batches=job.batches,
                              dynamic_batching=job.package.dynamic_batching,
                              version=job.package.version)
    return StageResult("package", {"config": result.config, "model": result.model_file},
                       result.to_dict(), warnings=list(result.warnings))
