"""Summarise an ONNX model: I/O, opset, op histogram, parameters, size and estimated FLOPs.

Everything here is pure ``onnx`` + ``numpy`` so that ``trtc inspect`` works on a
machine without TensorRT, onnxruntime or a GPU.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import (
    GraphProto,
    ModelProto,
    NodeProto,
    TensorProto,
    ValueInfoProto,
)
from onnx.checker import ValidationError
from onnx.shape_inference import InferenceError

from trtc.errors import UsageError
from trtc.graph.io import (
    DEFAULT_DOMAINS,
    TensorInfo,
    default_opset,
    has_rank,
    load_proto,
    real_inputs,
    tensor_info,
)
from trtc.graph.names import graphs
from trtc.shapes import format_dims

Shape = tuple[int, ...]

_FLOP_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
# Initializers bigger than this are handed to shape inference as typed inputs instead
# of copied: inference only needs their shape, and data propagation only ever needs
# small (shape-like) constants.
_MAX_COPIED_INITIALIZER = 1024


@dataclass(frozen=True)
class ModelSummary:
    """What ``trtc inspect`` reports about one ONNX model."""

    path: str
    opset: int  # default ("" or "ai.onnx") domain opset, 0 if not imported
    producer: str  # producer_name + version
    inputs: tuple[TensorInfo, ...]  # graph inputs that are not initializers
    outputs: tuple[TensorInfo, ...]
    op_histogram: dict[str, int]  # op_type -> count, by count desc then name
    node_count: int  # includes nodes inside If/Loop/Scan bodies
    parameter_count: int  # elements of all initializers and Constant tensors
    size_bytes: int  # model file plus its external data files
    flops: int  # multiply-add counted as 2; Conv, ConvTranspose, Gemm, MatMul only
    flops_by_op: dict[str, int]
    flops_note: str  # the shapes the estimate assumes and what was skipped

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-serialisable dict."""
        return {
            "path": self.path,
            "opset": self.opset,
            "producer": self.producer,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "op_histogram": dict(self.op_histogram),
            "node_count": self.node_count,
            "parameter_count": self.parameter_count,
            "size_bytes": self.size_bytes,
            "flops": self.flops,
            "flops_by_op": dict(self.flops_by_op),
            "flops_note": self.flops_note,
        }


def summarize_model(
    path: str | Path, shapes: Mapping[str, Sequence[int]] | None = None
) -> ModelSummary:
    """Inspect an ONNX model: I/O, opset, op histogram, parameters, size, estimated FLOPs.

    ``shapes`` maps input names to concrete shapes used for the FLOP estimate;
    dynamic dims of inputs not listed are set to 1. Raises :class:`ModelError` if
    the file cannot be read as an ONNX model and :class:`UsageError` if ``shapes``
    does not match the model's inputs.
    """
    path = Path(path)
    model = load_proto(path)
    graph = model.graph
    inputs = tuple(tensor_info(vi) for vi in real_inputs(graph))
    outputs = tuple(tensor_info(vi) for vi in graph.output)
    nodes = [node for g in graphs(graph) for node in g.node]
    flops_by_op, flops_note = _estimate_flops(model, inputs, shapes or {})
    return ModelSummary(
        path=str(path),
        opset=default_opset(model),
        producer=f"{model.producer_name} {model.producer_version}".strip(),
        inputs=inputs,
        outputs=outputs,
        op_histogram=_sorted_desc(Counter(node.op_type for node in nodes)),
        node_count=len(nodes),
        parameter_count=_parameter_count(graph),
        size_bytes=_size_on_disk(path, graph),
        flops=sum(flops_by_op.values()),
        flops_by_op=flops_by_op,
        flops_note=flops_note,
    )


# --- graph walking, parameters and size ----------------------------------------------


def _numel(dims: Sequence[int]) -> int:
    """Return the element count of a tensor with these dims."""
    return math.prod(int(d) for d in dims)


