"""Per-node quantization error in two ONNX Runtime runs: rank nodes without re-quantizing each.

The signal the accuracy budget ranks by: each candidate node is computed twice from
the same FP32 inputs, once as the FP32 model computes it and once behind the Q/DQ
nodes the quantized model puts on its inputs and weights; its score is the relative
error of its output, ``||y_q - y|| / ||y||`` over the evaluation data (all of a
node's outputs summed). The node is isolated: what an upstream node got wrong is
not charged to it. Comparing the all-int8 model's activations with FP32's instead
charges every node with the error accumulated above it, so the deepest nodes rank
first; subtracting the inputs' accumulated error from the output's is noisier
still. On ppocr_rec (int8 for ONNX Runtime, 300 nodes scored) the top 25 nodes by
this signal in float cut the held-out cosine drop from 0.073 to 0.036; by the
accumulated error 0.071, by the added error 0.070, 25 random nodes 0.063
(docs/zoo-findings.md F11).

How: one run of the FP32 model with the tensors the probes read exposed as extra
outputs, then one run of a *probe* graph holding a copy of every candidate node
with its Q/DQ chain, fed those FP32 tensors; per sample, so memory is one sample's
activations. A node that cannot be matched (missing from either graph, subgraph
bodies, an input neither graph explains) gets no score: the caller measures such
nodes group-wise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtc.optimize.sensitivity import cpu_session

Feed = dict[str, np.ndarray]

#: Appended to the names of the probe graph's copies (nodes and the tensors they write).
SUFFIX = "__trtc_probe"


@dataclass
class Probe:
    """The probe graph's parts: copied nodes, their initializers and the FP32 tensors fed."""

    nodes: list[Any] = field(default_factory=list)
    initializers: dict[str, Any] = field(default_factory=dict)
    #: Reference (FP32) tensors the copies read: probe graph inputs.
    feeds: set[str] = field(default_factory=set)
    #: Candidate node -> [(probe output, the FP32 model's same output)].
    outputs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: Names of the copied nodes (a Q/DQ pair two candidates read is copied once).
    copied: set[str] = field(default_factory=set)


def layer_errors(reference: Any, quantized: Any, nodes: Iterable[str],
                 feeds: Sequence[Feed]) -> dict[str, float]:
    """Each matched node's isolated output error (relative L2) under ``quantized``'s Q/DQ.

    ``reference`` is the FP32 model ``quantized`` was made from (same node names).
    Nodes missing from the result could not be matched; {} when none could, or when
    ONNX Runtime cannot run the probe.
    """
    probe = build_probe(reference, quantized, nodes)
    if not probe.outputs or not feeds:
        return {}
    try:
        return _measure(reference, quantized, probe, feeds)
    except Exception:  # noqa: BLE001 - ORT's exception classes; the caller measures groups
        return {}


def build_probe(reference: Any, quantized: Any, nodes: Iterable[str]) -> Probe:
    """Copy each candidate with its Q/DQ inputs; unmatched candidates are left out."""
    graph = _Graphs(reference, quantized)
    probe = Probe()
    for name in nodes:
        graph.copy_node(name, probe)
    return probe


