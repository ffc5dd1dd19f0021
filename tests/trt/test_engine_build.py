"""TensorRT for real: build, sidecar, inspector, verify against ONNX Runtime, mismatches.

Runs on a machine with TensorRT and a GPU (the GPU machine with the kit); skips
elsewhere. Every engine is built through the CLI, as a user would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from trt_helpers import PROFILE, Invoke, make_qdq_model, ok_json

from trtc.backends.tensorrt import TensorRTBackend, machine
from trtc.errors import ModelError
from trtc.tensorrt.engine_file import layers_path, read_sidecar, sidecar_path

pytestmark = [pytest.mark.trt, pytest.mark.cuda]


def test_build_writes_engine_sidecar_and_layers(fp32_engine: Path, tiny_onnx: Path) -> None:
    version, gpu = machine()
    side = read_sidecar(fp32_engine)
    assert side is not None, f"no {sidecar_path(fp32_engine)}"
    assert side["tensorrt_version"].split(".")[:2] == version.split(".")[:2]
    assert side["gpu"]["name"] == gpu.name
    assert side["gpu"]["compute_capability"] == f"{gpu.compute_capability[0]}." \
        f"{gpu.compute_capability[1]}"
    assert side["precision"] == "fp32" and side["tf32"] is True
    assert side["io"]["inputs"]["x"]["shape"] == ["batch", 3, 8, 8]
    assert side["io"]["inputs"]["x"]["dtype"] == "float32"
    assert list(side["io"]["outputs"]) == ["y"]
    assert side["io"]["profiles"] == [{"x": [[1, 3, 8, 8], [4, 3, 8, 8], [8, 3, 8, 8]]}]
    import hashlib

    assert side["engine_sha256"] == hashlib.sha256(fp32_engine.read_bytes()).hexdigest()
    assert side["onnx_sha256"] == hashlib.sha256(tiny_onnx.read_bytes()).hexdigest()
    layers = json.loads(layers_path(fp32_engine).read_text())
    assert layers["Layers"], "the inspector listed no layers"
    assert all(isinstance(layer, dict) for layer in layers["Layers"]), \
        "layer names only: the build did not ask for detailed profiling verbosity"
    assert layers["summary"]["layers"] == len(layers["Layers"])
    assert sum(layers["summary"]["by_output_precision"].values()) == len(layers["Layers"])


def test_io_specs_from_the_engine_match_the_sidecar(fp32_engine: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.engine"
    shutil.copy(fp32_engine, bare)  # no sidecar: read from the engine itself
    backend = TensorRTBackend()
    from_sidecar = backend.io_specs(fp32_engine)
    from_engine = backend.io_specs(bare)
    assert from_sidecar[1] == from_engine[1] == ["y"]
    assert from_engine[0]["x"][0] == "float32"
    assert from_engine[0]["x"][1][1:] == (3, 8, 8)
    assert isinstance(from_engine[0]["x"][1][0], str)  # dynamic batch dim named


def test_verify_fp32_engine_against_onnxruntime(cli: Invoke, fp32_engine: Path,
                                                tiny_onnx: Path) -> None:
    report = ok_json(cli("verify", fp32_engine, "--reference", tiny_onnx, "--batch", "4",
                         "--json"))
    assert report["candidate_backend"] == "tensorrt"
    assert report["precision"] == "tf32"  # from the sidecar: TF32 tolerances
    assert report["passed"]
    assert report["outputs"]["y"]["cosine"] > 0.9999


def test_verify_fails_beyond_tolerance(cli: Invoke, fp16_engine: Path, tiny_onnx: Path) -> None:
    result = cli("verify", fp16_engine, "--reference", tiny_onnx, "--atol", "1e-9", "--rtol",
                 "1e-9")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "output 'y' differs" in result.stderr


def test_fp16_engine_is_fp16_and_close(cli: Invoke, fp16_engine: Path, tiny_onnx: Path) -> None:
    side = read_sidecar(fp16_engine)
    assert side is not None and side["precision"] == "fp16"
    assert "fp16" in side["precision_flags"]
    report = ok_json(cli("verify", fp16_engine, "--reference", tiny_onnx, "--json"))
    assert report["passed"] and report["outputs"]["y"]["cosine"] > 0.999


def test_runner_outputs_match_onnxruntime(fp32_engine: Path, tiny_onnx: Path) -> None:
    from trtc.backends.onnxruntime import make_session

    x = np.random.default_rng(3).standard_normal((3, 3, 8, 8)).astype(np.float32)
    runner = TensorRTBackend().runner(fp32_engine, "t")
    with runner:
        got = runner.infer({"x": x})["y"]
    want = make_session(tiny_onnx, level="disable").run(["y"], {"x": x})[0]
    assert got.shape == (3, 10)
    np.testing.assert_allclose(got, want, atol=5e-2, rtol=1e-2)


def test_inspect_engine(cli: Invoke, fp32_engine: Path) -> None:
    summary = ok_json(cli("inspect", fp32_engine, "--json"))
    assert summary["sidecar"]["precision"] == "fp32"
    assert summary["layer_summary"]["layers"] > 0
    assert summary["here"]["loadable_here"] is True
    human = cli("inspect", fp32_engine, "--verbose")
    assert human.exit_code == 0 and "layers by type" in human.stdout


def _moved(engine: Path, tmp_path: Path, **changes: object) -> Path:
    copy = tmp_path / "moved.engine"
    shutil.copy(engine, copy)
    side = json.loads(sidecar_path(engine).read_text())
    for key, value in changes.items():
        if key == "cc":
            side["gpu"] = {"name": "NVIDIA GeForce RTX 2080", "compute_capability": value}
        else:
            side[key] = value
    sidecar_path(copy).write_text(json.dumps(side))
    return copy


def test_engine_from_another_gpu_is_explained(cli: Invoke, fp32_engine: Path,
                                              tiny_onnx: Path, tmp_path: Path) -> None:
    moved = _moved(fp32_engine, tmp_path, cc="7.5")
    with pytest.raises(ModelError, match="compute capability 7.5"):
        TensorRTBackend().runner(moved, "t")
    result = cli("verify", moved, "--reference", tiny_onnx)
    assert result.exit_code == 4, result.stderr
    assert "NVIDIA GeForce RTX 2080" in result.stderr and "rebuild" in result.stderr
    assert cli("bench", moved, "--duration", "0.01").exit_code == 4
    summary = ok_json(cli("inspect", moved, "--json"))
    assert summary["here"]["loadable_here"] is False


def test_engine_from_another_tensorrt_is_explained(cli: Invoke, fp32_engine: Path,
                                                   tmp_path: Path) -> None:
    moved = _moved(fp32_engine, tmp_path, tensorrt_version="8.5.3")
    with pytest.raises(ModelError, match="TensorRT 8.5.3"):
        TensorRTBackend().runner(moved, "t")


def test_corrupt_engine_without_sidecar_is_a_model_error(cli: Invoke, tmp_path: Path,
                                                         tiny_onnx: Path) -> None:
    bad = tmp_path / "bad.engine"
    bad.write_bytes(b"\0" * 4096)
    result = cli("verify", bad, "--reference", tiny_onnx)
    assert result.exit_code == 4, result.stderr
    assert "cannot deserialize" in result.stderr


def test_timing_cache_is_written_and_reused(tiny_onnx: Path, tmp_path: Path) -> None:
    from trtc.recipe import override, recipe_for_model

    cache = tmp_path / "t.cache"
    spec = override(recipe_for_model(tiny_onnx), "build", backend="tensorrt",
                    timing_cache=str(cache), profiles=[{"x": {"min": [1, 3, 8, 8],
                                                              "opt": [2, 3, 8, 8],
                                                              "max": [2, 3, 8, 8]}}]).build
    backend = TensorRTBackend()
    first = backend.build(tiny_onnx, tmp_path / "a.engine", spec)
    assert cache.is_file() and cache.stat().st_size > 0
    assert first["engine"]["timing_cache"]["loaded"] is False
    second = backend.build(tiny_onnx, tmp_path / "b.engine", spec)
    assert second["engine"]["timing_cache"]["loaded"] is True
    assert second["engine"]["timing_cache"]["path"] == str(cache)


def test_default_timing_cache_is_keyed_by_gpu_and_version(tiny_onnx: Path,
                                                           tmp_path: Path) -> None:
    # Beside the engine here; the recipe's build stage passes its workspace's directory
    # instead (stages.build.workspace_timing_cache_dir, tested on CPU).
    from trtc.recipe import override, recipe_for_model
    from trtc.tensorrt.engine_file import timing_cache_key

    spec = override(recipe_for_model(tiny_onnx), "build", backend="tensorrt",
                    profiles=[{"x": {"min": [1, 3, 8, 8], "opt": [1, 3, 8, 8],
                                     "max": [1, 3, 8, 8]}}]).build
    out = tmp_path / "out" / "model.engine"
    out.parent.mkdir(parents=True)
    info = TensorRTBackend().build(tiny_onnx, out, spec)
    version, gpu = machine()
    key = timing_cache_key(gpu.name, gpu.compute_capability, version)
    cache = tmp_path / "out" / ".timing-cache" / f"{key}.cache"
    assert info["engine"]["timing_cache"]["path"] == str(cache)
    assert cache.is_file()


def test_qdq_model_builds_int8(cli: Invoke, tmp_path: Path) -> None:
    model = make_qdq_model(tmp_path / "qdq.onnx")
    out = tmp_path / "qdq.engine"
    ok_json(cli("build", model, "-o", out, "--backend", "tensorrt", "--precision", "int8",
                "--profile", "x:1x3x8x8,2x3x8x8,4x3x8x8", "--json"))
    side = read_sidecar(out)
    assert side is not None and side["int8_mode"] == "qdq" and "int8" in side["precision_flags"]
    layers = json.loads(layers_path(out).read_text())
    assert "INT8" in layers["summary"]["by_output_precision"] or any(
        "Int8" in json.dumps(layer) for layer in layers["Layers"])
    report = ok_json(cli("verify", out, "--reference", model, "--batch", "2", "--json"))
    assert report["passed"], report["failures"]


def test_int8_calibration_builds(cli: Invoke, tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "cal.engine"
    ok_json(cli("build", tiny_onnx, "-o", out, "--backend", "tensorrt", "--precision", "int8",
                "--int8-calib", "random", "--int8-calib-samples", "16",
                "--profile", "x:1x3x8x8,4x3x8x8,8x3x8x8", "--json"))
    side = read_sidecar(out)
    assert side is not None and side["int8_mode"] == "calibration"
    report = ok_json(cli("verify", out, "--reference", tiny_onnx, "--json"))
    assert report["outputs"]["y"]["cosine"] > 0.95


def test_bad_profile_fails_before_building(cli: Invoke, tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "never.engine"
    result = cli("build", tiny_onnx, "-o", out, "--backend", "tensorrt", "--profile",
                 "x:4x3x8x8,2x3x8x8,8x3x8x8")
    assert result.exit_code == 2, result.stderr
    assert not out.exists() and not sidecar_path(out).exists()


def test_profile_pins_the_bench_shapes(cli: Invoke, fp32_engine: Path) -> None:
    # PROFILE allows batch 1..8: batch 16 is refused with the profile's range.
    result = cli("bench", fp32_engine, "--batch", "16", "--duration", "0.01")
    assert result.exit_code == 2, result.stderr
    assert "outside every optimization profile" in result.stderr
    assert PROFILE.split(",")[0].split(":")[1] in result.stderr.replace("\n", "")
