"""Network I/O formats (trtc.tensorrt.io_formats): specs, the model's tensors, host layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tensorrt_plan_helpers import IMG, P_1_8_32, argv, spec

from trtc.errors import UsageError
from trtc.tensorrt.io_formats import (
    LAYOUTS,
    IoFormat,
    assign_io_formats,
    check_io_types,
    engine_shape,
    from_engine_layout,
    numpy_dtype,
    parse_io_formats,
    plan_io_formats,
    qdq_io_scales,
    to_engine_layout,
)
from trtc.tensorrt.settings import plan_trt_build, settings_to_data, sidecar_settings
from trtc.tensorrt.trtexec import trtexec_command
from trtc.tensorrt.versions import features

KEY = "build.input_formats"
F86, F10, F11 = features("8.6"), features("10"), features("11")


def parse(value: Any, feats: Any = F10) -> tuple[IoFormat, ...]:
    return parse_io_formats(value, KEY, feats)


# --------------------------------------------------------------------------- parsing


def test_specs_are_read_as_trtexec_writes_them() -> None:
    specs = parse("int8:chw32, FP16:HWC8,fp32:chw")
    assert [(f.dtype, f.formats) for f in specs] == [
        ("int8", ("chw32",)), ("fp16", ("hwc8",)), ("fp32", ("linear",))]
    assert [f.spec for f in specs] == ["int8:chw32", "fp16:hwc8", "fp32:chw"]
    assert parse(["fp16:chw", "fp16:linear"]) == parse("fp16:chw,fp16:linear")
    assert parse("fp32:linear")[0].spec == "fp32:chw"  # trtexec's name for linear
    assert parse(None) == parse("") == parse(()) == ()


def test_several_formats_for_one_tensor_are_a_bitmask() -> None:
    (fmt,) = parse("fp16:chw+hwc8")
    assert fmt.formats == ("linear", "hwc8") and fmt.spec == "fp16:chw+hwc8"
    assert fmt.format_mask == (1 << 0) | (1 << 2)  # kLINEAR = 0, kHWC8 = 2
    assert parse("int8:chw32")[0].format_mask == 1 << 5
    assert parse("fp32:dhwc")[0].format_mask == 1 << 12


@pytest.mark.parametrize("text, message", [
    ("fp16", r"'fp16' is not TYPE:FORMAT"),
    (":hwc8", r"is not TYPE:FORMAT"),
    ("fp61:hwc8", r"unknown type 'fp61'"),
    ("fp16:hwc9", r"unknown format 'hwc9'"),
    ("fp32:hwc8", r"hwc8 format takes fp16, bf16 data, not fp32"),
    ("int32:chw32", r"chw32 format takes fp32, fp16, int8 data, not int32"),
    ("bool:chw4", r"chw4 format takes int8, fp16 data, not bool"),
    ("fp16:dla_linear", r"dla_linear is a DLA format"),
])
def test_bad_specs_name_the_key_and_the_spec(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        parse(text)
    assert err.value.message.startswith(f"{KEY}: ")
    assert err.value.hint


def test_bad_names_suggest_the_closest() -> None:
    with pytest.raises(UsageError) as err:
        parse("fp61:hwc8")
    assert err.value.hint == "did you mean 'fp16'?"
    with pytest.raises(UsageError) as err:
        parse("fp16:hcw8")
    assert err.value.hint == "did you mean 'hwc8'?"
    with pytest.raises(UsageError) as err:
        parse("fp32:hwc8")
    assert err.value.hint == "use fp16:hwc8, or fp32:chw"


def test_types_and_formats_follow_the_version() -> None:
    with pytest.raises(UsageError, match="bf16 I/O needs TensorRT 9 or newer"):
        parse("bf16:chw", F86)
    with pytest.raises(UsageError, match="fp8 I/O needs TensorRT 9 or newer"):
        parse("fp8:chw", F86)
    with pytest.raises(UsageError, match="the hwc16 format needs TensorRT 10.0 or newer "
                                         r"\(this is 8.6.0\)"):
        parse("fp16:hwc16", F86)
    with pytest.raises(UsageError, match="the dhwc format needs TensorRT 10.0"):
        parse("fp32:dhwc", F86)
    assert parse("bf16:hwc8", F10)[0].dtype == "bf16"
    assert parse("int8:hwc16", F11)[0].formats == ("hwc16",)


# --------------------------------------------------------------------------- the model

TWO = {"image": ("float32", ("batch", 3, 224, 224)), "scale": ("float32", ("batch", 2))}


def test_one_spec_for_all_or_one_per_tensor() -> None:
    one = assign_io_formats(parse("fp16:chw"), TWO, KEY)
    assert {n: f.spec for n, f in one.items()} == {"image": "fp16:chw", "scale": "fp16:chw"}
    each = assign_io_formats(parse("fp16:hwc8,fp32:chw"), TWO, KEY)
    assert {n: f.spec for n, f in each.items()} == {"image": "fp16:hwc8", "scale": "fp32:chw"}
    assert assign_io_formats((), TWO, KEY) == {}


def test_the_count_must_match_the_tensors() -> None:
    with pytest.raises(UsageError, match=r"build.input_formats: 3 formats for the model's 2 "
                                         r"inputs \(image, scale\)") as err:
        assign_io_formats(parse("fp16:chw,fp16:chw,fp16:chw"), TWO, KEY)
    assert err.value.hint == "give one per input, in order, or one for all"


def test_vectorized_formats_need_enough_dims() -> None:
    with pytest.raises(UsageError, match=r"fp16:hwc8 for input 'scale': the hwc8 format "
                                         r"needs 3 or more dims, 'scale' has 2"):
        assign_io_formats(parse("fp16:hwc8"), TWO, KEY)
    with pytest.raises(UsageError, match="the cdhw32 format needs 4 or more dims"):
        assign_io_formats(parse("int8:cdhw32"), {"x": ("float32", (1, 32, 8))}, KEY)
    # A rank the ONNX does not declare is not held against the spec.
    assert assign_io_formats(parse("fp16:hwc8"), {"y": ("float32", ())}, KEY)


def test_strongly_typed_networks_keep_the_onnx_types() -> None:
    chosen = assign_io_formats(parse("fp16:hwc8"), IMG, KEY)
    with pytest.raises(UsageError, match="which is float32 in the ONNX: a strongly typed "
                                         "network takes its I/O types") as err:
        check_io_types(chosen, IMG, KEY, strongly_typed=True, int8_mode=None, scales={})
    assert err.value.hint == "use fp32:chw, or make the ONNX input float16"
    fine = assign_io_formats(parse("fp32:chw32"), IMG, KEY)
    check_io_types(fine, IMG, KEY, strongly_typed=True, int8_mode=None, scales={})
    # Weakly typed: the adapter sets the type.
    check_io_types(chosen, IMG, KEY, strongly_typed=False, int8_mode=None, scales={})


def test_int8_io_needs_a_qdq_scale() -> None:
    chosen = assign_io_formats(parse("int8:chw32"), IMG, KEY)
    for mode, scales in ((None, {}), ("calibration", {"input": 0.1}), ("qdq", {})):
        with pytest.raises(UsageError, match="int8 input 'input' needs its scale from a "
                                             "QuantizeLinear reading it") as err:
            check_io_types(chosen, IMG, KEY, strongly_typed=False, int8_mode=mode,
                           scales=scales)
        assert "trtc quantize --target tensorrt" in str(err.value.hint)
    check_io_types(chosen, IMG, KEY, strongly_typed=False, int8_mode="qdq",
                   scales={"input": 0.1})
    out = {"logits": ("float32", ("batch", 1000))}
    with pytest.raises(UsageError, match="int8 output 'logits' needs its scale from a "
                                         "DequantizeLinear writing it"):
        check_io_types(assign_io_formats(parse("int8:chw"), out, KEY, "output"), out, KEY,
                       strongly_typed=False, int8_mode="qdq", scales={}, what="output")


def test_plan_io_formats_returns_the_int8_scales_only() -> None:
    outputs = {"y": ("float32", ("batch", 4, 8, 8))}
    scales = plan_io_formats(("int8:chw32",), ("fp16:chw",), F86, IMG, outputs,
                             strongly_typed=False, int8_mode="qdq",
                             scales={"input": 0.5, "y": 0.25})
    assert scales == {"input": 0.5}
    # Outputs that are not known here are left to the adapter (the parsed network).
    assert plan_io_formats((), ("fp16:chw,fp16:chw",), F86, IMG, None,
                           strongly_typed=False, int8_mode=None, scales={}) == {}
    with pytest.raises(UsageError, match="build.output_formats: 2 formats for the model's "
                                         "1 outputs"):
        plan_io_formats((), ("fp16:chw,fp16:chw",), F86, IMG, outputs,
                        strongly_typed=False, int8_mode=None, scales={})


@pytest.mark.parametrize(("specs", "padded"), [
    (("int8:chw32",), 32), (("fp16:chw16",), 16), (("int8:chw4",), None), (("int8:chw",), None),
    (("fp16:hwc8",), 8), (("int8:chw32+chw",), None)])
def test_a_format_padding_the_channels_past_the_models_bytes_is_noted(
        specs: tuple[str, ...], padded: int | None) -> None:
    # int8:chw32 of a 3-channel image copies 32 bytes a pixel where float32 copies 12
    # (the 2026-12-03 ResNet-50 sweep with it: 34,347 img/s, 63,731 with fp32 input).
    notes: list[str] = []
    plan_io_formats(specs, (), F86, IMG, None, strongly_typed=False, int8_mode="qdq",
                    scales={"input": 0.5}, notes=notes)
    if padded is None:
        assert notes == []
        return
    (note,) = notes
    size = 1 if specs[0].startswith("int8") else 2
    assert f"pads its 3 channels to {padded}: {padded * size} bytes per pixel" in note
    assert "float32 takes 12" in note and "'input'" in note and note.startswith(KEY)
    if specs[0].startswith("int8"):
        assert "int8:chw4 or int8:chw copies less" in note
    # Many channels pad little: a 64-channel feature map in int8:chw32 is not noted.
    quiet: list[str] = []
    plan_io_formats(specs, (), F86, {"input": ("float32", (1, 64, 8, 8))}, None,
                    strongly_typed=False, int8_mode="qdq", scales={"input": 0.5}, notes=quiet)
    assert quiet == []


def test_the_padding_note_sizes_bf16_through_ml_dtypes() -> None:
    notes: list[str] = []
    plan_io_formats(("bf16:hwc8",), (), F10, IMG, None, strongly_typed=False, int8_mode=None,
                    scales={}, notes=notes)
    (note,) = notes
    assert "pads its 3 channels to 8: 16 bytes per pixel" in note and "bf16:chw copies" in note


# --------------------------------------------------------------------------- the plan


def test_int8_chw32_reaches_the_trtexec_line_and_the_sidecar() -> None:
    settings = plan_trt_build(spec(profiles=[P_1_8_32], input_formats="int8:chw32",
                                   output_formats=["fp16:chw"]), IMG, "8.6",
                              model_has_qdq=True, io_scales={"input": 0.02},
                              onnx_outputs={"y": ("float32", ("batch", 1000))})
    line = trtexec_command(settings, "m.onnx", "m.engine")
    assert "--inputIOFormats=int8:chw32" in argv(line)
    assert "--outputIOFormats=fp16:chw" in argv(line)
    assert "without the QuantizeLinear reading an int8 input" in line  # 8.6's rewrite, said
    assert settings.io_scales == {"input": 0.02}
    side = sidecar_settings(settings)
    assert side["input_formats"] == ["int8:chw32"] and side["output_formats"] == ["fp16:chw"]
    assert side["io_scales"] == {"input": 0.02}
    assert settings_to_data(settings)["input_formats"] == ["int8:chw32"]


def test_the_plan_refuses_what_the_network_cannot_take() -> None:
    with pytest.raises(UsageError, match="int8 input 'input' needs its scale"):
        plan_trt_build(spec(profiles=[P_1_8_32], input_formats="int8:chw32"), IMG, "10")
    with pytest.raises(UsageError, match="strongly typed network"):
        plan_trt_build(spec(profiles=[P_1_8_32], input_formats="fp16:chw"), IMG, "11")
    unset = plan_trt_build(spec(profiles=[P_1_8_32]), IMG, "8.6")
    assert unset.input_formats == () and unset.io_scales == {}
    assert "IOFormats" not in trtexec_command(unset, "m.onnx", "m.engine")
    assert "int8_io" not in trtexec_command(unset, "m.onnx", "m.engine")


# --------------------------------------------------------------------------- Q/DQ scales


def _qdq_model(*, x_zp: int = 0, per_channel: bool = False, constant: bool = False) -> Any:
    """x[1,4,2,2] -> Q -> DQ -> Relu -> Q -> DQ -> y; scales as initializers or Constants."""
    x_scale = np.full(4, 0.5, np.float32) if per_channel else np.array(0.5, np.float32)
    inits = [numpy_helper.from_array(np.array(0.25, np.float32), "y_scale"),
             numpy_helper.from_array(np.zeros(4 if per_channel else (), np.int8) + x_zp,
                                     "x_zp")]
    nodes = []
    if constant:
        nodes.append(helper.make_node("Constant", [], ["x_scale"],
                                      value=numpy_helper.from_array(x_scale)))
    else:
        inits.append(numpy_helper.from_array(x_scale, "x_scale"))
    axis = {"axis": 1} if per_channel else {}
    nodes += [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"], **axis),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["xd"], **axis),
        helper.make_node("Relu", ["xd"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "y_scale"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "y_scale"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 2, 2])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_qdq_io_scales_are_read_from_initializers_and_constants(tmp_path: Path) -> None:
    assert qdq_io_scales(_qdq_model()) == {"x": 0.5, "y": 0.25}
    assert qdq_io_scales(_qdq_model(constant=True)) == {"x": 0.5, "y": 0.25}
    path = tmp_path / "m.onnx"
    onnx.save(_qdq_model(), str(path))
    from trtc.backends.tensorrt_plan import model_facts

    facts = model_facts(path)
    assert facts.io_scales == {"x": 0.5, "y": 0.25}
    assert facts.outputs == {"y": ("float32", (1, 4, 2, 2))}


def test_only_per_tensor_symmetric_scales_count() -> None:
    assert qdq_io_scales(_qdq_model(per_channel=True)) == {"y": 0.25}
    assert qdq_io_scales(_qdq_model(x_zp=3)) == {"y": 0.25}


def test_an_input_read_by_other_nodes_too_has_no_scale() -> None:
    model = _qdq_model()
    model.graph.node.append(helper.make_node("Identity", ["x"], ["x_copy"]))
    model.graph.output.append(helper.make_tensor_value_info("x_copy", TensorProto.FLOAT,
                                                            [1, 4, 2, 2]))
    assert qdq_io_scales(model) == {"y": 0.25}


# --------------------------------------------------------------------------- host layout

X = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)


@pytest.mark.parametrize("fmt, expected", [
    ("linear", (2, 3, 4, 5)), ("chw2", (2, 2, 4, 5, 2)), ("chw4", (2, 1, 4, 5, 4)),
    ("chw16", (2, 1, 4, 5, 16)), ("chw32", (2, 1, 4, 5, 32)), ("hwc8", (2, 4, 5, 8)),
    ("hwc16", (2, 4, 5, 16)), ("hwc", (2, 4, 5, 3)), ("chw", (2, 3, 4, 5)),
])
def test_engine_shape_pads_the_channels(fmt: str, expected: tuple[int, ...]) -> None:
    assert engine_shape(X.shape, fmt) == expected
    assert to_engine_layout(X, fmt, "float16").shape == expected


def test_3d_formats_vectorize_the_fourth_to_last_dim() -> None:
    vol = np.arange(1 * 3 * 2 * 4 * 5, dtype=np.float32).reshape(1, 3, 2, 4, 5)
    assert engine_shape(vol.shape, "dhwc8") == (1, 2, 4, 5, 8)
    assert engine_shape(vol.shape, "cdhw32") == (1, 1, 2, 4, 5, 32)
    assert engine_shape(vol.shape, "dhwc") == (1, 2, 4, 5, 3)
    packed = to_engine_layout(vol, "cdhw32", "float16")
    assert packed[0, 0, 1, 2, 3, 2] == vol[0, 2, 1, 2, 3]


def test_hwc8_puts_channels_last_and_zero_pads_them() -> None:
    out = to_engine_layout(X, "hwc8", "float16")
    assert out.dtype == np.float16 and out.flags.c_contiguous
    assert np.array_equal(out[..., :3], np.moveaxis(X, 1, -1).astype(np.float16))
    assert not out[..., 3:].any()


def test_chw32_packs_32_channel_vectors() -> None:
    x = np.random.default_rng(0).standard_normal((1, 40, 3, 2)).astype(np.float32)
    out = to_engine_layout(x, "chw32", "float32")
    assert out.shape == (1, 2, 3, 2, 32)
    for c in (0, 5, 31, 32, 39):
        assert np.array_equal(out[0, c // 32, :, :, c % 32], x[0, c])
    assert not out[0, 1, :, :, 8:].any()  # channels 40..63 are padding


@pytest.mark.parametrize("fmt, dtype", [
    (f, d) for f, layout in LAYOUTS.items() if not layout.dla
    for d in ("float16", "float32") if ("fp16" if d == "float16" else "fp32") in layout.dtypes
])
def test_round_trips_for_every_format(fmt: str, dtype: str) -> None:
    data = X if LAYOUTS[fmt].min_rank < 4 else X.reshape(1, 2, 3, 4, 5)
    packed = to_engine_layout(data, fmt, dtype)
    assert packed.dtype == np.dtype(dtype)
    back = from_engine_layout(packed, fmt, data.shape)
    assert back.dtype == np.float32 and back.shape == data.shape
    assert np.array_equal(back, data)


def test_int8_quantizes_as_tensorrt_does_and_dequantizes() -> None:
    scale = 0.5
    x = np.array([[[[1.25, 1.75, -0.25, 100.0, -100.0]]]], np.float32)  # 2.5, 3.5, -0.5 steps
    q = to_engine_layout(x, "chw32", "int8", scale=scale)
    assert q.dtype == np.int8
    assert q[0, 0, 0, :, 0].tolist() == [2, 4, 0, 127, -128]  # half to even, clamped
    back = from_engine_layout(q, "chw32", x.shape, scale=scale)
    assert back[0, 0, 0].tolist() == [1.0, 2.0, 0.0, 63.5, -64.0]
    with pytest.raises(UsageError, match="int8 I/O needs the tensor's quantization scale"):
        to_engine_layout(x, "chw32", "int8")
    with pytest.raises(UsageError, match="has no scale to dequantize with"):
        from_engine_layout(q, "chw32", x.shape)


def test_an_output_buffer_may_be_flat_and_larger() -> None:
    packed = to_engine_layout(X, "hwc8", "float16").reshape(-1)
    spare = np.concatenate([packed, np.ones(7, np.float16)])
    assert np.array_equal(from_engine_layout(spare, "hwc8", X.shape), X)
    with pytest.raises(ValueError, match="elements for a hwc8 tensor"):
        from_engine_layout(packed[:-1], "hwc8", X.shape)


def test_formats_without_a_host_layout_are_refused() -> None:
    with pytest.raises(UsageError, match="no host layout for TensorRT format 'dla_hwc4'"):
        to_engine_layout(X, "dla_hwc4", "float16")
    with pytest.raises(UsageError, match="rank 2 cannot be in the hwc8 format"):
        to_engine_layout(X[0, 0], "hwc8", "float16")


def test_bf16_goes_through_ml_dtypes() -> None:
    packed = to_engine_layout(X, "hwc8", "bfloat16")
    assert packed.dtype == numpy_dtype("bfloat16")
    assert np.array_equal(from_engine_layout(packed, "hwc8", X.shape), X)  # small integers
