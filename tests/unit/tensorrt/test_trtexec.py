"""The equivalent trtexec line (trtc.tensorrt.trtexec) in 8.6, 10 and 11 spellings.

Expected spellings come from NVIDIA/TensorRT samples/common/sampleOptions.cpp at tags
v8.6.1, v10.0.0, v10.16 and v11.1."""

from __future__ import annotations

from tensorrt_plan_helpers import IMG, P_1_8_32, argv, plan

from trtc.tensorrt.trtexec import trtexec_command


def test_trtexec_8_6_line() -> None:
    s = plan("8.6", precision="fp16", tf32=False, workspace="4GiB",
             builder_optimization_level=4, timing_cache="t.cache", sparsity=True,
             version_compatible=True, hardware_compatibility="ampere+", plugins=["p.so"])
    assert argv(trtexec_command(s, "m.onnx", "m.engine")) == [
        "trtexec", "--onnx=m.onnx", "--saveEngine=m.engine",
        "--minShapes=input:1x3x224x224", "--optShapes=input:8x3x224x224",
        "--maxShapes=input:32x3x224x224", "--fp16", "--noTF32",
        "--memPoolSize=workspace:4096", "--builderOptimizationLevel=4",
        "--tacticSources=-CUBLAS,-CUBLAS_LT,-CUDNN,+EDGE_MASK_CONVOLUTIONS,+JIT_CONVOLUTIONS",
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
