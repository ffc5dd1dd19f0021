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
    return copy, ["input dims renamed for TensorRT (it reads equal names as one dimension): "
                  + "; ".join(renamed)]
