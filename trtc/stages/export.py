"""export: PyTorch (or an existing ONNX file) -> checked, cleaned-up ONNX, with a parity check."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.errors import DataError, ModelError, VerificationError
from trtc.recipe import ExportSpec, ModelSpec
from trtc.stages import StageContext, StageResult
from trtc.workspace import atomic_path


@dataclass(frozen=True)
class ExportJob:
    """What export needs: the model to build and how to export it."""

    model: ModelSpec
    #: Resolved: ``opset`` and ``exporter`` are never ``auto`` (the plan decides them).
    export: ExportSpec
    #: Why the opset / exporter are what they are, when ``auto`` chose them.
    settings_note: str | None = None
    #: Concrete input shapes the recipe gives elsewhere (verify, bench, quantize, build):
    #: an ``onnx:`` source's cleanup is checked at them.
    check_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportReport:
    """What export did: the export manifest's ``metrics`` (and flags mode's ``--json``)."""

    #: torch.onnx's settings (exporter, opset asked for, example shapes); None for onnx:.
    export: dict[str, Any] | None
    #: Node counts before / after cleanup.
    nodes: dict[str, Any]
    opset: int | None
    #: PyTorch vs ONNX Runtime on seeded inputs; None for an onnx: source.
    parity: dict[str, Any] | None
    inputs: dict[str, list[int | str]]
    outputs: list[str]
    #: Placeholder input dim names made unique (``x[2]: '?' -> x_dim2``).
    renamed_dims: list[str]

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = ({"source": "onnx"} if self.export is None
                                else {"export": self.export})
        return {**head, "nodes": self.nodes, "opset": self.opset, "parity": self.parity,
                "inputs": self.inputs, "outputs": self.outputs,
                "renamed_dims": self.renamed_dims}


@dataclass
class ExportResult(StageResult):
    """The export stage's result: :class:`ExportReport` beside the generic fields."""

    report: ExportReport | None = None


def run(job: ExportJob, ctx: StageContext) -> ExportResult:
    """Export the job's model to ``ctx.outputs['model']``."""
    return export_model(job.model, job.export, ctx.outputs["model"], job.settings_note,
                        job.check_shapes)


def export_model(model_spec: ModelSpec, spec: ExportSpec, out_path: Path,
                 settings_note: str | None = None,
                 check_shapes: Mapping[str, tuple[int, ...]] | None = None) -> ExportResult:
    """Export ``model_spec`` to ``out_path``; nothing is written if any step fails.

    ``spec``'s opset and exporter must be resolved (``trtc.pipeline.Plan`` does it).

    Raises:
        TypeError: ``spec.opset`` or ``spec.exporter`` is still ``auto`` (a caller's bug).
        ModelError: the model cannot be built, exported or checked.
        VerificationError: ONNX Runtime disagrees with PyTorch beyond tolerance.
    """
    from trtc.graph.cleanup import check_and_infer, cleanup, load_onnx, reinfer, save_onnx
    from trtc.graph.dims import unique_dim_names
    from trtc.graph.io import model_io

    if spec.opset == "auto" or spec.exporter == "auto":
        raise TypeError("export_model needs a resolved opset and exporter, not 'auto'")
    exported: dict[str, Any] | None = None
    parity: dict[str, Any] | None = None
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="trtc-export-") as tmp:
        if model_spec.source.startswith("onnx:"):
            model = load_onnx(model_spec.source[len("onnx:"):])
            torch_model = None
        else:
            from trtc.backends import torch as torch_backend

            torch_model = torch_backend.load_model(model_spec)
            names = torch_backend.output_names_for(torch_model, model_spec, spec.example_dims,
                                                   spec.seed)
            raw_path = Path(tmp) / "exported.onnx"
            exported = torch_backend.export_onnx(
                torch_model, model_spec.inputs, names, raw_path, opset=spec.opset,
                exporter=spec.exporter, example_dims=spec.example_dims, seed=spec.seed)
            if settings_note:
                exported["settings"] = settings_note
            model = load_onnx(raw_path)
        # Before inference, so that the new names reach the shapes inferred from them.
        renamed = unique_dim_names(model)
        if renamed:
            warnings.append("input dims renamed (TensorRT reads equal names as one "
                            "dimension): " + "; ".join(renamed))
        model = check_and_infer(model, where="exported model")
        _check_io(model, model_spec)
        original = model
        model, counts = cleanup(model, spec.cleanup)
        if "fallback" in counts:
            warnings.append(f"export.cleanup: {counts['fallback']}")
        model = reinfer(model, where="cleaned-up model")
        if torch_model is None:
            # No PyTorch to compare with: the cleanup itself must not change the model.
            model, counts = _checked_cleanup(original, model, counts, spec, Path(tmp),
                                             warnings, check_shapes or {})
        with atomic_path(out_path) as staged:
            save_onnx(model, staged)
            if torch_model is not None:
                parity = _parity(torch_model, model_spec, spec, staged)
                _raise_on_parity(parity, spec)
            else:
                warnings.append("onnx: source: no PyTorch model, so no parity check (the "
                                "cleanup was checked against the model as given)")
    io = model_io(model, str(out_path))
    report = ExportReport(exported, counts, io.opset or None, parity,
                          {t.name: list(t.shape) for t in io.inputs}, io.output_names,
                          renamed)
    return ExportResult("export", {"model": out_path}, report.to_dict(), warnings=warnings,
                        report=report)


