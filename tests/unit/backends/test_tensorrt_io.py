"""Verify's runner for engines with I/O formats (trtc.backends.tensorrt_io), on CPU.

A fake inner runner follows TrtRunner's conventions (vectorized tensors as
FormattedArray, hwc in HWC order) and plays the engine: it records what it is fed
and answers with outputs in the engine's layout.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
from polygraphy.backend.base import BaseRunner
from polygraphy.common import FormattedArray, TensorMetadata
from polygraphy.comparator import Comparator

from trtc.backends.tensorrt_io import FormattedIoRunner, has_io_formats, polygraphy_converts
from trtc.tensorrt.io_formats import to_engine_layout

X = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)


class FakeEngine(BaseRunner):  # type: ignore[misc]
    """Records its feeds; answers with ``outputs`` (as TrtRunner would hand them back)."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        super().__init__(name="fake-engine")
        self.outputs, self.fed = outputs, {}

    def activate_impl(self) -> None:
        pass

    def deactivate_impl(self) -> None:
        pass

    def get_input_metadata_impl(self) -> TensorMetadata:
        return TensorMetadata()

    def infer_impl(self, feed_dict: dict[str, Any]) -> OrderedDict[str, Any]:
        self.fed = dict(feed_dict)
        self.inference_time = 0.001
        return OrderedDict(self.outputs)


