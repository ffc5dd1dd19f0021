"""Where Q/DQ go, per target runtime: TensorRT's placement rules and ONNX Runtime CPU's.

Pure: it reads the graph and changes nothing. Computed once per quantize; a
budget search narrows it with :meth:`Placement.without` instead of planning again.

* TensorRT: Q/DQ only at the inputs of Conv/ConvTranspose/Gemm/MatMul and the
  residual input of Add (NVIDIA's recipe, tools/tensorflow-quantization
  ``ResidualConnectionQDQCase``): the Add's conv branch stays float so TensorRT
  fuses the Add into that convolution.
* ONNX Runtime on CPU: every op ONNX Runtime's QDQ / QLinear registries quantize.
* Both: nodes that compute shapes (everything fed only from ``Shape`` / ``Size``
  outputs, e.g. a Resize's output size computed in float) are never quantized:
  rounding a shape to int8 steps changes the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trtc.errors import ModelError, UsageError, did_you_mean

TARGETS = ("tensorrt", "onnxruntime-cpu")
#: Ops whose inputs TensorRT wants quantized (it fuses Q/DQ into these kernels).
TRT_WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
#: Ops between a weighted op and an Add that still make its output the "conv branch".
_CONV_TAIL_OPS = ("BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSwish",
                  "Dropout", "Identity")
#: Ops whose outputs are shapes: whatever is computed only from them is a shape computation.
SHAPE_SOURCE_OPS = ("Shape", "Size")
#: Ops TensorRT's Q/DQ optimizer moves a QuantizeLinear backward across (a Q after a
#: Concat is split over the Concat's inputs): a Resize kept in float stays float only if
#: no Q beyond them reads it.
TRT_Q_CROSSES = ("Concat", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze",
                 "Slice", "MaxPool", "Resize")
#: Ops whose inputs after the first are parameters (sizes, pads, indices), never quantized.
PARAMETER_INPUT_OPS = ("Resize", "Upsample", "Pad", "Slice", "Reshape", "Expand", "Tile",
                       "Split", "Gather", "GatherElements", "GatherND", "Unsqueeze", "Squeeze")


@dataclass(frozen=True)
class Placement:
    """Which nodes ONNX Runtime quantizes, and which Add inputs stay float afterwards."""

    nodes: tuple[str, ...]
    op_types: tuple[str, ...]
    #: Add node name -> the input index left float (the conv branch TensorRT fuses the Add into).
    float_add_inputs: dict[str, int] = field(default_factory=dict)
    #: Nodes the user (or a budget search) keeps in float.
    excluded: tuple[str, ...] = ()
    #: Nodes kept in float because an excluded Resize needs it (:func:`trt_float_readers`).
    implied: tuple[str, ...] = ()

    def without(self, names: Iterable[str]) -> Placement:
        """This placement with ``names`` left in float too (no new graph walk)."""
        drop = [n for n in names if n not in self.excluded]
        if not drop:
            return self
        gone = set(drop)
        return dataclasses.replace(
            self, nodes=tuple(n for n in self.nodes if n not in gone),
            float_add_inputs={k: v for k, v in self.float_add_inputs.items() if k not in gone},
            excluded=(*self.excluded, *drop))


def check_exclusions(model: Any, exclude_nodes: Iterable[str], exclude_ops: Iterable[str],
                     where: str = "exclude_nodes") -> None:
    """Fail naming the first excluded node / op type the model does not have.

    Raises:
        UsageError: with a close-match suggestion.
    """
    names = [n.name for n in model.graph.node]
    for name in exclude_nodes:
        if name not in names:
            raise UsageError(f"{where}: the model has no node '{name}'",
                             did_you_mean(name, names, "list node names with: trtc inspect "
                                          "MODEL.onnx --json"))
    ops = sorted({n.op_type for n in model.graph.node})
    for op in exclude_ops:
        if op not in ops:
            raise UsageError(f"exclude_ops: the model has no '{op}' node",
                             did_you_mean(op, ops, f"op types in the model: {', '.join(ops)}"))


def plan_placement(model: Any, target: str, exclude_nodes: Iterable[str] = (),
                   exclude_ops: Iterable[str] = ()) -> Placement:
    """Decide where Q/DQ go for ``target``.

    Raises:
        ModelError: no node of the model can be quantized for this target.
    """
    exclude_nodes = tuple(exclude_nodes)
    implied = trt_float_readers(model, exclude_nodes) if target == "tensorrt" else ()
    skip_nodes, skip_ops = {*exclude_nodes, *implied}, set(exclude_ops)
    skip_nodes |= shape_nodes(model)
    if target == "tensorrt":
        placement = _trt_placement(model, skip_nodes, skip_ops)
    else:
        ops = tuple(sorted(set(_ort_default_ops()) - skip_ops))
        nodes = tuple(n.name for n in model.graph.node
                      if n.op_type in ops and n.name not in skip_nodes)
        placement = Placement(nodes, ops)
    placement = dataclasses.replace(placement, excluded=(*exclude_nodes, *implied),
                                    implied=implied)
    check_quantizable(model, placement, target, bool(skip_ops or set(exclude_nodes)))
    return placement


def trt_float_readers(model: Any, exclude_nodes: Iterable[str]) -> tuple[str, ...]:
    """The nodes an excluded Resize needs in float too, for TensorRT.

    TensorRT moves a Q/DQ pair across a Resize: a Q after it (its reader's input) goes in
    front of it, a DQ before it after it, and either makes it int8 again, where 8.6 has no
    kernel for some shapes (ppocr_det: "Could not find any implementation for node
    p2o.Resize.0"). So its readers stay in float, and through a reader TensorRT moves a Q
    backward across (a Concat, a reshaping op: :data:`TRT_Q_CROSSES`), that reader's
    readers ("Swapping p2o.Resize.3 with p2o.Concat.1_QuantizeLinear_clone_0": the Q of
    the Conv after a Concat of three Resizes). The Resize's own inputs are made float by
    the exclusion itself. A reader excluded already is crossed all the same (ppocr_det's
    retry excluded the Concat, and its Conv reader's Q went on making the Resizes int8:
    "Could not find any implementation for node p2o.Resize.5"). Returns the added names in
    graph order, without the excluded.
    """
    excluded = set(exclude_nodes)
    nodes = list(model.graph.node)
    tensors = {t for n in nodes if n.name in excluded and n.op_type == "Resize"
               for t in n.output}
    seen: set[str] = set()
    out: list[str] = []
    while tensors:
        readers = [n for n in nodes if n.name not in seen and set(n.input) & tensors]
        seen.update(n.name for n in readers)
        out += [n.name for n in readers if n.name not in excluded]
        tensors = {t for n in readers if n.op_type in TRT_Q_CROSSES for t in n.output}
    order = {n.name: i for i, n in enumerate(nodes)}
    return tuple(sorted(out, key=order.__getitem__))


def check_quantizable(model: Any, placement: Placement, target: str,
                      after_exclusions: bool = True) -> None:
    """Raise ModelError when ``placement`` quantizes nothing useful (a lone Add is not).

    Raises:
        ModelError: no node left to quantize.
    """
    ops_of = {n.name: n.op_type for n in model.graph.node}
    useful = [n for n in placement.nodes if target != "tensorrt" or ops_of[n] != "Add"]
    if useful:
        return
    wanted = ("Conv, ConvTranspose, Gemm, MatMul or residual Add" if target == "tensorrt"
              else "op that ONNX Runtime quantizes")
    raise ModelError(f"the model has no quantizable nodes (no {wanted} left"
                     f"{' after exclusions' if after_exclusions else ''})",
                     "quantize a model with Conv/Gemm/MatMul layers, or use --precision fp16")


def reading_empty(model: Any, placement: Placement, empty: Iterable[str]) -> list[str]:
    """Placed nodes that would quantize a tensor calibration saw empty (zero-size).

    Only data inputs and outputs count: the parameter inputs of ops such as
    Resize (``roi``, ``scales``) are never quantized.
    """
    empty = set(empty)
    placed = set(placement.nodes)
    found = []
    for node in model.graph.node:
        if node.name not in placed:
            continue
        data = node.input[:1] if node.op_type in PARAMETER_INPUT_OPS else node.input
        if empty & {*data, *node.output}:
            found.append(node.name)
    return found


def shape_nodes(model: Any) -> set[str]:
    """Nodes that compute shapes: every non-constant input comes from a Shape / Size chain."""
    graph = model.graph
    constants = {i.name for i in graph.initializer} | {
        o for n in graph.node if n.op_type == "Constant" for o in n.output}
    shaped: set[str] = set()
    found: set[str] = set()
    for node in graph.node:  # ONNX graphs are topologically sorted
        inputs = [i for i in node.input if i and i not in constants]
        if node.op_type in SHAPE_SOURCE_OPS or (inputs and all(i in shaped for i in inputs)):
            shaped.update(node.output)
            found.add(node.name)
    return found


def _ort_default_ops() -> list[str]:
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return sorted(set(QDQRegistry) | set(QLinearOpsRegistry))


def _trt_placement(model: Any, skip_nodes: set[str], skip_ops: set[str]) -> Placement:
    graph = model.graph
    constants = {i.name for i in graph.initializer} | {
        o for n in graph.node if n.op_type == "Constant" for o in n.output}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, int] = {}
    for n in graph.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    graph_outputs = {o.name for o in graph.output}

    def conv_branch(tensor: str) -> bool:
        """Conv, Conv-BN, Conv-BN-Act, ...: a weighted op's own output, used only here."""
        seen = 0
        while tensor in producer and seen < 4:
            node = producer[tensor]
            if consumers.get(tensor, 0) != 1 or tensor in graph_outputs:
                return False
            if node.op_type in TRT_WEIGHTED_OPS:
                return True
            if node.op_type not in _CONV_TAIL_OPS:
                return False
            tensor, seen = node.input[0], seen + 1
        return False

    nodes: list[str] = []
    float_inputs: dict[str, int] = {}
    for node in graph.node:
        if node.name in skip_nodes or node.op_type in skip_ops:
            continue
        if node.op_type in TRT_WEIGHTED_OPS:
            nodes.append(node.name)
        elif node.op_type == "Add" and len(node.input) == 2 and \
                not any(i in constants for i in node.input):
            # NVIDIA: Q/DQ on every Add input except one conv branch, which the Add fuses into.
            conv_inputs = [k for k, t in enumerate(node.input) if conv_branch(t)]
            if conv_inputs:
                float_inputs[node.name] = conv_inputs[0]
            nodes.append(node.name)
    ops = tuple(op for op in (*TRT_WEIGHTED_OPS, "Add") if op not in skip_ops)
    return Placement(tuple(nodes), ops, float_inputs)
