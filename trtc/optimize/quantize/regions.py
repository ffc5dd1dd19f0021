"""FP16 regions in a Q/DQ model: what runs in float is written as fp16 with Casts around it.

TensorRT 11 networks are strongly typed: a node left in float by the accuracy
budget (or never quantized: Softmax, LayerNorm, the head) runs in the type the
ONNX gives it, fp32, unless the graph says fp16. ``quantize.float_precision:
fp16`` writes that: every node outside the int8 part is converted with ONNX
Runtime's fp16 converter (through :func:`trtc.optimize.fp16.convert_float`, so
its block list, opset checks and the calibrated-overflow rule apply), and the
int8 part stays as TensorRT fuses it: the Q/DQ nodes, every node reading a
DequantizeLinear (the quantized Conv / MatMul / Add) and every node writing the
tensor a QuantizeLinear reads keep fp32, so each Q/DQ pair keeps its fp32 scale
and its fusion. Casts sit where an fp16 region meets the int8 part. A float
region with no heavy op (:data:`HEAVY_OPS`) stays fp32: pointwise glue between
int8 layers fuses into them, and converting it would only add Casts.

On TensorRT 8.6 / 10 (weak typing) the same graph builds with the fp16 flag,
which trtc's build sets when the model says so (:data:`FLOAT_PRECISION_KEY`),
as trtexec's ``--best`` would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trtc.optimize.fp16 import KeptNode, convert_float
from trtc.tensorrt.model import FLOAT_PRECISION_KEY, QDQ_OPS

#: A float region is written in fp16 only when it holds one of these: pointwise glue
#: between int8 layers (a Relu, a hard-swish's Mul) fuses into them in fp32 anyway, and
#: converting it would put a Cast on either side.
HEAVY_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum", "LSTM", "GRU",
                       "RNN", "Softmax", "LayerNormalization", "InstanceNormalization",
                       "GroupNormalization", "BatchNormalization", "ReduceMean", "Attention"})


def int8_part(model: Any) -> list[str]:
    """The nodes that stay fp32 in an fp16-region model: Q/DQ, their readers and writers."""
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    quantized = {n.input[0] for n in graph.node if n.op_type == "QuantizeLinear"}
    names: list[str] = []
    for node in graph.node:
        reads_dq = any(producer.get(i) is not None and producer[i].op_type == "DequantizeLinear"
                       for i in node.input)
        if node.op_type in QDQ_OPS or reads_dq or any(o in quantized for o in node.output):
            names.append(node.name)
    return names


def fp32_nodes(model: Any) -> list[str]:
    """The int8 part, and every float region (connected nodes outside it) with no heavy op."""
    graph = model.graph
    fixed = set(int8_part(model))
    free = [n for n in graph.node if n.name not in fixed]
    parent = {n.name: n.name for n in free}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    writer = {o: n.name for n in free for o in n.output}
    for node in free:
        for tensor in node.input:
            other = writer.get(tensor)
            if other is not None:
                parent[root(other)] = root(node.name)
    heavy = {root(n.name) for n in free if n.op_type in HEAVY_OPS}
    return [n.name for n in graph.node if n.name in fixed or root(n.name) not in heavy]


def fp16_regions(model: Any, ranges: Mapping[str, tuple[float, float]] | None = None
                 ) -> tuple[Any, list[KeptNode]]:
    """The Q/DQ ``model`` with its float part in fp16 (Casts at the int8 part and the I/O).

    ``ranges``: calibrated (min, max) per tensor; a node reading or writing beyond
    fp16's range stays fp32. Returns the model (metadata
    ``trtc.quantize.float_precision: fp16``) and the nodes of the float part kept
    in fp32 with their reasons (the int8 part is not listed).

    Raises:
        ModelError: the conversion gives a graph that does not type-check.
    """
    from trtc.graph.names import name_nodes

    work = type(model)()
    work.CopyFrom(model)
    name_nodes(work.graph)
    fixed = fp32_nodes(work)
    converted, kept = convert_float(work, "fp16", keep_io_types=True, block_nodes=fixed,
                                    ranges=ranges)
    fixed_set = set(fixed)
    for entry in [p for p in converted.metadata_props if p.key == FLOAT_PRECISION_KEY]:
        converted.metadata_props.remove(entry)
    entry = converted.metadata_props.add()
    entry.key, entry.value = FLOAT_PRECISION_KEY, "fp16"
    return converted, [k for k in kept if k.name not in fixed_set]