def _parameter_count(graph: GraphProto) -> int:
    """Count elements of initializers and Constant tensors in all (sub)graphs."""
    total = 0
    for g in graphs(graph):
        total += sum(_numel(t.dims) for t in g.initializer)
        # A sparse tensor stores only its non-zeros; those are its parameters.
        total += sum(_numel(t.values.dims) for t in g.sparse_initializer)
        total += sum(_constant_numel(n) for n in g.node if n.op_type == "Constant")
    return total


def _constant_numel(node: NodeProto) -> int:
    """Return the element count of a Constant node's value, whichever attribute holds it."""
    for attr in node.attribute:
        if attr.name == "value":
            return _numel(attr.t.dims)
        if attr.name == "sparse_value":
            return _numel(attr.sparse_tensor.values.dims)
        if attr.name in ("value_float", "value_int", "value_string"):
            return 1
        if attr.name == "value_floats":
            return len(attr.floats)
        if attr.name == "value_ints":
            return len(attr.ints)
        if attr.name == "value_strings":
            return len(attr.strings)
    return 0


def _size_on_disk(path: Path, graph: GraphProto) -> int:
    """Return the model file size plus the size of each external data file it names.

    Only files inside the model's folder count: a location such as ``../../etc/shadow``
    or an absolute path is never followed (not even to stat it).
    """
    folder = path.parent.resolve()
    locations: set[Path] = set()
    for g in graphs(graph):
        for tensor in g.initializer:
            if tensor.data_location != TensorProto.EXTERNAL:
                continue
            entries = {e.key: e.value for e in tensor.external_data}
            if "location" in entries:
                where = (folder / entries["location"]).resolve()
                if where.is_relative_to(folder) and where != folder:
                    locations.add(where)
    # A missing data file is not our problem to report here: the summary is still useful.
    return path.stat().st_size + sum(p.stat().st_size for p in locations if p.is_file())


# --- FLOP estimate -------------------------------------------------------------------


