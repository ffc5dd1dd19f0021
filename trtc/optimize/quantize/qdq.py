"""The Q/DQ model from a placement and calibrated ranges (ONNX Runtime's ``QDQQuantizer``).

For TensorRT: symmetric int8, per-channel int8 weights kept in float behind a
QuantizeLinear/DequantizeLinear pair (the form pytorch-quantization and ModelOpt
export: TensorRT folds the pair into int8 weights itself, whereas int8
initializers in a MatMul that TensorRT 8.6 hands to Myelin fail its
``convertMyelinWeightsToFp32`` assertion; fp8, which needs TensorRT 9+, keeps
ONNX Runtime's fp8 initializers), float biases (TensorRT 8.6's parser
rejects an int32 bias DequantizeLinear), no Q/DQ after the quantized ops, and
the residual Add's conv branch fed float. For ONNX Runtime on CPU:
ORT's own defaults with uint8 activations and int8 per-channel weights (the
layout its QLinear kernels fuse). Building never runs the model: the ranges
come from the cached calibration.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from trtc.errors import ModelError
from trtc.optimize.quantize.calibrate import quiet_stdout
from trtc.optimize.quantize.placement import Placement
from trtc.optimize.quantize.report import QdqSummary
from trtc.optimize.surgery import remove_dead_nodes, toposort
from trtc.tensorrt.model import QDQ_PRECISION_KEY, QDQ_TARGET_KEY

#: The model metadata build reads to refuse a Q/DQ model made for the other backend:
#: one definition, in the pure TensorRT decisions module that checks it.
META_TARGET = QDQ_TARGET_KEY
META_PRECISION = QDQ_PRECISION_KEY

RangesFor = Callable[[str, Sequence[str]], Any]


class _PerTensorFallback(logging.Filter):
    """Drops ONNX Runtime's "Axis 1 is out-of-range for weight 'W' with rank 1".

    Its quantizer logs that (on the root logger) for every rank-1 weight it was asked to
    quantize per channel, LayerNormalization's scale and bias among them, and then
    quantizes the weight per tensor, which is right: on DistilBERT that was 320 raw
    ``WARNING:root:`` lines and nothing to do about them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "is out-of-range for weight" not in record.getMessage()


@contextlib.contextmanager
def _quiet_per_tensor_fallback() -> Iterator[None]:
    root = logging.getLogger()
    dropped = _PerTensorFallback()
    root.addFilter(dropped)
    try:
        yield
    finally:
        root.removeFilter(dropped)


def qdq_model(model: Any, placement: Placement, ranges_for: RangesFor, *, precision: str,
              target: str, method: str) -> Any:
    """Return a Q/DQ copy of ``model`` as ``placement`` says (``model`` is left untouched).

    ``ranges_for(method, tensor_names)`` returns ONNX Runtime ``TensorsData``
    (a :class:`~trtc.optimize.quantize.ranges.RangeBook`); fp8 always uses ONNX
    Runtime's ``distribution`` calibration, its only one for float8.

    Raises:
        ModelError: ONNX Runtime's quantizer cannot quantize the model (e.g. an
            all-zero weight gives fp8 a NaN scale).
    """
    from onnxruntime.quantization import QDQQuantizer, QuantType
    from onnxruntime.quantization.quant_utils import update_opset_version

    work = copy.deepcopy(model)
    if precision == "fp8":
        qtype, method = QuantType.QFLOAT8E4M3FN, "distribution"
    else:
        qtype = QuantType.QInt8
    act_type = QuantType.QUInt8 if target == "onnxruntime-cpu" and precision == "int8" \
        else qtype
    extra: dict[str, Any] = {}
    if target == "tensorrt":
        extra = {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                 "DedicatedQDQPair": True, "AddQDQPairToWeight": precision == "int8",
                 "OpTypesToExcludeOutputQuantization": list(placement.op_types)}
    if placement.excluded:
        # With asymmetric (uint8) activations ONNX Runtime drops a Relu / Clip after a
        # quantized op and gives its output name to the op's output, unclipped: the Q
        # range clips instead. A float node reading that name (rewired past its Q/DQ
        # below) would then read the unclipped tensor (ppocr_rec's hard-swish
        # x * clip(x + 3) went from drop 0.07 to 0.13 with one Mul in float).
        extra["QDQKeepRemovableActivations"] = True
    work = update_opset_version(work, qtype, act_type)
    ranges = ranges_for(method, _activation_names(work, placement))
    with quiet_stdout(), _quiet_per_tensor_fallback():
        quantizer = QDQQuantizer(work, precision == "int8", False, qtype, act_type, ranges,
                                 list(placement.nodes), list(placement.excluded),
                                 list(placement.op_types), extra)
        try:
            out = quantizer.quantize_model()
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise ModelError(f"ONNX Runtime's quantizer cannot quantize this model to "
                             f"{precision}: {first}",
                             "keep the layer it names in float (--exclude-nodes), or use "
                             "another precision") from None
    _restore_float_inputs(out, [*placement.float_add_inputs.items(),
                                *((name, None) for name in placement.excluded)])
    toposort(out)  # ORT appends the Q/DQ nodes it adds; the checker wants them in order
    if target == "tensorrt":
        write_kernel_shapes(out)
    set_metadata(out, target, precision)
    return out