def _io(inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    return {"inputs": inputs, "outputs": outputs, "profiles": []}


def _run(runner: FormattedIoRunner, feed: dict[str, np.ndarray]) -> dict[str, Any]:
    with runner:
        return dict(runner.infer(feed))


def test_has_io_formats() -> None:
    plain = _io({"x": {"dtype": "float32", "shape": [2, 3, 4, 4]}},
                {"y": {"dtype": "float32", "shape": [2, 3, 4, 4]}})
    assert not has_io_formats(plain)
    plain["outputs"]["y"]["format"] = "hwc8"
    assert has_io_formats(plain)


def test_vectorized_input_goes_in_as_a_formatted_array_and_comes_back_linear() -> None:
    packed = to_engine_layout(X, "hwc8", "float16")
    # The engine's output: raw bytes of an fp16 NHWC8 tensor, plus allocator slack.
    raw = np.concatenate([packed.reshape(-1).view(np.uint8), np.zeros(6, np.uint8)])
    io = _io({"x": {"dtype": "float32", "shape": ["batch", 3, 4, 4], "io_dtype": "float16",
                    "format": "hwc8"}},
             {"y": {"dtype": "float32", "shape": ["batch", 3, 4, 4], "io_dtype": "float16",
                    "format": "hwc8"}})
    inner = FakeEngine({"y": FormattedArray(raw, X.shape)})
    runner = FormattedIoRunner(inner, io, name="candidate")
    out = _run(runner, {"x": X})
    fed = inner.fed["x"]
    assert isinstance(fed, FormattedArray) and tuple(fed.shape) == X.shape
    assert fed.array.dtype == np.float16 and fed.array.shape == (2, 4, 4, 8)
    assert out["y"].dtype == np.float32 and out["y"].shape == X.shape
    np.testing.assert_allclose(out["y"], X, atol=1e-3)
    with runner:
        meta = runner.get_input_metadata()
    assert list(meta["x"].shape) == ["batch", 3, 4, 4]  # the model's view, not the engine's


def test_linear_fp16_and_int8_are_plain_arrays_of_the_engine_type() -> None:
    q = to_engine_layout(X, "linear", "int8", scale=0.05)
    io = _io({"x": {"dtype": "float32", "shape": [2, 3, 4, 4], "io_dtype": "int8",
                    "format": "linear", "scale": 0.05}},
             {"y": {"dtype": "float32", "shape": [2, 3, 4, 4], "io_dtype": "int8",
                    "format": "linear", "scale": 0.05}})
    inner = FakeEngine({"y": q})
    out = _run(FormattedIoRunner(inner, io), {"x": X})
    assert isinstance(inner.fed["x"], np.ndarray) and inner.fed["x"].dtype == np.int8
    np.testing.assert_allclose(out["y"], X, atol=0.025 + 1e-6)  # half a quantization step


def test_hwc_travels_in_hwc_order_and_chw16_as_linear_when_polygraphy_packs_it() -> None:
    io = _io({"a": {"dtype": "float32", "shape": [2, 3, 4, 4], "io_dtype": "float32",
                    "format": "hwc"},
              "b": {"dtype": "float32", "shape": [2, 3, 4, 4], "io_dtype": "float16",
                    "format": "chw16"}},
             {"y": {"dtype": "float32", "shape": [2, 3, 4, 4], "io_dtype": "float32",
                    "format": "hwc"}})
    inner = FakeEngine({"y": np.moveaxis(X, 1, -1).copy()})
    out = _run(FormattedIoRunner(inner, io, converts=("chw16",)), {"a": X, "b": X})
    assert inner.fed["a"].shape == (2, 4, 4, 3)
    assert inner.fed["b"].shape == X.shape and inner.fed["b"].dtype == np.float16
    np.testing.assert_array_equal(out["y"], X)
    assert polygraphy_converts() in ((), ("chw16",))


def test_tensors_without_formats_pass_through_and_comparator_runs_it() -> None:
    y = np.ones((2, 10), np.float32)
    io = _io({"x": {"dtype": "float32", "shape": [2, 3, 4, 4], "io_dtype": "float16",
                    "format": "linear"}},
             {"y": {"dtype": "float32", "shape": [2, 10]}})
    runner = FormattedIoRunner(FakeEngine({"y": y}), io, name="candidate")
    results = Comparator.run([runner], data_loader=[{"x": X}])
    (name, iterations), = results
    assert name == "candidate"
    np.testing.assert_array_equal(iterations[0]["y"], y)


def test_an_int8_output_without_a_scale_is_a_clear_error() -> None:
    from trtc.errors import UsageError

    io = _io({"x": {"dtype": "float32", "shape": [2, 3, 4, 4]}},
             {"y": {"dtype": "float32", "shape": [2, 3, 4, 4], "io_dtype": "int8",
                    "format": "linear"}})
    runner = FormattedIoRunner(FakeEngine({"y": np.zeros(X.shape, np.int8)}), io)
    with pytest.raises(UsageError, match="has no scale to dequantize with"):
        _run(runner, {"x": X})


def test_the_harness_input_buffer_has_the_engine_type_and_format() -> None:
    from trtc.backends.tensorrt_slots import engine_input

    plain = engine_input(X, {"dtype": "float32"})
    assert plain.dtype == np.float32 and plain.shape == X.shape
    packed = engine_input(X, {"dtype": "float32", "io_dtype": "int8", "format": "chw32"},
                          scale=0.1)
    assert packed.dtype == np.int8 and packed.shape == (2, 1, 4, 4, 32)
    assert packed[1, 0, 2, 3, 1] == np.clip(np.rint(X[1, 1, 2, 3] / 0.1), -128, 127)
    # A scale recorded with the tensor (the sidecar's io) wins over the one passed.
    again = engine_input(X, {"dtype": "float32", "io_dtype": "int8", "format": "chw32",
                             "scale": 0.2}, scale=0.1)
    assert again[1, 0, 2, 3, 1] == np.clip(np.rint(X[1, 1, 2, 3] / 0.2), -128, 127)


# --------------------------------------------------------------------------- the adapter step


class _Tensor:
    def __init__(self, name: str, shape: tuple[int, ...]) -> None:
        self.name, self.shape, self.dtype, self.allowed_formats = name, shape, "FLOAT", -1


class _Network:
    def __init__(self, inputs: list[_Tensor], outputs: list[_Tensor]) -> None:
        self.inputs, self.outputs = inputs, outputs
        self.num_inputs, self.num_outputs = len(inputs), len(outputs)

    def get_input(self, i: int) -> _Tensor:
        return self.inputs[i]

    def get_output(self, i: int) -> _Tensor:
        return self.outputs[i]


class _FakeTrt:
    class DataType:
        HALF, INT8, FLOAT = "HALF", "INT8", "FLOAT"


def test_the_postprocess_step_sets_types_and_format_masks() -> None:
    import dataclasses

    from trtc.backends.tensorrt import io_formats_setter
    from trtc.recipe import parse_recipe
    from trtc.tensorrt.settings import plan_trt_build

    build = parse_recipe({"name": "t", "model": {"source": "onnx:m.onnx"},
                          "build": {"input_formats": "fp16:hwc8",
                                    "output_formats": "fp16:chw"}}).build
    inputs = {"x": ("float32", (1, 3, 8, 8))}
    weak = plan_trt_build(build, inputs, "8.6")
    net = _Network([_Tensor("x", (-1, 3, 8, 8))], [_Tensor("y", (-1, 10))])
    io_formats_setter(_FakeTrt, weak)(network=net)
    assert (net.inputs[0].dtype, net.inputs[0].allowed_formats) == ("HALF", 1 << 2)
    assert (net.outputs[0].dtype, net.outputs[0].allowed_formats) == ("HALF", 1 << 0)
    # Strongly typed: only the formats; the ONNX types stay (planning checked them).
    strong = dataclasses.replace(weak, strongly_typed=True, input_formats=("fp32:chw32",),
                                 output_formats=())
    net = _Network([_Tensor("x", (-1, 3, 8, 8))], [_Tensor("y", (-1, 10))])
    io_formats_setter(_FakeTrt, strong)(network=net)
    assert (net.inputs[0].dtype, net.inputs[0].allowed_formats) == ("FLOAT", 1 << 5)
    assert net.outputs[0].allowed_formats == -1  # untouched


def test_the_postprocess_step_checks_the_network_own_tensors() -> None:
    import dataclasses

    from trtc.backends.tensorrt import io_formats_setter
    from trtc.errors import UsageError
    from trtc.recipe import parse_recipe
    from trtc.tensorrt.settings import plan_trt_build

    build = parse_recipe({"name": "t", "model": {"source": "onnx:m.onnx"}}).build
    base = plan_trt_build(build, {"x": ("float32", (1, 3, 8, 8))}, "10")
    settings = dataclasses.replace(base, output_formats=("fp16:hwc8",))
    net = _Network([_Tensor("x", (-1, 3, 8, 8))], [_Tensor("y", (-1, 10))])
    with pytest.raises(UsageError, match="build.output_formats: fp16:hwc8 for output 'y': "
                                         "the hwc8 format needs 3 or more dims"):
        io_formats_setter(_FakeTrt, settings)(network=net)
