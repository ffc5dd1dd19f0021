"""The precision proof (trtc.tensorrt.inspector.precision_report / precision_failures) and
build.expect, on inspector JSON written the way TensorRT 8.6's DETAILED inspector writes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trtc.errors import VerificationError
from trtc.recipe import BuildSpec, ExpectSpec
from trtc.stages.build import BuildInfo, _check_expect
from trtc.tensorrt.engine_file import layers_path
from trtc.tensorrt.inspector import (
    engine_summary,
    layer_precision,
    precision_failures,
    precision_report,
)

INT8 = "Thirty-two wide channel vectorized row major Int8 format"
FP16 = "Channel major FP16 format where channel % 8 == 0"
FP32 = "Row major linear FP32"


def _layer(name: str, layer_type: str, parameter_type: str | None, inp: str, out: str
           ) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "Name": name, "LayerType": layer_type,
        "Inputs": [{"Name": "in", "Location": "Device", "Dimensions": [1, 64, 56, 56],
                    "Format/Datatype": inp}],
        "Outputs": [{"Name": "out", "Location": "Device", "Dimensions": [1, 64, 56, 56],
                     "Format/Datatype": out}],
        "TacticName": "sm80_xmma_fprop_implicit_gemm_interleaved_i8i8_i8i32_f32", "TacticValue":
            "0x0"}
    if parameter_type is not None:
        layer["ParameterType"] = parameter_type
    return layer


def int8_engine() -> dict[str, Any]:
    """A ResNet-like int8 engine: an input quantize left unfused, int8 convs, an fp16 tail."""
    return {"Layers": [
        _layer("Reformatting CopyNode for Input Tensor 0 to input.1 + QuantizeLinear_2",
               "Reformat", "Reformat", FP32, INT8),
        _layer("QuantizeLinear_7_quantize_scale_node", "Scale", "Scale", FP32, INT8),
        _layer("input.1 + QuantizeLinear_2_quantize_scale_node + Conv_4 + Relu_5",
               "CaskConvolution", "Convolution", INT8, INT8),
        _layer("Conv_8 + Add_9 + Relu_10", "CaskConvolution", "Convolution", INT8, INT8),
        _layer("Conv_11", "CaskConvolution", "Convolution", INT8, INT8),
        _layer("Conv_12 + Relu_13", "CaskConvolution", "Convolution", INT8, INT8),
        _layer("MaxPool_6", "CaskPooling", "Pooling", INT8, INT8),
        _layer("Gemm_60", "CaskGemmConvolution", "FullyConnected", FP16, FP32),
        _layer("MatMul_61", "CaskGemmMatrixMultiply", "MatrixMultiply", FP32, FP32),
        {"Name": "{ForeignNode[Softmax_70]}", "LayerType": "Myelin", "Inputs": [],
         "Outputs": []},
        "names only",
    ]}


def test_compute_layers_are_counted_by_their_input_precision() -> None:
    report = precision_report(int8_engine())
    assert report["layers"] == 10 and report["compute_layers"] == 6
    assert report["by_precision"] == {"FP16": 1, "FP32": 1, "INT8": 4}
    assert report["fractions"]["INT8"] == pytest.approx(4 / 6, abs=1e-4)
    assert [r["name"] for r in report["compute"] if r["precision"] != "INT8"] == [
        "Gemm_60", "MatMul_61"]
    # An int8 convolution writing float computes in int8: the input's type decides.
    assert layer_precision(_layer("c", "CaskConvolution", "Convolution", INT8, FP32)) == "INT8"


def test_unfused_qdq_and_int8_reformats_are_flagged() -> None:
    unfused = precision_report(int8_engine())["unfused_qdq"]
    assert [(r["name"], r["why"]) for r in unfused] == [
        ("Reformatting CopyNode for Input Tensor 0 to input.1 + QuantizeLinear_2",
         "reformat FP32 -> INT8 around an int8 region"),
        ("QuantizeLinear_7_quantize_scale_node", "unfused Quantize (FP32 -> INT8)")]
    # TensorRT 10 names them by kind.
    ten = {"Layers": [_layer("/q", "Quantize", None, FP32, INT8),
                      _layer("fp16 copy", "Reformat", "Reformat", FP32, FP16)]}
    assert [r["why"] for r in precision_report(ten)["unfused_qdq"]] == ["unfused Quantize layer"]


def test_expectations_name_the_layers_that_missed() -> None:
    report = precision_report(int8_engine())
    assert precision_failures(report, int8_fraction=0.6) == []
    (failure,) = precision_failures(report, int8_fraction=0.8)
    assert failure.startswith("66.7% of 6 compute layers run in int8 (expect.int8_fraction 0.8)")
    assert "Gemm_60 (FP16), MatMul_61 (FP32)" in failure
    # fp16 or narrower: only the fp32 MatMul misses.
    (fp16,) = precision_failures(report, fp16_fraction=1.0)
    assert "not fp16: MatMul_61 (FP32)" in fp16
    assert precision_failures(report, fp16_fraction=0.8) == []
    nothing = precision_failures(precision_report({"Layers": ["conv"]}), int8_fraction=0.5)
    assert "cannot be proven" in nothing[0]


def test_an_fp16_engine_fails_expect_int8() -> None:
    fp16 = {"Layers": [_layer(f"Conv_{i}", "CaskConvolution", "Convolution", FP16, FP16)
                       for i in range(3)]}
    info = BuildInfo("tensorrt", "asked", "fp16", 1.0, 10, {},
                     layer_precision=precision_report(fp16))
    spec = BuildSpec(expect=ExpectSpec(int8_fraction=0.8))
    with pytest.raises(VerificationError, match=r"0\.0% of 3 compute layers run in int8") as err:
        _check_expect(spec, info, Path("m.engine"), [])
    assert err.value.exit_code == 1 and "Conv_0 (FP16)" in err.value.message
    _check_expect(BuildSpec(expect=ExpectSpec(fp16_fraction=1.0)), info, Path("m.engine"), [])
    warnings: list[str] = []
    ort = BuildInfo("onnxruntime", "asked", "fp32", 1.0, 10, {})
    _check_expect(spec, ort, Path("m.ort.onnx"), warnings)
    assert "not checked for onnxruntime" in warnings[0]


def test_inspect_shows_the_precision_and_notes_unfused_qdq(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    layers_path(engine).write_text(json.dumps(int8_engine()))

    def no_engine(path: Path) -> Any:
        return {"inputs": {}, "outputs": {}}, {}

    def no_machine() -> Any:
        from trtc.errors import DependencyError

        raise DependencyError("no GPU")

    out = engine_summary(engine, read_engine=no_engine, machine=no_machine)
    assert out["precision"]["by_precision"]["INT8"] == 4
    assert any("2 Q/DQ or int8 reformat layer(s) left unfused" in n for n in out["notes"])


def test_precision_table_script_writes_markdown(tmp_path: Path) -> None:
    import runpy

    engine = tmp_path / "r50.engine"
    engine.write_bytes(b"x")
    layers_path(engine).write_text(json.dumps(int8_engine()))
    script = Path(__file__).resolve().parents[3] / "scripts" / "precision_table.py"
    text = runpy.run_path(str(script))["markdown"](engine, "ResNet-50 int8")
    assert text.startswith("# ResNet-50 int8: layer precision")
    assert "| INT8 | 4 / 6 | 66.7% |" in text
    assert "| `MatMul_61` | MatrixMultiply | FP32 | format |" in text
    assert "Unfused Q/DQ and int8 reformat layers: 2" in text
    # No layers.json (only the sidecar came back from the GPU machine): the build's report.
    layers_path(engine).unlink()
    report = precision_report(json.loads(dynamic_int8_engine_text(), strict=False))
    engine.with_name("r50.engine.json").write_text(json.dumps({"layer_precision": report}))
    text = runpy.run_path(str(script))["markdown"](engine, "ResNet-50 int8")
    assert "| INT8 | 3 / 6 | 50.0% |" in text and "| `/fc/MatMul` | MatrixMultiply | FP16 | " \
        "tactic |" in text and "weights (the type of the layer's weights" in text


# TensorRT 8.6's inspector on a dynamic-shape engine without an execution context (as
# docs/device/2026-12-02/layers-raw-resnet18-int8-dynamic.json came back from the H200):
# no tensor formats at all; the weights' type and the kernel's name still tell.
_NA = "N/A due to dynamic shapes"


def _dynamic(name: str, layer_type: str, parameter_type: str, **extra: Any) -> dict[str, Any]:
    tensor = {"Name": "t", "Location": "Device", "Dimensions": [-1, 64, 56, 56],
              "Format/Datatype": _NA}
    return {"Name": name, "LayerType": layer_type, "Inputs": [tensor], "Outputs": [tensor],
            "ParameterType": parameter_type, "TacticValue": "0x0", "StreamId": 0,
            "Metadata": "[ONNX Layer: /conv1/Conv]\x1e[ONNX Layer: /relu/Relu]", **extra}


def dynamic_int8_engine_text() -> str:
    layers = [
        _dynamic("input_QuantizeLinear", "Reformat", "Reformat", Origin="QDQ"),
        _dynamic("onnx::Conv_193 + /conv1/Conv + /relu/Relu + /maxpool/MaxPool",
                 "CaskConvActPool", "ConvActPool", ConvParameterType="Convolution",
                 ConvWeights={"Type": "Int8", "Count": 9408},
                 ConvBias={"Type": "Float", "Count": 64}),
        _dynamic("onnx::Conv_196 + /layer1/layer1.0/conv1/Conv", "CaskConvolution",
                 "Convolution", Weights={"Type": "Int8", "Count": 36864},
                 Bias={"Type": "Float", "Count": 64},
                 TacticName="sm80_xmma_fprop_implicit_gemm_interleaved_i8i8_i8i32_f32"),
        _dynamic("/head/Conv", "CaskConvolution", "Convolution",
                 Weights={"Type": "Half", "Count": 4096}, Bias={"Type": "Half", "Count": 64}),
        _dynamic("/fc/MatMul", "CaskGemmMatrixMultiply", "MatrixMultiply",
                 TacticName="sm90_xmma_gemm_f16f16_f16f32_f32_nn_n_tilesize64x64x64"),
        _dynamic("/fc2/Gemm", "CaskConvolution", "Convolution",
                 TacticName="sm90_xmma_fprop_implicit_gemm_i8f32_i8i32_f32_nchw_vect_c_32"),
        _dynamic("/odd/Conv", "CaskConvolution", "Convolution"),
        _dynamic("/avgpool/GlobalAveragePool", "CaskPooling", "Pooling",
                 TacticName="sm50_xmma_pooling_tiled_FP32NCHW_kAVERAGE"),
    ]
    # The raw text, as TensorRT writes it: a control character (\x1e) inside strings.
    return json.dumps({"Layers": layers, "Bindings": ["input", "output"]}).replace(
        "\\u001e", "\x1e")


def test_dynamic_shape_engine_precision_comes_from_weights_then_tactic() -> None:
    from trtc.tensorrt.inspector import layers_info, precision_evidence

    text = dynamic_int8_engine_text()
    assert "\x1e" in text  # strict JSON would refuse it
    info = layers_info(text, lambda: pytest.fail("the engine JSON has the layers"))
    report = precision_report(info)
    assert report["compute_layers"] == 6  # the reformat and the pooling are not compute
    assert [(r["name"].split(" + ")[-1], r["precision"], r["from"]) for r in report["compute"]
            ] == [("/maxpool/MaxPool", "INT8", "weights"), ("/layer1/layer1.0/conv1/Conv",
                                                            "INT8", "weights"),
                  ("/head/Conv", "FP16", "weights"), ("/fc/MatMul", "FP16", "tactic"),
                  ("/fc2/Gemm", "INT8", "tactic"), ("/odd/Conv", "unknown", "none")]
    assert report["by_precision"] == {"FP16": 2, "INT8": 3, "unknown": 1}
    # A format, when there is one, wins over the weights (an fp16-input conv, int8 weights).
    layer = _dynamic("c", "CaskConvolution", "Convolution", Weights={"Type": "Int8"})
    layer["Inputs"][0]["Format/Datatype"] = FP16
    assert precision_evidence(layer) == ("FP16", "format")
    # Zero weights (a dynamic filter) say nothing.
    assert precision_evidence(_dynamic("c", "CaskConvolution", "Convolution",
                                       Weights={"Type": "Int8", "Count": 0})) == (
        "unknown", "none")


def test_dynamic_shape_engine_passes_expect_int8_and_flags_its_qdq_reformat() -> None:
    from trtc.tensorrt.inspector import layers_info

    report = precision_report(layers_info(dynamic_int8_engine_text(), list))
    assert precision_failures(report, int8_fraction=0.5) == []
    (failure,) = precision_failures(report, int8_fraction=0.8)
    assert "/head/Conv (FP16)" in failure and "/odd/Conv (unknown)" in failure
    assert [(r["name"], r["why"]) for r in report["unfused_qdq"]] == [
        ("input_QuantizeLinear", "Q/DQ node run as its own Reformat layer")]
