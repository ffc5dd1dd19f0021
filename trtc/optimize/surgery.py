"""Graph surgery the optimizers share (onnx-graphsurgeon, imported inside functions)."""

from __future__ import annotations

from typing import Any


def remove_dead_nodes(model: Any) -> None:
    """Drop nodes and initializers no graph output depends on, in place (``Graph.cleanup()``).

    Only the graph is replaced: the model's opsets, IR version and metadata stay.
    """
    import onnx_graphsurgeon as gs

    cleaned = gs.export_onnx(gs.import_onnx(model).cleanup())
    model.graph.CopyFrom(cleaned.graph)
