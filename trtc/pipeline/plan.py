"""A recipe resolved once into one frozen job per stage: :class:`Plan`.

The backend, the quantize target and export's opset/exporter are decided here,
lazily (resolving ``auto`` may import TensorRT), and only here; stages receive
resolved jobs and never see ``auto``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from trtc.errors import UsageError
from trtc.recipe import STAGES, Recipe
from trtc.workspace import Workspace

#: Stages that rewrite the ONNX model (``<stage>/model.onnx``), in pipeline order.
MODEL_STAGES = ("prune", "quantize")


QuantizeTarget = Literal["tensorrt", "onnxruntime-cpu"]


class Plan:
    """A recipe resolved once: the backend, the quantize target, export's opset and
    exporter (from the build's TensorRT), and one job per stage.

    Resolving ``backend: auto`` imports TensorRT where it is installed, so it happens
    on first use (a run whose stages are all up to date never asks, unless
    ``quantize.target: auto`` makes the target part of the up-to-date check).
    """

    def __init__(self, recipe: Recipe, ws: Workspace | None = None, *,
                 verbose: bool = False) -> None:
        self.recipe = recipe
        self.ws = ws
        #: TensorRT's builder log (build jobs that have a ``verbose`` field).
        self.verbose = verbose
        self._backend: tuple[str, str] | None = None
        self._build_trt: tuple[str | None] | None = None

    @property
    def backend(self) -> tuple[str, str]:
        """(backend name, why it was chosen); raises DependencyError when it cannot run."""
        if self._backend is None:
            from trtc.backends import resolve_backend

            backend, why = resolve_backend(self.recipe.build.backend, self.recipe.build)
            self._backend = (backend.name, why)
        return self._backend

    @property
    def quantize_target(self) -> QuantizeTarget:
        """``auto``: the Q/DQ placement for the backend build resolves to here."""
        target = self.recipe.quantize.target
        if target == "tensorrt" or target == "onnxruntime-cpu":
            return target
        from trtc.errors import DependencyError

        try:
            name, _ = self.backend
        except DependencyError:
            # build.backend: tensorrt without TensorRT here: quantize for it anyway; the
            # build stage reports the missing dependency.
            return "tensorrt"
        return "tensorrt" if name == "tensorrt" else "onnxruntime-cpu"

    @property
    def build_tensorrt(self) -> str | None:
        """The TensorRT version the build will use; None for ONNX Runtime or no TensorRT.

        ``build.backend: tensorrt`` reads the installed version (no GPU needed to plan an
        export); ``auto`` asks only when it resolves to TensorRT.
        """
        if self._build_trt is None:
            self._build_trt = (self._detect_build_tensorrt(),)
        return self._build_trt[0]

    def _detect_build_tensorrt(self) -> str | None:
        from trtc.errors import DependencyError

        backend = self.recipe.build.backend
        if backend == "onnxruntime":
            return None
        if backend == "auto":
            try:
                name, _ = self.backend
            except DependencyError:
                return None
            if name != "tensorrt":
                return None
        from trtc.backends.tensorrt import tensorrt_version

        return tensorrt_version()

    @property
    def export_settings(self) -> tuple[int, Literal["dynamo", "legacy"], str | None]:
        """(opset, exporter, why) export runs with: ``auto`` resolved for the build's TensorRT
        (:func:`trtc.tensorrt.versions.resolve_export`); ``why`` is None when both are given.
        """
        spec = self.recipe.export
        if spec.opset != "auto" and spec.exporter != "auto":
            return spec.opset, spec.exporter, None
        from trtc.tensorrt.versions import resolve_export

        opset, exporter, why = resolve_export(spec.opset, spec.exporter, self.build_tensorrt)
        return opset, "dynamo" if exporter == "dynamo" else "legacy", why

    def profile_hint(self) -> Any:
        """The shapes verify and bench will run, for build's default TensorRT profile."""
        from trtc.stages.build import ProfileHint

        r = self.recipe
        # build.shapes (trtexec's --shapes) fixes the shapes the engine is built for;
        # otherwise the profile covers what verify and bench will run.
        shapes = ((r.build.shapes,) if r.build.shapes else
                  tuple(s for s in (r.bench.shapes, r.verify.data.shapes) if s))
        return ProfileHint(
            batches=tuple(sorted({*r.bench.all_batches(), r.verify.data.batch})),
            dims=dict(r.export.example_dims), shapes=shapes,
            declared_inputs={i.name: (i.dtype, tuple(i.shape)) for i in r.model.inputs})

    def engine_budget(self) -> Any:
        """How ``quantize.budget_on: engine`` builds candidates: the build section, and the
        workspace's timing caches (shared with build); None for ``budget_on: onnxruntime``."""
        if self.recipe.quantize.budget_on != "engine":
            return None
        from trtc.optimize.engine_budget import EngineBudget
        from trtc.stages.build import workspace_timing_cache_dir

        cache = (workspace_timing_cache_dir(self.ws.stage_dir("build"))
                 if self.ws is not None else None)
        return EngineBudget(self.recipe.build, cache, bench=self.recipe.bench)

    def job(self, stage: str) -> Any:
        """The frozen job ``stage`` runs (its section, resolved)."""
        import dataclasses

        r = self.recipe
        if stage == "export":
            from trtc.stages.export import ExportJob

            opset, exporter, why = self.export_settings
            given = (r.verify.data.shapes or r.bench.shapes or r.quantize.shapes
                     or r.build.shapes)
            return ExportJob(r.model, dataclasses.replace(r.export, opset=opset,
                                                          exporter=exporter), why,
                             **_if_field(ExportJob, check_shapes=dict(given)))
        if stage == "prune":
            from trtc.stages.prune import PruneJob

            return PruneJob(r.prune)
        if stage == "quantize":
            from trtc.stages.quantize import QuantizeJob

            # The budget is measured on verify's data when it is real (top-1 with labels);
            # without a budget, the reported accuracy is the cosine on the calibration data.
            real = r.verify.data.source != "random" and r.quantize.max_drop is not None
            return QuantizeJob(dataclasses.replace(r.quantize, target=self.quantize_target),
                               eval_source=r.verify.data.source if real else None,
                               labels_key=r.verify.data.labels_key,
                               eval_batch=r.verify.data.batch,
                               **_if_field(QuantizeJob, shapes=dict(r.quantize.shapes),
                                           engine=self.engine_budget()))
        if stage == "build":
            from trtc.stages.build import BuildJob

            name, why = self.backend
            hint = self.profile_hint()
            from trtc.stages.build import workspace_timing_cache_dir

            cache = (workspace_timing_cache_dir(self.ws.stage_dir("build"))
                     if self.ws is not None else None)
            return BuildJob(r.build, name, why, hint, cache,
                            **_if_field(BuildJob, verbose=self.verbose))
        if stage == "verify":
            from trtc.stages.verify import VerifyJob

            changed = tuple(s for s in MODEL_STAGES if getattr(r, s).enabled)
            return VerifyJob(r.verify, r.model if r.verify.reference == "pytorch" else None,
                             changed)
        if stage == "bench":
            from trtc.stages.bench import BenchJob

            wants = r.bench.baseline != "none" and r.is_pytorch
            return BenchJob(r.bench, r.model if wants else None)
        if stage == "package":
            from trtc.stages.package import PackageJob

            return PackageJob(r.package, r.package.model_name or r.name,
                              tuple(sorted({*r.bench.all_batches(), r.verify.data.batch})))
        raise UsageError(f"unknown stage {stage!r}", f"stages are: {', '.join(STAGES)}")

    def outputs(self, stage: str, out_dir: Path) -> dict[str, Path]:
        """Where ``stage`` writes its artifacts inside its workspace folder."""
        if stage in ("export", "prune"):
            return {"model": out_dir / "model.onnx"}
        if stage == "quantize":
            return {"model": out_dir / "model.onnx", "calibration": out_dir / "calibration.json"}
        if stage == "build":
            from trtc.backends import get_backend

            return {"artifact": out_dir / get_backend(self.backend[0]).artifact_name}
        if stage == "package":
            repository = Path(self.recipe.package.repository or out_dir / "triton")
            name = self.recipe.package.model_name or self.recipe.name
            return {"config": repository / name / "config.pbtxt"}
        return {"report": out_dir / "report.json"}


def _if_field(job_type: type, **values: Any) -> dict[str, Any]:
    """The values whose names are fields of ``job_type`` (jobs grow fields one at a time)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(job_type)}
    return {k: v for k, v in values.items() if k in names}
