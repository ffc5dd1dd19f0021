"""Graph surgery the optimizers share (onnx-graphsurgeon, imported inside functions)."""

from __future__ import annotations

from typing import Any

from trtc.errors import ModelError


def remove_dead_nodes(model: Any) -> None:
    """Drop nodes and initializers no graph output depends on, in place (``Graph.cleanup()``).

    Only the graph is replaced: the model's opsets, IR version and metadata stay.
    """
    import onnx_graphsurgeon as gs

    cleaned = gs.export_onnx(gs.import_onnx(model).cleanup())
    model.graph.CopyFrom(cleaned.graph)


def _outer_inputs(node: Any) -> set[str]:
    """Tensors a node reads: its inputs and what its subgraphs (If/Loop/Scan bodies) read
    from the enclosing scope."""
    names = {n for n in node.input if n}
    for attr in node.attribute:
        graphs = [attr.g] if attr.HasField("g") else list(attr.graphs)
        for graph in graphs:
            local = {i.name for i in graph.input} | {t.name for t in graph.initializer}
            for inner in graph.node:
                local.update(inner.output)
            for inner in graph.node:
                names.update(n for n in _outer_inputs(inner) if n not in local)
    return names


def toposort(model: Any) -> None:
    """Sort the main graph's nodes so every input is produced before it is read, in place.

    ONNX Runtime's quantizer and the float converter append the nodes they add;
    ONNX Runtime runs such a graph, but the ONNX checker (and TensorRT's parser) want
    it sorted. A node with subgraphs (If, Loop) also waits for the outer tensors its
    bodies read. The sort is stable: already ordered nodes keep their order.

    Raises:
        ModelError: the graph has a cycle (or reads a tensor nothing produces).
    """
    import heapq

    graph = model.graph
    nodes = list(graph.node)
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    producer = {out: k for k, node in enumerate(nodes) for out in node.output if out}
    needs = [{producer[n] for n in _outer_inputs(node) if n not in available and n in producer}
             - {k} for k, node in enumerate(nodes)]
    missing = [(node.name, n) for node in nodes for n in _outer_inputs(node)
               if n not in available and n not in producer]
    if missing:
        raise ModelError(f"the converted graph reads {missing[0][1]!r} (node "
                         f"{missing[0][0]!r}) but nothing produces it",
                         "check the input model with `trtc inspect`")
    users: dict[int, list[int]] = {}
    for k, deps in enumerate(needs):
        for d in deps:
            users.setdefault(d, []).append(k)
    waiting = [len(deps) for deps in needs]
    ready = [k for k, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        k = heapq.heappop(ready)
        order.append(k)
        for u in users.get(k, []):
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        raise ModelError("the converted graph cannot be sorted: it has a cycle",
                         "check the input model with `trtc inspect`")
    del graph.node[:]
    graph.node.extend(nodes[k] for k in order)
