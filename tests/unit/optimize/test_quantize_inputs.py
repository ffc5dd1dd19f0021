"""Quantize on the tensors real models carry: empty tensors, integer and shape computations,
and inputs with named (dynamic) dims (issue 10: a text detector's empty ``roi``, a
dynamic-shape quantize that failed late and pointed to a flag that did not exist)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.errors import DataError, UsageError
from trtc.optimize.quantize import quantize_model
from trtc.recipe import QuantizeSpec


def make_upsampling_model(path: Path, dims: tuple[int | str, ...] = (1, 3, 8, 8)) -> Path:
    """conv1 -> relu -> Resize to 3x its size (sizes computed from Shape in float) -> conv2.

    The Resize's ``roi`` is an empty float Constant (as exporters write it), and its
    output size is a float shape computation: Shape -> Slice -> Cast -> Mul/Add -> Cast.
    """
    rng = np.random.default_rng(0)

    def const(name: str, value: np.ndarray) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], name=f"const_{name}",
                                value=numpy_helper.from_array(value, name))

    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal((2, 4, 3, 3)).astype(np.float32), "w2")]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r"], name="relu"),
        const("roi", np.zeros((0,), np.float32)),
        helper.make_node("Shape", ["r"], ["shape"], name="shape"),
        const("i0", np.array([0], np.int64)), const("i2", np.array([2], np.int64)),
        const("i4", np.array([4], np.int64)), const("two", np.array([2.0], np.float32)),
        helper.make_node("Slice", ["shape", "i2", "i4"], ["hw"], name="slice_hw"),
        helper.make_node("Slice", ["shape", "i0", "i2"], ["nc"], name="slice_nc"),
        helper.make_node("Cast", ["hw"], ["hwf"], name="cast_hw", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["hwf", "two"], ["hw2"], name="mul_hw"),
        helper.make_node("Add", ["hw2", "hwf"], ["hw3"], name="add_hw"),
        helper.make_node("Cast", ["hw3"], ["hwi"], name="cast_back", to=TensorProto.INT64),
        helper.make_node("Concat", ["nc", "hwi"], ["sizes"], name="sizes", axis=0),
        helper.make_node("Resize", ["r", "roi", "", "sizes"], ["up"], name="resize",
                         mode="nearest"),
        helper.make_node("Conv", ["up", "w2"], ["y"], name="conv2", pads=[1, 1, 1, 1]),
    ]
    out_dims = [d if isinstance(d, str) or i < 2 else d * 3 for i, d in enumerate(dims)]
    out_dims[1] = 2
    graph = helper.make_graph(
        nodes, "upsample", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_dims)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_embedding_model(path: Path) -> Path:
    """ids[batch, 4] (int64) -> Gather(table) -> MatMul -> y: an integer input and index path."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "table"),
             numpy_helper.from_array(rng.standard_normal((16, 5)).astype(np.float32), "w")]
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"], name="embed"),
             helper.make_node("MatMul", ["emb", "w"], ["y"], name="proj")]
    graph = helper.make_graph(
        nodes, "embed", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def _spec(**fields: object) -> QuantizeSpec:
    fields.setdefault("calib_data", "random")
    fields.setdefault("calib_samples", 4)
    return QuantizeSpec(enabled=True, **fields)  # type: ignore[arg-type]


def _quantized_tensors(path: Path) -> set[str]:
    return {n.input[0] for n in onnx.load(str(path)).graph.node if n.op_type == "QuantizeLinear"}


def _run(path: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0]


# --------------------------------------------------------------------------- empty, shape, int


@pytest.mark.parametrize("target", ["tensorrt", "onnxruntime-cpu"])
def test_an_empty_float_tensor_neither_breaks_calibration_nor_gets_qdq(
        tmp_path: Path, target: str) -> None:
    # Was: DataError "tensor 'roi' (values empty) cannot be binned ... calibrate on real
    # samples" (numpy: zero-size array to reduction operation fmaximum).
    src = make_upsampling_model(tmp_path / "up.onnx")
    report = quantize_model(src, tmp_path / "q.onnx", _spec(target=target),
                            cache_dir=tmp_path / "cache")
    assert "roi" not in _quantized_tensors(tmp_path / "q.onnx")
    assert {"conv1", "conv2"} <= set(report.to_dict()["qdq"]["quantized_nodes"])
    x = np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32)
    assert _run(tmp_path / "q.onnx", {"x": x}).shape == (1, 2, 24, 24)
    # The cached pass says the same on a second run.
    again = quantize_model(src, tmp_path / "q2.onnx", _spec(target=target),
                           cache_dir=tmp_path / "cache")
    assert again.calibration is not None and again.calibration.cache == "hit"
    assert "roi" not in _quantized_tensors(tmp_path / "q2.onnx")


