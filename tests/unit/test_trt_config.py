"""Pure TensorRT build decisions (trtc.backends.trt_config), checked for 8.6, 10 and 11 on CPU.

Expected trtexec spellings come from NVIDIA/TensorRT samples/common/sampleOptions.cpp
at tags v8.6.1, v10.0.0, v10.16 and v11.1; compatibility rules from TensorRT's
"Version Compatibility" / "Engine Compatibility" docs.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from typing import Any

import pytest

from trtc.backends import trt_config as tc
from trtc.backends.trt_config import (
    ProfileSpec,
    TrtBuildSettings,
    check_gpu,
    check_qdq_target,
    compatibility_verdict,
    default_profile,
    features,
    opset_note,
    parse_profile,
    parse_size,
    plan_trt_build,
    profile_corners,
    qdq_precision,
    qdq_target,
    resolve_profiles,
    sidecar,
    timing_cache_file,
    timing_cache_key,
    trtexec_command,
    unknown_version_note,
)
from trtc.errors import DependencyError, UsageError
from trtc.recipe import BuildSpec, override, parse_recipe

IMG = {"input": ("float32", ("batch", 3, 224, 224))}
STATIC = {"input": ("float32", (1, 3, 224, 224))}
P_1_8_32 = {"input": {"min": [1, 3, 224, 224], "opt": [8, 3, 224, 224],
                      "max": [32, 3, 224, 224]}}


def spec(**build: Any) -> BuildSpec:
    """A BuildSpec validated the way a recipe's build section is."""
    recipe = parse_recipe({"name": "t", "model": {"source": "onnx:m.onnx"}, "build": build})
    return recipe.build


def plan(version: str = "8.6", inputs: Any = None, **kwargs: Any) -> TrtBuildSettings:
    qdq = kwargs.pop("qdq", False)
    qprec = kwargs.pop("qprec", None)
    default = kwargs.pop("default", None)
    cache_dir = kwargs.pop("cache_dir", None)
    build = {"profiles": [P_1_8_32], **kwargs} if inputs is None else kwargs
    return plan_trt_build(spec(**build), IMG if inputs is None else inputs, version,
                          model_has_qdq=qdq, qdq_precision=qprec, default_profile=default,
                          timing_cache_dir=cache_dir)


def argv(line: str) -> list[str]:
    return shlex.split(line.split("  #")[0])


# --------------------------------------------------------------------------- versions


def test_versions_parse_and_bare_majors_mean_the_newest_known() -> None:
    assert tc.parse_version("8.6.1.6") == (8, 6, 1)
    assert tc.parse_version("10.3") == (10, 3, 0)
    assert tc.normalize_version("10") == tc.LATEST_KNOWN[10]
    assert tc.normalize_version("v8.6.0") == "8.6.0"
    with pytest.raises(UsageError, match="not a version"):
        tc.parse_version("latest")


@pytest.mark.parametrize("version, calibrators, strongly, only, bf16, fp8", [
    ("8.6", True, False, False, False, False),
    ("9.3", True, True, False, True, True),
    ("10.0", True, True, False, True, True),
    ("11.0", False, True, True, True, True),
])
def test_feature_gates_per_version(version: str, calibrators: bool, strongly: bool, only: bool,
                                   bf16: bool, fp8: bool) -> None:
    f = features(version)
    assert (f.calibrators, f.strongly_typed, f.strongly_typed_only, f.bf16, f.fp8) == \
        (calibrators, strongly, only, bf16, fp8)
    assert f.trtexec_multi_profile is (f.major >= 9)


def test_hardware_levels_grow_with_the_version() -> None:
    assert features("8.6").hardware_levels == ("none", "ampere+")
    # kSAME_COMPUTE_CAPABILITY and trtexec's sameComputeCapability appear in v10.9.0.
    assert features("10.8").hardware_levels == ("none", "ampere+")
    assert "same-compute-capability" in features("10.9").hardware_levels
    assert "same-compute-capability" in features("11").hardware_levels


def test_versions_older_than_8_6_are_refused() -> None:
    with pytest.raises(DependencyError, match="8.5.3 is older"):
        features("8.5.3")


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("text, expected", [
    ("4GiB", 4 << 30), ("4G", 4 << 30), ("512MiB", 512 << 20), ("512m", 512 << 20),
    ("1.5GiB", 3 << 29), ("4GB", 4 * 10**9), ("1073741824", 1 << 30), (2048, 2048),
    (" 16 KiB ", 16 << 10),
])
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["4 gigs", "GiB", "-1GiB", "0", "", "4XB", True])
def test_parse_size_rejects(text: Any) -> None:
    with pytest.raises(UsageError, match="--workspace"):
        parse_size(text)


