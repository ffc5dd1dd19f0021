"""FP16 / BF16 in the ONNX graph, with the nodes that must stay FP32 kept FP32 and reported.

TensorRT 11 has no fp16 builder flag: reduced precision has to be written into
the graph. FP16 uses ONNX Runtime's converter
(``onnxruntime.transformers.float16.convert_float_to_float16``: Casts at the
graph boundary, op / node block lists, subgraphs, Resize's always-float
inputs). trtc adds what it lacks:

- the decision of *which* nodes stay FP32 (:func:`plan_kept`): the block lists,
  ops whose ONNX schema at the model's opset does not accept the type, and
  nodes that would overflow FP16 (calibrated activation ranges or constants
  beyond 65504), each with its reason;
- removal of the lossy FP32 -> FP16 -> FP32 Cast round trips the converter puts
  between a graph input/output and a kept node (an overflowing value would
  become inf on the way), and a topological sort (the converter appends its
  Casts at the end of the node list);
- BF16: no installed library converts to bfloat16 (the ORT converter only uses
  it for blocked nodes; onnxconverter-common is not installed and has no bf16
  target either). BF16 needs the same graph surgery as FP16, so the graph is
  converted with the FP16 converter and then re-typed: FLOAT16 value types and
  Cast targets become BFLOAT16, and every converted tensor is rebuilt from its
  original FP32 values (so nothing is clamped to the FP16 range).

onnx and onnxruntime are imported inside functions: ``trtc --help`` stays fast.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from trtc.errors import ModelError, UsageError
from trtc.graph.names import graphs, name_nodes
from trtc.optimize.surgery import toposort

if TYPE_CHECKING:
    import onnx

FP16_MAX = 65504.0

#: Cast nodes the ORT converter inserts are named like these (see float16.py).
_CONVERTER_CASTS = ("graph_input_cast", "graph_output_cast")
_CONVERTER_CAST_SUFFIXES = ("_cast_to_fp32_node", "_cast_to_fp16_node")


@dataclass(frozen=True)
class KeptNode:
    """A node left in FP32, and why."""

    name: str
    op_type: str
    reason: str


def default_block_ops() -> tuple[str, ...]:
    """Op types ONNX Runtime's converter keeps in FP32 by default (TopK, Range, CumSum, ...)."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST

    return tuple(DEFAULT_OP_BLOCK_LIST)


def convert_float(model: onnx.ModelProto, precision: Literal["fp16", "bf16"], *,
                  keep_io_types: bool = True, block_ops: Sequence[str] = (),
                  block_nodes: Sequence[str] = (),
                  ranges: Mapping[str, tuple[float, float]] | None = None,
                  ) -> tuple[onnx.ModelProto, list[KeptNode]]:
    """Convert a float32 model's float tensors to fp16 or bf16 inside the graph.

    Args:
        model: the fp32 model (not modified).
        precision: "fp16" or "bf16".
        keep_io_types: keep float32 graph inputs/outputs (Casts at the boundary).
        block_ops: op types kept in fp32, on top of :func:`default_block_ops`.
        block_nodes: node names kept in fp32.
        ranges: calibrated (min, max) per tensor name; with fp16, nodes reading or
            writing a tensor beyond +-65504 are kept in fp32 (bf16 has fp32's range).

    Returns:
        The converted model (checked by onnx.checker with type inference) and the
        nodes kept in fp32 with their reasons, in graph order.

    Raises:
        UsageError: an unknown precision, or a ``block_nodes`` entry naming no node.
        ModelError: the model already holds fp16/bf16 tensors (bf16), or the
            conversion gives a graph that does not type-check.
    """
    import onnx

    if precision not in ("fp16", "bf16"):
        raise UsageError(f"precision must be fp16 or bf16, got {precision!r}")
    if model.ByteSize() >= 2**31:
        raise ModelError("fp16/bf16 conversion of models over 2 GB is not supported: ONNX "
                         "shape inference and the checker work on in-memory protobufs",
                         "convert a smaller model, or use TensorRT's own fp16 on a strongly "
                         "typed network where the version allows")
    converted = onnx.ModelProto()
    converted.CopyFrom(model)
    name_nodes(converted.graph)
    check_block_nodes(converted.graph, block_nodes)
    kept = plan_kept(converted, precision, block_ops=(*default_block_ops(), *block_ops),
                     user_ops=tuple(block_ops), block_nodes=tuple(block_nodes),
                     ranges=ranges or {})
    if precision == "bf16":
        _refuse_half_tensors(converted)
        originals = _float_tensors(converted)
    converted = _run_fp16_converter(converted, keep_io_types, [k.name for k in kept])
    remove_duplicate_casts(converted)
    remove_cast_round_trips(converted)
    if precision == "bf16":
        retype_to_bfloat16(converted, originals)
    toposort(converted)
    try:
        onnx.checker.check_model(converted, full_check=True)
    except Exception as exc:
        raise ModelError(f"the {precision} conversion gives an invalid graph: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0]}",
                         "keep the node it names in fp32 (block_nodes / block_ops)") from None
    return converted, kept


