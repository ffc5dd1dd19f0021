"""`trtc quantize` from flags and from a recipe, `trtc run` with quantize enabled, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from integration_helpers import (
    assert_user_error,
    edit_recipe,
    ok_json,
    run_trtc,
    statuses,
)
from onnx import TensorProto

from trtc.optimize.quantize import META_PRECISION, META_TARGET


def _meta(path: Path) -> dict[str, str]:
    # ONNX Runtime's pre-processing adds keys of its own; trtc's are what build reads.
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props
            if p.key.startswith("trtc.")}


# --------------------------------------------------------------------------- the contract forms


def test_int8_onnxruntime_cpu_with_random_calibration(cli, conv_onnx: Path, tmp_path: Path,
                                                      ws: Path) -> None:
    out = tmp_path / "q.onnx"
    data = ok_json(cli("quantize", conv_onnx, "-o", out, "--precision", "int8", "--target",
                       "onnxruntime-cpu", "--calib-data", "random", "--calib-samples", "32",
                       "--workspace", ws, "--json"))
    assert _meta(out) == {META_TARGET: "onnxruntime-cpu", META_PRECISION: "int8"}
    metrics = data["metrics"]
    assert metrics["calibration"]["samples"] == 32
    assert metrics["accuracy"]["value"] > 0.99
    assert any("random" in w for w in data["warnings"])       # the loud warning
    assert "calibration_ranges" not in metrics


def test_int8_tensorrt_from_npz_with_entropy(cli, conv_onnx: Path, tmp_path: Path,
                                             ws: Path) -> None:
    np.savez(tmp_path / "calib.npz",
             x=np.random.default_rng(0).standard_normal((16, 3, 8, 8)).astype(np.float32))
    out = tmp_path / "q.onnx"
    result = cli("quantize", conv_onnx, "-o", out, "--precision", "int8", "--target",
                 "tensorrt", "--calib-data", tmp_path / "calib.npz", "--calib-method", "entropy",
                 "--workspace", ws)
    assert result.exit_code == 0, result.stderr
    err = " ".join(result.stderr.split())  # rich wraps long lines at spaces
    assert "entropy on 16 samples" in err and "cache miss" in err
    assert _meta(out) == {META_TARGET: "tensorrt", META_PRECISION: "int8"}
    # Same data, other method and an exclusion: the calibration model does not run again.
    again = cli("quantize", conv_onnx, "-o", tmp_path / "q2.onnx", "--calib-data",
                tmp_path / "calib.npz", "--calib-method", "percentile", "--exclude-nodes", "fc",
                "--workspace", ws, "--json")
    metrics = ok_json(again)["metrics"]
    assert metrics["calibration"]["cache"] == "hit"
    assert metrics["calibration"]["calibration_runs"] == 0
    assert metrics["qdq"]["quantized_nodes"] == ["conv"]


def test_fp16_flags(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    out = tmp_path / "h.onnx"
    data = ok_json(cli("quantize", conv_onnx, "-o", out, "--precision", "fp16",
                       "--workspace", ws, "--json"))
    assert data["metrics"]["precision"] == "fp16"
    assert _meta(out)[META_PRECISION] == "fp16"
    model = onnx.load(str(out))
    types = {i.data_type for i in model.graph.initializer}
    assert TensorProto.FLOAT16 in types
    # Graph inputs and outputs stay float32 by default ...
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    # ... and become float16 with --no-keep-io-types.
    out16 = tmp_path / "h16.onnx"
    ok_json(cli("quantize", conv_onnx, "-o", out16, "--precision", "fp16",
                "--no-keep-io-types", "--workspace", ws, "--json"))
    model16 = onnx.load(str(out16))
    assert model16.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    assert model16.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT16


def test_max_drop_flag_reports_the_budget(cli, conv_onnx: Path, tmp_path: Path,
                                          ws: Path) -> None:
    data = ok_json(cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data",
                       "random", "--calib-samples", "8", "--max-drop", "0.5", "--workspace",
                       ws, "--json"))
    assert data["metrics"]["budget"]["met"] and data["metrics"]["budget"]["evaluations"] == 1
    # --budget-step reaches the recipe's validator.
    bad = cli("quantize", conv_onnx, "-o", tmp_path / "q2.onnx", "--calib-data", "random",
              "--max-drop", "0.5", "--budget-step", "0", "--workspace", ws)
    assert_user_error(bad, 2, "budget_step")
    assert not (tmp_path / "q2.onnx").exists()


def test_budget_on_flag_reaches_the_recipe(cli, conv_onnx: Path, tmp_path: Path,
                                           ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["quantize", conv_onnx, "--calib-data", "random", "--calib-samples", "8",
            "--max-drop", "0.5", "--workspace", ws]
    assert_user_error(cli(*base, "-o", tmp_path / "a.onnx", "--budget-on", "gpu"), 2,
                      "budget_on")
    assert_user_error(cli(*base, "-o", tmp_path / "b.onnx", "--budget-on", "engine",
                          "--target", "onnxruntime-cpu"), 2, "budget_on")
    from trtc.backends.tensorrt import TensorRTBackend
    from trtc.errors import DependencyError

    def refuse(self: object, spec: object = None) -> None:
        raise DependencyError("TensorRT is not installed")

    monkeypatch.setattr(TensorRTBackend, "check_available", refuse)
    data = ok_json(cli(*base, "-o", tmp_path / "c.onnx", "--budget-on", "engine", "--json"))
    assert data["metrics"]["budget"]["evaluator"] == "onnxruntime"
    assert any("runs on ONNX Runtime" in w for w in data["warnings"])


# --------------------------------------------------------------------------- recipes and run


@pytest.fixture
def quant_recipe(onnx_recipe: Path) -> Path:
    return edit_recipe(onnx_recipe, lambda r: r.update(quantize={
        "enabled": True, "precision": "int8", "target": "onnxruntime-cpu",
        "calib_data": "random", "calib_samples": 8}))


def test_run_with_quantize_feeds_build_and_verify(cli, quant_recipe: Path, ws: Path) -> None:
    data = ok_json(cli("run", quant_recipe, "--workspace", ws, "--json"))
    assert statuses(data) == {"export": "ran", "quantize": "ran", "build": "ran",
                              "verify": "ran", "bench": "ran"}
    root = ws / "conv"
    for name in ("model.onnx", "manifest.json", "calibration.json"):
        assert (root / "quantize" / name).is_file(), name
    build = json.loads((root / "build" / "manifest.json").read_text())
    assert build["inputs"]["model"]["path"] == str(root / "quantize" / "model.onnx")
    assert build["metrics"]["precision"] == "int8"
    report = json.loads((root / "verify" / "report.json").read_text())
    assert report["precision"] == "int8" and report["passed"]
    assert report["outputs"]["y"]["atol"] == 0.2     # verify's int8 default tolerance
    verify = json.loads((root / "verify" / "manifest.json").read_text())
    assert verify["inputs"]["reference"]["path"] == str(root / "export" / "model.onnx")
    calib = json.loads((root / "quantize" / "calibration.json").read_text())
    assert calib["method"] == "minmax" and "x" in calib["ranges"]
    # A second run skips quantize; another method re-runs it from the cached statistics.
    again = ok_json(cli("run", quant_recipe, "--workspace", ws, "--json"))
    assert statuses(again)["quantize"] == "skipped"
    edit_recipe(quant_recipe, lambda r: r["quantize"].update(calib_method="percentile"))
    third = ok_json(cli("quantize", quant_recipe, "--workspace", ws, "--json"))
    assert third["status"] == "ran"
    assert third["metrics"]["calibration"]["cache"] == "hit"


@pytest.mark.without_tensorrt
def test_target_auto_follows_the_backend_this_machine_builds_with(cli, quant_recipe: Path,
                                                                  ws: Path) -> None:
    # No TensorRT here: auto means ONNX Runtime, so the placement is onnxruntime-cpu's and
    # build takes the model without the cross-target warning; the manifest keeps "auto" and
    # the resolved target (a machine with TensorRT re-quantizes).
    edit_recipe(quant_recipe, lambda r: r["quantize"].update(target="auto"))
    data = ok_json(cli("run", quant_recipe, "--workspace", ws, "--until", "build", "--json"))
    assert statuses(data) == {"export": "ran", "quantize": "ran", "build": "ran"}
    root = ws / "conv"
    assert _meta(root / "quantize" / "model.onnx")[META_TARGET] == "onnxruntime-cpu"
    manifest = json.loads((root / "quantize" / "manifest.json").read_text())
    assert manifest["spec"]["section"]["target"] == "auto"
    assert manifest["spec"]["target"] == "onnxruntime-cpu"
    build = next(s for s in data["stages"] if s["stage"] == "build")
    assert not any("target" in w for w in build["warnings"])


def test_calibration_npz_edit_makes_quantize_stale(cli, quant_recipe: Path, tmp_path: Path,
                                                   ws: Path) -> None:
    x = np.random.default_rng(0).standard_normal((8, 3, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x)
    edit_recipe(quant_recipe, lambda r: r["quantize"].update(calib_data="calib.npz"))
    ok_json(cli("run", quant_recipe, "--workspace", ws, "--until", "quantize", "--json"))
    np.savez(tmp_path / "calib.npz", x=x * 2)
    data = ok_json(cli("run", quant_recipe, "--workspace", ws, "--until", "quantize",
                       "--json", "--dry-run"))
    reason = {s["stage"]: s["reason"] for s in data["stages"]}["quantize"]
    assert "calib_data" in reason


def test_quantize_in_a_real_process(conv_onnx: Path, tmp_path: Path) -> None:
    proc = run_trtc("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data", "random",
                    "--calib-samples", "4", "--workspace", tmp_path / "ws", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["metrics"]["target"] == "tensorrt"  # the default


# --------------------------------------------------------------------------- bad input


def test_excluding_a_missing_node(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    result = cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data", "random",
                 "--exclude-nodes", "fc2", "--workspace", ws)
    assert_user_error(result, 2, "'fc2'")
    assert "did you mean 'fc'?" in result.stderr
    assert not (tmp_path / "q.onnx").exists()


def test_no_quantizable_nodes(cli, tmp_path: Path, ws: Path, relu_onnx: Path) -> None:
    result = cli("quantize", relu_onnx, "-o", tmp_path / "q.onnx", "--calib-data", "random",
                 "--workspace", ws)
    assert_user_error(result, 4, "no quantizable nodes")
    assert not (tmp_path / "q.onnx").exists()


def test_calibration_data_with_wrong_names(cli, conv_onnx: Path, tmp_path: Path,
                                           ws: Path) -> None:
    np.savez(tmp_path / "calib.npz", image=np.zeros((4, 3, 8, 8), np.float32))
    result = cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data",
                 tmp_path / "calib.npz", "--workspace", ws)
    assert_user_error(result, 5, "calib.npz", "no array for input 'x'")
    assert not (tmp_path / "q.onnx").exists()


def test_calibration_data_with_nan(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    x = np.zeros((4, 3, 8, 8), np.float32)
    x[2, 1, 0, 0] = np.inf
    np.savez(tmp_path / "calib.npz", x=x)
    result = cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data",
                 tmp_path / "calib.npz", "--workspace", ws)
    assert_user_error(result, 5, "calib.npz", "input 'x' has 0 NaN and 1 Inf")
    assert not (tmp_path / "q.onnx").exists()


def test_empty_image_folder(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    (tmp_path / "images").mkdir()
    # Crop matching the 8x8 input, so that the folder (not the preprocessing) is what fails.
    result = cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data",
                 tmp_path / "images", "--calib-resize", "8", "--calib-crop", "8",
                 "--workspace", ws)
    assert_user_error(result, 5, "image folder is empty")
    assert not (tmp_path / "q.onnx").exists()


def test_calib_crop_zero_is_rejected_not_ignored(cli, conv_onnx: Path, tmp_path: Path,
                                                 ws: Path) -> None:
    (tmp_path / "images").mkdir()
    result = cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data",
                 tmp_path / "images", "--calib-resize", "8", "--calib-crop", "0",
                 "--workspace", ws)
    assert_user_error(result, 2, "quantize.calib_preprocess.crop", "got 0")


def test_unsupported_image_file(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    result = cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data",
                 tmp_path / "images", "--calib-resize", "8", "--calib-crop", "8",
                 "--workspace", ws)
    assert_user_error(result, 5, "notes.txt")
    assert not (tmp_path / "q.onnx").exists()


def test_int8_without_calibration_data(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    result = cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--workspace", ws)
    assert_user_error(result, 2, "calibration data")


def test_recipe_key_errors_name_the_key(cli, quant_recipe: Path, ws: Path) -> None:
    edit_recipe(quant_recipe, lambda r: r["quantize"].update(calib_methd="entropy"))
    result = cli("quantize", quant_recipe, "--workspace", ws)
    assert_user_error(result, 2, "quantize.calib_methd")
    assert "quantize.calib_method" in result.stderr


def test_image_folder_recipe_hashes_every_image(cli, quant_recipe: Path, tmp_path: Path,
                                                ws: Path) -> None:
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)).save(
            folder / f"img{i}.png")
    edit_recipe(quant_recipe, lambda r: r["quantize"].update(
        calib_data="images", calib_preprocess={"resize": 8, "crop": 8, "mean": [0.5] * 3,
                                               "std": [0.25] * 3}))
    ok_json(cli("run", quant_recipe, "--workspace", ws, "--until", "quantize", "--json"))
    manifest = json.loads((ws / "conv" / "quantize" / "manifest.json").read_text())
    assert manifest["metrics"]["calibration"]["samples"] == 4
    assert {k for k in manifest["inputs"] if k.startswith("calib_data/")} == \
        {f"calib_data/img{i}.png" for i in range(4)}
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(folder / "img2.png")
    dry = ok_json(cli("run", quant_recipe, "--workspace", ws, "--until", "quantize",
                      "--dry-run", "--json"))
    reason = {s["stage"]: s["reason"] for s in dry["stages"]}["quantize"]
    assert "img2.png" in reason


def test_python_calibration_reader(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    (tmp_path / "reader.py").write_text(
        "import numpy as np\n\n"
        "def calib():\n"
        "    rng = np.random.default_rng(0)\n"
        "    return {'x': rng.standard_normal((6, 3, 8, 8)).astype(np.float32)}\n")
    data = ok_json(cli("quantize", conv_onnx, "-o", tmp_path / "q.onnx", "--calib-data",
                       f"python:{tmp_path / 'reader.py'}:calib", "--workspace", ws, "--json"))
    assert data["metrics"]["calibration"]["samples"] == 6
    assert not any("random" in w for w in data["warnings"])
