"""`trtc run` end to end on a tiny PyTorch model: artifacts, manifests, skipping, re-running."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from integration_helpers import (
    STAGES,
    edit_recipe,
    ok_json,
    reasons,
    run_trtc,
    sha256,
    stage_files,
    statuses,
    tiny_predictions,
)

#: Every file a full run of the tiny recipe leaves behind, by stage.
ARTIFACTS = {
    "export": ["model.onnx"],
    "build": ["model.ort.onnx"],
    "verify": ["report.json"],
    "bench": ["report.json"],
}
#: A protobuf field (number 999, varint 1) that ModelProto does not define: appending it
#: changes the file's bytes, while onnx and ONNX Runtime still read the model as before.
UNKNOWN_PROTO_FIELD = b"\xb8\x3e\x01"


def _artifact_paths(ws: Path, name: str = "tiny") -> list[Path]:
    paths = [ws / name / stage / "manifest.json" for stage in STAGES]
    paths += [ws / name / stage / f for stage, files in ARTIFACTS.items() for f in files]
    return paths


def _mtimes(paths: list[Path]) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in paths}


def test_run_writes_every_artifact_with_manifests(torch_recipe: Path, ws: Path) -> None:
    # The installed entry point, in a fresh process, as a Makefile or CI job calls it.
    proc = run_trtc("run", torch_recipe, "--workspace", ws)
    assert proc.returncode == 0, proc.stderr
    for stage in STAGES:
        assert f"{stage:8} ran" in proc.stderr

    root = ws / "tiny"
    for path in _artifact_paths(ws):
        assert path.is_file(), path
    for stage in STAGES:
        manifest = json.loads((root / stage / "manifest.json").read_text())
        assert manifest["stage"] == stage
        assert manifest["recipe"] == "tiny"
        assert manifest["versions"]["onnxruntime"] and manifest["versions"]["trtc"]
        assert manifest["outputs"], stage
        for role, entry in {**manifest["inputs"], **manifest["outputs"]}.items():
            assert entry["sha256"] == sha256(entry["path"]), (stage, role)
        # No temporary files are left next to the artifacts.
        assert not [f for f in stage_files(ws, "tiny", stage) if f.endswith(".tmp")]

    export = json.loads((root / "export" / "manifest.json").read_text())
    assert export["inputs"]["factory"]["path"].endswith("tinynet.py")
    assert Path(export["outputs"]["model"]["path"]) == root / "export" / "model.onnx"
    build = json.loads((root / "build" / "manifest.json").read_text())
    # Each stage reads what the stage before it wrote, byte for byte.
    assert build["inputs"]["model"]["sha256"] == export["outputs"]["model"]["sha256"]
    assert build["metrics"]["backend"] == "onnxruntime"
    verify = json.loads((root / "verify" / "manifest.json").read_text())
    assert verify["inputs"]["candidate"]["sha256"] == build["outputs"]["artifact"]["sha256"]
    assert verify["inputs"]["reference"]["sha256"] == export["outputs"]["model"]["sha256"]

    verify_report = json.loads((root / "verify" / "report.json").read_text())
    assert verify_report["passed"] is True
    assert verify_report["outputs"]["y"]["max_abs"] < 1e-4  # fp32 vs fp32: rounding only
    bench_report = json.loads((root / "bench" / "report.json").read_text())
    assert [row["batch"] for row in bench_report["results"]] == [1, 2]
    for row in bench_report["results"]:
        # The PyTorch model is the baseline, timed on the same inputs.
        assert {"onnxruntime", "pytorch", "speedup_vs_pytorch"} <= set(row)

    report_md = (root / "report.md").read_text()
    assert report_md.startswith("# trtc report: tiny")
    assert "## verify" in report_md and "## bench" in report_md


def test_second_run_skips_everything_and_rewrites_nothing(cli, torch_recipe: Path,
                                                          ws: Path) -> None:
    first = ok_json(cli("run", torch_recipe, "--workspace", ws, "--json"))
    assert statuses(first) == dict.fromkeys(STAGES, "ran")
    before = _mtimes(_artifact_paths(ws))
    hashes = {p: sha256(p) for p in before}

    second = ok_json(cli("run", torch_recipe, "--workspace", ws, "--json"))
    assert statuses(second) == dict.fromkeys(STAGES, "skipped")
    assert set(reasons(second).values()) == {"up to date"}
    assert _mtimes(_artifact_paths(ws)) == before
    assert {p: sha256(p) for p in before} == hashes
    # A skipped stage still reports the metrics it recorded when it ran.
    assert second["stages"][2]["metrics"]["passed"] is True


def test_changing_the_bench_section_reruns_only_bench(cli, torch_recipe: Path,
                                                      ws: Path) -> None:
    ok_json(cli("run", torch_recipe, "--workspace", ws, "--json"))
    upstream = [p for p in _artifact_paths(ws) if "bench" not in p.parts]
    before = _mtimes(upstream)

    edit_recipe(torch_recipe, lambda r: r["bench"].update(min_iterations=4))
    out = ok_json(cli("run", torch_recipe, "--workspace", ws, "--json"))
    assert statuses(out) == {"export": "skipped", "build": "skipped", "verify": "skipped",
                             "bench": "ran"}
    assert reasons(out)["bench"] == "recipe section changed"
    assert _mtimes(upstream) == before
    manifest = json.loads((ws / "tiny" / "bench" / "manifest.json").read_text())
    assert manifest["spec"]["section"]["min_iterations"] == 4


def test_force_reruns_every_stage(cli, torch_recipe: Path, ws: Path) -> None:
    ok_json(cli("run", torch_recipe, "--workspace", ws, "--json"))
    out = ok_json(cli("run", torch_recipe, "--workspace", ws, "--force", "--json"))
    assert statuses(out) == dict.fromkeys(STAGES, "ran")
    assert set(reasons(out).values()) == {"--force"}


def test_until_build_runs_only_export_and_build(cli, torch_recipe: Path, ws: Path) -> None:
    out = ok_json(cli("run", torch_recipe, "--workspace", ws, "--until", "build", "--json"))
    assert statuses(out) == {"export": "ran", "build": "ran"}
    assert stage_files(ws, "tiny", "export") == ["manifest.json", "model.onnx"]
    assert stage_files(ws, "tiny", "build") == ["manifest.json", "model.ort.onnx"]
    assert not (ws / "tiny" / "verify").exists()
    assert not (ws / "tiny" / "bench").exists()


def test_dry_run_on_a_fresh_workspace_writes_nothing(cli, torch_recipe: Path,
                                                     ws: Path) -> None:
    human = cli("run", torch_recipe, "--workspace", ws, "--dry-run")
    assert human.exit_code == 0, human.stderr
    for stage in STAGES:
        assert f"{stage:8} would run" in human.stderr
    out = ok_json(cli("run", torch_recipe, "--workspace", ws, "--dry-run", "--json"))
    assert statuses(out) == dict.fromkeys(STAGES, "would run")
    assert not ws.exists(), sorted(str(p) for p in ws.rglob("*"))


def test_dry_run_after_a_run_reports_up_to_date(cli, torch_recipe: Path, ws: Path) -> None:
    ok_json(cli("run", torch_recipe, "--workspace", ws, "--until", "build", "--json"))
    out = ok_json(cli("run", torch_recipe, "--workspace", ws, "--dry-run", "--json"))
    assert statuses(out) == {"export": "skipped", "build": "skipped", "verify": "would run",
                             "bench": "would run"}
    assert not (ws / "tiny" / "verify").exists()


def test_modified_exported_model_reruns_build(cli, torch_recipe: Path, ws: Path) -> None:
    ok_json(cli("run", torch_recipe, "--workspace", ws, "--until", "build", "--json"))
    model = ws / "tiny" / "export" / "model.onnx"
    with model.open("ab") as f:
        f.write(UNKNOWN_PROTO_FIELD)

    out = ok_json(cli("build", torch_recipe, "--workspace", ws, "--json"))
    assert out["status"] == "ran"
    assert "changed" in out["reason"] and str(model) in out["reason"]
    build = json.loads((ws / "tiny" / "build" / "manifest.json").read_text())
    assert build["inputs"]["model"]["sha256"] == sha256(model)


def test_run_reexports_a_modified_exported_model(cli, torch_recipe: Path, ws: Path) -> None:
    ok_json(cli("run", torch_recipe, "--workspace", ws, "--until", "build", "--json"))
    model = ws / "tiny" / "export" / "model.onnx"
    with model.open("ab") as f:
        f.write(UNKNOWN_PROTO_FIELD)

    out = ok_json(cli("run", torch_recipe, "--workspace", ws, "--until", "build", "--json"))
    assert statuses(out)["export"] == "ran"
    assert "modified" in reasons(out)["export"]
    # Whatever export wrote this time, build is consistent with it.
    export = json.loads((ws / "tiny" / "export" / "manifest.json").read_text())
    build = json.loads((ws / "tiny" / "build" / "manifest.json").read_text())
    assert export["outputs"]["model"]["sha256"] == sha256(model)
    assert build["inputs"]["model"]["sha256"] == sha256(model)


@pytest.mark.parametrize("exporter", [pytest.param("dynamo", marks=pytest.mark.slow), "legacy"])
def test_exporters_record_parity(cli, torch_recipe: Path, ws: Path, exporter: str) -> None:
    # opset 18: the dynamo exporter's lowest; it would convert down to 17 otherwise.
    edit_recipe(torch_recipe, lambda r: r["export"].update(exporter=exporter, opset=18))
    out = ok_json(cli("run", torch_recipe, "--workspace", ws, "--until", "export", "--json"))
    assert statuses(out) == {"export": "ran"}
    metrics = json.loads((ws / "tiny" / "export" / "manifest.json").read_text())["metrics"]
    assert metrics["export"]["exporter"] == exporter
    assert metrics["opset"] == 18
    assert metrics["inputs"] == {"x": ["batch", 3, 8, 8]}
    assert metrics["outputs"] == ["y"]
    parity = metrics["parity"]
    assert parity["samples"] >= 1
    y = parity["outputs"]["y"]
    assert y["within_tolerance"] is True
    assert 0 <= y["max_abs"] < 1e-4


def test_pytorch_reference_with_labelled_data_reports_top1(
        cli, torch_factory: Path, tiny_weights: Path, write_recipe: Callable[..., Path],
        tmp_path: Path, ws: Path) -> None:
    x = np.random.default_rng(7).standard_normal((8, 3, 8, 8)).astype(np.float32)
    preds = tiny_predictions(torch_factory, tiny_weights, x)
    # Half the labels agree with the model, half do not: top-1 is exactly 50%.
    labels = np.where(np.arange(8) < 4, preds, (preds + 1) % 10).astype(np.int64)
    np.savez(tmp_path / "labelled.npz", x=x, labels=labels)
    recipe = write_recipe({
        "name": "tiny",
        "model": {"source": "python:tinynet.py:build", "weights": "tiny.pt",
                  "inputs": [{"name": "x", "shape": ["batch", 3, 8, 8]}], "outputs": ["y"]},
        "export": {"exporter": "legacy", "opset": 17},
        "build": {"backend": "onnxruntime"},
        "verify": {"reference": "pytorch", "data": {"source": "labelled.npz", "batch": 2},
                   "metric": "top1"},
    })

    out = ok_json(cli("run", recipe, "--workspace", ws, "--until", "verify", "--json"))
    assert statuses(out) == {"export": "ran", "build": "ran", "verify": "ran"}
    report = json.loads((ws / "tiny" / "verify" / "report.json").read_text())
    assert report["passed"] is True
    assert report["reference"].startswith("pytorch")
    assert report["samples"] == 8
    metric = report["metric"]
    assert metric["name"] == "top1"
    assert metric["candidate"] == pytest.approx(0.5)
    assert metric["reference"] == pytest.approx(0.5)
    assert metric["agreement"] == pytest.approx(1.0)
    assert metric["samples"] == 8
    manifest = json.loads((ws / "tiny" / "verify" / "manifest.json").read_text())
    assert set(manifest["inputs"]) >= {"candidate", "weights", "factory", "data"}
    assert manifest["metrics"]["metric"]["candidate"] == pytest.approx(0.5)


def test_pytorch_reference_without_weights(cli, torch_recipe: Path, ws: Path) -> None:
    edit_recipe(torch_recipe, lambda r: r["verify"].update(reference="pytorch"))
    out = ok_json(cli("run", torch_recipe, "--workspace", ws, "--until", "verify", "--json"))
    assert statuses(out)["verify"] == "ran"


def test_auto_export_on_tensorrt_8_6_writes_opset_17_with_the_legacy_exporter(
        torch_recipe: Path, ws: Path) -> None:
    import onnx

    from trtc.pipeline import Plan, run_stage
    from trtc.recipe import load_recipe
    from trtc.workspace import Workspace

    # The recipe leaves opset and exporter to auto; the build would use TensorRT 8.6.
    edit_recipe(torch_recipe, lambda r: r.pop("export"))
    recipe = load_recipe(torch_recipe)
    workspace = Workspace(ws, recipe.name)
    plan = Plan(recipe, workspace)
    plan._build_trt = ("8.6.1",)  # what detection finds on a TensorRT 8.6 machine
    outcome = run_stage(recipe, "export", workspace, plan=plan)
    assert outcome.status == "ran"
    model = onnx.load(str(outcome.outputs["model"]))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    manifest = json.loads(outcome.manifest_path.read_text())  # type: ignore[union-attr]
    assert (manifest["spec"]["opset"], manifest["spec"]["exporter"]) == (17, "legacy")
    export = manifest["metrics"]["export"]
    assert (export["exporter"], export["opset_requested"]) == ("legacy", 17)
    assert "TensorRT 8.6.1" in export["settings"]
