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

import contextlib
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


def pinned_dims(profiles: Any) -> dict[str, tuple[int | None, ...]]:
    """Per input, the dims every build profile pins to one size (min = max, the same in
    all profiles), None where one varies. ``{}`` without profiles.

    A dynamic-batch profile for a model whose other dims are fixed (audio frames, an
    image size) still pins those: the ``If`` nodes that test them can be folded.
    """
    pinned: dict[str, list[int | None]] = {}
    for index, profile in enumerate(profiles):
        for name, (lo, _opt, hi) in profile.shapes.items():
            dims = [int(a) if int(a) == int(b) else None for a, b in zip(lo, hi)]
            if index == 0:
                pinned[name] = dims
            else:
                before = pinned.get(name) or [None] * len(dims)
                pinned[name] = [a if a is not None and a == b else None
                                for a, b in zip(before, dims)]
    return {name: tuple(dims) for name, dims in pinned.items()}


def fold_shape_conditions(model: Any, shapes: dict[str, tuple[int | None, ...]]
                          ) -> tuple[Any, int]:
    """Fold the ``If`` nodes whose condition only depends on input dims the build fixes.

    PyTorch exports ``x.squeeze(k)`` on a dynamic dim as ``If(Shape(x)[k] == 1)`` with
    branches of different rank, which TensorRT 8.6 cannot build ("IIfConditionalOutputLayer
    inputs must have the same shape"). Where dim ``k`` is pinned (``shapes``: the size, or
    None for a dim the profiles let vary), or static in the model already, the condition
    is a constant and the branch taken is inlined. Inputs keep their names and dtypes;
    only their pinned dims become sizes.

    Rounds until nothing changes: ONNX shape inference (with data propagation) gives the
    intermediate tensors their dims, onnx-graphsurgeon folds the constants, a tensor's
    rank answers ``Size(Shape(x))`` (an RNN export's "is the input batched?"), and a
    constant ``If`` is inlined here (:func:`_inline_constant_ifs`: onnx-graphsurgeon's own
    flattening loses a branch output that is a constant).

    Returns:
        (the model, how many If nodes went away); the model is ``model`` when none did.
    """
    import onnx
    import onnx_graphsurgeon as gs

    def ifs(m: Any) -> int:
        return sum(n.op_type == "If" for n in m.graph.node)

    before = ifs(model)
    if before == 0:
        return model, 0
    graph = gs.import_onnx(model)
    for tensor in graph.inputs:
        pinned = shapes.get(tensor.name)
        if pinned is not None and tensor.shape is not None and len(tensor.shape) == len(pinned):
            tensor.shape = [d if d is not None else old for d, old in zip(pinned, tensor.shape)]
    folded = gs.export_onnx(graph)
    for _ in range(8):
        count, size = ifs(folded), len(folded.graph.node)
        with contextlib.suppress(Exception):  # folding goes on with the shapes there are
            folded = onnx.shape_inference.infer_shapes(folded, data_prop=True)
        graph = gs.import_onnx(folded)
        _fold_ranks(graph)
        graph.fold_constants(fold_shapes=True, flatten_subgraphs=False).cleanup()
        inlined = _inline_constant_ifs(graph)
        graph.cleanup().toposort()
        folded = gs.export_onnx(graph)
        if not inlined and ifs(folded) == count and len(folded.graph.node) == size:
            break
    after = ifs(folded)
    if after >= before:
        return model, 0
    del folded.graph.value_info[:]  # inferred at pinned dims: TensorRT infers its own
    folded.metadata_props.extend(model.metadata_props)
    return folded, before - after


def _fold_ranks(graph: Any) -> int:
    """``Size(Shape(x))`` is x's rank: a constant wherever x's rank is known."""
    import numpy as np
    import onnx_graphsurgeon as gs

    done = 0
    for node in graph.nodes:
        if node.op != "Size" or not node.inputs or not node.inputs[0].inputs:
            continue
        shape = node.inputs[0].inputs[0]
        if shape.op != "Shape" or shape.attrs.get("start") is not None \
                or shape.attrs.get("end") is not None or shape.inputs[0].shape is None:
            continue
        out = node.outputs[0]
        rank = gs.Constant(f"{out.name}_rank", np.array(len(shape.inputs[0].shape),
                                                        dtype=np.int64))
        for consumer in list(out.outputs):
            for i, tensor in enumerate(consumer.inputs):
                if tensor is out:
                    consumer.inputs[i] = rank
        done += 1
    return done


def _inline_constant_ifs(graph: Any) -> int:
    """Replace each ``If`` whose condition is a constant by the nodes of its branch taken.

    A branch output that no node of the branch produces (a constant, or a tensor of the
    outer graph) reaches the If's output through an Identity, where onnx-graphsurgeon's
    ``flatten_subgraphs`` leaves that output without a producer (an invalid graph).
    """
    import numpy as np
    import onnx_graphsurgeon as gs

    done = 0
    index = 0
    while index < len(graph.nodes):
        node = graph.nodes[index]
        cond = node.inputs[0] if node.op == "If" and node.inputs else None
        if not isinstance(cond, gs.Constant):
            index += 1
            continue
        branch = node.attrs["then_branch" if bool(np.asarray(cond.values).reshape(-1)[0])
                            else "else_branch"]
        for tensor in branch._local_tensors().values():  # no clash with the outer names
            tensor.name += f"_inlined_{index}"
        extra: list[Any] = []
        for node_out, branch_out in zip(list(node.outputs), list(branch.outputs)):
            producers = [p for p in branch_out.inputs if p in branch.nodes]
            node_out.inputs.clear()
            if producers:
                for producer in producers:
                    for i, tensor in enumerate(producer.outputs):
                        if tensor is branch_out:
                            producer.outputs[i] = node_out
            else:
                extra.append(gs.Node("Identity", f"{node.name}_out_{len(extra)}",
                                     inputs=[branch_out], outputs=[node_out]))
        graph.nodes[index:index + 1] = list(branch.nodes) + extra
        index += len(branch.nodes) + len(extra)
        done += 1
    return done


def for_tensorrt(onnx_path: Path, tmp: Path,
                 shapes: dict[str, tuple[int | None, ...]] | None = None
                 ) -> tuple[Path, list[str]]:
    """The model TensorRT should parse: unique dim names, and the ``If`` nodes that test
    only dims the profiles pin (``shapes``, see :func:`pinned_dims`) or the model fixes,
    folded. ``onnx_path`` itself when neither changes anything; else a copy in ``tmp``.
    """
    import onnx

    head = onnx.load(str(onnx_path), load_external_data=False)
    has_if = any(n.op_type == "If" for n in head.graph.node)
    if not has_if:
        return with_unique_dim_names(onnx_path, tmp)
    from trtc.graph.cleanup import save_onnx

    model = onnx.load(str(onnx_path))
    renamed = unique_dim_names(model)
    model, folded = fold_shape_conditions(model, shapes or {})
    notes = [_renamed_note(renamed)] if renamed else []
    if folded:
        notes.append(f"{folded} shape-dependent If node(s) folded at the dims the profile "
                     "fixes (TensorRT 8.6 cannot build If branches of different shapes)")
    if not notes:
        return onnx_path, []
    copy = tmp / onnx_path.name
    save_onnx(model, copy)
    return copy, notes
