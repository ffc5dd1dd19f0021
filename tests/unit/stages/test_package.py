"""The package stage (trtc.stages.package): run(job, ctx) on an engine and its sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trtc.recipe import PackageSpec
from trtc.stages import StageContext
from trtc.stages.package import PackageJob, run
from trtc.tensorrt.engine_file import sidecar_path

pytest.importorskip("tritonclient.grpc")


def test_engine_is_packaged_where_ctx_says_without_tensorrt(tmp_path: Path) -> None:
    engine = tmp_path / "build" / "model.engine"
    engine.parent.mkdir()
    engine.write_bytes(b"plan")
    sidecar_path(engine).write_text(json.dumps({
        "gpu": {"name": "NVIDIA H200", "compute_capability": "9.0"},
        "io": {"inputs": {"input": {"dtype": "float32", "shape": [-1, 3, 224, 224]}},
               "outputs": {"logits": {"dtype": "float32", "shape": [-1, 1000]}},
               "profiles": [{"input": [[1, 3, 224, 224], [8, 3, 224, 224],
                                       [32, 3, 224, 224]]}]}}))
    config = tmp_path / "repo" / "resnet50" / "config.pbtxt"
    ctx = StageContext(inputs={"artifact": engine}, outputs={"config": config},
                       work_dir=config.parent)
    result = run(PackageJob(PackageSpec(enabled=True), "resnet50", (1, 8)), ctx)
    assert result.outputs == {"config": config,
                              "model": tmp_path / "repo" / "resnet50" / "1" / "model.plan"}
    assert result.metrics["platform"] == "tensorrt_plan"
    assert result.metrics["max_batch_size"] == 32  # the profile's, not the recipe's batches
    assert result.metrics["cc_model_filenames"] == {"9.0": "model.plan"}
    assert 'platform: "tensorrt_plan"' in config.read_text()
