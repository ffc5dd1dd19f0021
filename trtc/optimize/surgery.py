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


def toposort(model: Any) -> None:
    """Sort the main graph's nodes so every input is produced before it is read, in place.

    ONNX Runtime's quantizer and the float converter append the nodes they add;
    ONNX Runtime runs such a graph, but the ONNX checker (and TensorRT's parser) want
    it sorted.

    Raises:
        ModelError: the graph has a cycle (or reads a tensor nothing produces).
    """
    from onnxruntime.transformers.onnx_model import OnnxModel

    try:
        OnnxModel.graph_topological_sort(model.graph)
    except RuntimeError as exc:
        raise ModelError(f"the converted graph cannot be sorted: {exc}",
                         "check the input model with `trtc inspect`") from None
