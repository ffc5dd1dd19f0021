"""Network I/O types and formats (trtexec's ``--inputIOFormats`` / ``--outputIOFormats``).

``build.input_formats: int8:chw32`` asks TensorRT to take the input as int8 in
NC/32HW32 instead of float32 NCHW, so the host converts once, outside the timed
loop, and the engine starts with no reformat layer. Specs are written as trtexec
writes them: ``TYPE:FORMAT[+FORMAT]``, comma separated, one per network input
(output) in order, or a single one for all of them.

Here, without TensorRT: the specs parsed and checked against what TensorRT
documents (the ``TensorFormat`` comments of NvInferRuntimeBase.h / NvInferRuntimeCommon.h
in 8.6 and 10, and the "TensorFormat Enum Quick Reference" of the developer guide),
matched to the model's tensors, and the host-side layout conversion and its inverse
(numpy). The adapter (trtc/backends/tensorrt.py) sets ``ITensor.dtype`` and
``ITensor.allowed_formats`` from what is decided here.

int8 I/O needs the tensor's quantization scale, and trtc takes it only from the model's
Q/DQ: an int8 input must be the input of a per-tensor QuantizeLinear (or, declared
int8 in the ONNX, of a DequantizeLinear), an int8 output the output of a per-tensor
DequantizeLinear of a QuantizeLinear's tensor (or of a QuantizeLinear), zero point 0.
TensorRT wants the int8 side of that pair at the network's edge, not the float one:
with the float input's type merely set to INT8, TensorRT 8.6.0 fails the build with
``[qdqGraphOptimizer.cpp::quantizePaths::3882] Error Code 1: Internal Error (Node qx
cannot be quantized by x. You might want to add a DQ node before qx)``. So the build
removes the input's QuantizeLinear (its DequantizeLinear reads the now int8 input) and
the output's final DequantizeLinear (the output is the QuantizeLinear's int8 tensor)
before parsing (trtc.tensorrt.int8_io), and the host does what they did, with their
scale: :func:`to_engine_layout` quantizes (round half to even, saturate to int8, as
QuantizeLinear) and :func:`from_engine_layout` dequantizes. TensorRT then needs no
dynamic range (trtexec sets none for a network with Q/DQ layers). A network without
Q/DQ (int8 calibration, or no int8 at all) is refused: TensorRT would need a dynamic
range on the tensor, which trtexec invents (dummy ranges) or reads from a calibration
cache that exists only after calibrating, and implicit quantization is gone in
TensorRT 11. Quantize the model with ``trtc quantize --target tensorrt`` instead.

A strongly typed network (TensorRT 11 always, 9/10 with ``strongly_typed``) takes its
I/O types from the ONNX (TensorRT 11 cannot change them after parsing): the type in a
spec must then be the model's; only the format is set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtc.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    import numpy as np

    from trtc.tensorrt.versions import TrtFeatures

#: {name: (dtype, shape)} of a model's inputs or outputs; () is an unknown rank.
Tensors = Mapping[str, tuple[str, Sequence[int | str]]]


@dataclass(frozen=True)
class IoType:
    """One I/O data type: trtexec's name, the trt.DataType member, numpy's name."""

    name: str
    enum: str
    numpy: str
    #: The TrtFeatures flag the type needs (bf16, fp8), or None.
    feature: str | None = None


TYPES: dict[str, IoType] = {t.name: t for t in (
    IoType("fp32", "FLOAT", "float32"),
    IoType("fp16", "HALF", "float16"),
    IoType("bf16", "BF16", "bfloat16", "bf16"),
    IoType("int8", "INT8", "int8"),
    IoType("int32", "INT32", "int32"),
    IoType("bool", "BOOL", "bool"),
    IoType("fp8", "FP8", "float8_e4m3fn", "fp8"),
)}
FLOATS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Layout:
    """One TensorRT TensorFormat: the types it takes and where its vector dimension goes.

    A vector-major format (``chw32``) splits the vector dimension C into C/V blocks and
    appends V: [N][C/V][H][W][V]. A vector-minor one (``hwc8``) moves C, padded to a
    multiple of V, to the end: [N][H][W][C']. The vector dimension is the third to last
    (fourth to last for the 3-D formats), which is why they need that many dims.
    """

    name: str
    enum: str
    dtypes: tuple[str, ...]
    min_rank: int = 0
    #: The vector dimension counted from the end (-3, -4); None: linear.
    vector_dim: int | None = None
    components: int = 1
    vector_minor: bool = False
    since: tuple[int, int] = (8, 6)
    dla: bool = False

    @property
    def trtexec(self) -> str:
        """trtexec's spelling: ``chw`` is its name for linear."""
        return "chw" if self.name == "linear" else self.name


ALL_TYPES = tuple(TYPES)
#: TensorRT's formats. The types follow the TensorFormat comments of TensorRT 10's
#: NvInferRuntimeBase.h (8.6 names fewer: chw2 / hwc8 / dhwc8 without bf16, hwc fp32
#: only, hwc16 fp16 only) and the guide's quick reference for chw32 (fp32, fp16, int8).
#: hwc16 is in 8.6's enum but not its trtexec, dhwc new in 10: both from 10, so the
#: trtexec line can always say what was built.
LAYOUTS: dict[str, Layout] = {f.name: f for f in (
    Layout("linear", "LINEAR", ALL_TYPES),
    Layout("chw2", "CHW2", ("fp16", "bf16"), 3, -3, 2),
    Layout("hwc8", "HWC8", ("fp16", "bf16"), 3, -3, 8, vector_minor=True),
    Layout("chw4", "CHW4", ("int8", "fp16"), 3, -3, 4),
    Layout("chw16", "CHW16", ("fp16",), 3, -3, 16),
    Layout("chw32", "CHW32", ("fp32", "fp16", "int8"), 3, -3, 32),
    Layout("dhwc8", "DHWC8", ("fp16", "bf16"), 4, -4, 8, vector_minor=True),
    Layout("cdhw32", "CDHW32", ("fp16", "int8"), 4, -4, 32),
    Layout("hwc", "HWC", FLOATS, 3, -3, 1, vector_minor=True),
    Layout("dla_linear", "DLA_LINEAR", ("fp16", "int8"), 3, dla=True),
    Layout("dla_hwc4", "DLA_HWC4", ("fp16", "int8"), 3, dla=True),
    Layout("hwc16", "HWC16", ("fp16", "int8"), 3, -3, 16, vector_minor=True, since=(10, 0)),
    Layout("dhwc", "DHWC", ("fp32",), 4, -4, 1, vector_minor=True, since=(10, 0)),
)}
#: trtexec's name for the linear format.
ALIASES = {"chw": "linear"}


@dataclass(frozen=True)
class IoFormat:
    """One spec: a data type and the formats TensorRT may pick from (``fp16:chw+hwc8``)."""

    dtype: str
    formats: tuple[str, ...]

    @property
    def spec(self) -> str:
        """As trtexec writes it: ``fp16:hwc8``, ``int8:chw32``, ``fp32:chw``."""
        return f"{self.dtype}:" + "+".join(LAYOUTS[f].trtexec for f in self.formats)

    @property
    def numpy_dtype(self) -> str:
        return TYPES[self.dtype].numpy

    @property
    def format_mask(self) -> int:
        """``ITensor.allowed_formats``: one bit per format, by its TensorFormat value."""
        return sum(1 << ENUM_VALUES[f] for f in set(self.formats))


#: TensorFormat's values (kLINEAR = 0 ... kDHWC = 12), the same in 8.6, 10 and 11.
ENUM_VALUES = {name: i for i, name in enumerate(
    ("linear", "chw2", "hwc8", "chw4", "chw16", "chw32", "dhwc8", "cdhw32", "hwc",
     "dla_linear", "dla_hwc4", "hwc16", "dhwc"))}

_HINT = ("write TYPE:FORMAT as trtexec does (fp16:hwc8, int8:chw32, fp32:chw), comma "
         "separated, one per tensor in order or one for all")


# --------------------------------------------------------------------------- parsing


def parse_io_formats(value: str | Sequence[str] | None, key: str, feats: TrtFeatures
                     ) -> tuple[IoFormat, ...]:
    """Parse ``build.input_formats`` / ``output_formats`` for TensorRT ``feats``.

    ``value`` is a comma-separated string or a list of them; empty means TensorRT's
    default (the ONNX types, linear).

    Raises:
        UsageError: an unknown type or format, one this version lacks, a DLA format, or
            a type the format does not take; the message names ``key`` and the spec.
    """
    items = [value] if isinstance(value, str) else list(value or ())
    specs = [s.strip() for item in items for s in str(item).split(",") if s.strip()]
    return tuple(_parse_one(s, key, feats) for s in specs)


def _parse_one(text: str, key: str, feats: TrtFeatures) -> IoFormat:
    dtype, sep, rest = text.lower().partition(":")
    if not sep or not dtype or not rest:
        raise UsageError(f"{key}: {text!r} is not TYPE:FORMAT", _HINT)
    io_type = TYPES.get(dtype)
    if io_type is None:
        raise UsageError(f"{key}: {text!r}: unknown type {dtype!r}",
                         did_you_mean(dtype, list(TYPES), f"types: {', '.join(TYPES)}"))
    if io_type.feature and not getattr(feats, io_type.feature):
        raise UsageError(f"{key}: {text!r}: {dtype} I/O needs TensorRT 9 or newer (this is "
                         f"{feats.version})", f"use fp16 or fp32 on {feats.version}")
    names = tuple(_layout(f.strip(), text, key, feats) for f in rest.split("+"))
    for name in names:
        layout = LAYOUTS[name]
        if dtype not in layout.dtypes:
            raise UsageError(f"{key}: {text!r}: TensorRT's {layout.trtexec} format takes "
                             f"{', '.join(layout.dtypes)} data, not {dtype}",
                             f"use {layout.dtypes[0]}:{layout.trtexec}, or {dtype}:chw")
    return IoFormat(dtype, names)


def _layout(name: str, text: str, key: str, feats: TrtFeatures) -> str:
    name = ALIASES.get(name, name)
    layout = LAYOUTS.get(name)
    if layout is None:
        known = ["chw", *LAYOUTS]
        raise UsageError(f"{key}: {text!r}: unknown format {name!r}",
                         did_you_mean(name, known, f"formats: {', '.join(known)}"))
    if layout.dla:
        raise UsageError(f"{key}: {text!r}: {name} is a DLA format, and trtc builds GPU "
                         "engines", "use a GPU format: chw, chw4, chw32, hwc8, ...")
    if not feats.at_least(layout.since):
        raise UsageError(f"{key}: {text!r}: the {name} format needs TensorRT "
                         f"{layout.since[0]}.{layout.since[1]} or newer (this is "
                         f"{feats.version})", "choose another format")
    return name


# --------------------------------------------------------------------------- the model


def assign_io_formats(formats: Sequence[IoFormat], tensors: Tensors, key: str,
                      what: str = "input") -> dict[str, IoFormat]:
    """Give each tensor its spec: one per tensor in order, or one for all (as trtexec).

    Raises:
        UsageError: the count matches neither, or a tensor has too few dims for a
            vectorized format (its rank is unknown: not checked).
    """
    if not formats:
        return {}
    names = list(tensors)
    if len(formats) not in (1, len(names)):
        raise UsageError(f"{key}: {len(formats)} formats for the model's {len(names)} "
                         f"{what}s ({', '.join(names)})",
                         f"give one per {what}, in order, or one for all")
    chosen = {n: formats[0 if len(formats) == 1 else i] for i, n in enumerate(names)}
    for name, fmt in chosen.items():
        rank = len(tensors[name][1])
        for layout in (LAYOUTS[f] for f in fmt.formats):
            if 0 < rank < layout.min_rank:
                raise UsageError(f"{key}: {fmt.spec} for {what} '{name}': the {layout.trtexec}"
                                 f" format needs {layout.min_rank} or more dims, '{name}' "
                                 f"has {rank}", f"use {fmt.dtype}:chw for '{name}'")
    return chosen


def check_io_types(chosen: Mapping[str, IoFormat], tensors: Tensors, key: str, *,
                   strongly_typed: bool, int8_mode: str | None,
                   scales: Mapping[str, float], what: str = "input") -> None:
    """Refuse types the network cannot take (see the module docstring).

    Raises:
        UsageError: a strongly typed network's I/O type differs from the ONNX's, or an
            int8 tensor has no per-tensor Q/DQ scale in the model.
    """
    for name, fmt in chosen.items():
        model_dtype = str(tensors[name][0])
        if strongly_typed and model_dtype != fmt.numpy_dtype:
            raise UsageError(f"{key}: {fmt.spec} for {what} '{name}', which is {model_dtype} "
                             "in the ONNX: a strongly typed network takes its I/O types "
                             "from the model", f"use {_same_layout(fmt, model_dtype)}, or "
                             f"make the ONNX {what} {fmt.numpy_dtype}")
        if fmt.dtype == "int8" and (int8_mode != "qdq" or name not in scales):
            node = "a QuantizeLinear reading" if what == "input" else \
                "a DequantizeLinear writing"
            raise UsageError(f"{key}: int8 {what} '{name}' needs its scale from {node} it "
                             "in the ONNX (per tensor, zero point 0), and the model has "
                             "none",
                             "quantize the model with trtc quantize --target tensorrt, or "
                             "use fp16 I/O")


def plan_io_formats(input_specs: Sequence[str], output_specs: Sequence[str],
                    feats: TrtFeatures, inputs: Tensors, outputs: Tensors | None, *,
                    strongly_typed: bool, int8_mode: str | None,
                    scales: Mapping[str, float], notes: list[str] | None = None
                    ) -> dict[str, float]:
    """Match the specs to the model's inputs and outputs and check them; return the
    scales of the int8 tensors. Outputs that are not known (None) are not checked.
    ``notes`` gets :func:`padding_note` of each tensor.

    Raises:
        UsageError: see :func:`assign_io_formats` and :func:`check_io_types`.
    """
    used: dict[str, float] = {}
    for what, specs, tensors in (("input", input_specs, inputs),
                                 ("output", output_specs, outputs)):
        if not specs or tensors is None:
            continue
        key = f"build.{what}_formats"
        chosen = assign_io_formats(parse_io_formats(specs, key, feats), tensors, key, what)
        check_io_types(chosen, tensors, key, strongly_typed=strongly_typed,
                       int8_mode=int8_mode, scales=scales, what=what)
        if notes is not None:
            notes.extend(n for name, fmt in chosen.items()
                         if (n := padding_note(name, fmt, tensors[name], key, what)))
        used.update({n: float(scales[n]) for n, f in chosen.items() if f.dtype == "int8"})
    return used


def padding_note(name: str, fmt: IoFormat, tensor: tuple[str, Sequence[int | str]], key: str,
                 what: str = "input") -> str | None:
    """A note when every format of ``fmt`` pads the tensor's vector dimension so far that
    it copies more bytes than the ONNX type does: ``int8:chw32`` of a 3-channel image
    is 32 bytes a pixel where float32 is 12 (the 2026-12-03 ResNet-50 sweep: 34,347
    img/s against 63,731 with fp32 input). None: no such padding, or C unknown."""
    import math

    dtype, shape = tensor
    size = numpy_dtype(fmt.numpy_dtype).itemsize   # bf16 / fp8 through ml_dtypes
    try:
        model_size = numpy_dtype(str(dtype)).itemsize
    except (TypeError, AttributeError):            # a type numpy has no size for
        return None
    padded: list[tuple[int, int]] = []   # (padded, channels) per allowed format
    for layout in (LAYOUTS[f] for f in fmt.formats):
        if layout.vector_dim is None or len(shape) < layout.min_rank:
            return None
        dim = shape[len(shape) + layout.vector_dim]
        if not isinstance(dim, int) or dim <= 0:
            return None
        padded.append((math.ceil(dim / layout.components) * layout.components, dim))
    least, channels = min(padded)
    if least * size <= channels * model_size:
        return None
    better = [f"{fmt.dtype}:{LAYOUTS[f].trtexec}" for f in ("chw4", "linear")
              if fmt.dtype in LAYOUTS[f].dtypes]
    return (f"{key}: {fmt.spec} for {what} '{name}' pads its {channels} channels to "
            f"{least}: {least * size} bytes per pixel to copy where the ONNX's "
            f"{dtype} takes {channels * model_size}"
            + (f"; {' or '.join(better)} copies less" if better else ""))


def _same_layout(fmt: IoFormat, numpy_dtype: str) -> str:
    """The spec for the model's type: ``fmt``'s first format if it takes it, else chw."""
    dtype = next((t.name for t in TYPES.values() if t.numpy == numpy_dtype), numpy_dtype)
    layout = LAYOUTS[fmt.formats[0]]
    return f"{dtype}:{layout.trtexec if dtype in layout.dtypes else 'chw'}"


def qdq_io_scales(model: Any) -> dict[str, float]:
    """The per-tensor Q/DQ scale of each graph input and output that has one.

    An input counts when every node reading it is a QuantizeLinear to int8 (or, for an
    int8 input, a DequantizeLinear) with one scalar scale and a zero point of 0; an
    output when a DequantizeLinear of a QuantizeLinear's tensor (or a QuantizeLinear)
    writes it: the pairs trtc.tensorrt.int8_io can cut at the network's edge. ``model``
    is an ONNX ModelProto (weights need not be loaded: scales are small initializers).
    """
    graph = model.graph
    consts = _constants(graph)
    scales: dict[str, float] = {}
    for vi in graph.input:
        readers = [n for n in graph.node if vi.name in n.input]
        found = {_scale(n, consts) if n.input[0] == vi.name and _to_int8(n, consts)
                 else None for n in readers}
        if readers and len(found) == 1 and None not in found:
            scales[vi.name] = float(found.pop())  # type: ignore[arg-type]
    for vo in graph.output:
        writer = next((n for n in graph.node if vo.name in n.output), None)
        scale = _scale(writer, consts) if writer is not None else None
        if scale is not None and writer is not None and writer.op_type == "DequantizeLinear":
            producer = next((n for n in graph.node if writer.input[0] in n.output), None)
            scale = scale if producer is not None and \
                producer.op_type == "QuantizeLinear" else None
        if scale is not None:
            scales[vo.name] = scale
    return scales


def _to_int8(node: Any, consts: Mapping[str, Any]) -> bool:
    """A QuantizeLinear gives int8 (an int8 zero point, or none and no other
    output_dtype: TensorRT reads Q/DQ as int8); other nodes pass."""
    import numpy as np

    if node.op_type != "QuantizeLinear":
        return True
    zero = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if zero is not None:
        return bool(np.asarray(zero).dtype == np.int8)
    dtypes = [a.i for a in node.attribute if a.name == "output_dtype"]
    return not dtypes or dtypes[0] == 3  # TensorProto.INT8


def _constants(graph: Any) -> dict[str, Any]:
    from onnx import numpy_helper

    out = {t.name: numpy_helper.to_array(t) for t in graph.initializer
           if not t.HasField("data_location") or t.data_location == 0}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            out[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return out


def _scale(node: Any, consts: Mapping[str, Any]) -> float | None:
    """The scalar scale of a Q/DQ node with zero point 0, else None."""
    import numpy as np

    if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 2:
        return None
    scale = consts.get(node.input[1])
    zero = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if scale is None or np.size(scale) != 1 or (zero is not None and np.any(zero != 0)):
        return None
    return float(np.asarray(scale).reshape(-1)[0])


# --------------------------------------------------------------------------- host layout


def engine_shape(shape: Sequence[int], fmt: str) -> tuple[int, ...]:
    """The host buffer's shape for a tensor of ``shape`` in TensorRT format ``fmt``.

    ``hwc8`` of (1, 3, 4, 4) is (1, 4, 4, 8); ``chw32`` of (1, 3, 4, 4) is (1, 1, 4, 4, 32).
    """
    shape = tuple(int(d) for d in shape)
    layout = _host_layout(fmt)
    if layout.vector_dim is None:
        return shape
    axis = len(shape) + layout.vector_dim
    padded = _padded(shape[axis], layout.components)
    rest = shape[:axis] + shape[axis + 1:]
    if layout.vector_minor:
        return rest + (padded,)
    return shape[:axis] + (padded // layout.components,) + shape[axis + 1:] + \
        (layout.components,)


def to_engine_layout(array: np.ndarray, fmt: str, dtype: str,
                     scale: float | None = None) -> np.ndarray:
    """Convert a linear (NCHW) host array to what an engine's I/O tensor holds.

    Args:
        array: the data, in the model's layout and type.
        fmt: the engine's TensorRT format (``linear``, ``hwc8``, ``chw32``, ...).
        dtype: the engine's numpy type; int8 quantizes with ``scale`` as the
            QuantizeLinear the build removed from the input did (round half to even,
            saturate to [-128, 127], zero point 0; see trtc.tensorrt.int8_io).
        scale: the tensor's quantization scale (int8 only).

    Raises:
        UsageError: int8 without a scale, or a format without a host layout (DLA).
    """
    import numpy as np

    values = _quantize(array, scale) if dtype == "int8" else \
        np.asarray(array).astype(numpy_dtype(dtype), copy=False)
    layout = _host_layout(fmt)
    if layout.vector_dim is None:
        return np.ascontiguousarray(values)
    _check_rank(values.ndim, layout)
    axis = values.ndim + layout.vector_dim
    channels = values.shape[axis]
    pad = [(0, 0)] * values.ndim
    pad[axis] = (0, _padded(channels, layout.components) - channels)
    values = np.pad(values, pad)
    if layout.vector_minor:
        return np.ascontiguousarray(np.moveaxis(values, axis, -1))
    split = values.shape[:axis] + (values.shape[axis] // layout.components,
                                   layout.components) + values.shape[axis + 1:]
    return np.ascontiguousarray(np.moveaxis(values.reshape(split), axis + 1, -1))


def from_engine_layout(buffer: np.ndarray, fmt: str, shape: Sequence[int],
                       dtype: str = "float32", scale: float | None = None) -> np.ndarray:
    """The inverse of :func:`to_engine_layout`: an engine output back to ``shape``, ``dtype``.

    ``buffer`` may be flat or larger than the tensor (an allocator's bytes, viewed in the
    engine's type): its first ``prod(engine_shape(shape, fmt))`` elements are read.
    An int8 buffer is dequantized with ``scale``, as the DequantizeLinear the build
    removed from the output did.
    """
    import numpy as np

    layout = _host_layout(fmt)
    shape = tuple(int(d) for d in shape)
    physical = engine_shape(shape, fmt)
    count = math.prod(physical)
    flat = np.asarray(buffer).reshape(-1)
    if flat.size < count:
        raise ValueError(f"{flat.size} elements for a {fmt} tensor of shape {shape} "
                         f"({count} needed)")
    values = flat[:count].reshape(physical)
    if layout.vector_dim is not None:
        _check_rank(len(shape), layout)
        axis = len(shape) + layout.vector_dim
        if layout.vector_minor:
            values = np.moveaxis(values, -1, axis)
        else:
            values = np.moveaxis(values, -1, axis + 1)
            values = values.reshape(values.shape[:axis] + (-1,) + values.shape[axis + 2:])
        values = values[(slice(None),) * axis + (slice(0, shape[axis]),)]
    if values.dtype == np.int8 and dtype != "int8":
        if scale is None:
            raise UsageError(f"an int8 {fmt} output has no scale to dequantize with",
                             "rebuild the engine with trtc build (its sidecar records it)")
        values = values.astype(np.float32) * np.float32(scale)
    return np.ascontiguousarray(values.astype(numpy_dtype(dtype), copy=False))


def numpy_dtype(name: str) -> Any:
    """numpy's dtype for ``name``; bfloat16 and the fp8 types through ml_dtypes (onnx's)."""
    import numpy as np

    try:
        return np.dtype(name)
    except TypeError:
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))


def _quantize(array: np.ndarray, scale: float | None) -> np.ndarray:
    import numpy as np

    if scale is None or not scale > 0:
        raise UsageError("int8 I/O needs the tensor's quantization scale",
                         "rebuild the engine with trtc build (its sidecar records it)")
    scaled = np.asarray(array, dtype=np.float32) / np.float32(scale)
    return np.clip(np.rint(scaled), -128, 127).astype(np.int8)


def _host_layout(fmt: str) -> Layout:
    layout = LAYOUTS.get(ALIASES.get(fmt.lower(), fmt.lower()))
    if layout is None or layout.dla:
        raise UsageError(f"no host layout for TensorRT format {fmt!r}",
                         "build the engine with GPU formats (chw, chw4, chw32, hwc8, ...)")
    return layout


def _check_rank(rank: int, layout: Layout) -> None:
    if rank < layout.min_rank:
        raise UsageError(f"a tensor of rank {rank} cannot be in the {layout.trtexec} format "
                         f"(needs {layout.min_rank} or more dims)")


def _padded(channels: int, components: int) -> int:
    return -(-channels // components) * components
