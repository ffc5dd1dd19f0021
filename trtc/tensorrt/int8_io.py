"""The ONNX TensorRT parses when a network input or output is int8 (``int8:chw32``).

TensorRT takes an int8 network tensor only where the Q/DQ graph already has int8: an
int8 input must be read by a DequantizeLinear, an int8 output written by a
QuantizeLinear. Setting ``ITensor.dtype`` to INT8 on the float input of a
QuantizeLinear fails the build (TensorRT 8.6.0):

    [qdqGraphOptimizer.cpp::quantizePaths::3882] Error Code 1: Internal Error (Node qx
    cannot be quantized by x. You might want to add a DQ node before qx)

So before parsing, each int8 input's QuantizeLinear is removed (its readers, the
DequantizeLinear, read the input, now declared INT8), and each int8 output's final
DequantizeLinear is removed (the output is the QuantizeLinear's int8 tensor, under the
output's name). The host does what the removed nodes did, with the same scale
(``io_scales``): ``to_engine_layout`` quantizes an input as the QuantizeLinear did, and
``from_engine_layout`` dequantizes an output as the DequantizeLinear did.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.errors import UsageError

if TYPE_CHECKING:
    from trtc.tensorrt.versions import TrtFeatures

_HINT = ("quantize the model with trtc quantize --target tensorrt (a per-tensor "
         "QuantizeLinear / DequantizeLinear pair at the tensor, zero point 0), or use fp16 I/O")


def int8_io_names(model: Any, input_specs: Sequence[str], output_specs: Sequence[str],
                  feats: TrtFeatures) -> tuple[list[str], list[str]]:
    """The graph inputs and outputs of ``model`` (a ModelProto) the specs make int8."""
    from trtc.tensorrt.io_formats import assign_io_formats, parse_io_formats

    found: list[list[str]] = []
    for what, specs, values in (("input", input_specs, model.graph.input),
                                ("output", output_specs, model.graph.output)):
        key = f"build.{what}_formats"
        tensors = {v.name: ("", tuple(v.type.tensor_type.shape.dim)) for v in values}
        chosen = assign_io_formats(parse_io_formats(specs, key, feats), tensors, key, what)
        found.append([n for n, f in chosen.items() if f.dtype == "int8"])
    return found[0], found[1]


def with_int8_io(model: Any, inputs: Sequence[str] = (), outputs: Sequence[str] = ()
                 ) -> Any:
    """A copy of ``model`` (a ModelProto) whose ``inputs`` and ``outputs`` are int8.

    An input already INT8 in the ONNX, or an output already written by a QuantizeLinear,
    is left as it is. Initializers only the removed nodes read are dropped.

    Raises:
        UsageError: an input read by anything but per-tensor QuantizeLinear nodes with an
            int8 (or no) zero point, or an output not written by a per-tensor
            DequantizeLinear of a QuantizeLinear's tensor.
    """
    from onnx import ModelProto, TensorProto

    from trtc.tensorrt.io_formats import _constants, _scale

    out = ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    consts = _constants(graph)
    removed: list[Any] = []
    for name in inputs:
        vi = next(v for v in graph.input if v.name == name)
        if vi.type.tensor_type.elem_type == TensorProto.INT8:
            continue
        readers = [n for n in graph.node if name in n.input]
        if not readers or any(not _int8_quantize(n, name, consts) for n in readers):
            ops = ", ".join(sorted({f"{n.op_type} '{n.name}'" for n in readers})) or "nothing"
            raise UsageError(f"build.input_formats: int8 input '{name}' is read by {ops}; "
                             "TensorRT takes an int8 input only where a per-tensor "
                             "QuantizeLinear (zero point 0) read it", _HINT)
        for q in readers:
            _rename_uses(graph, q.output[0], name)
            removed.append(q)
        vi.type.tensor_type.elem_type = TensorProto.INT8
    for name in outputs:
        vo = next(v for v in graph.output if v.name == name)
        writer = next((n for n in graph.node if name in n.output), None)
        if writer is not None and writer.op_type == "QuantizeLinear":
            continue
        source = writer.input[0] if writer is not None and writer.input else ""
        producer = next((n for n in graph.node if source in n.output), None)
        if writer is None or writer.op_type != "DequantizeLinear" or \
                _scale(writer, consts) is None or producer is None or \
                producer.op_type != "QuantizeLinear" or \
                any(v.name == source for v in graph.output):
            what = f"{writer.op_type} '{writer.name}'" if writer is not None else "no node"
            raise UsageError(f"build.output_formats: int8 output '{name}' is written by "
                             f"{what}; TensorRT gives an int8 output only where a "
                             "per-tensor DequantizeLinear (zero point 0) of a "
                             "QuantizeLinear's tensor wrote it", _HINT)
        if any(name in n.input for n in graph.node):  # float readers keep their DQ
            _rename_uses(graph, name, f"{name}_float", outputs=False)
            writer.output[0] = f"{name}_float"
        else:
            removed.append(writer)
        # The Q node's tensor takes the output's name, so the engine's I/O keep theirs.
        _rename_uses(graph, source, name)
        for i, o in enumerate(producer.output):
            if o == source:
                producer.output[i] = name
        vo.type.tensor_type.elem_type = TensorProto.INT8
    keep = [n for n in graph.node if not any(n is r for r in removed)]
    del graph.node[:]
    graph.node.extend(keep)
    used = {i for n in graph.node for i in n.input} | {v.name for v in graph.output}
    unused = [t for t in graph.initializer if t.name not in used]
    for t in unused:
        graph.initializer.remove(t)
    dropped = {t.name for t in unused} | {o for r in removed for o in r.output}
    infos = [v for v in graph.value_info if v.name not in dropped]
    del graph.value_info[:]
    graph.value_info.extend(infos)
    return out


def int8_io_for_tensorrt(onnx_path: Path, tmp: Path, input_specs: Sequence[str],
                         output_specs: Sequence[str], feats: TrtFeatures
                         ) -> tuple[Path, list[str]]:
    """The model TensorRT should parse for int8 I/O: ``onnx_path`` itself when no
    tensor is int8 (or it already is in the ONNX), else a rewritten copy in ``tmp``.

    Returns:
        (the path to parse, notes for the user: what was removed).
    """
    import onnx

    head = onnx.load(str(onnx_path), load_external_data=False)
    inputs, outputs = int8_io_names(head, input_specs, output_specs, feats)
    if not inputs and not outputs:
        return onnx_path, []
    rewritten = with_int8_io(head, inputs, outputs)
    if rewritten == head:
        return onnx_path, []
    from trtc.graph.cleanup import save_onnx

    model = with_int8_io(onnx.load(str(onnx_path)), inputs, outputs)  # with its weights
    copy = tmp / f"{onnx_path.stem}.int8io.onnx"
    save_onnx(model, copy)
    parts = [f"the QuantizeLinear reading input '{n}'" for n in inputs] + \
        [f"the DequantizeLinear writing output '{n}'" for n in outputs]
    return copy, ["int8 I/O: " + "; ".join(parts) + " removed before parsing (TensorRT "
                  "takes int8 network tensors as the int8 side of a Q/DQ pair); the host "
                  "quantizes / dequantizes with the same scale"]


def _int8_quantize(node: Any, name: str, consts: dict[str, Any]) -> bool:
    """``node`` is a per-tensor QuantizeLinear of ``name`` to int8, zero point 0."""
    from trtc.tensorrt.io_formats import _scale, _to_int8

    return node.op_type == "QuantizeLinear" and node.input[0] == name and \
        name not in node.input[1:] and _scale(node, consts) is not None and \
        _to_int8(node, consts)


def _rename_uses(graph: Any, old: str, new: str, *, outputs: bool = True) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
    for vo in graph.output if outputs else ():
        if vo.name == old:
            vo.name = new