class _Graphs:
    """Lookups over both models: producers, initializers, and FP32 names of int8 tensors."""

    def __init__(self, reference: Any, quantized: Any) -> None:
        ref, q = reference.graph, quantized.graph
        self.ref_nodes = {n.name: n for n in ref.node}
        self.q_nodes = {n.name: n for n in q.node}
        self.producer = {o: n for n in q.node for o in n.output if o}
        self.q_inits = {t.name: t for t in q.initializer}
        self.ref_inputs = {i.name for i in ref.input}
        self.ref_tensors = self.ref_inputs | {o for n in ref.node for o in n.output if o}
        # ONNX Runtime may rename a quantized node's output (a graph output gets Q/DQ
        # behind it): the same node's outputs by position give the FP32 name.
        self.alias: dict[str, str] = {}
        for node in q.node:
            if node.name in self.ref_nodes:
                self.alias.update(zip(node.output, self.ref_nodes[node.name].output))

    def copy_node(self, name: str, probe: Probe) -> None:
        """Add ``name``'s copy (and the Q/DQ it reads) to ``probe``; skip it when unmatched."""
        node, ref = self.q_nodes.get(name), self.ref_nodes.get(name)
        if node is None or ref is None or len(node.output) != len(ref.output) or \
                any(a.HasField("g") or len(a.graphs) for a in node.attribute):
            return
        staged = Probe(copied=set(probe.copied))
        inputs = [self._input(t, staged) if t else "" for t in node.input]
        if None in inputs:
            return
        copy = _renamed(node, [t for t in inputs if t is not None])
        probe.nodes += [*staged.nodes, copy]
        probe.initializers.update(staged.initializers)
        probe.feeds |= staged.feeds
        probe.copied |= staged.copied
        probe.outputs[name] = [(c, r) for c, r in zip(copy.output, ref.output) if c and r]

    def _input(self, tensor: str, probe: Probe) -> str | None:
        """The probe's name for ``tensor``: a copied Q/DQ output, an initializer or a feed."""
        if tensor in self.q_inits:
            probe.initializers[tensor] = self.q_inits[tensor]
            return tensor
        node = self.producer.get(tensor)
        if node is not None and node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            inputs = [self._input(t, probe) if t else "" for t in node.input]
            if None in inputs:
                return None
            copy = _renamed(node, [t for t in inputs if t is not None])
            if copy.name not in probe.copied:
                probe.nodes.append(copy)
                probe.copied.add(copy.name)
            return copy.output[0]
        source = self.alias.get(tensor, tensor)
        if source not in self.ref_tensors:
            return None
        probe.feeds.add(source)
        return source


def _renamed(node: Any, inputs: list[str]) -> Any:
    import onnx

    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.name = node.name + SUFFIX
    del copy.input[:]
    copy.input.extend(inputs)
    del copy.output[:]
    copy.output.extend(o + SUFFIX if o else "" for o in node.output)
    return copy


def _measure(reference: Any, quantized: Any, probe: Probe, feeds: Sequence[Feed]
             ) -> dict[str, float]:
    """Sum the squared error and the squared FP32 norm of every probed output, per sample."""
    wanted = sorted({r for pairs in probe.outputs.values() for _, r in pairs} |
                    (probe.feeds - set(feeds[0])))
    fp32 = cpu_session(with_outputs(reference, wanted))
    error: dict[str, float] = dict.fromkeys(probe.outputs, 0.0)
    norm: dict[str, float] = dict.fromkeys(probe.outputs, 0.0)
    session: Any = None
    for feed in feeds:
        values = dict(zip(wanted, fp32.run(wanted, feed)))
        values.update(feed)
        if session is None:
            session = cpu_session(probe_model(quantized, probe, values))
        names = [c for pairs in probe.outputs.values() for c, _ in pairs]
        got = dict(zip(names, session.run(names, {t: values[t] for t in probe.feeds})))
        for node, pairs in probe.outputs.items():
            for copy, ref in pairs:
                e, n = _squared(got[copy], values[ref])
                error[node] += e
                norm[node] += n
    return {node: float(np.sqrt(error[node] / norm[node])) if norm[node] > 0 else 0.0
            for node in probe.outputs}


def _squared(got: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    if not np.issubdtype(np.asarray(ref).dtype, np.floating):
        return 0.0, 0.0
    x, y = np.asarray(got, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    return float(np.sum((x - y) ** 2)), float(np.sum(y ** 2))


def with_outputs(model: Any, names: Iterable[str]) -> Any:
    """A copy of ``model`` with ``names`` exposed as extra graph outputs (no types needed)."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    have = {o.name for o in out.graph.output}
    for name in names:
        if name not in have:
            out.graph.output.append(onnx.ValueInfoProto(name=name))
    return out


def probe_model(quantized: Any, probe: Probe, values: Feed) -> Any:
    """The probe graph as a model: inputs typed from one sample's FP32 ``values``."""
    import onnx
    from onnx import helper

    inputs = [helper.make_tensor_value_info(t, helper.np_dtype_to_tensor_dtype(
        np.asarray(values[t]).dtype), None) for t in sorted(probe.feeds)]
    outputs = [onnx.ValueInfoProto(name=c) for pairs in probe.outputs.values()
               for c, _ in pairs]
    graph = helper.make_graph(probe.nodes, "trtc-layer-error-probe", inputs, outputs,
                              list(probe.initializers.values()))
    return helper.make_model(graph, opset_imports=list(quantized.opset_import),
                             ir_version=quantized.ir_version)