# Which nodes stay fp32 ------------------------------------------------------------------------


def check_block_nodes(graph: onnx.GraphProto, block_nodes: Sequence[str]) -> None:
    """Raise UsageError for a block_nodes entry that names no node (with the closest names)."""
    names = [n.name for g in graphs(graph) for n in g.node]
    known = set(names)
    for wanted in block_nodes:
        if wanted not in known:
            close = difflib.get_close_matches(wanted, names, n=3)
            hint = (f"did you mean {', '.join(repr(c) for c in close)}?" if close else
                    "list node names with `trtc inspect MODEL.onnx`")
            raise UsageError(f"block_nodes: the model has no node named '{wanted}'", hint)


def plan_kept(model: onnx.ModelProto, precision: str, *, block_ops: Sequence[str],
              user_ops: Sequence[str] = (), block_nodes: Sequence[str] = (),
              ranges: Mapping[str, tuple[float, float]] | None = None) -> list[KeptNode]:
    """Decide which nodes stay fp32 and why (one entry per node, reasons joined by '; ').

    Reasons, in this order: the node is named in ``block_nodes``; its op type is
    in ``user_ops`` or the default block list; its ONNX schema at the model's
    opset does not accept the target type; and (fp16 only) a tensor it reads or
    writes has a calibrated range or a constant value beyond +-65504.
    """
    opset = opset_version(model)
    target = "tensor(float16)" if precision == "fp16" else "tensor(bfloat16)"
    peaks = constant_peaks(model.graph) if precision == "fp16" else {}
    kept = []
    for graph in graphs(model.graph):
        for node in graph.node:
            reasons = []
            if node.name in block_nodes:
                reasons.append("blocked by name")
            if node.op_type in user_ops:
                reasons.append(f"op type {node.op_type} blocked")
            elif node.op_type in block_ops:
                reasons.append(f"op type {node.op_type} is on the default {precision} block list")
            if not schema_accepts(node, opset, target):
                later = first_opset_accepting(node, opset, target)
                reasons.append(f"{node.op_type} at opset {opset} does not accept {precision}"
                               + (f" (opset {later} does: re-export with it)" if later else ""))
            if precision == "fp16":
                reasons += overflow_reasons(node, ranges or {}, peaks)
            if reasons:
                kept.append(KeptNode(node.name, node.op_type, "; ".join(reasons)))
    return kept


def overflow_reasons(node: onnx.NodeProto, ranges: Mapping[str, tuple[float, float]],
                     peaks: Mapping[str, float]) -> list[str]:
    """Why ``node`` would overflow fp16: a calibrated range or a constant beyond 65504."""
    reasons = []
    for tensor in dict.fromkeys([*node.input, *node.output]):
        if tensor in ranges:
            peak = max(abs(float(v)) for v in ranges[tensor])
            if peak > FP16_MAX:
                reasons.append(f"calibrated range {peak:.2g} of '{tensor}' exceeds fp16 max "
                               f"{FP16_MAX:.0f}")
        if tensor in peaks and peaks[tensor] > FP16_MAX:
            reasons.append(f"constant '{tensor}' holds {peaks[tensor]:.2g}, beyond fp16 max "
                           f"{FP16_MAX:.0f}")
    return reasons


@dataclass(frozen=True)
class Peak:
    """The largest calibrated |value| a node wrote, against fp16's range."""

    tensor: str
    node: str
    op_type: str
    peak: float

    @property
    def headroom(self) -> float:
        """How many times the peak fits under fp16's max (< 1: it overflows)."""
        return FP16_MAX / self.peak if self.peak > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "node": self.node, "op_type": self.op_type,
                "peak": self.peak, "headroom": round(self.headroom, 2)}


