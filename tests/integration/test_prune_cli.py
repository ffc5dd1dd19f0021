"""`trtc prune` from flags and from a recipe, and inside `trtc run`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from integration_helpers import assert_user_error, ok_json, statuses


def _run(path: Path, batch: int = 2) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, 3, 8, 8)).astype(np.float32)
    return session.run(None, {"x": x})[0]


def _weight(path: Path, name: str) -> np.ndarray:
    (init,) = [t for t in onnx.load(str(path)).graph.initializer if t.name == name]
    return onnx.numpy_helper.to_array(init)


def test_2_4_from_flags(cli, conv_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "sparse.onnx"
    data = ok_json(cli("prune", conv_onnx, "-o", out, "--method", "2:4", "--json"))
    layers = {row["name"]: row for row in data["metrics"]["layers"]}
    # The Conv reads 3 input channels: not a 2:4 layout; the Gemm [10, 256] is.
    assert layers["conv"]["status"] == "skipped" and "C=3" in layers["conv"]["reason"]
    assert layers["fc"]["status"] == "pruned" and layers["fc"]["zeros_after"] == 0.5
    # 2:4 along the reduction axis: every group of 4 input weights keeps at most 2.
    assert (np.count_nonzero(_weight(out, "fc").reshape(10, -1, 4), axis=-1) <= 2).all()
    assert data["metrics"]["ratio"] is None and "TensorRT" in data["metrics"]["note"]
    assert _run(out).shape == (2, 10)


def test_channel_from_flags_prints_the_table_and_shrinks_the_model(cli, conv_onnx: Path,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "slim.onnx"
    result = cli("prune", conv_onnx, "-o", out, "--method", "channel", "--ratio", "0.5")
    assert result.exit_code == 0, result.output
    assert "prune --method channel" in result.stderr and "flops" in result.stderr
    assert "pruned" in result.stderr
    # 4 conv channels -> 2; the Gemm that reads the flattened 4x8x8 now reads 2x8x8.
    assert _weight(out, "w").shape == (2, 3, 3, 3) and _weight(out, "fc").shape == (10, 128)
    assert _run(out).shape == _run(conv_onnx).shape == (2, 10)


def test_magnitude_from_flags(cli, conv_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "mag.onnx"
    data = ok_json(cli("prune", conv_onnx, "-o", out, "--method", "magnitude", "--ratio",
                       "0.5", "--json"))
    fc = _weight(out, "fc")
    assert (fc == 0).sum() == fc.size // 2
    metrics = data["metrics"]
    assert metrics["after"]["gzip_bytes"] < metrics["before"]["gzip_bytes"]
    assert metrics["after"]["flops"] == metrics["before"]["flops"]


def test_bad_flags(cli, conv_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.onnx"
    assert_user_error(cli("prune", conv_onnx, "-o", out, "--method", "channel", "--ratio",
                          "1.5"), 2, "--ratio 1.5", "--method channel")
    assert_user_error(cli("prune", conv_onnx, "-o", out, "--method", "3:4"), 2, "--method")
    assert_user_error(cli("prune", conv_onnx, "--method", "2:4"), 2, "-o")
    assert_user_error(cli("prune", conv_onnx, "-o", out, "--method", "2:4", "--exclude", "fc"),
                      4, "nothing to prune with --method 2:4", "excluded")
    # A typo in --exclude would otherwise prune the layer the user meant to keep dense.
    typo = cli("prune", conv_onnx, "-o", out, "--method", "2:4", "--exclude", "fcc")
    assert_user_error(typo, 2, "prune.exclude", "no node 'fcc'")
    assert "did you mean 'fc'" in typo.stderr
    assert_user_error(cli("prune", tmp_path / "nope.onnx", "-o", out), 4, "nope.onnx")
    assert not out.exists()


def _prune_recipe(write_recipe: Callable[..., Path], conv_onnx: Path, min_cosine: float = 0.0,
                  **prune: object) -> Path:
    return write_recipe({
        "name": "conv",
        "model": {"source": f"onnx:{conv_onnx.name}"},
        "prune": prune,
        "build": {"backend": "onnxruntime"},
        # A pruned model is judged by cosine similarity with the dense one (tolerances are
        # only reported); this random tiny model loses a lot, so most tests accept anything.
        "verify": {"min_cosine": min_cosine, "data": {"batch": 2, "iterations": 1}},
        "bench": {"batch": [1], "warmup_ms": 5, "duration_s": 0.05, "min_iterations": 3,
                  "baseline": "none"},
    }, name="conv.yaml")


def test_recipe_mode_writes_the_workspace_and_skips_when_up_to_date(
        cli, conv_onnx: Path, write_recipe: Callable[..., Path], ws: Path) -> None:
    recipe = _prune_recipe(write_recipe, conv_onnx, method="channel", ratio=0.5)
    assert ok_json(cli("export", recipe, "--workspace", ws, "--json"))["status"] == "ran"
    first = ok_json(cli("prune", recipe, "--workspace", ws, "--json"))
    assert first["status"] == "ran" and first["metrics"]["method"] == "channel"
    manifest = json.loads((ws / "conv" / "prune" / "manifest.json").read_text())
    assert Path(manifest["outputs"]["model"]["path"]) == ws / "conv" / "prune" / "model.onnx"
    assert manifest["metrics"]["after"]["flops"] < manifest["metrics"]["before"]["flops"]
    assert ok_json(cli("prune", recipe, "--workspace", ws, "--json"))["status"] == "skipped"
    # A flag changes the resolved section: the stage runs again.
    again = ok_json(cli("prune", recipe, "--workspace", ws, "--ratio", "0.25", "--json"))
    assert again["status"] == "ran" and again["metrics"]["ratio"] == 0.25


def test_run_with_prune_enabled_builds_the_pruned_model(
        cli, conv_onnx: Path, write_recipe: Callable[..., Path], ws: Path) -> None:
    recipe = _prune_recipe(write_recipe, conv_onnx, enabled=True, method="channel", ratio=0.5)
    data = ok_json(cli("run", recipe, "--workspace", ws, "--json"))
    assert statuses(data) == {s: "ran" for s in ("export", "prune", "build", "verify", "bench")}
    root = ws / "conv"
    prune = json.loads((root / "prune" / "manifest.json").read_text())
    build = json.loads((root / "build" / "manifest.json").read_text())
    assert build["inputs"]["model"]["path"] == str(root / "prune" / "model.onnx")
    assert build["inputs"]["model"]["sha256"] == prune["outputs"]["model"]["sha256"]
    assert _weight(root / "prune" / "model.onnx", "w").shape[0] == 2
    report = json.loads((root / "verify" / "report.json").read_text())
    assert report["changed_by"] == ["prune"] and report["elementwise_gates"] is False
    assert report["metric"]["name"] == "cosine" and report["metric"]["min_cosine"] == 0.0


def test_verify_fails_a_pruned_model_on_cosine_not_on_tolerances(
        cli, conv_onnx: Path, write_recipe: Callable[..., Path], ws: Path) -> None:
    recipe = _prune_recipe(write_recipe, conv_onnx, min_cosine=0.999, enabled=True,
                           method="channel", ratio=0.5)
    result = cli("run", recipe, "--workspace", ws, "--until", "verify")
    message = assert_user_error(result, 1, "output 'y'", "cosine similarity",
                                "below min_cosine 0.999")
    assert "atol" not in message


def test_recipe_ratio_out_of_range_names_the_key(cli, conv_onnx: Path,
                                                 write_recipe: Callable[..., Path],
                                                 ws: Path) -> None:
    recipe = _prune_recipe(write_recipe, conv_onnx, enabled=True, method="magnitude", ratio=1)
    assert_user_error(cli("run", recipe, "--workspace", ws), 2, "prune.ratio")
