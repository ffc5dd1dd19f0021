"""trtc.api: both modes of each function, on a tiny ONNX model (ONNX Runtime only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import trtc.api as api
from trtc.errors import RecipeError, UsageError, VerificationError
from trtc.recipe import load_recipe
from trtc.stages.quantize import CACHE_DIR


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def recipe_path(tmp_path: Path, conv_onnx: Path) -> Path:
    path = tmp_path / "conv.yaml"
    path.write_text(yaml.safe_dump({
        "name": "conv", "model": {"source": f"onnx:{conv_onnx.name}"},
        "export": {"cleanup": "none"}, "build": {"backend": "onnxruntime"},
        "bench": {"batch": [1], "warmup_ms": 5, "duration_s": 0.05, "min_iterations": 3}}))
    return path


def test_is_recipe() -> None:
    assert api.is_recipe("a/b.yaml") and api.is_recipe(Path("r.yml"))
    assert not api.is_recipe("model.onnx") and not api.is_recipe("torchvision:resnet18")


def test_flags_mode_quantize_keeps_its_ranges_and_cache_beside_the_output(
        tmp_path: Path, conv_onnx: Path) -> None:
    out = tmp_path / "q" / "model.int8.onnx"
    out.parent.mkdir()
    outcome = api.quantize(conv_onnx, output=out, precision="int8", target="onnxruntime-cpu",
                           calib_data="random", calib_samples=4, shapes="x:2x3x8x8")
    assert (outcome.status, outcome.reason) == ("ran", "flags mode")
    ranges = tmp_path / "q" / "model.int8.calibration.json"
    assert outcome.outputs == {"model": out, "calibration": ranges}
    assert json.loads(ranges.read_text())  # the ranges, per tensor
    assert (tmp_path / "q" / CACHE_DIR).is_dir()
    assert not (tmp_path / "build").exists()  # nothing in the working directory
    assert outcome.metrics["target"] == "onnxruntime-cpu" and "calibration_ranges" not in \
        outcome.metrics


def test_flags_mode_needs_an_output_and_recipe_mode_refuses_one(recipe_path: Path,
                                                                conv_onnx: Path) -> None:
    with pytest.raises(UsageError, match="flags mode needs -o"):
        api.prune(conv_onnx, method="2:4")
    with pytest.raises(UsageError, match="-o/--output is for flags mode"):
        api.prune(recipe_path, output="x.onnx")
    with pytest.raises(UsageError, match="--method 'foo' is not one of 2:4, magnitude"):
        api.prune(conv_onnx, output="x.onnx", method="foo")


def test_overrides_are_validated_as_recipe_keys(conv_onnx: Path) -> None:
    with pytest.raises(RecipeError, match="quantize.calib_method"):
        api.quantize(conv_onnx, output="q.onnx", calib_method="median")
    with pytest.raises(RecipeError, match="quantize.precison: unknown key") as info:
        api.quantize(conv_onnx, output="q.onnx", precison="int8")
    assert info.value.hint == "did you mean 'precision'?"
    with pytest.raises(UsageError, match="--optimization-level 3") as level:
        api.build(conv_onnx, output="m.ort.onnx", optimization_level="3")
    assert "--opt-level 3" in (level.value.hint or "")


def test_recipe_mode_runs_in_the_workspace_then_skips(tmp_path: Path, recipe_path: Path) -> None:
    ws = tmp_path / "ws"
    first = api.export(recipe_path, workspace=ws)
    assert first.status == "ran" and first.outputs["model"] == ws / "conv/export/model.onnx"
    assert api.export(load_recipe(recipe_path), workspace=ws).status == "skipped"
    built = api.build(recipe_path, workspace=ws)
    assert built.metrics["backend"] == "onnxruntime"
    checked = api.verify(recipe_path, workspace=ws)
    assert checked.report is not None and checked.report["passed"] is True
    timed = api.bench(recipe_path, workspace=ws)
    assert timed.report is not None and timed.report["results"][0]["batch"] == 1


def test_flags_mode_build_verify_bench(tmp_path: Path, conv_onnx: Path) -> None:
    artifact = tmp_path / "m.ort.onnx"
    built = api.build(conv_onnx, output=artifact, backend="onnxruntime")
    assert built.outputs["artifact"] == artifact and artifact.is_file()
    report = tmp_path / "verify.json"
    checked = api.verify(artifact, reference=conv_onnx, report=report, iterations=1)
    assert checked.report == json.loads(report.read_text()) and checked.report["passed"]
    timed = api.bench(artifact, batch=[1, 2], duration_s=0.02, warmup_ms=1, min_iterations=2)
    assert [r["batch"] for r in timed.report["results"]] == [1, 2]
    with pytest.raises(UsageError, match="--baseline pytorch needs a recipe"):
        api.bench(artifact, baseline="pytorch")
    with pytest.raises(UsageError, match="verify needs --reference"):
        api.verify(artifact)


def test_verify_failure_is_raised_or_returned(tmp_path: Path, conv_onnx: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(conv_onnx)
    fc = next(t for t in model.graph.initializer if t.name == "fc")
    fc.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(fc) * 2, "fc"))
    other = tmp_path / "other.onnx"
    onnx.save(model, other)
    with pytest.raises(VerificationError) as info:
        api.verify(other, reference=conv_onnx, elementwise="on")
    assert "--atol" in (info.value.hint or "")  # flags mode names the flags
    failed = api.verify(other, reference=conv_onnx, elementwise="on", raise_on_failure=False)
    assert failed.status == "failed" and isinstance(failed.error, VerificationError)
    assert failed.report is not None and failed.report["passed"] is False


def test_build_plan_previews_without_building(tmp_path: Path, conv_onnx: Path) -> None:
    plan = api.build_plan(conv_onnx, output=tmp_path / "m.engine", backend="tensorrt",
                          trt_version="10", trt_workspace="1GiB",
                          profiles=["x:1x3x8x8,4x3x8x8,8x3x8x8"])
    assert plan["backend"] == "tensorrt" and "--memPoolSize=workspace:1024 " in plan["trtexec"]
    assert "--minShapes=x:1x3x8x8" in plan["trtexec"]
    assert not (tmp_path / "m.engine").exists()


def test_run_writes_the_summary_and_inspect_reads_a_model(tmp_path: Path, recipe_path: Path,
                                                          conv_onnx: Path) -> None:
    seen: list[str] = []
    result = api.run(recipe_path, workspace=tmp_path / "ws", until="build",
                     on_outcome=lambda o: seen.append(o.stage))
    assert seen == ["export", "build"] and result.report == tmp_path / "ws/conv/report.md"
    assert result.report.read_text().startswith("# trtc report: conv")
    assert result.to_dict()["stages"][1]["status"] == "ran"
    dry = api.run(recipe_path, workspace=tmp_path / "ws", dry_run=True)
    assert dry.report is None and {o.status for o in dry.outcomes} >= {"skipped"}
    summary = api.inspect(conv_onnx, shapes={"x": (2, 3, 8, 8)})
    assert summary["inputs"][0]["name"] == "x" and summary["node_count"] == 4
