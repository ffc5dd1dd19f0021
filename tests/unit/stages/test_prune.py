"""The prune stage: run(job, ctx) prunes into ctx.outputs['model'] and reports the metrics."""

from __future__ import annotations

from pathlib import Path

from trtc.recipe import PruneSpec
from trtc.stages import StageContext
from trtc.stages.prune import PruneJob, run


def test_run_prunes_channels_and_returns_the_report(tmp_path: Path, conv_onnx: Path) -> None:
    out = tmp_path / "prune" / "model.onnx"
    out.parent.mkdir()
    result = run(PruneJob(PruneSpec(enabled=True, method="channel", ratio=0.5)),
                 StageContext({"model": conv_onnx}, {"model": out}, out.parent))
    assert result.stage == "prune" and result.outputs == {"model": out} and out.is_file()
    metrics = result.metrics
    assert metrics["method"] == "channel" and metrics["layers_pruned"] >= 1
    assert metrics["after"]["params"] < metrics["before"]["params"]
    assert set(metrics) == {"method", "ratio", "source", "output", "before", "after",
                            "after_over_before", "note", "layers_pruned", "layers_skipped",
                            "layers", "chains"}