#: A dynamic dim's size for the cleanup check where export.example_dims names none: 1 on
#: axis 0 (the batch), 32 elsewhere (a sequence, or an image side a stride-32 net takes).
CLEANUP_CHECK_DIMS = (1, 32)


def _checked_cleanup(original: Any, cleaned: Any, counts: dict[str, Any], spec: ExportSpec,
                     tmp: Path, warnings: list[str],
                     check_shapes: Mapping[str, tuple[int, ...]] | None = None
                     ) -> tuple[Any, dict[str, Any]]:
    """Run an ONNX source before and after its cleanup on ONNX Runtime; keep the cleaned
    model only if every output has the same shape and values (atol/rtol: the parity
    tolerances). Otherwise try onnx-graphsurgeon's cleanup, then none, with a warning.

    onnxslim 0.1.98 folded ddddocr's CRNN output Reshape to the model's (wrong) declared
    shape: ``[seq, 1, 8210]`` became ``[1, seq * 8210]``, and nothing said so.
    """
    from trtc.graph.cleanup import cleanup, reinfer

    if spec.cleanup == "none":
        return cleaned, counts
    try:
        feeds = _check_feeds(original, spec, check_shapes or {})
    except DataError as exc:
        warnings.append(f"export.cleanup not checked: {exc.message}")
        return cleaned, counts
    if feeds is None:
        warnings.append("export.cleanup not checked: an input declares no shape (rank), "
                        "so there is nothing to feed the model as given")
        return cleaned, counts
    expected = _run_onnx(original, feeds, tmp / "original.onnx")
    if isinstance(expected, str):
        at = ",".join(f"{n}:{'x'.join(map(str, v.shape))}" for n, v in feeds.items())
        warnings.append(f"export.cleanup not checked: the model as given does not run on "
                        f"ONNX Runtime at {at} ({expected}); set export.example_dims to "
                        f"sizes it takes")
        return cleaned, counts
    changed = _cleanup_change(expected, _run_onnx(cleaned, feeds, tmp / "cleaned.onnx"), spec)
    if changed is None:
        return cleaned, counts
    method = counts.get("method", spec.cleanup)
    if method != "graphsurgeon":
        other, other_counts = cleanup(original, "graphsurgeon")
        other = reinfer(other, where="cleaned-up model")
        if _cleanup_change(expected, _run_onnx(other, feeds, tmp / "gs.onnx"), spec) is None:
            warnings.append(f"export.cleanup: {method} changed the model ({changed}): "
                            f"cleaned up with onnx-graphsurgeon instead")
            return other, {**other_counts, "requested": method, "rejected": changed}
    warnings.append(f"export.cleanup: {method} changed the model ({changed}): the model "
                    f"is kept as given, not cleaned up")
    n = len(original.graph.node)
    return original, {"method": "none", "requested": method, "rejected": changed,
                      "before": n, "after": n, "removed_by_op": {}}