def measured_peaks(model: onnx.ModelProto, ranges: Mapping[str, tuple[float, float]],
                   top: int = 5) -> tuple[int, list[Peak]]:
    """(tensors measured, the ``top`` node outputs nearest fp16's max by their calibrated
    ranges): what the overflow rule decided on, so a report can show the measurement
    (a transformer's LayerNorm Pow / ReduceMean, the Softmax inputs) and not a guess."""
    found = []
    for graph in graphs(model.graph):
        for node in graph.node:
            for tensor in node.output:
                if tensor in ranges:
                    peak = max(abs(float(v)) for v in ranges[tensor])
                    if np.isfinite(peak):
                        found.append(Peak(tensor, node.name, node.op_type, peak))
    found.sort(key=lambda p: -p.peak)
    return len(found), found[:top]


def constant_peaks(graph: onnx.GraphProto) -> dict[str, float]:
    """Largest finite |value| of every float initializer and Constant output, by tensor name."""
    from onnx import TensorProto, numpy_helper

    peaks = {}
    tensors = [(t.name, t) for t in graph.initializer]
    tensors += [(n.output[0], a.t) for n in graph.node if n.op_type == "Constant"
                for a in n.attribute if a.name == "value"]
    for name, tensor in tensors:
        if tensor.data_type == TensorProto.FLOAT:
            values = numpy_helper.to_array(tensor)
            finite = np.abs(values[np.isfinite(values)])
            peaks[name] = float(finite.max()) if finite.size else 0.0
    return peaks


def schema_accepts(node: onnx.NodeProto, opset: int, target: str) -> bool:
    """Whether the node's first float type constraint allows ``target`` at ``opset``.

    Conv or MaxPool accept bfloat16 only from opset 22: at opset 17 a bf16 Conv is
    an invalid model. Unknown (custom domain) ops are left to the block lists.
    """
    import onnx

    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except Exception:
        return True
    params = [*schema.inputs, *schema.outputs]
    constraints = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    for param in params:
        allowed = constraints.get(param.type_str, {param.type_str})
        if "tensor(float)" in allowed:
            return target in allowed
    return True


def first_opset_accepting(node: onnx.NodeProto, opset: int, target: str) -> int | None:
    """The first opset after ``opset`` whose schema for the node accepts ``target``, if any."""
    import onnx

    latest = onnx.defs.onnx_opset_version()
    return next((v for v in range(opset + 1, latest + 1) if schema_accepts(node, v, target)),
                None)


def opset_version(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
               default=1)


# The conversion ------------------------------------------------------------------------------


def _run_fp16_converter(model: onnx.ModelProto, keep_io_types: bool,
                        kept: list[str]) -> onnx.ModelProto:
    import logging

    from onnxruntime.transformers.float16 import convert_float_to_float16

    # The converter logs every value it clamps at INFO level; trtc reports kept nodes instead.
    logger = logging.getLogger("onnxruntime.transformers.float16")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        result: onnx.ModelProto = convert_float_to_float16(
            model, keep_io_types=keep_io_types, op_block_list=[], node_block_list=kept)
    finally:
        logger.setLevel(level)
    return result


def _is_converter_cast(node: onnx.NodeProto) -> bool:
    return node.op_type == "Cast" and (node.name.startswith(_CONVERTER_CASTS)
                                       or node.name.endswith(_CONVERTER_CAST_SUFFIXES))


def _cast_to(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "to"), -1)


def remove_duplicate_casts(model: onnx.ModelProto) -> None:
    """Drop a converter Cast that repeats an earlier one (same input, output and type).

    Some ONNX Runtime versions insert one Cast per reader of a tensor that two kept
    nodes read, each writing the same output name: the graph is no longer in SSA form
    and the checker refuses it (G12: on the GPU machine every fp16-region candidate of
    ppocr_cls's budget search, ``Constant@3_cast_to_fp32_node`` twice).
    """
    seen: set[tuple[str, str, int]] = set()
    for node in list(model.graph.node):
        if not _is_converter_cast(node):
            continue
        key = (node.input[0], node.output[0], _cast_to(node))
        if key in seen:
            model.graph.node.remove(node)
        seen.add(key)


