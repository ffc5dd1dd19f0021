"""quantize.float_precision fp16: a Q/DQ model's float part written in fp16 with Casts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.metrics import cosine
from trtc.optimize.quantize import quantize_model
from trtc.optimize.quantize.regions import fp16_regions, fp32_nodes, int8_part
from trtc.recipe import QuantizeSpec
from trtc.tensorrt.model import FLOAT_PRECISION_KEY, float_precision


def three_convs(path: Path) -> Path:
    """x -> conv1 -> relu1 -> conv2 -> relu2 -> conv3 -> GlobalAveragePool -> Softmax."""
    rng = np.random.default_rng(0)
    inits, nodes, last = [], [], "x"
    for i, (cin, cout) in enumerate(((3, 8), (8, 8), (8, 4)), start=1):
        inits += [numpy_helper.from_array(
            (rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(cin * 9)).astype(np.float32),
            f"w{i}"), numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [last, f"w{i}", f"b{i}"], [f"c{i}"],
                                      name=f"conv{i}", pads=[1, 1, 1, 1]))
        last = f"c{i}"
        if i < 3:
            nodes.append(helper.make_node("Relu", [last], [f"r{i}"], name=f"relu{i}"))
            last = f"r{i}"
    nodes += [helper.make_node("GlobalAveragePool", [last], ["g"], name="pool"),
              helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
              helper.make_node("Softmax", ["f"], ["y"], name="softmax", axis=1)]
    graph = helper.make_graph(
        nodes, "three", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _quantize(tmp_path: Path, **spec: object) -> tuple[Path, dict]:
    fields: dict[str, object] = {"enabled": True, "precision": "int8", "target": "tensorrt",
                                 "calib_data": "random", "calib_samples": 4}
    fields.update(spec)
    out = tmp_path / f"q-{len(list(tmp_path.iterdir()))}.onnx"
    report = quantize_model(three_convs(tmp_path / "m.onnx"), out,
                            QuantizeSpec(**fields))  # type: ignore[arg-type]
    return out, report.to_dict()


def _types(model: onnx.ModelProto) -> dict[str, int]:
    """Each node's first output type, by node name (the converter renames tensors)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in (*inferred.graph.value_info, *inferred.graph.output)}
    return {n.name: types[n.output[0]] for n in model.graph.node}


def test_a_conv_kept_in_float_runs_in_fp16_between_casts(tmp_path: Path) -> None:
    plain, _ = _quantize(tmp_path, exclude_nodes=("conv2",))
    out, metrics = _quantize(tmp_path, exclude_nodes=("conv2",), float_precision="fp16")
    model = onnx.load(str(out))
    types = _types(model)
    assert types["conv2"] == TensorProto.FLOAT16           # the float conv: fp16
    assert types["conv1"] == TensorProto.FLOAT and types["conv3"] == TensorProto.FLOAT
    assert types["relu2"] == TensorProto.FLOAT              # writes the int8 conv3's input
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    weight = next(i for i in model.graph.initializer if i.name.startswith("w2"))
    assert weight.data_type == TensorProto.FLOAT16
    assert float_precision({p.key: p.value for p in model.metadata_props}) == "fp16"
    regions = metrics["float_regions"]
    assert regions["precision"] == "fp16" and regions["casts"] >= 2
    assert regions["fp16_nodes"] >= 1
    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
    half = ort.InferenceSession(str(out)).run(None, {"x": x})[0]
    full = ort.InferenceSession(str(plain)).run(None, {"x": x})[0]
    assert cosine(half.ravel(), full.ravel()) > 0.999


def test_pointwise_glue_between_int8_layers_stays_fp32(tmp_path: Path) -> None:
    out, metrics = _quantize(tmp_path, float_precision="fp16")
    model = onnx.load(str(out))
    quantized = onnx.load(str(_quantize(tmp_path)[0]))
    fixed = set(fp32_nodes(quantized))
    assert {"relu1", "relu2"} <= fixed and {"conv1", "conv2", "conv3"} <= set(int8_part(quantized))
    types = _types(model)
    assert types["relu1"] == TensorProto.FLOAT and types["relu2"] == TensorProto.FLOAT
    assert types["softmax"] == TensorProto.FLOAT16          # the head: a region of its own
    assert metrics["float_regions"]["casts"] == 2           # into the head, and out to y


def test_a_tensor_beyond_fp16s_range_keeps_its_reader_fp32(tmp_path: Path) -> None:
    quantized = onnx.load(str(_quantize(tmp_path, exclude_nodes=("conv3",))[0]))
    _, kept = fp16_regions(quantized, ranges={"f": (-1e6, 1e6)})
    reasons = {k.name: k.reason for k in kept}
    assert "softmax" in reasons and "65504" in reasons["softmax"]
    converted, kept = fp16_regions(quantized)
    assert "softmax" not in {k.name for k in kept}
    assert {p.key for p in converted.metadata_props} >= {FLOAT_PRECISION_KEY}


@pytest.mark.parametrize("target,precision", [("onnxruntime-cpu", "int8"),
                                              ("tensorrt", "fp16")])
def test_fp16_regions_are_refused_where_they_mean_nothing(tmp_path: Path, target: str,
                                                          precision: str) -> None:
    from trtc.errors import UsageError
    from trtc.recipe import parse_recipe

    with pytest.raises(UsageError, match="quantize.float_precision"):
        parse_recipe({"name": "m", "model": {"source": "onnx:m.onnx"},
                      "quantize": {"enabled": True, "target": target, "precision": precision,
                                   "float_precision": "fp16"}}, "recipe.yaml")


def test_an_accuracy_measured_before_the_fp16_conversion_says_so(tmp_path: Path) -> None:
    src = three_convs(tmp_path / "m.onnx")
    spec = QuantizeSpec(enabled=True, precision="int8", target="tensorrt", calib_data="random",
                        calib_samples=4, exclude_nodes=("conv2",), float_precision="fp16")
    report = quantize_model(src, tmp_path / "q.onnx", spec)
    assert report.accuracy is not None
    assert any("before the float part went to fp16" in w for w in report.warnings)
    plain = quantize_model(src, tmp_path / "p.onnx",
                           QuantizeSpec(enabled=True, precision="int8", target="tensorrt",
                                        calib_data="random", calib_samples=4))
    assert not any("went to fp16" in w for w in plain.warnings)
