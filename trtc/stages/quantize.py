"""quantize: write reduced precision into the ONNX graph, within an accuracy budget.

int8 / fp8 become Q/DQ placed for the target runtime, fp16 / bf16 become casts;
the work is :func:`trtc.optimize.quantize.quantize_model`, called once. The
stage adds where things go: the calibration cache in the stage's folder (so
re-quantizing with another method or exclusion list does not run the model
again) and the ranges in ``calibration.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trtc.optimize.engine_budget import EngineBudget
from trtc.recipe import QuantizeSpec
from trtc.stages import StageContext, StageResult
from trtc.workspace import write_json

#: Name of the calibration cache folder inside the stage folder.
CACHE_DIR = "calibration-cache"


@dataclass(frozen=True)
class QuantizeJob:
    """What quantize needs: its section with the target resolved, and the budget's data.

    ``shapes`` are concrete input shapes (trtexec style, ``--shapes``) for inputs
    with named dims. ``eval_source`` is labelled data for the top-1 budget (verify's
    data when the recipe has a budget and real data); None = cosine on the
    calibration data. ``engine``: how ``budget_on: engine`` builds its candidates.
    """

    quantize: QuantizeSpec
    eval_source: str | None = None
    labels_key: str = "labels"
    eval_batch: int = 1
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    engine: EngineBudget | None = None


def run(job: QuantizeJob, ctx: StageContext) -> StageResult:
    """Quantize ``ctx.inputs['model']`` into ``ctx.outputs['model']``; write the ranges."""
    from trtc.optimize.quantize import quantize_model

    check_finite_weights(ctx.inputs["model"])
    cache_dir = ctx.work_dir / CACHE_DIR
    had_cache = cache_dir.exists()
    try:
        report = quantize_model(ctx.inputs["model"], ctx.outputs["model"], job.quantize,
                                shapes=job.shapes, cache_dir=cache_dir,
                                eval_source=job.eval_source, labels_key=job.labels_key,
                                eval_batch=job.eval_batch, progress=ctx.reporter.progress,
                                engine=job.engine)
    except BaseException:
        if not had_cache:  # a failed first run leaves no empty cache folder behind
            import contextlib

            with contextlib.suppress(OSError):
                cache_dir.rmdir()
        raise
    outputs = {"model": ctx.outputs["model"]}
    if "calibration" in ctx.outputs:
        write_json(ctx.outputs["calibration"], report.ranges or {})
        outputs["calibration"] = ctx.outputs["calibration"]
    return StageResult("quantize", outputs, report.to_dict(), warnings=report.warnings)


#: Ops whose initializer inputs are weights (an infinite one there is a broken model).
WEIGHT_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization",
                        "LayerNormalization", "InstanceNormalization", "GroupNormalization"})


def check_finite_weights(model_path: Path) -> None:
    """A NaN weight, or an infinite one a Conv / Gemm / MatMul / norm reads, is a broken
    model, not a calibration problem: say which one.

    An infinite constant elsewhere is how attention masks say "never attend here"
    (Hugging Face's ``masked_fill(-inf)`` before Softmax): it is left alone.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from trtc.errors import ModelError
    from trtc.graph.io import load_proto

    model = load_proto(model_path)  # an empty or corrupt file is a ModelError naming it
    weights = {i for n in model.graph.node if n.op_type in WEIGHT_OPS for i in n.input}
    for tensor in model.graph.initializer:
        if tensor.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                                    onnx.TensorProto.DOUBLE) or \
                tensor.data_location == onnx.TensorProto.EXTERNAL:
            continue
        values = numpy_helper.to_array(tensor)
        broken = np.isnan(values).any() or (tensor.name in weights
                                             and not np.isfinite(values).all())
        if broken:
            raise ModelError(f"{model_path}: weight '{tensor.name}' holds NaN/Inf values",
                             "the model is broken (diverged training, a bad export): fix it "
                             "before quantizing")