def _estimate_flops(
    model: ModelProto, inputs: tuple[TensorInfo, ...], shapes: Mapping[str, Sequence[int]]
) -> tuple[dict[str, int], str]:
    """Estimate FLOPs of the top-level graph at concrete input shapes; return them and a note."""
    unranked = {vi.name for vi in real_inputs(model.graph) if not has_rank(vi)}
    concrete = _concrete_input_shapes(inputs, unranked, shapes)
    probe = _shape_probe(model, concrete)
    note_parts = [_shapes_note(inputs, concrete)]
    try:
        probe = onnx.shape_inference.infer_shapes(
            probe, check_type=False, strict_mode=False, data_prop=True
        )
    # A model inference chokes on should still get the rest of its summary.
    except (InferenceError, ValidationError, RuntimeError, ValueError, TypeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        note_parts.append(f"shape inference failed ({reason})")
    known = _known_shapes(probe, model.graph)

    per_op: Counter[str] = Counter()
    skipped = 0
    for node in model.graph.node:
        if node.op_type not in _FLOP_OPS or node.domain not in DEFAULT_DOMAINS:
            continue
        flops = _node_flops(node, known)
        if flops is None:
            skipped += 1
        else:
            per_op[node.op_type] += flops
    if skipped:
        note_parts.append(f"{skipped} node(s) skipped: shapes could not be inferred")
    nested = _nested_flop_nodes(model.graph)
    if nested:
        note_parts.append(f"{nested} node(s) inside If/Loop/Scan bodies not counted")
    return _sorted_desc(per_op), "; ".join(note_parts)


def _concrete_input_shapes(
    inputs: tuple[TensorInfo, ...], unranked: set[str], shapes: Mapping[str, Sequence[int]]
) -> dict[str, Shape | None]:
    """Resolve each input's shape: static dims kept, others from ``shapes`` or 1.

    An input whose rank is unknown (listed in ``unranked``) and that is not in
    ``shapes`` maps to None: there is no way to guess its rank.
    """
    by_name = {t.name: t for t in inputs}
    unknown = sorted(set(shapes) - set(by_name))
    if unknown:
        raise UsageError(
            f"shapes given for unknown input(s) {', '.join(unknown)}",
            hint=f"model inputs are: {', '.join(by_name) or '(none)'}",
        )
    concrete: dict[str, Shape | None] = {}
    for info in inputs:
        if info.name in unranked and info.name not in shapes:
            concrete[info.name] = None
        else:
            concrete[info.name] = _concrete_shape(info, shapes.get(info.name))
    return concrete


def _concrete_shape(info: TensorInfo, requested: Sequence[int] | None) -> Shape | None:
    """Merge one input's declared shape with the shape the user asked for."""
    if requested is None:
        return tuple(d if isinstance(d, int) else 1 for d in info.shape)
    requested = tuple(int(d) for d in requested)
    if any(d < 0 for d in requested):
        raise UsageError(
            f"negative dim in shape {list(requested)} for input '{info.name}'",
            hint="give every dim as a non-negative integer",
        )
    if info.shape and len(requested) != len(info.shape):
        raise UsageError(
            f"input '{info.name}' has rank {len(info.shape)} but got shape {list(requested)}",
            hint=f"declared shape is {format_dims(info.shape)}",
        )
    for declared, wanted in zip(info.shape, requested, strict=False):
        if isinstance(declared, int) and declared != wanted:
            raise UsageError(
                f"input '{info.name}' has static shape {format_dims(info.shape)}; "
                f"cannot use {list(requested)}",
                hint="only dynamic dims (names or '?') can be set",
            )
    return requested


def _shapes_note(inputs: tuple[TensorInfo, ...], concrete: Mapping[str, Shape | None]) -> str:
    """Describe the input shapes the estimate used and which dims were substituted."""
    used, substituted = [], []
    for info in inputs:
        shape = concrete[info.name]
        if shape is None:
            used.append(f"{info.name}=unknown rank")
            continue
        used.append(f"{info.name}={format_dims(shape)}")
        substituted += [f"{info.name}[{i}] ({info.shape[i]})={shape[i]}" for i in info.dynamic_dims]
        if not info.shape and shape:  # an unranked input the caller gave a shape for
            substituted.append(f"{info.name} (unknown rank)={format_dims(shape)}")
    note = "at " + (", ".join(used) if used else "no inputs")
    if substituted:
        return f"{note}; dynamic dims set: {', '.join(substituted)}"
    return f"{note}; all input dims static"


def _shape_probe(model: ModelProto, concrete: Mapping[str, Shape | None]) -> ModelProto:
    """Build a lightweight copy of the model with fixed input dims for shape inference.

    Large initializers are not copied: they are declared as typed graph inputs, which
    gives inference the same shapes without duplicating the weights in memory. The
    model's ``value_info`` is dropped (it was inferred at other shapes, and cleanup
    tools leave stale duplicates: onnxslim's symbolic dims beside ``unk__N``), except
    for outputs of custom-domain ops, which inference cannot compute.
    """
    probe = ModelProto(ir_version=model.ir_version)
    probe.opset_import.extend(model.opset_import)
    probe.functions.extend(model.functions)
    src, graph = model.graph, probe.graph
    graph.name = src.name
    graph.node.extend(src.node)
    graph.input.extend(src.input)
    graph.output.extend(src.output)
    opaque = {out for node in src.node if node.domain not in DEFAULT_DOMAINS
              for out in node.output}
    graph.value_info.extend(vi for vi in src.value_info if vi.name in opaque)
    graph.sparse_initializer.extend(src.sparse_initializer)
    declared = {vi.name for vi in src.input}
    for tensor in src.initializer:
        if _numel(tensor.dims) <= _MAX_COPIED_INITIALIZER:
            graph.initializer.append(tensor)
        elif tensor.name not in declared:
            graph.input.append(
                onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims)
            )
    for vi in graph.input:
        shape = concrete.get(vi.name)
        if shape is not None and vi.type.HasField("tensor_type"):
            _set_dims(vi, shape)
    return probe


def _set_dims(vi: ValueInfoProto, shape: Shape) -> None:
    """Replace the value info's shape with fixed dims."""
    tensor_shape = vi.type.tensor_type.shape
    tensor_shape.ClearField("dim")
    for d in shape:
        tensor_shape.dim.add().dim_value = d


