"""``prune_model``: prune an ONNX model with 2:4 sparsity, magnitude or whole channels.

Three methods with three different promises, reported as such (``weights`` for
2:4 and magnitude, ``channel`` for channels); the bookkeeping (params / FLOPs /
size before and after, per layer and in total) is ``report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trtc.errors import ModelError, UsageError
from trtc.optimize.prune.channel import prune_channels, touched_layers
from trtc.optimize.prune.report import NOTES, ChainReport, PruneReport, layer_reports, model_totals
from trtc.optimize.prune.weights import layer_names, layer_weights, sparsify_weights
from trtc.recipe import PruneSpec


def check_ratio(method: str, ratio: float, where: str = "--ratio") -> None:
    """Reject a ratio that makes no sense for the method (2:4 ignores it).

    Raises:
        UsageError: ``ratio`` is not in (0, 1) for magnitude / channel pruning.
    """
    if method != "2:4" and not 0.0 < ratio < 1.0:
        raise UsageError(f"{where} {ratio:g} is out of range for --method {method}: it must be "
                         "between 0 and 1 (exclusive)",
                         "e.g. --ratio 0.3 removes 30 % of the channels / weights")


def prune_model(src: str | Path, dst: str | Path, spec: PruneSpec) -> PruneReport:
    """Prune ``src`` into ``dst`` with ``spec.method``; write nothing if nothing is eligible.

    Raises:
        UsageError: the ratio is out of range, or an excluded node is not in the model.
        ModelError: the model cannot be read, has nothing eligible for the method, or
            the pruned graph fails the ONNX checker.
    """
    import onnx
    import onnx_graphsurgeon as gs

    from trtc.graph.cleanup import check_and_infer, load_onnx, save_onnx
    from trtc.graph.inspect import summarize_model
    from trtc.optimize.quantize.placement import check_exclusions
    from trtc.workspace import atomic_path

    check_ratio(spec.method, spec.ratio)
    src, dst = Path(src), Path(dst)
    model = load_onnx(src)
    check_exclusions(model, spec.exclude, (), where="prune.exclude")
    shapes_before = static_shapes(model)
    graph = gs.import_onnx(model)
    exclude = set(spec.exclude)
    weights_before = {name: arr.copy() for name, arr in layer_weights(graph).items()}
    chains: list[ChainReport] = []
    if spec.method == "channel":
        chains = prune_channels(graph, spec.ratio, spec.channel_multiple, exclude, shapes_before)
        touched = touched_layers(chains)
        skipped = {c.producer: c.reason for c in chains if c.status == "skipped"}
        decisions = {name: "" if name in touched else
                     skipped.get(name, "not part of a prunable chain") for name in
                     layer_names(graph)}
    else:
        decisions = sparsify_weights(graph, spec.method, spec.ratio, exclude)
    if not any(reason == "" for reason in decisions.values()):
        raise ModelError(f"{src}: nothing to prune with --method {spec.method}: "
                         f"{_why_nothing(decisions, chains)}", _hint_nothing(spec.method))
    _forget_shapes(graph)
    pruned = gs.export_onnx(graph.cleanup().toposort())
    pruned.ir_version = model.ir_version
    # Keep the source's metadata and say what was done: verify reads this to judge a
    # pruned model by its task metric rather than by FP32 tolerances.
    props = {p.key: p.value for p in model.metadata_props}
    props.update({"trtc.prune.method": spec.method,
                  "trtc.prune.ratio": "" if spec.method == "2:4" else f"{spec.ratio:g}"})
    onnx.helper.set_model_props(pruned, props)
    pruned = check_and_infer(pruned, f"{dst} (pruned)")
    with atomic_path(dst) as staged:
        save_onnx(pruned, staged)
    shapes_after = static_shapes(pruned)
    after_graph = gs.import_onnx(pruned)
    layers = layer_reports(gs.import_onnx(model), after_graph, decisions, shapes_before,
                            shapes_after)
    compress = spec.method != "channel"
    before = model_totals(summarize_model(src), src, weights_before.values(), compress)
    after = model_totals(summarize_model(dst), dst, layer_weights(after_graph).values(), compress)
    return PruneReport(spec.method, None if spec.method == "2:4" else spec.ratio, str(src),
                       str(dst), layers, chains, before, after, NOTES[spec.method])


def _why_nothing(decisions: Mapping[str, str], chains: list[ChainReport]) -> str:
    if not decisions:
        return "the model has no Conv, Gemm or MatMul"
    reasons: dict[str, list[str]] = {}
    for name, reason in decisions.items():
        reasons.setdefault(reason, []).append(name)
    parts = [f"{reason} ({', '.join(names[:2])}{', ...' if len(names) > 2 else ''})"
             for reason, names in sorted(reasons.items(), key=lambda kv: -len(kv[1]))[:3]]
    prefix = f"{len(chains)} chain(s) skipped; " if chains else ""
    return prefix + "; ".join(parts)


def _hint_nothing(method: str) -> str:
    if method == "2:4":
        return ("2:4 needs constant Conv/Gemm/MatMul weights with input channels a multiple "
                "of 4 and at least 1024 weights; run trtc prune --json to see every layer")
    if method == "channel":
        return ("channel pruning needs a Conv whose output reaches only other Convs or a "
                "Flatten->Gemm through BN / activations / pooling; try --method magnitude")
    return "magnitude pruning needs constant float Conv/Gemm/MatMul weights"


def static_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Return every tensor shape shape inference can fix, with dynamic input dims set to 1."""
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for vi in probe.graph.input:
        for dim in vi.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.dim_value = 1
    del probe.graph.value_info[:]
    try:
        probe = onnx.shape_inference.infer_shapes(probe, data_prop=True)
    except Exception:  # noqa: BLE001 - per-layer FLOPs are then unknown, nothing worse
        return {}
    shapes: dict[str, tuple[int, ...]] = {
        t.name: tuple(int(d) for d in t.dims) for t in probe.graph.initializer}
    for vi in (*probe.graph.input, *probe.graph.value_info, *probe.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = tuple(int(d.dim_value) for d in dims)
    return shapes


def _forget_shapes(graph: Any) -> None:
    """Drop the shapes of inner tensors: pruning changed channel counts; inference redoes them."""
    import onnx_graphsurgeon as gs

    io = {t.name for t in (*graph.inputs, *graph.outputs)}
    for tensor in graph.tensors().values():
        if isinstance(tensor, gs.Variable) and tensor.name not in io:
            tensor.shape = None
