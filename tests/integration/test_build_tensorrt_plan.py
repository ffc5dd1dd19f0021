"""trtc build's TensorRT path without TensorRT: dry runs, the shape preflight, Q/DQ targets.

Everything here runs for real on CPU (ONNX Runtime, onnx); the TensorRT build itself is
tests/trt's job on the GPU machine.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from integration_helpers import assert_user_error, ok_json, run_trtc
from onnx import TensorProto, helper, numpy_helper

from trtc.errors import UsageError
from trtc.stages.build import model_facts, preflight_shapes
from trtc.tensorrt.model import qdq_target
from trtc.tensorrt.profiles import ProfileSpec

PROFILE = "x:1x3x8x8,4x3x8x8,16x3x8x8"


def make_reshape_model(path: Path) -> Path:
    """x[batch,4] -> Reshape to a constant [3,4] -> y: runs only at batch 3."""
    shape = numpy_helper.from_array(np.array([3, 4], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")], "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], initializer=[shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def make_qdq_model(path: Path, target: str | None, precision: str = "int8") -> Path:
    """x[batch,3,8,8] -> QuantizeLinear -> DequantizeLinear -> Relu, with trtc quantize metadata."""
    signed = target != "onnxruntime-cpu"
    scale = numpy_helper.from_array(np.array(0.05, dtype=np.float32), "scale")
    zero = numpy_helper.from_array(np.array(0, dtype=np.int8 if signed else np.uint8), "zero")
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["q"], name="q"),
         helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["d"], name="dq"),
         helper.make_node("Relu", ["d"], ["y"], name="relu")], "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        initializer=[scale, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if target is not None:
        helper.set_model_props(model, {"trtc.quantize.target": target,
                                       "trtc.quantize.precision": precision})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


# --------------------------------------------------------------------------- dry runs


def test_dry_run_interface_form_prints_settings_and_trtexec(cli, conv_onnx: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out.engine"
    result = cli("build", conv_onnx, "-o", out, "--backend", "tensorrt", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "trtexec --onnx=" in result.stdout and "--saveEngine=" in result.stdout
    assert not out.exists() and not (tmp_path / "build").exists()


def test_dry_run_json_for_8_6_with_every_flag(cli, conv_onnx: Path, tmp_path: Path) -> None:
    plan = ok_json(cli(
        "build", conv_onnx, "-o", tmp_path / "m.engine", "--backend", "tensorrt", "--dry-run",
        "--trt-version", "8.6", "--precision", "fp16", "--profile", PROFILE,
        "--timing-cache", "tc.cache", "--workspace", "4GiB", "--no-tf32", "--opt-level", "5",
        "--sparsity", "--version-compatible", "--hardware-compatibility", "ampere+", "--json"))
    trt = plan["tensorrt"]
    assert trt["version"] == "8.6.0" and trt["version_source"] == "--trt-version"
    assert trt["precision_flags"] == ["fp16"] and trt["tf32"] is False
    assert trt["profiles"] == [{"x": {"min": [1, 3, 8, 8], "opt": [4, 3, 8, 8],
                                      "max": [16, 3, 8, 8]}}]
    assert trt["workspace_bytes"] == 4 << 30 and trt["builder_optimization_level"] == 5
    args = shlex.split(plan["trtexec"])
    assert args[:3] == ["trtexec", f"--onnx={conv_onnx}", f"--saveEngine={tmp_path / 'm.engine'}"]
    for flag in ("--minShapes=x:1x3x8x8", "--optShapes=x:4x3x8x8", "--maxShapes=x:16x3x8x8",
                 "--fp16", "--noTF32", "--memPoolSize=workspace:4096",
                 "--builderOptimizationLevel=5", "--timingCacheFile=tc.cache",
                 "--sparsity=enable", "--versionCompatible",
                 "--hardwareCompatibilityLevel=ampere+", "--skipInference"):
        assert flag in args, (flag, args)


def test_dry_run_warns_about_an_opset_newer_than_the_parser(cli, conv_onnx: Path,
                                                            tmp_path: Path) -> None:
    model = onnx.load(str(conv_onnx))   # opset 17; Conv/Relu/Flatten/Gemm are the same in 18
    model.opset_import[0].version = 18
    new = tmp_path / "o18.onnx"
    onnx.save(model, str(new))
    args = ["--backend", "tensorrt", "--dry-run", "--profile", PROFILE, "--json"]
    plan = ok_json(cli("build", new, "-o", tmp_path / "m.engine", "--trt-version", "8.6", *args))
    assert any("opset 18" in n and "export.opset: 17" in n for n in plan["tensorrt"]["notes"])
    # What the dry run prints as warnings is in its JSON result too (a script sees it).
    assert any("opset 18" in n for n in plan["warnings"])
    # 17 is within 8.6's parser; 18 is within 11's.
    plan17 = ok_json(cli("build", conv_onnx, "-o", tmp_path / "m.engine", "--trt-version", "8.6",
                         *args))
    assert not any("opset" in n for n in plan17["tensorrt"].get("notes", []))
    assert not any("opset" in n for n in plan17["warnings"])
    plan11 = ok_json(cli("build", new, "-o", tmp_path / "m.engine", "--trt-version", "11",
                         *args))
    assert not any("opset" in n for n in plan11["tensorrt"].get("notes", []))


def test_dry_run_repeated_profiles_on_10(cli, conv_onnx: Path, tmp_path: Path) -> None:
    plan = ok_json(cli("build", conv_onnx, "-o", tmp_path / "m.engine", "--backend", "tensorrt",
                       "--dry-run", "--trt-version", "10", "--profile", PROFILE,
                       "--profile", "x:32x3x8x8,32x3x8x8,64x3x8x8", "--json"))
    assert len(plan["tensorrt"]["profiles"]) == 2
    assert "--profile=1" in shlex.split(plan["trtexec"])


def test_dry_run_without_a_profile_uses_the_recipe_batches(cli, conv_onnx: Path,
                                                           tmp_path: Path) -> None:
    plan = ok_json(cli("build", conv_onnx, "-o", tmp_path / "m.engine", "--backend", "tensorrt",
                       "--dry-run", "--trt-version", "10", "--json"))
    assert plan["tensorrt"]["profiles"] == [{"x": {"min": [1, 3, 8, 8], "opt": [1, 3, 8, 8],
                                                   "max": [1, 3, 8, 8]}}]
    assert any("no build.profiles given" in n for n in plan["tensorrt"]["notes"])


def test_dry_run_shapes_build_exactly_those_shapes(cli, conv_onnx: Path, tmp_path: Path) -> None:
    plan = ok_json(cli("build", conv_onnx, "-o", tmp_path / "m.engine", "--backend", "tensorrt",
                       "--dry-run", "--trt-version", "8.6", "--shapes", "x:4x3x8x8", "--json"))
    assert plan["tensorrt"]["profiles"] == [{"x": {"min": [4, 3, 8, 8], "opt": [4, 3, 8, 8],
                                                   "max": [4, 3, 8, 8]}}]
    assert "--shapes=x:4x3x8x8" in plan["trtexec"] or "--optShapes=x:4x3x8x8" in plan["trtexec"]
    assert plan["tensorrt"]["tactic_sources"] == ["EDGE_MASK_CONVOLUTIONS", "JIT_CONVOLUTIONS"]


@pytest.mark.parametrize("args, code, needle", [
    (["--precision", "fp16"], 2, "TensorRT 11.1.0 has no precision builder flags"),
    (["--precision", "fp16", "--trt-version", "8.6"], 0, ""),
    (["--precision", "bf16", "--trt-version", "8.6"], 2, "bf16 needs TensorRT 9"),
    (["--precision", "int8", "--int8-calib", "c.npz", "--trt-version", "11"], 2,
     "no int8 calibrators"),
    (["--strongly-typed", "--trt-version", "8.6"], 2, "strongly typed networks need"),
    (["--profile", "x:8x3x8x8,1x3x8x8,16x3x8x8", "--trt-version", "10"], 2,
     "min <= opt <= max"),
    (["--profile", "y:1x3x8x8,4x3x8x8,16x3x8x8", "--trt-version", "10"], 2,
     "'y' is not an input"),
    (["--profile", "x:1x3x9x8,4x3x9x8,16x3x9x8", "--trt-version", "10"], 2, "fixed to 8"),
    (["--workspace", "4096"], 2, "a bare number is bytes"),
    (["--optimization-level", "3"], 2, "ONNX Runtime's level"),
    (["--trt-version", "7.2"], 3, "older than trtc supports"),
])
def test_dry_run_gates(cli, conv_onnx: Path, tmp_path: Path, args: list[str], code: int,
                       needle: str) -> None:
    result = cli("build", conv_onnx, "-o", tmp_path / "m.engine", "--backend", "tensorrt",
                 "--dry-run", *args)
    if code == 0:
        assert result.exit_code == 0, result.stderr
        return
    message = assert_user_error(result, code, needle)
    assert "Traceback" not in message


@pytest.mark.parametrize("args, preview", [
    (["--precision", "fp16"], "preview another version: --trt-version 10 / --trt-version 8.6"),
    (["--precision", "bf16"], "preview another version: --trt-version 10\n"),  # 8.6: no bf16
    (["--profile", "x:8x3x8x8,1x3x8x8,16x3x8x8"], None),
    (["--opt-level", "7"], None),
])
def test_dry_run_names_the_preview_only_when_another_version_would_do(
        cli, conv_onnx: Path, tmp_path: Path, args: list[str], preview: str | None) -> None:
    # Without TensorRT the dry run previews 11; a profile or a level is wrong on any version.
    result = cli("build", conv_onnx, "-o", tmp_path / "m.engine", "--backend", "tensorrt",
                 "--dry-run", *args)
    assert_user_error(result, 2)
    text = result.stderr.replace("\n", " ").rstrip() + "\n"  # hint lines may wrap
    if preview is None:
        assert "previews" not in text and "--trt-version" not in text
    else:
        assert "the dry run previews 11" in text and preview in text


def test_dry_run_says_which_unset_settings_take_tensorrt_defaults(cli, conv_onnx: Path,
                                                                  tmp_path: Path) -> None:
    result = cli("build", conv_onnx, "-o", tmp_path / "m.engine", "--backend", "tensorrt",
                 "--dry-run", "--trt-version", "10")
    assert result.exit_code == 0, result.stderr
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in result.stdout.splitlines() if line.count("│") == 3}
    assert rows["tensorrt.builder_optimization_level"] == "TensorRT's default (3)"
    assert rows["tensorrt.workspace_bytes"].startswith("TensorRT's default")
    assert rows["tensorrt.int8_mode"] == "none"  # None that means off stays 'none'


def test_dry_run_io_formats_int8_from_the_qdq_scale(cli, tmp_path: Path) -> None:
    model = make_qdq_model(tmp_path / "q.onnx", "tensorrt")
    plan = ok_json(cli("build", model, "-o", tmp_path / "m.engine", "--backend", "tensorrt",
                       "--dry-run", "--trt-version", "8.6", "--profile", PROFILE,
                       "--input-formats", "int8:chw32", "--output-formats", "fp16:chw",
                       "--json"))
    args = shlex.split(plan["trtexec"].split("  #")[0])
    assert "--inputIOFormats=int8:chw32" in args and "--outputIOFormats=fp16:chw" in args
    assert plan["tensorrt"]["input_formats"] == ["int8:chw32"]
    assert plan["tensorrt"]["io_scales"] == {"x": pytest.approx(0.05)}


@pytest.mark.parametrize("args, needle", [
    (["--input-formats", "fp32:hwc8"], "build.input_formats: 'fp32:hwc8': TensorRT's hwc8 "
                                       "format takes fp16, bf16 data, not fp32"),
    (["--input-formats", "int8:chw32"], "int8 input 'x' needs its scale"),
    (["--input-formats", "fp16:chw,fp16:chw"], "2 formats for the model's 1 inputs"),
    (["--output-formats", "fp16:hwc8"], "the hwc8 format needs 3 or more dims, 'y' has 2"),
])
def test_dry_run_io_formats_refused(cli, conv_onnx: Path, tmp_path: Path, args: list[str],
                                    needle: str) -> None:
    result = cli("build", conv_onnx, "-o", tmp_path / "m.engine", "--backend", "tensorrt",
                 "--dry-run", "--trt-version", "10", *args)
    assert_user_error(result, 2, needle)


def test_trt_version_only_previews(cli, conv_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.engine"
    result = cli("build", conv_onnx, "-o", out, "--backend", "tensorrt", "--trt-version", "10")
    assert_user_error(result, 2, "--trt-version")
    assert not out.exists()


def test_dry_run_of_a_recipe_uses_the_recipe_inputs(cli, write_recipe: Callable[..., Path],
                                                    ws: Path) -> None:
    recipe = write_recipe({"name": "img", "model": {
        "source": "torchvision:resnet18",
        "inputs": [{"name": "input", "shape": ["batch", 3, 224, 224]}]},
        "build": {"backend": "tensorrt", "workspace": "2GiB"},
        "bench": {"batch": [1, 8]}})
    plan = ok_json(cli("build", recipe, "--dry-run", "--workspace", ws, "--trt-version", "8.6",
                       "--json"))
    assert plan["tensorrt"]["profiles"] == [{"input": {"min": [1, 3, 224, 224],
                                                       "opt": [8, 3, 224, 224],
                                                       "max": [8, 3, 224, 224]}}]
    assert "--memPoolSize=workspace:2048" in plan["trtexec"]
    assert plan["tensorrt"]["timing_cache_keyed"] is True
    assert plan["tensorrt"]["timing_cache"] == str(ws / ".timing-cache")  # shared by recipes
    assert not ws.exists()


# --------------------------------------------------------------------------- real builds


@pytest.mark.without_tensorrt
def test_tensorrt_build_without_tensorrt_exits_3_and_writes_nothing(conv_onnx: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "out" / "m.engine"
    proc = run_trtc("build", conv_onnx, "-o", out, "--backend", "tensorrt", "--precision",
                    "fp16", "--profile", PROFILE, "--workspace", "4GiB", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "TensorRT is not installed" in proc.stderr and "install TensorRT" in proc.stderr
    assert not out.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [conv_onnx.name]


def test_workspace_size_and_directory_together(cli, conv_onnx: Path, tmp_path: Path,
                                               ws: Path) -> None:
    out = tmp_path / "m.ort.onnx"
    built = ok_json(cli("build", conv_onnx, "-o", out, "--backend", "onnxruntime",
                        "--workspace", "4GiB", "--workspace", ws, "--json"))
    assert out.is_file() and built["metrics"]["backend"] == "onnxruntime"
    result = cli("build", conv_onnx, "-o", out, "--workspace", "1GiB", "--workspace", "2GiB")
    assert_user_error(result, 2, "two sizes")


@pytest.mark.without_tensorrt
def test_auto_backend_run_completes_on_onnxruntime_and_says_so(
        cli, onnx_recipe: Path, ws: Path) -> None:
    from integration_helpers import edit_recipe

    edit_recipe(onnx_recipe, lambda r: r["build"].update(backend="auto"))
    result = cli("run", onnx_recipe, "--workspace", ws)
    assert result.exit_code == 0, result.stderr
    assert "backend auto chose onnxruntime, not TensorRT: TensorRT is not installed" in \
        " ".join(result.stderr.split())
    manifest = json.loads((ws / "conv" / "build" / "manifest.json").read_text())
    assert manifest["metrics"]["backend"] == "onnxruntime"
    assert (ws / "conv" / "bench" / "manifest.json").is_file()


@pytest.mark.without_tensorrt
def test_tensorrt_backend_run_fails_fast(cli, onnx_recipe: Path, ws: Path) -> None:
    from integration_helpers import edit_recipe

    edit_recipe(onnx_recipe, lambda r: r["build"].update(backend="tensorrt", precision="fp16"))
    result = cli("run", onnx_recipe, "--workspace", ws)
    assert_user_error(result, 3, "TensorRT is not installed")
    # Before any stage: no export spent on a build that cannot happen, nothing written.
    assert not ws.exists() or not any(ws.rglob("*.onnx"))
    assert "export" not in result.stderr


def test_onnxruntime_refuses_a_builder_precision(cli, conv_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.ort.onnx"
    result = cli("build", conv_onnx, "-o", out, "--backend", "onnxruntime", "--precision",
                 "fp16")
    assert_user_error(result, 2, "precision fp16 is a TensorRT builder setting")
    assert "trtc quantize" in result.stderr and not out.exists()
    # With auto falling back to ONNX Runtime it is reported, not applied.
    built = ok_json(cli("build", conv_onnx, "-o", out, "--precision", "fp16", "--json"))
    assert built["metrics"]["precision"] == "fp32"
    assert any("built as fp32" in w for w in built["warnings"])


# --------------------------------------------------------------------------- Q/DQ targets


def test_model_facts_read_qdq_and_metadata(tmp_path: Path) -> None:
    facts = model_facts(make_qdq_model(tmp_path / "q.onnx", "tensorrt"))
    assert facts.has_qdq and qdq_target(facts.metadata) == "tensorrt"
    assert facts.inputs["x"][1][1:] == (3, 8, 8)


def test_onnxruntime_build_refuses_a_tensorrt_qdq_model(cli, tmp_path: Path) -> None:
    model = make_qdq_model(tmp_path / "q.onnx", "tensorrt")
    out = tmp_path / "q.ort.onnx"
    result = cli("build", model, "-o", out, "--backend", "onnxruntime")
    message = assert_user_error(result, 2, "quantized for tensorrt", "backend is onnxruntime")
    assert str(model) in message
    assert "--target onnxruntime-cpu" in result.stderr
    assert not out.exists()


def test_auto_fallback_builds_a_tensorrt_qdq_model_with_a_warning(cli, tmp_path: Path) -> None:
    model = make_qdq_model(tmp_path / "q.onnx", "tensorrt")
    out = tmp_path / "q.ort.onnx"
    built = ok_json(cli("build", model, "-o", out, "--backend", "auto", "--json"))
    assert out.is_file() and built["metrics"]["precision"] == "int8"
    assert any("quantized for tensorrt" in w and "without the int8 speed-up" in w
               for w in built["warnings"])


def test_tensorrt_build_refuses_an_onnxruntime_qdq_model(cli, tmp_path: Path) -> None:
    model = make_qdq_model(tmp_path / "q.onnx", "onnxruntime-cpu")
    result = cli("build", model, "-o", tmp_path / "q.engine", "--backend", "tensorrt",
                 "--dry-run", "--trt-version", "8.6")
    assert_user_error(result, 2, "quantized for onnxruntime-cpu", "backend is tensorrt")
    assert "--target tensorrt" in result.stderr


def test_matching_qdq_models_build(cli, tmp_path: Path) -> None:
    ort_model = make_qdq_model(tmp_path / "u8.onnx", "onnxruntime-cpu")
    built = ok_json(cli("build", ort_model, "-o", tmp_path / "u8.ort.onnx", "--backend",
                        "onnxruntime", "--json"))
    assert built["metrics"]["precision"] == "int8"  # verify picks int8 tolerances
    trt_model = make_qdq_model(tmp_path / "s8.onnx", "tensorrt")
    plan = ok_json(cli("build", trt_model, "-o", tmp_path / "s8.engine", "--backend",
                       "tensorrt", "--dry-run", "--trt-version", "8.6", "--profile",
                       "x:1x3x8x8,2x3x8x8,4x3x8x8", "--json"))
    assert plan["tensorrt"]["int8_mode"] == "qdq"
    assert plan["tensorrt"]["precision_flags"] == ["int8"]
    # A Q/DQ model from another tool carries no target: both backends accept it.
    anon = make_qdq_model(tmp_path / "anon.onnx", None)
    ok_json(cli("build", anon, "-o", tmp_path / "anon.ort.onnx", "--backend", "onnxruntime",
                "--json"))


# --------------------------------------------------------------------------- preflight


def test_preflight_passes_at_every_corner(conv_onnx: Path) -> None:
    facts = model_facts(conv_onnx)
    prof = ProfileSpec({"x": ((1, 3, 8, 8), (4, 3, 8, 8), (16, 3, 8, 8))})
    assert preflight_shapes(conv_onnx, facts.inputs, [prof]) == []


def test_preflight_names_the_corner_input_and_shape(tmp_path: Path) -> None:
    model = make_reshape_model(tmp_path / "fixed.onnx")
    facts = model_facts(model)
    good = ProfileSpec({"x": ((3, 4), (3, 4), (3, 4))})
    assert preflight_shapes(model, facts.inputs, [good]) == []
    bad = ProfileSpec({"x": ((3, 4), (3, 4), (8, 4))})
    with pytest.raises(UsageError, match=r"fails at profile 1 max \(x:8x4\)") as info:
        preflight_shapes(model, facts.inputs, [good, bad])
    assert "--profile" in (info.value.hint or "")


def test_preflight_is_skipped_with_a_warning_when_ort_cannot_load(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("MyTensorRTPlugin", ["x"], ["y"], domain="trt.plugins")], "plugin",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("trt.plugins", 1)])
    path = tmp_path / "plugin.onnx"
    onnx.save(model, str(path))
    prof = ProfileSpec({"x": ((1, 4), (2, 4), (4, 4))})
    warnings = preflight_shapes(path, {"x": ("float32", ("batch", 4))}, [prof])
    assert len(warnings) == 1 and warnings[0].startswith("shape preflight skipped")


# --------------------------------------------------------------------------- files


def _calibrated(**build: object) -> object:
    from trtc.recipe import parse_recipe
    from trtc.tensorrt.settings import plan_trt_build

    spec = parse_recipe({"name": "t", "model": {"source": "onnx:m.onnx"},
                         "build": {"precision": "int8", **build}}).build
    return plan_trt_build(spec, {"x": ("float32", (1, 4))}, "8.6")


def test_missing_calibration_data_and_plugins_fail_before_the_build(tmp_path: Path) -> None:
    from trtc.errors import DataError
    from trtc.stages.build import check_build_files

    with pytest.raises(DataError, match="build.int8_calib: calibration data not found"):
        check_build_files(_calibrated(int8_calib=str(tmp_path / "none.npz")))
    # The TensorRT calibrator reads arrays: a folder (of images) is refused before the build.
    with pytest.raises(DataError, match="is a folder") as folder:
        check_build_files(_calibrated(int8_calib=str(tmp_path)))
    assert "trtc quantize" in str(folder.value.hint)
    check_build_files(_calibrated(int8_calib="random"))
    np.savez(tmp_path / "c.npz", x=np.zeros((2, 4), np.float32))
    check_build_files(_calibrated(int8_calib=str(tmp_path / "c.npz")))
    with pytest.raises(UsageError, match="build.plugins: plugin library not found"):
        check_build_files(_calibrated(int8_calib="random", plugins=[str(tmp_path / "p.so")]))


def test_default_calibration_cache_is_next_to_the_engine_and_fresh(tmp_path: Path) -> None:
    from trtc.stages.build import with_calibration_cache
    from trtc.tensorrt.trtexec import trtexec_command

    engine = tmp_path / "model.engine"
    stale = tmp_path / "model.engine.calib.cache"
    stale.write_text("scales from other data")
    settings = with_calibration_cache(_calibrated(int8_calib="random"), engine)
    assert settings.calibration["cache"] == str(stale) and not stale.exists()
    assert f"--calib={stale}" in trtexec_command(settings, "m.onnx", str(engine))
    # A cache the user named is theirs to reuse.
    named = _calibrated(int8_calib="random", int8_calib_cache=str(tmp_path / "mine.cache"))
    assert with_calibration_cache(named, engine) is named