def write_kernel_shapes(model: Any) -> int:
    """Give every Conv / ConvTranspose without ``kernel_shape`` its weight's spatial dims.

    The attribute is optional in ONNX (the weight's shape says it), but TensorRT 8.6's
    parser reads the kernel size from a weight that is not an initializer (a
    DequantizeLinear's output) only through it, and refuses the node otherwise ("The
    input tensor shape misaligns with the input kernel shape"); PyTorch's exporters
    always write it, hand-made and some converted models do not. Returns how many
    nodes got it.
    """
    from onnx import helper

    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    written = 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 2 or \
                any(a.name == "kernel_shape" for a in node.attribute):
            continue
        weight = node.input[1]
        while weight not in shapes and weight in producer and \
                producer[weight].op_type in ("DequantizeLinear", "QuantizeLinear"):
            weight = producer[weight].input[0]  # back past the weight's Q/DQ pair
        dims = shapes.get(weight)
        if dims is not None and len(dims) > 2:
            node.attribute.append(helper.make_attribute("kernel_shape", dims[2:]))
            written += 1
    return written


def _activation_names(model: Any, placement: Placement) -> list[str]:
    nodes = set(placement.nodes)
    return sorted({t for n in model.graph.node if n.name in nodes for t in (*n.input, *n.output)
                   if t})


def _restore_float_inputs(model: Any, float_inputs: Iterable[tuple[str, int | None]]) -> None:
    """Feed float tensors back to (node, input index | None = every input) past Q/DQ pairs.

    ONNX Runtime quantizes a tensor once for all its readers, so a node left in
    float (excluded, or an Add's conv branch) may still read the DequantizeLinear
    output another node asked for; here it reads the original tensor again, and
    Q/DQ nodes nobody reads any more are dropped (onnx-graphsurgeon's cleanup).
    """
    graph = model.graph
    wanted: dict[str, set[int] | None] = {}
    for name, index in float_inputs:
        if index is None:
            wanted[name] = None
        elif wanted.get(name, set()) is not None:
            wanted.setdefault(name, set()).add(index)  # type: ignore[union-attr]
    producer = {o: n for n in graph.node for o in n.output}
    rewired = False
    for node in graph.node:
        if node.name not in wanted:
            continue
        indices = wanted[node.name]
        for k, tensor in enumerate(node.input):
            if indices is not None and k not in indices:
                continue
            dq = producer.get(tensor)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            qnode = producer.get(dq.input[0])
            if qnode is not None and qnode.op_type == "QuantizeLinear":
                node.input[k] = qnode.input[0]
                rewired = True
    if rewired:
        remove_dead_nodes(model)


def set_metadata(model: Any, target: str | None, precision: str) -> None:
    """Record target and precision in the model (build refuses a model made for another target).

    ``target`` None (fp16/bf16: plain casts, no Q/DQ) leaves the target key out,
    so every backend accepts the model.
    """
    for entry in [p for p in model.metadata_props if p.key in (META_TARGET, META_PRECISION)]:
        model.metadata_props.remove(entry)
    for key, value in ((META_TARGET, target), (META_PRECISION, precision)):
        if value is not None:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value


def qdq_inputs(model: Any) -> list[str]:
    """The activations a QuantizeLinear reads: the ones calibration.json records ranges of
    (a weight's QuantizeLinear reads an initializer: its scale comes from the weight)."""
    weights = {i.name for i in model.graph.initializer}
    return [n.input[0] for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[0] not in weights]


def qdq_summary(model: Any) -> QdqSummary:
    """Count Q/DQ nodes and list the nodes that read a DequantizeLinear output."""
    producer = {o: n for n in model.graph.node for o in n.output}
    quantized = sorted({n.name for n in model.graph.node
                        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and
                        any(producer.get(i) is not None and
                            producer[i].op_type == "DequantizeLinear" for i in n.input)})
    ops = [n.op_type for n in model.graph.node]
    return QdqSummary(ops.count("QuantizeLinear"), ops.count("DequantizeLinear"), quantized)
