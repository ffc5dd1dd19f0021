"""trtc.pipeline: Plan resolution, the jobs it makes, stage inputs, and the skip logic."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trtc.errors import DependencyError, ModelError, UsageError
from trtc.pipeline import (
    Plan,
    StageOutcome,
    exported_model,
    run_job,
    run_recipe,
    run_stage,
    stage_inputs,
    upstream_model,
)
from trtc.recipe import parse_recipe
from trtc.stages import StageContext, StageResult
from trtc.workspace import Workspace


def _recipe(tmp_path: Path, **sections: object):
    raw = {"name": "m", "model": {"source": f"onnx:{tmp_path / 'tiny.onnx'}"},
           "export": {"cleanup": "none"}, **sections}
    return parse_recipe(raw)


def _plan(recipe, backend: str = "onnxruntime", ws: Workspace | None = None) -> Plan:
    plan = Plan(recipe, ws)
    plan._backend = (backend, f"{backend} (test)")  # no detection on this machine
    return plan


@pytest.mark.parametrize(("target", "backend", "expected"), [
    ("auto", "onnxruntime", "onnxruntime-cpu"),
    ("auto", "tensorrt", "tensorrt"),
    ("tensorrt", "onnxruntime", "tensorrt"),
    ("onnxruntime-cpu", "tensorrt", "onnxruntime-cpu"),
])
def test_quantize_target_is_resolved_once_from_the_backend(tmp_path: Path, target: str,
                                                           backend: str, expected: str) -> None:
    plan = _plan(_recipe(tmp_path, quantize={"enabled": True, "target": target}), backend)
    assert plan.quantize_target == expected
    assert plan.job("quantize").quantize.target == expected


def test_auto_target_without_a_usable_backend_quantizes_for_tensorrt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = Plan(_recipe(tmp_path, quantize={"target": "auto"},
                        build={"backend": "tensorrt"}))

    def missing(self: Plan) -> tuple[str, str]:
        raise DependencyError("TensorRT is not installed")

    monkeypatch.setattr(Plan, "backend", property(missing))
    assert plan.quantize_target == "tensorrt"


def test_quantize_job_takes_verify_data_only_for_a_budget(tmp_path: Path) -> None:
    data = {"data": {"source": "npz:/d/eval.npz", "batch": 4, "labels_key": "y"}}
    plain = _plan(_recipe(tmp_path, verify=data)).job("quantize")
    assert plain.eval_source is None
    budget = _plan(_recipe(tmp_path, verify=data, quantize={"max_drop": 0.02})).job("quantize")
    assert (budget.eval_source, budget.labels_key, budget.eval_batch) == \
        ("npz:/d/eval.npz", "y", 4)


def test_quantize_shapes_reach_the_job_when_it_has_the_field(tmp_path: Path) -> None:
    from trtc.stages.quantize import QuantizeJob

    recipe = _recipe(tmp_path, quantize={"shapes": {"x": [2, 3, 8, 8]}})
    assert recipe.quantize.shapes == {"x": (2, 3, 8, 8)}
    job = _plan(recipe).job("quantize")
    if "shapes" in {f.name for f in dataclasses.fields(QuantizeJob)}:
        assert job.shapes == {"x": (2, 3, 8, 8)}


def test_build_job_carries_the_backend_and_the_profile_hint(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, bench={"batch": [8, 1], "shapes": {"x": [1, 3, 8, 8]}},
                     verify={"data": {"batch": 4}})
    job = _plan(recipe, "tensorrt", Workspace(tmp_path / "ws", "m")).job("build")
    assert (job.backend, job.why) == ("tensorrt", "tensorrt (test)")
    assert job.hint.batches == (1, 4, 8)
    assert job.hint.shapes == ({"x": (1, 3, 8, 8)},)
    assert job.timing_cache_dir is not None and tmp_path / "ws" in job.timing_cache_dir.parents
    assert _plan(recipe).job("build").timing_cache_dir is None  # flags mode: beside the engine


def test_the_build_profile_covers_the_bench_sweep_and_a_bad_sweep_names_the_key(
        tmp_path: Path) -> None:
    from trtc.errors import RecipeError

    recipe = _recipe(tmp_path, bench={"batch": [1], "sweep": "batch=1,64,256 streams=1,2",
                                      "max_latency_ms": 5})
    assert recipe.bench.all_batches() == (1, 64, 256)
    job = _plan(recipe, "tensorrt", Workspace(tmp_path / "ws", "m")).job("build")
    assert job.hint.batches == (1, 64, 256)  # the profile's max is the sweep's largest
    with pytest.raises(RecipeError, match=r"bench\.sweep: 'batch=1,-8': .*'-8' is not a "
                       r"positive integer"):
        _recipe(tmp_path, bench={"sweep": "batch=1,-8"})
    with pytest.raises(RecipeError, match=r"bench\.max_latency_ms: must be positive"):
        _recipe(tmp_path, bench={"sweep": "batch=1", "max_latency_ms": 0})


def test_verify_and_bench_jobs(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, prune={"enabled": True}, quantize={"enabled": True})
    verify = _plan(recipe).job("verify")
    assert verify.changed_by == ("prune", "quantize") and verify.reference_model is None
    assert _plan(recipe).job("bench").baseline is None  # an ONNX source has no PyTorch baseline
    with pytest.raises(UsageError, match="unknown stage 'deploy'"):
        _plan(recipe).job("deploy")


def test_outputs_by_stage(tmp_path: Path) -> None:
    plan = _plan(_recipe(tmp_path))
    assert plan.outputs("quantize", tmp_path) == {"model": tmp_path / "model.onnx",
                                                  "calibration": tmp_path / "calibration.json"}
    assert plan.outputs("build", tmp_path) == {"artifact": tmp_path / "model.ort.onnx"}
    assert plan.outputs("verify", tmp_path) == {"report": tmp_path / "report.json"}


def test_upstream_model_is_the_nearest_enabled_rewrite(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", "m")
    both = _recipe(tmp_path, prune={"enabled": True}, quantize={"enabled": True})
    assert upstream_model(both, ws, "quantize") == ws.stage_dir("prune") / "model.onnx"
    assert upstream_model(both, ws) == ws.stage_dir("quantize") / "model.onnx"
    plain = _recipe(tmp_path)
    assert upstream_model(plain, ws) == ws.stage_dir("export") / "model.onnx"
    no_export = _recipe(tmp_path, export={"enabled": False})
    assert exported_model(no_export, ws) == tmp_path / "tiny.onnx"


def test_stage_inputs_name_the_files_each_stage_reads(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", "m")
    recipe = _recipe(tmp_path, verify={"data": {"source": f"npz:{tmp_path / 'd.npz'}"}})
    assert stage_inputs(recipe, ws, "export") == {"source_onnx": tmp_path / "tiny.onnx"}
    verify = stage_inputs(recipe, ws, "verify")
    assert verify["data"] == tmp_path / "d.npz"
    assert verify["reference"] == ws.stage_dir("export") / "model.onnx"
    assert verify["candidate"] == ws.stage_dir("build") / "model.ort.onnx"


def test_run_stage_runs_then_skips_then_reruns_on_force(tmp_path: Path, conv_onnx: Path) -> None:
    ws = Workspace(tmp_path / "ws", "m")
    recipe = _recipe(tmp_path)
    first = run_stage(recipe, "export", ws)
    assert first.status == "ran" and first.manifest_path == ws.manifest_path("export")
    assert first.outputs["model"] == ws.stage_dir("export") / "model.onnx"
    assert first.metrics["nodes"]["before"] == 4
    second = run_stage(recipe, "export", ws)
    assert (second.status, second.reason) == ("skipped", "up to date")
    assert second.outputs == first.outputs and second.metrics == first.to_dict()["metrics"]
    assert run_stage(recipe, "export", ws, force=True).reason == "--force"
    assert run_stage(recipe, "prune", ws).status == "disabled"
    changed = _recipe(tmp_path, export={"cleanup": "graphsurgeon"})
    assert run_stage(changed, "export", ws, dry_run=True).status == "would run"


def test_a_missing_input_names_its_recipe_key(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model.source: ONNX model not found"):
        run_stage(_recipe(tmp_path), "export", Workspace(tmp_path / "ws", "m"))


def test_run_recipe_rejects_an_unknown_until(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--until 'deploy' is not a stage"):
        run_recipe(_recipe(tmp_path), Workspace(tmp_path / "ws", "m"), until="deploy")


def test_run_job_runs_the_stage_outside_a_workspace(tmp_path: Path, conv_onnx: Path) -> None:
    out = tmp_path / "flags" / "pruned.onnx"
    out.parent.mkdir()  # -o's folder must exist: trtc never creates folders outside a workspace
    recipe = _recipe(tmp_path, prune={"method": "magnitude", "ratio": 0.5})
    ctx = StageContext(inputs={"model": conv_onnx}, outputs={"model": out},
                       work_dir=out.parent)
    outcome = run_job(_plan(recipe), "prune", ctx)
    assert (outcome.status, outcome.reason, outcome.manifest) == ("ran", "flags mode", None)
    assert out.is_file() and outcome.outputs == {"model": out}
    assert outcome.metrics["method"] == "magnitude"


def test_outcome_metrics_and_outputs_come_from_the_result_or_the_manifest() -> None:
    result = StageResult("build", {"artifact": Path("/a/m.engine")}, {"backend": "tensorrt"})
    assert StageOutcome("build", "ran", "x", result=result).outputs == \
        {"artifact": Path("/a/m.engine")}
    manifest = {"metrics": {"backend": "onnxruntime"},
                "outputs": {"artifact": {"path": "/w/model.ort.onnx"}}}
    skipped = StageOutcome("build", "skipped", "up to date", manifest)
    assert skipped.metrics == {"backend": "onnxruntime"}
    assert skipped.outputs == {"artifact": Path("/w/model.ort.onnx")}
    assert StageOutcome("build", "would run", "x").metrics == {}


def test_verbose_reaches_the_build_job_when_it_has_the_field(tmp_path: Path) -> None:
    from trtc.stages.build import BuildJob

    job = _plan(_recipe(tmp_path)).job("build")
    loud = Plan(_recipe(tmp_path), verbose=True)
    loud._backend = ("onnxruntime", "test")
    if "verbose" in {f.name for f in dataclasses.fields(BuildJob)}:
        assert loud.job("build").verbose is True and job.verbose is False
    assert loud.verbose is True


def test_build_shapes_make_a_static_default_profile(tmp_path: Path) -> None:
    from trtc.tensorrt.profiles import default_profile

    recipe = _recipe(tmp_path, bench={"batch": [1, 8], "shapes": {"x": [8, 3, 64, 64]}},
                     build={"shapes": {"x": [2, 3, 32, 48]}})
    hint = _plan(recipe, "tensorrt").profile_hint()
    assert hint.shapes == ({"x": (2, 3, 32, 48)},)  # build.shapes win over bench's
    profile = default_profile({"x": ("float32", ("batch", 3, "h", "w"))},
                              batches=sorted(hint.batches), dims=hint.dims,
                              shapes=list(hint.shapes))
    assert profile == {"x": ((2, 3, 32, 48), (2, 3, 32, 48), (2, 3, 32, 48))}


def _torch_recipe(**export: object):
    return parse_recipe({"name": "m", "model": {"source": "torchvision:resnet18", "inputs": [
        {"name": "x", "shape": [1, 3, 8, 8]}]}, "export": export})


def _with_trt(recipe, version: str | None, backend: str = "tensorrt") -> Plan:
    plan = _plan(recipe, backend)
    plan._build_trt = (version,)  # the TensorRT the build would use, without detection
    return plan


@pytest.mark.parametrize(("version", "opset", "exporter"), [
    ("8.6.1", 17, "legacy"), ("10.16.0", 18, "dynamo"), ("11.1.0", 18, "dynamo"),
    (None, 18, "dynamo")])
def test_auto_export_settings_follow_the_builds_tensorrt(version: str | None, opset: int,
                                                         exporter: str) -> None:
    plan = _with_trt(_torch_recipe(), version)
    assert plan.export_settings[:2] == (opset, exporter)
    job = plan.job("export")
    assert (job.export.opset, job.export.exporter) == (opset, exporter)  # never 'auto'
    assert job.settings_note is not None and (version or "ONNX Runtime") in job.settings_note


@pytest.mark.parametrize(("export", "expected"), [
    ({"opset": 18, "exporter": "dynamo"}, (18, "dynamo")),   # both given: kept
    ({"opset": 16}, (16, "legacy")),                          # below dynamo's lowest
    ({"opset": 19}, (19, "dynamo")),
    ({"exporter": "dynamo"}, (17, "dynamo")),                 # the parser's opset, as asked
])
def test_explicit_export_settings_are_kept_on_tensorrt_8_6(export: dict[str, object],
                                                          expected: tuple[int, str]) -> None:
    assert _with_trt(_torch_recipe(**export), "8.6.1").export_settings[:2] == expected


def test_build_tensorrt_is_none_for_onnxruntime_builds(tmp_path: Path) -> None:
    plan = Plan(_recipe(tmp_path, build={"backend": "onnxruntime"}))
    assert plan.build_tensorrt is None
    auto = _plan(_recipe(tmp_path), "onnxruntime")  # auto resolved to ONNX Runtime
    assert auto.build_tensorrt is None


def test_another_tensorrt_makes_an_auto_export_stale(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import trtc.stages.export as export_stage

    seen: list[tuple[object, object]] = []

    def fake_run(job, ctx):  # type: ignore[no-untyped-def]
        seen.append((job.export.opset, job.export.exporter))
        ctx.outputs["model"].write_bytes(b"onnx")
        return StageResult("export", dict(ctx.outputs), {})

    monkeypatch.setattr(export_stage, "run", fake_run)
    ws = Workspace(tmp_path / "ws", "m")
    recipe = _torch_recipe()
    assert run_stage(recipe, "export", ws, plan=_with_trt(recipe, "8.6.1")).status == "ran"
    assert ws.read_manifest("export")["spec"]["opset"] == 17
    again = run_stage(recipe, "export", ws, plan=_with_trt(recipe, "8.6.1"))
    assert again.status == "skipped"
    moved = run_stage(recipe, "export", ws, plan=_with_trt(recipe, "10.16.0"))
    assert moved.status == "ran"
    assert seen == [(17, "legacy"), (18, "dynamo")]
    assert ws.read_manifest("export")["spec"]["exporter"] == "dynamo"
