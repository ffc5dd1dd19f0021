"""Node names in an ONNX graph: the handles exclusion and block lists refer to.

Pure protobuf walking (no onnx import needed): inspect, quantize and fp16 walk
subgraphs and name nodes the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def graphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph (If / Loop / Scan bodies), depth first."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from graphs(attr.g)
            for sub in attr.graphs:
                yield from graphs(sub)


def name_nodes(graph: Any) -> int:
    """Give unnamed or duplicate-named nodes (subgraphs too) unique, stable names.

    An unnamed node becomes ``<op_type>_<index>``, a repeated name ``<name>_<k>``; a new
    name never takes one another node already has. Returns how many nodes changed.
    """
    all_graphs = list(graphs(graph))
    taken = {n.name for g in all_graphs for n in g.node if n.name}
    seen: set[str] = set()
    changed = 0
    for g in all_graphs:
        for index, node in enumerate(g.node):
            if node.name and node.name not in seen:
                seen.add(node.name)
                continue
            base = node.name or f"{node.op_type}_{index}"
            name, k = base, 0
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            node.name = name
            taken.add(name)
            seen.add(name)
            changed += 1
    return changed