def _check_feeds(model: Any, spec: ExportSpec,
                 check_shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | None:
    """One seeded random feed for the cleanup check (``trtc.data.random_dataset``), or
    None where an input has no declared rank.

    Sizes: an input's shape given elsewhere in the recipe, then ``export.example_dims``
    by dim name, then :data:`CLEANUP_CHECK_DIMS`; one size per dim name (a recurrent
    state's ``[2, batch, 128]`` follows the input's batch).

    Raises:
        DataError: the feed would be larger than ``trtc.data.MAX_FEED_BYTES``.
    """
    from trtc.data import InputInfo, random_dataset
    from trtc.graph.io import has_rank, real_inputs, tensor_info

    inputs = real_inputs(model.graph)
    if not all(has_rank(vi) for vi in inputs):
        return None
    infos = [tensor_info(vi) for vi in inputs]
    sizes = dict(spec.example_dims)
    for info in infos:  # the recipe's concrete shapes name the sizes of their dims first
        given = check_shapes.get(info.name)
        if given is not None and len(given) == len(info.shape):
            sizes.update({d: int(g) for d, g in zip(info.shape, given)
                          if isinstance(d, str) and d != "?"})
    concrete: dict[str, list[int]] = {}
    for info in infos:
        shape = []
        for axis, d in enumerate(info.shape):
            if isinstance(d, int):
                shape.append(d)
                continue
            size = sizes.get(d) or CLEANUP_CHECK_DIMS[0 if axis == 0 else 1]
            if d != "?":
                sizes.setdefault(d, size)
            shape.append(int(size))
        concrete[info.name] = shape
    data_inputs = [InputInfo(i.name, i.dtype, i.shape) for i in infos]
    return random_dataset(data_inputs, concrete, 1, 1, spec.seed).feeds[0]


def _run_onnx(model: Any, feeds: dict[str, Any], path: Path) -> dict[str, Any] | str:
    """Every output on ONNX Runtime, unoptimised; a one-line reason where it cannot run."""
    from trtc.backends.onnxruntime import make_session
    from trtc.errors import TrtcError
    from trtc.graph.cleanup import save_onnx

    try:
        save_onnx(model, path)
        # A model that cannot run at the check's sizes is reported in one warning, so
        # ONNX Runtime's own error lines stay off the terminal.
        sess = make_session(path, level="disable", log_severity=4)
        names = [o.name for o in sess.get_outputs()]
        return dict(zip(names, sess.run(names, feeds)))
    except TrtcError as exc:
        return exc.message
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's errors have no common type
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _cleanup_change(expected: dict[str, Any], got: dict[str, Any] | str,
                    spec: ExportSpec) -> str | None:
    """How the cleaned model differs from the original (one line), or None."""
    import numpy as np

    if isinstance(got, str):
        return f"it no longer runs: {got}"
    for name, want in expected.items():
        if name not in got:
            return f"output '{name}' is gone"
        have = got[name]
        if np.shape(have) != np.shape(want):
            return (f"output '{name}' {'x'.join(map(str, np.shape(want)))} -> "
                    f"{'x'.join(map(str, np.shape(have)))}")
        if np.asarray(want).dtype.kind == "f" and not np.allclose(
                have, want, atol=spec.parity_atol, rtol=spec.parity_rtol, equal_nan=True):
            diff = float(np.max(np.abs(np.asarray(have, np.float64) - want)))
            return f"output '{name}' differs by up to {diff:.3g}"
        if np.asarray(want).dtype.kind != "f" and not np.array_equal(have, want):
            return f"output '{name}' has other values"
    return None


def _check_io(model: Any, spec: ModelSpec) -> None:
    if not spec.inputs:
        return
    got = [i.name for i in model.graph.input]
    want = [i.name for i in spec.inputs]
    if got != want:
        raise ModelError(f"the exported model's inputs are {got}, the recipe declares {want}",
                         "make model.inputs list every forward() argument the model uses, in "
                         "order")


def _parity(torch_model: Any, model_spec: ModelSpec, spec: ExportSpec, onnx_path: Path,
            ) -> dict[str, Any]:
    """Run PyTorch and ONNX Runtime on the same seeded inputs; return max errors per output."""
    import numpy as np

    from trtc.backends import torch as torch_backend
    from trtc.backends.onnxruntime import make_session

    sess = make_session(onnx_path, level="disable")  # the most literal reading of the graph
    names = [o.name for o in sess.get_outputs()]
    input_names = [i.name for i in model_spec.inputs]
    worst: dict[str, dict[str, float]] = {n: {"max_abs": 0.0, "max_rel": 0.0} for n in names}
    for k in range(spec.parity_samples):
        tensors = torch_backend.example_inputs(model_spec.inputs, spec.example_dims,
                                               spec.seed + 1 + k)
        feed = {n: t.numpy() for n, t in zip(input_names, tensors)}
        expected = torch_backend.run_eager(torch_model, feed, input_names, names)
        actual = dict(zip(names, sess.run(names, feed)))
        for n in names:
            exp = expected[n].astype(np.float64)
            diff = np.abs(actual[n].astype(np.float64) - exp)
            worst[n]["max_abs"] = max(worst[n]["max_abs"], float(diff.max(initial=0.0)))
            rel = diff / np.maximum(np.abs(exp), 1e-12)
            worst[n]["max_rel"] = max(worst[n]["max_rel"], float(rel.max(initial=0.0)))
            tol = spec.parity_atol + spec.parity_rtol * np.abs(exp)
            worst[n]["within_tolerance"] = bool(worst[n].get("within_tolerance", True)
                                                and (diff <= tol).all())
    return {"samples": spec.parity_samples, "atol": spec.parity_atol, "rtol": spec.parity_rtol,
            "outputs": worst}


def _raise_on_parity(parity: dict[str, Any], spec: ExportSpec) -> None:
    for name, stats in parity["outputs"].items():
        if not stats["within_tolerance"]:
            raise VerificationError(
                f"export parity: output '{name}' differs between PyTorch and ONNX Runtime by "
                f"up to {stats['max_abs']:.3g} abs / {stats['max_rel']:.3g} rel "
                f"(atol {spec.parity_atol:g}, rtol {spec.parity_rtol:g})",
                "try export.exporter: legacy or another opset; raise export.parity_atol only "
                "if the difference is expected")
