"""The recipes shipped in configs/ parse, and the digits demo runs end to end on CPU."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import yaml
from integration_helpers import ok_json, statuses

from trtc.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_recipes_load(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.name == path.stem
    optional = ("prune", "quantize") if recipe.name == "digits" else ()
    served = ("package",) if recipe.name == "digits" else ()
    assert recipe.enabled_stages() == ("export", *optional, "build", "verify", "bench",
                                       *served)


def test_resnet50_dry_run_plans_every_stage(cli, ws: Path) -> None:
    result = ok_json(cli("run", REPO / "configs/resnet50.yaml", "--dry-run", "--workspace", ws,
                         "--json"))
    assert statuses(result) == {s: "would run" for s in ("export", "build", "verify", "bench")}
    assert not ws.exists()


def test_digits_demo_recipe_end_to_end(cli, tmp_path: Path, ws: Path) -> None:
    # Train briefly (the demo trains 30 epochs), then run the shipped recipe unchanged but
    # for the weights path and a short bench.
    digits = runpy.run_path(str(REPO / "scripts/digits.py"))
    weights = tmp_path / "weights.pt"
    accuracy = digits["train"](weights, epochs=3)
    assert accuracy > 0.8  # real data: a CNN learns digits in 3 epochs

    data = yaml.safe_load((REPO / "configs/digits.yaml").read_text())
    data["model"]["weights"] = str(weights)
    data["bench"].update(batch=[1, 8], warmup_ms=5, duration_s=0.05, min_iterations=3)
    copy = tmp_path / "configs" / "digits.yaml"
    copy.parent.mkdir()
    # Paths stay relative to the recipe: point the copy's python: references at the repo.
    text = yaml.safe_dump(data).replace("../scripts/", f"{REPO}/scripts/")
    copy.write_text(text)

    result = ok_json(cli("run", copy, "--workspace", ws, "--json"))
    assert set(statuses(result).values()) == {"ran"}
    verify = json.loads((ws / "digits" / "verify" / "report.json").read_text())
    metric = verify["metric"]
    assert metric["samples"] == 360  # 20 % of the 1797 digits
    assert metric["reference"] == pytest.approx(accuracy, abs=1e-9)
    # Pruned 2:4 and int8 (ONNX Runtime's placement, no TensorRT here) vs PyTorch FP32.
    assert metric["drop"] <= 0.01 and metric["agreement"] >= 0.97
    assert verify["changed_by"] == ["prune", "quantize"] and verify["precision"] == "int8"
    prune = json.loads((ws / "digits" / "prune" / "manifest.json").read_text())["metrics"]
    assert prune["after"]["weight_zeros_fraction"] > 0.4
    quantize = json.loads((ws / "digits" / "quantize" / "manifest.json").read_text())
    assert quantize["spec"]["target"] == "onnxruntime-cpu"
    bench = json.loads((ws / "digits" / "bench" / "report.json").read_text())
    assert [row["batch"] for row in bench["results"]] == [1, 8]
    assert all(row["speedup_vs_pytorch"] > 0 for row in bench["results"])
    report = (ws / "digits" / "report.md").read_text()
    assert "top-1 accuracy on 360 labelled samples" in report and "| 8 | pytorch |" in report
    page = (ws / "digits" / "report.html").read_text()
    assert "<h2>accuracy per stage</h2>" in page and "<h2>bench</h2>" in page
    # make demo's Triton repository for the ONNX Runtime artifact, read with Triton's schema.
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    model_dir = ws / "digits" / "package" / "triton" / "digits"
    config = text_format.Parse((model_dir / "config.pbtxt").read_text(),
                               model_config_pb2.ModelConfig())
    assert (config.name, config.platform, config.max_batch_size) == (
        "digits", "onnxruntime_onnx", 64)  # the largest batch verify runs
    assert [(t.name, list(t.dims)) for t in config.input] == [("input", [1, 8, 8])]
    assert [(t.name, list(t.dims)) for t in config.output] == [("logits", [10])]
    assert (model_dir / "1" / "model.onnx").read_bytes() == \
        (ws / "digits" / "build" / "model.ort.onnx").read_bytes()

    again = ok_json(cli("run", copy, "--workspace", ws, "--json"))
    assert set(statuses(again).values()) == {"skipped"}