def _known_shapes(probe: ModelProto, original: GraphProto) -> dict[str, Shape]:
    """Collect every fully static tensor shape the probe model knows about."""
    known: dict[str, Shape] = {t.name: tuple(int(d) for d in t.dims) for t in original.initializer}
    graph = probe.graph
    for vi in (*graph.input, *graph.value_info, *graph.output):
        shape = _static_shape(vi)
        if shape is not None:
            known[vi.name] = shape
    return known


def _static_shape(vi: ValueInfoProto) -> Shape | None:
    """Return the shape if every dim is a fixed integer, else None."""
    if not has_rank(vi):
        return None
    dims = vi.type.tensor_type.shape.dim
    if not all(d.HasField("dim_value") and d.dim_value >= 0 for d in dims):
        return None
    return tuple(int(d.dim_value) for d in dims)


def _nested_flop_nodes(graph: GraphProto) -> int:
    """Count FLOP-bearing nodes that live in subgraphs (their trip count is unknown)."""
    subgraphs = list(graphs(graph))[1:]
    return sum(1 for g in subgraphs for n in g.node if n.op_type in _FLOP_OPS)


def _node_flops(node: NodeProto, known: Mapping[str, Shape]) -> int | None:
    """Return the node's FLOPs, or None if a shape it needs is unknown or malformed."""
    first, second = _operand_shape(node, 0, known), _operand_shape(node, 1, known)
    try:
        if node.op_type == "Conv":
            output = known.get(node.output[0]) if node.output else None
            return _conv_flops(second, output)
        if node.op_type == "ConvTranspose":
            return _conv_transpose_flops(first, second)
        if node.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            trans_a, trans_b = bool(attrs.get("transA", 0)), bool(attrs.get("transB", 0))
            return _gemm_flops(first, second, trans_a, trans_b)
        return _matmul_flops(first, second)
    except (IndexError, ValueError):  # shapes that contradict the op's definition
        return None


def _operand_shape(node: NodeProto, index: int, known: Mapping[str, Shape]) -> Shape | None:
    """Return the static shape of the node's index-th input, if present and known."""
    if index >= len(node.input) or not node.input[index]:
        return None
    return known.get(node.input[index])


def _conv_flops(weight: Shape | None, output: Shape | None) -> int | None:
    """Return 2 * |Y| * (C_in / groups) * prod(kernel); W is (M, C_in/groups, k...)."""
    if weight is None or output is None or len(weight) < 3:
        return None
    return 2 * _numel(output) * weight[1] * _numel(weight[2:])


def _conv_transpose_flops(data: Shape | None, weight: Shape | None) -> int | None:
    """Return 2 * |X| * (C_out / groups) * prod(kernel); W is (C_in, C_out/groups, k...).

    Every input element is multiplied into a (C_out/groups) x kernel patch of the output.
    """
    if data is None or weight is None or len(weight) < 3:
        return None
    return 2 * _numel(data) * weight[1] * _numel(weight[2:])


def _gemm_flops(a: Shape | None, b: Shape | None, trans_a: bool, trans_b: bool) -> int | None:
    """Return 2 * M * N * K for Y = op(A) @ op(B) (+ C, whose adds are ignored)."""
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return None
    m, k = (a[1], a[0]) if trans_a else a
    n = b[0] if trans_b else b[1]
    return 2 * m * n * k


def _matmul_flops(a: Shape | None, b: Shape | None) -> int | None:
    """Return 2 * batch * M * N * K with numpy matmul semantics (1-D operands, broadcasting)."""
    if a is None or b is None or not a or not b:
        return None
    # numpy promotes a 1-D left operand to a row and a 1-D right operand to a column.
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    m, k = a2[-2:]
    n = b2[-1]
    if b2[-2] != k:
        return None
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    return 2 * _numel(batch) * m * n * k


# --- misc ----------------------------------------------------------------------------


def _sorted_desc(counts: Mapping[str, int]) -> dict[str, int]:
    """Return the mapping ordered by value descending, then key."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
