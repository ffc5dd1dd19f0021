"""Input dimension names that mean "unknown", made unique before a runtime reads them.

ONNX lets a dynamic dim carry a name (``dim_param``). TensorRT treats two dims
with the same name as the same dimension, so a Paddle2ONNX export whose input
dims are all named ``?`` tells TensorRT that batch == height == width, and the
build fails with "Input dimensions with this name are inconsistent" as soon as
a profile gives them different sizes. Exporters use such placeholder names for
"no name at all"; they are renamed per input and axis. Real names (``batch``,
``seq``) are kept: sharing one is a promise that those dims are equal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: Names exporters write for an anonymous dim: '?', 'None', '-1', '', 'unk__12',
#: 'DynamicDimension.3' (tf2onnx), 'dim_0' style names are real enough to keep.
_PLACEHOLDER = re.compile(r"^(\?+|none|null|-1|unk__\d+|dynamicdimension\.?\d*|unknown)$",
                          re.IGNORECASE)


def is_placeholder(name: str) -> bool:
    """True for a dim name that only says "unknown" (it promises no equality)."""
    return _PLACEHOLDER.match(name.strip()) is not None


def _safe(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", text) or "input"


def unique_dim_names(model: Any) -> list[str]:
    """Rename placeholder dim names of the graph inputs to ``<input>_dim<axis>``, in place.

    A negative ``dim_value`` (Paddle2ONNX's ``-1``) is an anonymous dim too. Only names
    used for more than one (input, axis) are a problem, but a lone ``?``
    is renamed too, so that every anonymous dim has a name a profile or ``--shapes``
    can be reported with. Axis 0 keeps one shared name, ``batch``, when every input
    that has a placeholder there has one (the usual meaning, and TensorRT then checks
    that the batch sizes agree), unless ``batch`` is already used for another axis.

    Returns:
        One line per renamed dim: ``input[axis]: '?' -> input_dim2``.
    """
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [vi for vi in graph.input if vi.name not in initializers]
    used = {d.dim_param for vi in inputs for d in vi.type.tensor_type.shape.dim
            if d.HasField("dim_param") and not is_placeholder(d.dim_param)}
    share_batch = "batch" not in used
    renamed: list[str] = []
    for vi in inputs:
        if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
            continue
        for axis, dim in enumerate(vi.type.tensor_type.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value < 0:
                old = str(dim.dim_value)  # Paddle2ONNX's -1: not valid ONNX, means dynamic
            elif dim.HasField("dim_param") and is_placeholder(dim.dim_param):
                old = repr(dim.dim_param)
            else:
                continue
            new = "batch" if axis == 0 and share_batch else f"{_safe(vi.name)}_dim{axis}"
            while new in used and new != "batch":
                new += "_"
            renamed.append(f"{vi.name}[{axis}]: {old} -> {new}")
            dim.dim_param = new
            if new != "batch":
                used.add(new)
    return renamed


def with_unique_dim_names(onnx_path: Path, tmp: Path) -> tuple[Path, list[str]]:
    """The model a runtime should read: ``onnx_path`` itself, or a copy with unique names.

    The copy (with its weights, as external data past protobuf's 2 GiB) goes to ``tmp``.

    Returns:
        (the path to read, notes for the user: which dims were renamed).
    """
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    renamed = unique_dim_names(model)
    if not renamed:
        return onnx_path, []
    from trtc.graph.cleanup import save_onnx

    model = onnx.load(str(onnx_path))  # with its external data, to save a whole copy
    unique_dim_names(model)
    copy = tmp / onnx_path.name
    save_onnx(model, copy)
    return copy, [_renamed_note(renamed)]


def _renamed_note(renamed: list[str]) -> str:
    return ("input dims renamed for TensorRT (it reads equal names as one dimension): "
            + "; ".join(renamed))


def static_shapes(profiles: Any) -> dict[str, tuple[int, ...]] | None:
    """The one shape of every input when a single profile pins them (min = max), else None."""
    if len(profiles) != 1:
        return None
    shapes = {}
    for name, (lo, _opt, hi) in profiles[0].shapes.items():
        if tuple(lo) != tuple(hi):
            return None
        shapes[name] = tuple(int(d) for d in lo)
    return shapes or None


def fold_shape_conditions(model: Any, shapes: dict[str, tuple[int, ...]]) -> tuple[Any, int]:
    """Fold the ``If`` nodes whose condition only depends on input shapes, at ``shapes``.

    PyTorch exports ``x.squeeze(k)`` on a dynamic dim as ``If(Shape(x)[k] == 1)`` with
    branches of different rank, which TensorRT 8.6 cannot build ("IIfConditionalOutputLayer
    inputs must have the same shape"). With every input's shape fixed (a static build
    profile) the condition is a constant: onnx-graphsurgeon folds it and inlines the
    branch taken. Inputs keep their names and dtypes; only their dims become the fixed ones.

    Returns:
        (the model, how many If nodes went away); the model is ``model`` when none did.
    """
    import onnx_graphsurgeon as gs

    before = sum(n.op_type == "If" for n in model.graph.node)
    if before == 0:
        return model, 0
    graph = gs.import_onnx(model)
    for tensor in graph.inputs:
        if tensor.name in shapes:
            tensor.shape = list(shapes[tensor.name])
    graph.fold_constants(fold_shapes=True, flatten_subgraphs=True).cleanup().toposort()
    folded = gs.export_onnx(graph)
    folded.metadata_props.extend(model.metadata_props)
    after = sum(n.op_type == "If" for n in folded.graph.node)
    if after >= before:
        return model, 0
    return folded, before - after


def for_tensorrt(onnx_path: Path, tmp: Path,
                 shapes: dict[str, tuple[int, ...]] | None = None) -> tuple[Path, list[str]]:
    """The model TensorRT should parse: unique dim names, and with a static profile
    (``shapes``) the shape-dependent ``If`` nodes folded. ``onnx_path`` itself when
    neither changes anything; else a copy in ``tmp``.
    """
    import onnx

    head = onnx.load(str(onnx_path), load_external_data=False)
    has_if = shapes is not None and any(n.op_type == "If" for n in head.graph.node)
    if not has_if:
        return with_unique_dim_names(onnx_path, tmp)
    from trtc.graph.cleanup import save_onnx

    model = onnx.load(str(onnx_path))
    renamed = unique_dim_names(model)
    model, folded = fold_shape_conditions(model, shapes or {})
    notes = [_renamed_note(renamed)] if renamed else []
    if folded:
        notes.append(f"{folded} shape-dependent If node(s) folded at the static profile's "
                     "shapes (TensorRT 8.6 cannot build If branches of different shapes)")
    if not notes:
        return onnx_path, []
    copy = tmp / onnx_path.name
    save_onnx(model, copy)
    return copy, notes