def test_is_size_and_format_size() -> None:
    assert tc.is_size("4GiB") and not tc.is_size("build/ws")
    assert tc.format_size(4 << 30) == "4GiB"
    assert tc.format_size(1000) == "1000B"


# --------------------------------------------------------------------------- profile text


def test_parse_profile_issue_form() -> None:
    prof = parse_profile("input:1x3x224x224,8x3x224x224,32x3x224x224")
    assert prof.shapes == {"input": ((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224))}


def test_parse_profile_several_inputs_and_single_shape() -> None:
    prof = parse_profile("ids:1x16,8x128,32x512; mask:4x64")
    assert prof.shapes["ids"] == ((1, 16), (8, 128), (32, 512))
    assert prof.shapes["mask"] == ((4, 64),) * 3
    assert parse_profile(tc.format_profile(prof)) == prof


def test_parse_profile_keeps_names_with_colons() -> None:
    assert "input:0" in parse_profile("input:0:1x3,2x3,4x3").shapes


@pytest.mark.parametrize("text, needle", [
    ("1x3x224x224", "NAME:MIN,OPT,MAX"),
    ("input:1x3,8x3", "expected 3 shapes"),
    ("input:1xAx3", "not a shape"),
    ("input:0x3,1x3,2x3", "positive"),
    ("a:1x2;a:1x2", "twice"),
    ("", "empty"),
])
def test_parse_profile_rejects(text: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        parse_profile(text)


# --------------------------------------------------------------------------- profiles vs model


def rng(lo: tuple[int, ...], opt: tuple[int, ...], hi: tuple[int, ...]) -> Any:
    return (lo, opt, hi)


def test_profile_resolves_and_keeps_min_opt_max() -> None:
    (prof,) = resolve_profiles([{"input": rng((1, 3, 224, 224), (8, 3, 224, 224),
                                              (32, 3, 224, 224))}], IMG)
    assert prof.shapes["input"][2] == (32, 3, 224, 224)


@pytest.mark.parametrize("shapes, needle", [
    (rng((8, 3, 224, 224), (1, 3, 224, 224), (32, 3, 224, 224)), "min <= opt <= max"),
    (rng((1, 3, 224, 224), (8, 3, 224, 224), (4, 3, 224, 224)), "min <= opt <= max"),
    (rng((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 256, 256)), "dim 2 is fixed to 224"),
    (rng((1, 3, 224), (8, 3, 224), (32, 3, 224)), "rank 4"),
    (rng((1, 3, 224, 224), (8, 3, 224), (32, 3, 224, 224)), "different ranks"),
])
def test_bad_profiles_are_refused_naming_the_input(shapes: Any, needle: str) -> None:
    with pytest.raises(UsageError, match=needle) as info:
        resolve_profiles([{"input": shapes}], IMG)
    assert "build.profiles[0]: input" in info.value.message


def test_unknown_input_name_suggests_the_closest() -> None:
    with pytest.raises(UsageError, match="'inptu' is not an input") as info:
        resolve_profiles([{"inptu": ((1, 3, 224, 224),) * 3}], IMG)
    assert info.value.hint == "did you mean 'input'?"


def test_every_dynamic_input_must_be_covered_in_every_profile() -> None:
    inputs = {"ids": ("int64", ("batch", "seq")), "mask": ("int64", ("batch", "seq"))}
    ids = rng((1, 16), (8, 128), (8, 512))
    with pytest.raises(UsageError, match="profiles\\[1\\]: no shapes for dynamic input 'mask'"):
        resolve_profiles([{"ids": ids, "mask": ids}, {"ids": ids}], inputs)
    # ... unless the default profile fills the left-out input in.
    profs = resolve_profiles([{"ids": ids}], inputs, default_profile={"mask": ids})
    assert set(profs[0].shapes) == {"ids", "mask"}


def test_inputs_sharing_a_named_dim_need_the_same_range() -> None:
    inputs = {"ids": ("int64", ("batch", "seq")), "mask": ("int64", ("batch", "seq"))}
    with pytest.raises(UsageError, match="dim 'seq'"):
        resolve_profiles([{"ids": rng((1, 16), (8, 128), (8, 512)),
                           "mask": rng((1, 16), (8, 64), (8, 512))}], inputs)
    # Placeholder names for unnamed dims ('?', 'dimN') are not a shared name.
    unnamed = {"a": ("float32", ("dim0", 4)), "b": ("float32", ("dim0", 4))}
    resolve_profiles([{"a": rng((1, 4), (2, 4), (4, 4)), "b": rng((2, 4), (2, 4), (2, 4))}],
                     unnamed)


def test_static_models_need_no_profile_and_static_inputs_are_checked_then_dropped() -> None:
    assert resolve_profiles([], STATIC) == ()
    notes: list[str] = []
    both = {"x": ("float32", ("batch", 4)), "s": ("float32", (2, 2))}
    (prof,) = resolve_profiles([{"x": rng((1, 4), (2, 4), (4, 4)),
                                 "s": rng((2, 2), (2, 2), (2, 2))}], both, notes=notes)
    assert set(prof.shapes) == {"x"} and "'s' is static" in notes[0]
    with pytest.raises(UsageError, match="fixed to 2"):
        resolve_profiles([{"x": rng((1, 4), (2, 4), (4, 4)),
                           "s": rng((2, 2), (2, 3), (2, 3))}], both)


def test_no_profile_and_no_default_names_the_dynamic_input() -> None:
    with pytest.raises(UsageError, match="dynamic input 'input' \\(batchx3x224x224\\)") as info:
        resolve_profiles([], IMG)
    assert "--profile 'input:1x3x224x224,8x3x224x224,8x3x224x224'" in (info.value.hint or "")


def test_default_profile_from_batches_dims_and_shapes() -> None:
    assert default_profile(IMG, batches=[1, 8]) == {
        "input": ((1, 3, 224, 224), (8, 3, 224, 224), (8, 3, 224, 224))}
    seq = {"ids": ("int64", ("batch", "seq"))}
    assert default_profile(seq, batches=[2], dims={"seq": 128}) == {
        "ids": ((2, 128), (2, 128), (2, 128))}
    assert default_profile(seq, batches=[2]) == {}  # 'seq' unknown: the plan asks for it
    assert default_profile(seq, shapes=[{"ids": (4, 64)}, {"ids": (1, 256)}]) == {
        "ids": ((1, 64), (4, 256), (4, 256))}
    assert default_profile(STATIC) == {}


def test_profile_corners_are_distinct_per_profile() -> None:
    a = ProfileSpec({"x": ((1, 4), (8, 4), (8, 4))})
    b = ProfileSpec({"x": ((16, 4), (16, 4), (16, 4))})
    assert profile_corners([a, b]) == [("profile 0 min", {"x": (1, 4)}),
                                       ("profile 0 opt", {"x": (8, 4)}),
                                       ("profile 1 min", {"x": (16, 4)})]


# --------------------------------------------------------------------------- precision gates


def test_fp32_default_keeps_tf32_and_sets_no_flags() -> None:
    s = plan("8.6")
    assert (s.precision, s.precision_flags, s.tf32, s.strongly_typed, s.int8_mode) == \
        ("fp32", (), True, False, None)


def test_no_tf32() -> None:
    assert plan("8.6", tf32=False).tf32 is False


@pytest.mark.parametrize("version, build", [("11", {}), ("10", {"strongly_typed": True})])
def test_strongly_typed_builds_say_tf32_is_off(version: str, build: dict[str, Any]) -> None:
    # The adapter clears TF32 for strongly typed networks: the settings (sidecar, verify's
    # tolerances) and the trtexec line must say so, or trtexec would build another engine.
    s = plan(version, **build)
    assert s.strongly_typed and s.tf32 is False
    assert "--noTF32" in argv(trtexec_command(s, "m.onnx", "m.engine"))


@pytest.mark.parametrize("version", ["8.6", "10"])
def test_fp16_is_a_builder_flag_with_weak_typing(version: str) -> None:
    assert plan(version, precision="fp16").precision_flags == ("fp16",)


def test_best_is_fp16_plus_int8_and_needs_int8_data() -> None:
    s = plan("10", precision="best", int8_calib="calib.npz")
    assert s.precision_flags == ("fp16", "int8") and s.int8_mode == "calibration"
    with pytest.raises(UsageError, match="best includes int8"):
        plan("10", precision="best")


@pytest.mark.parametrize("precision", ["bf16", "fp8"])
def test_bf16_and_fp8_need_tensorrt_9(precision: str) -> None:
    with pytest.raises(UsageError, match=f"{precision} needs TensorRT 9 or newer \\(this is "
                                         "8.6.0\\)"):
        plan("8.6", precision=precision, qdq=True, qprec="fp8")
    assert plan("10", precision="bf16").precision_flags == ("bf16",)


def test_strongly_typed_needs_tensorrt_9() -> None:
    with pytest.raises(UsageError, match="strongly typed networks need TensorRT 9"):
        plan("8.6", strongly_typed=True)
    s = plan("10", strongly_typed=True)
    assert s.strongly_typed and s.precision_flags == ()


def test_int8_calibration_on_8_6_and_10() -> None:
    for version in ("8.6", "10"):
        s = plan(version, precision="int8", int8_calib="calib.npz", int8_calib_samples=64,
                 int8_calib_cache="c.cache")
        assert s.int8_mode == "calibration" and s.precision_flags == ("int8",)
        assert s.calibration == {"data": "calib.npz", "samples": 64, "cache": "c.cache"}


def test_int8_without_data_or_qdq_is_refused() -> None:
    with pytest.raises(UsageError, match="precision: int8 needs calibration data"):
        plan("8.6", precision="int8")


def test_int8_from_qdq_sets_the_flag_on_weak_typing() -> None:
    s = plan("8.6", precision="int8", qdq=True)
    assert (s.int8_mode, s.precision_flags, s.calibration) == ("qdq", ("int8",), None)
    # A Q/DQ model built at the default fp32 runs quantized, and says so.
    s = plan("8.6", qdq=True)
    assert s.precision == "int8" and s.precision_flags == ("int8",) and s.notes
    # fp16 for the layers the Q/DQ nodes leave in float.
    assert plan("10", precision="fp16", qdq=True).precision_flags == ("fp16", "int8")


def test_calibration_data_is_ignored_for_a_qdq_model() -> None:
    s = plan("8.6", precision="int8", qdq=True, int8_calib="calib.npz")
    assert s.int8_mode == "qdq" and s.calibration is None
    assert any("int8_calib is ignored" in n for n in s.notes)


def test_fp8_needs_fp8_qdq_nodes() -> None:
    with pytest.raises(UsageError, match="fp8 needs FP8 Q/DQ"):
        plan("10", precision="fp8")
    with pytest.raises(UsageError, match="Q/DQ nodes are int8"):
        plan("10", precision="fp8", qdq=True, qprec="int8")
    s = plan("10", precision="fp8", qdq=True, qprec="fp8")
    assert s.precision_flags == ("fp8",) and s.int8_mode == "qdq"


@pytest.mark.parametrize("precision", ["fp16", "bf16", "best"])
def test_tensorrt_11_has_no_weak_typed_precision_flags(precision: str) -> None:
    with pytest.raises(UsageError, match="TensorRT 11.* has no precision builder flags") as info:
        plan("11", precision=precision)
    assert "trtc quantize" in (info.value.hint or "")


def test_tensorrt_11_has_no_calibrators() -> None:
    with pytest.raises(UsageError, match="TensorRT 11.* has no int8 calibrators") as info:
        plan("11", precision="int8", int8_calib="calib.npz")
    assert "trtc quantize MODEL.onnx -o OUT.onnx --precision int8 --target tensorrt" in \
        (info.value.hint or "")


def test_tensorrt_11_is_always_strongly_typed() -> None:
    s = plan("11")
    assert s.strongly_typed and s.precision_flags == ()
    with pytest.raises(UsageError, match="always strongly typed"):
        plan("11", strongly_typed=False)
    s = plan("11", precision="int8", qdq=True)
    assert (s.precision, s.int8_mode, s.precision_flags) == ("int8", "qdq", ())
    with pytest.raises(UsageError, match="needs Q/DQ nodes"):
        plan("11", precision="int8")


def test_strongly_typed_accepts_a_model_already_cast_to_the_precision() -> None:
    s = plan("11", precision="fp16", qprec="fp16")
    assert s.precision == "fp16" and s.precision_flags == ()
    assert plan("11", qprec="bf16").precision == "bf16"


# --------------------------------------------------------------------------- other settings


def test_workspace_level_hardware_and_misc() -> None:
    s = plan("10.16", workspace="4GiB", builder_optimization_level=5, sparsity=True, refit=True,
             hardware_compatibility="same-compute-capability", plugins=["libmy.so"])
    assert s.workspace_bytes == 4 << 30 and s.optimization_level == 5
    assert s.sparsity and s.refit and s.plugins == ("libmy.so",)
    assert s.hardware_compatibility == "same-compute-capability"
    assert plan("8.6").hardware_compatibility is None


def test_bad_workspace_level_and_hardware_are_refused() -> None:
    with pytest.raises(UsageError, match="build.workspace"):
        plan("8.6", workspace="lots")
    with pytest.raises(UsageError, match="outside 0-5"):
        plan("8.6", builder_optimization_level=6)
    with pytest.raises(UsageError, match="needs a newer TensorRT"):
        plan("8.6", hardware_compatibility="same-compute-capability")
    both = plan("10", refit=True, version_compatible=True)
    assert both.refit and both.version_compatible
    assert any("cannot be refitted" in n for n in both.notes)


def test_timing_cache_auto_file_and_off() -> None:
    s = plan("8.6", cache_dir="/ws/.timing-cache")
    assert (s.timing_cache, s.timing_cache_keyed) == ("/ws/.timing-cache", True)
    assert timing_cache_file(s, gpu_name="NVIDIA H100 80GB HBM3",
                             compute_capability=(9, 0)) == \
        "/ws/.timing-cache/nvidia-h100-80gb-hbm3_sm90_trt8.6.0.cache"
    s = plan("8.6", timing_cache="my.cache", cache_dir="/ws/.timing-cache")
    assert timing_cache_file(s, gpu_name="x", compute_capability=(8, 0)) == "my.cache"
    for off in (None, "none", "off"):
        s = plan("8.6", timing_cache=off, cache_dir="/ws")
        assert timing_cache_file(s, gpu_name="x", compute_capability=(8, 0)) is None


def test_timing_cache_key_separates_gpu_cc_and_version() -> None:
    base = timing_cache_key("NVIDIA H100 80GB HBM3", (9, 0), "8.6.0")
    assert base == "nvidia-h100-80gb-hbm3_sm90_trt8.6.0"
    assert timing_cache_key("NVIDIA A100-SXM4-40GB", (8, 0), "8.6.0") != base
    assert timing_cache_key("NVIDIA H100 80GB HBM3", (9, 0), "8.6.1") != base
    assert timing_cache_key("NVIDIA H100 80GB HBM3", (8, 9), "8.6.0") != base


def test_default_profile_note_and_static_model() -> None:
    s = plan("8.6", inputs=IMG, default={"input": ((1, 3, 224, 224),) * 3})
    assert s.profiles[0].shapes["input"][0] == (1, 3, 224, 224)
    assert any("no build.profiles given" in n for n in s.notes)
    assert plan("8.6", inputs=STATIC).profiles == ()


# --------------------------------------------------------------------------- trtexec


def test_trtexec_8_6_line() -> None:
    s = plan("8.6", precision="fp16", tf32=False, workspace="4GiB",
             builder_optimization_level=4, timing_cache="t.cache", sparsity=True,
             version_compatible=True, hardware_compatibility="ampere+", plugins=["p.so"])
    assert argv(trtexec_command(s, "m.onnx", "m.engine")) == [
        "trtexec", "--onnx=m.onnx", "--saveEngine=m.engine",
        "--minShapes=input:1x3x224x224", "--optShapes=input:8x3x224x224",
        "--maxShapes=input:32x3x224x224", "--fp16", "--noTF32",
        "--memPoolSize=workspace:4096", "--builderOptimizationLevel=4",
        "--timingCacheFile=t.cache", "--sparsity=enable", "--versionCompatible",
        "--hardwareCompatibilityLevel=ampere+", "--staticPlugins=p.so", "--skipInference"]


def test_trtexec_never_renders_removed_or_no_op_flags() -> None:
    for version in ("8.6", "10", "11"):
        line = trtexec_command(plan(version, workspace="1GiB"), "m.onnx", "m.engine")
        assert "--explicitBatch" not in line  # deprecated no-op in 8.6, gone in 10
        assert "--workspace=" not in line     # deprecated in 8.6, gone in 10
        assert "--memPoolSize=workspace:1024" in line
    assert "--stronglyTyped" not in trtexec_command(plan("11"), "m", "e")  # 11: a no-op


def test_trtexec_fractional_mib_and_int8_calibration_cache() -> None:
    s = plan("10", precision="int8", int8_calib="c.npz", int8_calib_cache="calib.cache",
             workspace="1536KiB")
    args = argv(trtexec_command(s, "m.onnx", "m.engine"))
    assert "--int8" in args and "--calib=calib.cache" in args
    assert "--memPoolSize=workspace:1.5" in args
    no_cache = plan("10", precision="int8", int8_calib="c.npz")
    assert "# int8 calibration" in trtexec_command(no_cache, "m.onnx", "m.engine")


def test_trtexec_strongly_typed_on_10() -> None:
    s = plan("10", strongly_typed=True, qdq=True, precision="int8")
    args = argv(trtexec_command(s, "m.onnx", "m.engine"))
    assert "--stronglyTyped" in args and "--int8" not in args


def test_trtexec_several_profiles_need_tensorrt_9() -> None:
    two = [P_1_8_32, {"input": {"min": [64, 3, 224, 224], "opt": [64, 3, 224, 224],
                                "max": [128, 3, 224, 224]}}]
    line10 = trtexec_command(plan("10", inputs=IMG, profiles=two), "m.onnx", "m.engine")
    args = argv(line10)
    assert args[3:11] == ["--profile=0", "--minShapes=input:1x3x224x224",
                          "--optShapes=input:8x3x224x224", "--maxShapes=input:32x3x224x224",
                          "--profile=1", "--minShapes=input:64x3x224x224",
                          "--optShapes=input:64x3x224x224", "--maxShapes=input:128x3x224x224"]
    line86 = trtexec_command(plan("8.6", inputs=IMG, profiles=two), "m.onnx", "m.engine")
    assert "--profile=" not in line86 and "64x3x224x224" not in line86.split("#")[0]
    assert "# trtexec 8.6 builds one profile: 1 more are not shown" in line86


def test_trtexec_quotes_paths_and_odd_input_names() -> None:
    inputs = {"in:0": ("float32", ("batch", 4))}
    s = plan("10", inputs=inputs,
             profiles=[{"in:0": {"min": [1, 4], "opt": [2, 4], "max": [4, 4]}}])
    line = trtexec_command(s, "my model.onnx", "out.engine")
    args = argv(line)
    assert "--onnx=my model.onnx" in args
    assert "--minShapes='in:0':1x4" in args


def test_trtexec_keyed_timing_cache_is_a_comment() -> None:
    s = plan("8.6", cache_dir="/ws/.tc")
    line = trtexec_command(s, "m.onnx", "m.engine")
    assert "--timingCacheFile" not in line.split("#")[0]
    assert "--timingCacheFile=/ws/.tc/<GPU and TensorRT key>.cache" in line


# --------------------------------------------------------------------------- Q/DQ target


def test_qdq_target_and_precision_from_metadata() -> None:
    meta = {"trtc.quantize.target": "tensorrt", "trtc.quantize.precision": "int8"}
    assert qdq_target(meta) == "tensorrt" and qdq_precision(meta) == "int8"
    assert qdq_target({}) is None and qdq_precision({"other": "x"}) is None


@pytest.mark.parametrize("target, backend, refused", [
    ("tensorrt", "tensorrt", False), ("onnxruntime-cpu", "onnxruntime", False),
    ("onnxruntime-cpu", "tensorrt", True), ("tensorrt", "onnxruntime", True),
    (None, "tensorrt", False),
])
def test_check_qdq_target(target: str | None, backend: str, refused: bool) -> None:
    meta = {"trtc.quantize.target": target} if target else {}
    if not refused:
        check_qdq_target(meta, backend, "m.onnx")
        return
    with pytest.raises(UsageError, match=f"m.onnx was quantized for {target}.*backend is "
                                         f"{backend}") as info:
        check_qdq_target(meta, backend, "m.onnx")
    assert f"--target {tc.BACKEND_QDQ_TARGET[backend]}" in (info.value.hint or "")


# --------------------------------------------------------------------------- GPU gates


def test_check_gpu_refuses_precisions_the_gpu_lacks() -> None:
    fp8 = plan("10", precision="fp8", qdq=True, qprec="fp8")
    with pytest.raises(DependencyError, match="fp8 needs .* 8.9"):
        check_gpu(fp8, (8, 0), "A100")
    assert check_gpu(fp8, (9, 0), "H100") == []
    with pytest.raises(DependencyError, match="bf16"):
        check_gpu(plan("10", precision="bf16"), (7, 5), "T4")
    with pytest.raises(DependencyError, match="ampere\\+"):
        check_gpu(plan("8.6", hardware_compatibility="ampere+"), (7, 5), "T4")
    assert "no effect" in check_gpu(plan("8.6", sparsity=True), (7, 5), "T4")[0]


# --------------------------------------------------------------------------- sidecar, verdicts


def make_sidecar(version: str = "8.6", trt: str = "8.6.0", gpu: str = "NVIDIA H100 80GB HBM3",
                 cc: tuple[int, int] = (9, 0), **build: Any) -> dict[str, Any]:
    s = plan(version, **build)
    return sidecar(s, gpu_name=gpu, compute_capability=cc, trt_version=trt,
                   onnx_sha256="a" * 64, engine_sha256="b" * 64,
                   io={"inputs": {"input": {"dtype": "float32"}}})


def test_sidecar_content_is_json_and_complete() -> None:
    side = make_sidecar(precision="fp16", version_compatible=True)
    assert json.loads(json.dumps(side)) == side
    assert side["format"] == tc.SIDECAR_FORMAT
    assert side["tensorrt_version"] == "8.6.0"
    assert side["gpu"] == {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
    assert side["precision"] == "fp16" and side["precision_flags"] == ["fp16"]
    assert side["profiles"] == [P_1_8_32]
    assert side["version_compatible"] is True and side["hardware_compatibility"] == "none"
    assert side["onnx_sha256"] == "a" * 64 and side["engine_sha256"] == "b" * 64


def test_a_sidecar_trtc_writes_passes_its_own_check() -> None:
    side = make_sidecar()
    side["io"] = {"inputs": {"input": {"dtype": "float32", "shape": ["batch", 3, 224, 224]}},
                  "outputs": {"y": {"dtype": "float32", "shape": ["batch", 10]}},
                  "profiles": [{"input": [[1, 3, 224, 224], [8, 3, 224, 224],
                                          [32, 3, 224, 224]]}]}
    assert tc.sidecar_problem(json.loads(json.dumps(side))) is None


@pytest.mark.parametrize("data, problem", [
    ([1, 2], "not a JSON object"),
    ({"gpu": "H100"}, "'gpu' is not an object"),
    ({"gpu": {"name": "H100", "compute_capability": "nine"}}, "compute_capability 'nine'"),
    ({"tensorrt_version": "latest"}, "tensorrt_version 'latest'"),
    ({"io": {"inputs": {"x": {"dtype": "float32"}}}}, "io.inputs.x needs a dtype and a shape"),
    ({"io": {"inputs": {}, "profiles": [{"x": [[1], [2]]}]}}, "io.profiles"),
])
def test_sidecar_problem_names_the_bad_key(data: Any, problem: str) -> None:
    assert problem in (tc.sidecar_problem(data) or "")


def verdict(side: dict[str, Any], gpu: str = "NVIDIA H100 80GB HBM3",
            cc: tuple[int, int] = (9, 0), trt: str = "8.6.0") -> tuple[bool, str]:
    return compatibility_verdict(side, gpu_name=gpu, compute_capability=cc, trt_version=trt)


def test_same_machine_loads() -> None:
    assert verdict(make_sidecar()) == (True, "")


def test_other_tensorrt_version_is_refused_without_version_compatibility() -> None:
    ok, why = verdict(make_sidecar(), trt="8.6.1")
    assert not ok
    assert "built with TensorRT 8.6.0 and this machine has 8.6.1" in why
    assert "version_compatible" in why


@pytest.mark.parametrize("built, here, ok", [
    ("8.6.0", "8.6.1", True),     # newer, same major
    ("8.6.1", "8.6.0", False),    # older runtime
    ("8.6.1", "10.3.0", True),    # 8 -> 10 documented
    ("8.6.1", "11.0.0", False),   # 8 -> 11 not supported
    ("10.3.0", "11.1.0", True),   # 10 -> 11 documented
    ("11.1.0", "10.16.0", False),
])
def test_version_compatible_engines_run_on_documented_newer_versions(built: str, here: str,
                                                                     ok: bool) -> None:
    side = make_sidecar(trt=built, version_compatible=True)
    assert verdict(side, trt=here)[0] is ok


def test_other_compute_capability_is_refused_unless_hardware_compatible() -> None:
    ok, why = verdict(make_sidecar(), gpu="NVIDIA A100-SXM4-80GB", cc=(8, 0))
    assert not ok
    assert "built for NVIDIA H100 80GB HBM3 (compute capability 9.0)" in why
    assert "NVIDIA A100-SXM4-80GB (compute capability 8.0)" in why
    # Same major, other minor (an A10's sm86 engine on an A100's sm80) is another CC too.
    a10 = make_sidecar(gpu="NVIDIA A10", cc=(8, 6))
    assert not verdict(a10, gpu="NVIDIA A100-SXM4-80GB", cc=(8, 0))[0]
    side = make_sidecar(hardware_compatibility="ampere+")
    assert verdict(side, gpu="NVIDIA A100-SXM4-80GB", cc=(8, 0))[0]
    assert not verdict(side, gpu="Tesla T4", cc=(7, 5))[0]


def test_same_compute_capability_level_allows_other_models_only() -> None:
    side = make_sidecar(version="10.16", trt="10.16.0",
                        hardware_compatibility="same-compute-capability")
    assert verdict(side, gpu="NVIDIA H200", cc=(9, 0), trt="10.16.0") == (True, "")
    assert not verdict(side, gpu="NVIDIA A100", cc=(8, 0), trt="10.16.0")[0]


def test_other_gpu_model_same_cc_loads_with_a_caveat() -> None:
    ok, why = verdict(make_sidecar(), gpu="NVIDIA H200", cc=(9, 0))
    assert ok and "TensorRT loads it but warns" in why


def test_settings_to_data_round_trips_through_json() -> None:
    s = plan("10", precision="best", int8_calib="c.npz")
    data = tc.settings_to_data(s)
    assert json.loads(json.dumps(data)) == data
    assert data["precision_flags"] == ["fp16", "int8"]
    assert data["profiles"] == [P_1_8_32]


def test_flag_overrides_validate_like_the_recipe() -> None:
    recipe = parse_recipe({"name": "t", "model": {"source": "onnx:m.onnx"}})
    recipe = override(recipe, "build", precision="fp16",
                      profiles=[tc.profile_to_data(parse_profile("input:1x3,2x3,4x3"))])
    assert recipe.build.precision == "fp16"
    assert dataclasses.asdict(recipe.build)["profiles"][0]["input"]["max"] == (4, 3)
    with pytest.raises(UsageError, match="build.precision"):
        override(recipe, "build", precision="fp64")


def test_recipe_build_paths_resolve_against_the_recipe(tmp_path: Any) -> None:
    from trtc.recipe import load_recipe

    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "r.yaml"
    path.write_text("name: r\nmodel: {source: onnx:m.onnx}\nbuild:\n"
                    "  int8_calib: calib/images\n  int8_calib_cache: c.cache\n"
                    "  timing_cache: tc.cache\n  plugins: [libp.so]\n")
    build = load_recipe(path).build
    root = (tmp_path / "cfg").resolve()
    assert build.int8_calib == str(root / "calib" / "images")
    assert build.int8_calib_cache == str(root / "c.cache")
    assert build.timing_cache == str(root / "tc.cache")
    assert build.plugins == (str(root / "libp.so"),)
    path.write_text("name: r\nmodel: {source: onnx:m.onnx}\nbuild:\n"
                    "  int8_calib: random\n  timing_cache: auto\n")
    build = load_recipe(path).build
    assert (build.int8_calib, build.timing_cache) == ("random", "auto")


# ------------------------------------------------------------------ ONNX opset vs the parser

@pytest.mark.parametrize(("version", "opset", "warned"), [
    ("8.6.0", 17, False), ("8.6.1", 18, True), ("10.3.0", 21, False),
    ("11.1.0", 25, False), ("11.1.0", 26, True),
])
def test_opset_note_per_version(version: str, opset: int, warned: bool) -> None:
    note = opset_note(version, opset)
    assert (note is not None) is warned
    if note:
        assert f"opset {opset}" in note and "export.opset" in note


def test_unknown_version_note_only_past_the_newest_known() -> None:
    assert unknown_version_note("11.1.0") is None and unknown_version_note("8.6.1") is None
    note = unknown_version_note("12.0.0")
    assert note is not None and "12.0.0" in note and "11.1.0" in note
    assert unknown_version_note("11.2.0") is not None