def remove_cast_round_trips(model: onnx.ModelProto) -> None:
    """Replace the converter's Cast(fp32->fp16) -> Cast(fp16->fp32) pairs by the fp32 tensor.

    They appear where a kept node reads a graph input or writes a graph output
    (kept in fp32): the round trip would lose precision and turn values beyond
    65504, the very reason a node was kept, into inf.
    """
    from onnx import TensorProto, helper

    from trtc.optimize.surgery import remove_dead_nodes

    graph = model.graph
    producer = {out: n for n in graph.node for out in n.output}
    outputs = {o.name for o in graph.output}
    replace: dict[str, str] = {}
    for node in list(graph.node):
        if not (_is_converter_cast(node) and _cast_to(node) == TensorProto.FLOAT):
            continue
        first = producer.get(node.input[0])
        if first is None or not (_is_converter_cast(first)
                                 and _cast_to(first) == TensorProto.FLOAT16):
            continue
        source = first.input[0]
        if node.output[0] in outputs:
            identity = helper.make_node("Identity", [source], [node.output[0]],
                                        name=node.name)
            graph.node.insert(list(graph.node).index(node), identity)
        else:
            replace[node.output[0]] = source
        graph.node.remove(node)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in replace:
                node.input[i] = replace[name]
    remove_dead_nodes(model)  # the first Casts of the pairs, now read by nobody


# BF16 ----------------------------------------------------------------------------------------


def _tensor_slots(model: onnx.ModelProto) -> Iterator[tuple[tuple[str, ...], onnx.TensorProto]]:
    """Every TensorProto in the model with a stable key: initializers and attribute tensors."""
    for graph in graphs(model.graph):
        for init in graph.initializer:
            yield ("init", init.name), init
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield ("attr", node.name, attr.name), attr.t
                for k, t in enumerate(attr.tensors):
                    yield ("attr", node.name, attr.name, str(k)), t


def _float_tensors(model: onnx.ModelProto) -> dict[tuple[str, ...], np.ndarray]:
    from onnx import TensorProto, numpy_helper

    return {key: numpy_helper.to_array(t) for key, t in _tensor_slots(model)
            if t.data_type == TensorProto.FLOAT}


def _refuse_half_tensors(model: onnx.ModelProto) -> None:
    from onnx import TensorProto

    half = (TensorProto.FLOAT16, TensorProto.BFLOAT16)
    for key, tensor in _tensor_slots(model):
        if tensor.data_type in half:
            raise ModelError(f"the model already holds a 16-bit float tensor ({key[-1]})",
                             "convert to bf16 from the fp32 model")
    for graph in graphs(model.graph):
        for info in (*graph.input, *graph.output, *graph.value_info):
            if info.type.tensor_type.elem_type in half:
                raise ModelError(f"the model already holds a 16-bit float tensor ({info.name})",
                                 "convert to bf16 from the fp32 model")


def retype_to_bfloat16(model: onnx.ModelProto,
                       originals: Mapping[tuple[str, ...], np.ndarray]) -> None:
    """Turn an fp16-converted model into bf16: value types, Cast targets, dtype attributes, tensors.

    Tensors come back from their original fp32 values (``originals``, keyed as
    :func:`_tensor_slots` keys them) so the fp16 clamping does not carry over.
    """
    import ml_dtypes
    from onnx import AttributeProto, TensorProto, numpy_helper

    for graph in graphs(model.graph):
        for info in (*graph.input, *graph.output, *graph.value_info):
            _retype_type(info.type)
        for node in graph.node:
            for attr in node.attribute:
                if attr.name in ("to", "dtype") and attr.i == TensorProto.FLOAT16 \
                        and attr.type == AttributeProto.INT:
                    attr.i = TensorProto.BFLOAT16
    for key, tensor in list(_tensor_slots(model)):
        if tensor.data_type != TensorProto.FLOAT16:
            continue
        values = originals.get(key)
        if values is None:  # a tensor the converter made (e.g. ConstantOfShape's default)
            values = numpy_helper.to_array(tensor).astype(np.float32)
        bf16 = numpy_helper.from_array(values.astype(ml_dtypes.bfloat16), tensor.name)
        tensor.CopyFrom(bf16)


def _retype_type(type_proto: Any) -> None:
    from onnx import TensorProto

    if type_proto.HasField("tensor_type"):
        if type_proto.tensor_type.elem_type == TensorProto.FLOAT16:
            type_proto.tensor_type.elem_type = TensorProto.BFLOAT16
    elif type_proto.HasField("sequence_type"):
        _retype_type(type_proto.sequence_type.elem_type)
    elif type_proto.HasField("optional_type"):
        _retype_type(type_proto.optional_type.elem_type)
