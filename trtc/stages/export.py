"""export: PyTorch (or an existing ONNX file) -> checked, cleaned-up ONNX, with a parity check."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtc.errors import ModelError, VerificationError
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
    return export_model(job.model, job.export, ctx.outputs["model"], job.settings_note)


def export_model(model_spec: ModelSpec, spec: ExportSpec, out_path: Path,
                 settings_note: str | None = None) -> ExportResult:
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
        model, counts = cleanup(model, spec.cleanup)
        if "fallback" in counts:
            warnings.append(f"export.cleanup: {counts['fallback']}")
        model = reinfer(model, where="cleaned-up model")
        with atomic_path(out_path) as staged:
            save_onnx(model, staged)
            if torch_model is not None:
                parity = _parity(torch_model, model_spec, spec, staged)
                _raise_on_parity(parity, spec)
            else:
                warnings.append("onnx: source: no PyTorch model, so no parity check")
    io = model_io(model, str(out_path))
    report = ExportReport(exported, counts, io.opset or None, parity,
                          {t.name: list(t.shape) for t in io.inputs}, io.output_names,
                          renamed)
    return ExportResult("export", {"model": out_path}, report.to_dict(), warnings=warnings,
                        report=report)


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
