"""Load, check, clean up and save ONNX models (onnx, onnxslim, onnx-graphsurgeon)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from trtc.errors import DependencyError, ModelError
from trtc.workspace import final_name

_TWO_GIB = 2**31 - 1


def load_onnx(path: str | Path) -> Any:
    """Load an ONNX model with its external data; unreadable files raise ModelError."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"ONNX model not found: {path}", "check the path")
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'truncated or corrupt'})",
                         "re-export the model; the file may be truncated or not ONNX") from None
    if not model.HasField("graph"):  # an empty file parses as an empty proto
        raise ModelError(f"{path}: holds no ONNX graph (empty, or not an ONNX file)",
                         "pass an .onnx file exported by torch.onnx, tf2onnx or similar")
    return model


def check_and_infer(model: Any, where: str) -> Any:
    """Run the ONNX checker and shape inference; errors become ModelError."""
    import onnx

    try:
        onnx.checker.check_model(model, full_check=False)
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:
        raise ModelError(f"{where}: ONNX checker failed: {str(exc).splitlines()[0]}",
                         "the model is invalid ONNX; fix the exporter settings or the file"
                         ) from None


def cleanup(model: Any, how: str) -> tuple[Any, dict[str, Any]]:
    """Fold constants and drop dead nodes; return the model and node counts before/after.

    ``onnxslim`` where it is not installed falls back to onnx-graphsurgeon's fold and
    cleanup (a dependency): both fold constants and drop dead nodes, and export's parity
    check runs on the result either way, so a missing optional cleanup tool should not
    stop an export. The counts then say ``requested: onnxslim`` and why (``fallback``).

    Raises:
        DependencyError: onnx-graphsurgeon is missing (``graphsurgeon`` or the fallback).
    """
    before = Counter(n.op_type for n in model.graph.node)
    counts: dict[str, Any] = {"method": how}
    if how == "onnxslim":
        try:
            import onnxslim
        except ImportError as exc:
            counts = {"method": "graphsurgeon", "requested": "onnxslim",
                      "fallback": f"onnxslim is not installed ({exc}): cleaned up with "
                                  "onnx-graphsurgeon's fold_constants + cleanup instead "
                                  "(pip install onnxslim, or export.cleanup: graphsurgeon)"}
            model = _graphsurgeon(model)
        else:
            model = onnxslim.slim(model)
    elif how == "graphsurgeon":
        model = _graphsurgeon(model)
    after = Counter(n.op_type for n in model.graph.node)
    return model, {**counts, "before": sum(before.values()), "after": sum(after.values()),
                   "removed_by_op": {op: before[op] - after.get(op, 0) for op in before
                                     if before[op] > after.get(op, 0)}}


def _graphsurgeon(model: Any) -> Any:
    try:
        import onnx_graphsurgeon as gs
    except ImportError:
        raise DependencyError("onnx-graphsurgeon is not installed (export.cleanup needs it)",
                              "pip install onnx-graphsurgeon, or export.cleanup: none"
                              ) from None
    graph = gs.import_onnx(model)
    graph.fold_constants().cleanup().toposort()
    return gs.export_onnx(graph)


def reinfer(model: Any, where: str) -> Any:
    """Shape inference from scratch: ``value_info`` cleared first, so that what an exporter
    or a cleanup tool left (onnxslim's symbolic shapes beside ``unk__N``) is not kept."""
    del model.graph.value_info[:]
    return check_and_infer(model, where)


def save_onnx(model: Any, path: str | Path) -> None:
    """Save as one self-contained file, or with external data when over protobuf's 2 GiB."""
    import onnx

    if model.ByteSize() > _TWO_GIB:
        onnx.save(model, str(path), save_as_external_data=True,
                  location=final_name(path) + ".data")  # not the temp file's name
    else:
        onnx.save(model, str(path))
