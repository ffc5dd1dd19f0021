"""Bad input: each gets its exit code, one message line naming the culprit, and no artifact."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from integration_helpers import (
    assert_user_error,
    edit_recipe,
    ok_json,
    run_trtc,
    stage_files,
)


def _no_artifacts(ws: Path, name: str, stage: str) -> None:
    """The stage left neither an artifact nor a manifest (nor a temporary file)."""
    assert stage_files(ws, name, stage) == [], stage_files(ws, name, stage)


def _recipe_dict(**changes: Any) -> dict[str, Any]:
    recipe: dict[str, Any] = {
        "name": "tiny",
        "model": {"source": "python:tinynet.py:build",
                  "inputs": [{"name": "x", "shape": ["batch", 3, 8, 8]}], "outputs": ["y"]},
        "export": {"exporter": "legacy", "opset": 17},
        "build": {"backend": "onnxruntime"},
    }
    recipe.update(changes)
    return recipe


# --------------------------------------------------------------------------- recipes


def test_malformed_yaml_names_the_line(cli, tmp_path: Path, ws: Path) -> None:
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("name: tiny\nmodel:\n  source: [python:tinynet.py:build\n"
                      "  inputs: 3\n")
    message = assert_user_error(cli("run", recipe, "--workspace", ws), 2,
                                "broken.yaml:4:", "malformed YAML")
    assert message.startswith("recipe error: ")
    assert not ws.exists()


def test_unknown_key_names_the_path_and_suggests(cli, torch_recipe: Path, ws: Path) -> None:
    edit_recipe(torch_recipe, lambda r: r["build"].update(backnd="onnxruntime"))
    result = cli("run", torch_recipe, "--workspace", ws)
    assert_user_error(result, 2, "recipe.yaml", "build.backnd", "unknown key")
    assert "did you mean 'build.backend'?" in result.stderr
    assert not ws.exists()


@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("verify", "data", {"batch": "two"}, "verify.data.batch"),
    ("bench", "duration_s", "fast", "bench.duration_s"),
    ("export", "opset", 17.5, "export.opset"),
])
def test_wrong_type_names_the_key(cli, torch_recipe: Path, ws: Path, section: str, key: str,
                                  value: Any, expected: str) -> None:
    edit_recipe(torch_recipe, lambda r: r[section].update({key: value}))
    message = assert_user_error(cli("run", torch_recipe, "--workspace", ws), 2, expected)
    assert "expected" in message
    assert not ws.exists()


# --------------------------------------------------------------------------- model files


def test_missing_onnx_model_file(cli, write_recipe: Callable[..., Path], ws: Path) -> None:
    recipe = write_recipe(_recipe_dict(model={"source": "onnx:missing.onnx"}))
    assert_user_error(cli("run", recipe, "--workspace", ws), 4, "missing.onnx")
    _no_artifacts(ws, "tiny", "export")


def test_missing_weights_file(cli, torch_factory: Path, write_recipe: Callable[..., Path],
                              ws: Path) -> None:
    data = _recipe_dict()
    data["model"]["weights"] = "missing.pt"
    recipe = write_recipe(data)
    assert_user_error(cli("run", recipe, "--workspace", ws), 4, "model.weights", "missing.pt")
    _no_artifacts(ws, "tiny", "export")


def test_weights_that_are_not_a_state_dict(cli, torch_factory: Path,
                                           write_recipe: Callable[..., Path], tmp_path: Path,
                                           ws: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a torch checkpoint\n" * 16)
    data = _recipe_dict()
    data["model"]["weights"] = "junk.pt"
    recipe = write_recipe(data)
    assert_user_error(cli("run", recipe, "--workspace", ws), 4, "model.weights", "junk.pt")
    _no_artifacts(ws, "tiny", "export")


@pytest.fixture(params=["corrupt", "truncated"])
def bad_onnx(request: pytest.FixtureRequest, conv_onnx: Path, tmp_path: Path) -> Path:
    """Random bytes, or the first half of a valid model."""
    path = tmp_path / f"{request.param}.onnx"
    if request.param == "corrupt":
        path.write_bytes(np.random.default_rng(3).bytes(4096))
    else:
        data = conv_onnx.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


def test_bad_onnx_inspect(cli, bad_onnx: Path) -> None:
    assert_user_error(cli("inspect", bad_onnx), 4, bad_onnx.name)


def test_bad_onnx_build(cli, bad_onnx: Path, tmp_path: Path, ws: Path) -> None:
    out = tmp_path / "out" / "model.ort.onnx"
    out.parent.mkdir()  # -o's folder must exist (trtc never creates folders for -o)
    assert_user_error(cli("build", bad_onnx, "-o", out, "--workspace", ws), 4, bad_onnx.name)
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_bad_onnx_recipe(cli, bad_onnx: Path, write_recipe: Callable[..., Path],
                         ws: Path) -> None:
    recipe = write_recipe(_recipe_dict(model={"source": f"onnx:{bad_onnx.name}"}))
    assert_user_error(cli("run", recipe, "--workspace", ws), 4, bad_onnx.name)
    _no_artifacts(ws, "tiny", "export")
    assert not (ws / "tiny" / "build").exists()


def test_factory_that_raises(cli, torch_factory: Path, write_recipe: Callable[..., Path],
                             ws: Path) -> None:
    data = _recipe_dict()
    data["model"]["source"] = "python:tinynet.py:broken"
    recipe = write_recipe(data)
    assert_user_error(cli("run", recipe, "--workspace", ws), 4, "tinynet.py:broken",
                      "ValueError", "factory exploded")
    _no_artifacts(ws, "tiny", "export")


def test_factory_returning_a_non_module(cli, torch_factory: Path,
                                        write_recipe: Callable[..., Path], ws: Path) -> None:
    data = _recipe_dict()
    data["model"]["source"] = "python:tinynet.py:not_a_module"
    recipe = write_recipe(data)
    assert_user_error(cli("run", recipe, "--workspace", ws), 4, "not_a_module", "int",
                      "torch.nn.Module")
    _no_artifacts(ws, "tiny", "export")


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize(("arrays", "needles"), [
    # Arrays named after no input of the model (and a typo for 'labels').
    ({"image": np.zeros((4, 3, 8, 8), np.float32), "label": np.zeros(4, np.int64)},
     ["no array for input 'x'"]),
    # The right name, a wrong static dim.
    ({"x": np.zeros((4, 3, 9, 8), np.float32)}, ["'x'", "axis 2", "must be 8"]),
    # The right name and shape, int64 for a float32 input.
    ({"x": np.zeros((4, 3, 8, 8), np.int64)}, ["'x'", "int64", "float32"]),
], ids=["wrong-name", "wrong-static-dim", "int-for-float"])
def test_npz_data_not_matching_the_model(cli, onnx_recipe: Path, tmp_path: Path, ws: Path,
                                         arrays: dict[str, np.ndarray],
                                         needles: list[str]) -> None:
    np.savez(tmp_path / "data.npz", **arrays)
    edit_recipe(onnx_recipe, lambda r: r["verify"]["data"].update(source="data.npz"))
    result = cli("run", onnx_recipe, "--workspace", ws, "--until", "verify")
    assert_user_error(result, 5, "data.npz", *needles)
    # export and build ran; verify wrote nothing.
    assert "manifest.json" in stage_files(ws, "conv", "build")
    _no_artifacts(ws, "conv", "verify")


def test_npz_data_flags_mode(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    np.savez(tmp_path / "data.npz", x=np.zeros((4, 3, 8, 8), np.int32))
    result = cli("verify", conv_onnx, "--reference", conv_onnx, "--data",
                 tmp_path / "data.npz", "--workspace", ws)
    assert_user_error(result, 5, "data.npz", "'x'", "int32")


@pytest.mark.parametrize("command", ["verify", "bench"])
def test_shapes_naming_a_missing_input(cli, conv_onnx: Path, ws: Path, command: str) -> None:
    extra = ["--reference", conv_onnx] if command == "verify" else ["--duration", "0.05"]
    result = cli(command, conv_onnx, *extra, "--shapes", "nope:1x3x8x8", "--workspace", ws)
    assert_user_error(result, 2, "--shapes", "'nope'")
    assert "inputs are: x" in result.stderr


# --------------------------------------------------------------------------- verify


def test_verify_tolerance_exceeded(cli, conv_onnx: Path, other_conv_onnx: Path,
                                   ws: Path) -> None:
    result = cli("verify", conv_onnx, "--reference", other_conv_onnx, "--atol", "0", "--rtol", "0",
                 "--workspace", ws, "--json")
    message = assert_user_error(result, 1, "output 'y'", "differs by up to", "atol 0")
    # stdout starts with the report as JSON (Polygraphy's own log lines must not precede it).
    report, _ = json.JSONDecoder().raw_decode(result.stdout)
    assert report["passed"] is False
    stats = report["outputs"]["y"]
    assert stats["passed"] is False and stats["atol"] == 0 and stats["rtol"] == 0
    # Two differently seeded models disagree by a lot; the message gives the size.
    assert stats["max_abs"] > 0.1
    assert f"{stats['max_abs']:.3g} abs" in message
    assert report["failures"] and "'y'" in report["failures"][0]


def test_verify_failure_json_is_one_document(cli, conv_onnx: Path, other_conv_onnx: Path,
                                             ws: Path) -> None:
    result = cli("verify", conv_onnx, "--reference", other_conv_onnx, "--atol", "0", "--rtol", "0",
                 "--workspace", ws, "--json")
    assert result.exit_code == 1
    json.loads(result.stdout)


def test_verify_failure_in_a_recipe_writes_the_report_but_no_manifest(
        cli, onnx_recipe: Path, other_conv_onnx: Path, ws: Path) -> None:
    ok_json(cli("run", onnx_recipe, "--workspace", ws, "--until", "build", "--json"))
    # Swap the built artifact for a model with other weights: verify must catch it.
    artifact = ws / "conv" / "build" / "model.ort.onnx"
    artifact.write_bytes(other_conv_onnx.read_bytes())

    result = cli("verify", onnx_recipe, "--workspace", ws, "--json")
    message = assert_user_error(result, 1, "output 'y'", "differs by up to")
    # With --json, stdout holds exactly one JSON value: the error.
    error = json.loads(result.stdout)
    assert error["exit_code"] == 1 and error["message"] == message.split(": ", 1)[1]
    report = json.loads((ws / "conv" / "verify" / "report.json").read_text())
    assert report["passed"] is False and report["outputs"]["y"]["passed"] is False
    # The report explains the failure, but without a manifest the stage is not done.
    assert "manifest.json" not in stage_files(ws, "conv", "verify")

    # The next run notices the tampered artifact, rebuilds it, and verify passes.
    out = ok_json(cli("run", onnx_recipe, "--workspace", ws, "--until", "verify", "--json"))
    assert [s["status"] for s in out["stages"]] == ["skipped", "ran", "ran"]
    assert "modified" in out["stages"][1]["reason"]
    assert "manifest.json" in stage_files(ws, "conv", "verify")


def test_until_an_unknown_stage(cli, onnx_recipe: Path, ws: Path) -> None:
    result = cli("run", onnx_recipe, "--workspace", ws, "--until", "quantise")
    assert_user_error(result, 2, "--until", "'quantise'")
    assert "stages are: export, prune, quantize, build, verify, bench" in result.stderr
    assert not (ws / "conv" / "export").exists()


def test_locked_workspace(cli, onnx_recipe: Path, ws: Path) -> None:
    import fcntl

    root = ws / "conv"
    root.mkdir(parents=True)
    with open(root / ".lock", "w") as held:
        # Another trtc run of the same recipe holds the workspace.
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = cli("run", onnx_recipe, "--workspace", ws)
    assert_user_error(result, 2, "locked", str(root))
    assert sorted(p.name for p in root.iterdir()) == [".lock"]


# --------------------------------------------------------------------------- backends


def test_unknown_backend(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    out = tmp_path / "out.ort.onnx"
    result = cli("build", conv_onnx, "-o", out, "--backend", "foo", "--workspace", ws)
    assert_user_error(result, 2, "foo")
    assert not out.exists()


@pytest.mark.without_tensorrt
def test_tensorrt_backend_without_tensorrt(cli, conv_onnx: Path, tmp_path: Path,
                                           ws: Path) -> None:
    out = tmp_path / "out" / "model.engine"
    result = cli("build", conv_onnx, "-o", out, "--backend", "tensorrt", "--workspace", ws)
    assert_user_error(result, 3, "TensorRT is not installed")
    hint = result.stderr.strip().splitlines()[-1]
    assert "install TensorRT" in hint
    # The hint is printed as written: no part of it is swallowed as console markup.
    assert "pip install 'trtc[trt]'" in hint
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.without_tensorrt
def test_tensorrt_backend_in_a_recipe(cli, onnx_recipe: Path, ws: Path) -> None:
    edit_recipe(onnx_recipe, lambda r: r["build"].update(backend="tensorrt"))
    result = cli("run", onnx_recipe, "--workspace", ws)
    assert_user_error(result, 3, "TensorRT")
    # Checked before the first stage: nothing exported for a build that cannot happen.
    assert stage_files(ws, "conv", "export") == []
    _no_artifacts(ws, "conv", "build")
    # Stages before build still run on their own.
    ok_json(cli("run", onnx_recipe, "--workspace", ws, "--until", "export", "--json"))
    assert "manifest.json" in stage_files(ws, "conv", "export")


@pytest.mark.without_tensorrt
def test_tensorrt_exit_code_in_a_real_process(conv_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.engine"
    proc = run_trtc("build", conv_onnx, "-o", out, "--backend", "tensorrt", "--workspace",
                    tmp_path / "ws", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "TensorRT" in proc.stderr
    assert not out.exists()


@pytest.mark.without_tensorrt
def test_auto_backend_chooses_onnxruntime(cli, onnx_recipe: Path, ws: Path) -> None:
    ok_json(cli("run", onnx_recipe, "--workspace", ws, "--until", "export", "--json"))
    out = ok_json(cli("build", onnx_recipe, "--backend", "auto", "--workspace", ws, "--json"))
    assert out["status"] == "ran"
    choice = out["metrics"]["backend_choice"]
    assert choice.startswith("onnxruntime (auto:")
    assert "TensorRT" in choice
    manifest = json.loads((ws / "conv" / "build" / "manifest.json").read_text())
    assert manifest["metrics"]["backend"] == "onnxruntime"
    assert manifest["metrics"]["backend_choice"] == choice
    assert manifest["spec"]["section"]["backend"] == "auto"
    assert Path(manifest["outputs"]["artifact"]["path"]).name == "model.ort.onnx"