@pytest.mark.parametrize("target", ["tensorrt", "onnxruntime-cpu"])
def test_a_shape_computation_in_float_is_never_quantized(tmp_path: Path, target: str) -> None:
    # Rounding an output size to int8 steps changes the model: Mul/Add on Shape values
    # stay float for both targets (ORT CPU quantizes Mul and Add, TensorRT a non-constant Add).
    src = make_upsampling_model(tmp_path / "up.onnx")
    quantize_model(src, tmp_path / "q.onnx", _spec(target=target), cache_dir=tmp_path / "c")
    assert not {"hwf", "hw2", "hw3"} & _quantized_tensors(tmp_path / "q.onnx")


def test_integer_inputs_and_index_paths_are_not_calibrated_or_quantized(
        tmp_path: Path) -> None:
    src = make_embedding_model(tmp_path / "embed.onnx")
    for target in ("tensorrt", "onnxruntime-cpu"):
        out = tmp_path / f"{target}.onnx"
        quantize_model(src, out, _spec(target=target), cache_dir=tmp_path / "cache")
        assert "ids" not in _quantized_tensors(out)
        ids = np.random.default_rng(3).integers(0, 8, (2, 4)).astype(np.int64)
        assert _run(out, {"ids": ids}).shape == (2, 4, 5)


# --------------------------------------------------------------------------- dynamic shapes


def test_random_calibration_of_named_dims_fails_fast_naming_the_input_and_dims(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_upsampling_model(tmp_path / "dyn.onnx", ("batch", 3, "height", "width"))
    import trtc.optimize.quantize.main as main

    def never(*_: object) -> None:
        raise AssertionError("pre-processing ran before the missing shapes were reported")

    monkeypatch.setattr(main, "preprocess", never)
    start = time.perf_counter()
    with pytest.raises(UsageError) as err:
        quantize_model(src, tmp_path / "q.onnx", _spec(), cache_dir=tmp_path / "c")
    assert time.perf_counter() - start < 2.0
    message = err.value.message
    assert "\n" not in message and "'x'" in message and "height, width" in message
    assert "--shapes x:1x3x" in err.value.hint and "quantize.shapes" in err.value.hint
    assert not (tmp_path / "q.onnx").exists()


def test_shapes_make_the_random_calibration_batches_of_a_dynamic_model(tmp_path: Path) -> None:
    src = make_upsampling_model(tmp_path / "dyn.onnx", ("batch", 3, "height", "width"))
    report = quantize_model(src, tmp_path / "q.onnx", _spec(calib_samples=4),
                            shapes={"x": (2, 3, 16, 16)}, cache_dir=tmp_path / "c")
    assert report.calibration is not None
    assert (report.calibration.samples, report.calibration.batches) == (4, 2)
    x = np.random.default_rng(4).standard_normal((1, 3, 10, 12)).astype(np.float32)
    assert _run(tmp_path / "q.onnx", {"x": x}).shape == (1, 2, 30, 36)  # still dynamic


def test_npz_calibration_data_is_checked_against_the_shapes(tmp_path: Path) -> None:
    src = make_upsampling_model(tmp_path / "dyn.onnx", ("batch", 3, "height", "width"))
    np.savez(tmp_path / "calib.npz",
             x=np.random.default_rng(5).standard_normal((4, 3, 16, 16)).astype(np.float32))
    spec = _spec(calib_data=str(tmp_path / "calib.npz"), calib_batch=2)
    report = quantize_model(src, tmp_path / "q.onnx", spec, shapes={"x": (1, 3, 16, 16)},
                            cache_dir=tmp_path / "c")
    assert report.calibration is not None and report.calibration.batches == 2
    with pytest.raises(DataError, match="'x'"):
        quantize_model(src, tmp_path / "q2.onnx", spec, shapes={"x": (1, 3, 8, 8)},
                       cache_dir=tmp_path / "c")
    # Real data carries its own shapes: no --shapes needed.
    quantize_model(src, tmp_path / "q3.onnx", spec, cache_dir=tmp_path / "c")


def test_shapes_naming_no_input_is_a_usage_error(tmp_path: Path) -> None:
    src = make_upsampling_model(tmp_path / "dyn.onnx", ("batch", 3, "height", "width"))
    with pytest.raises(UsageError, match="'nope'"):
        quantize_model(src, tmp_path / "q.onnx", _spec(), shapes={"nope": (1, 3, 8, 8)})
