"""Run a whole recipe, and inspect a model or an engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.api._support import ENGINE_SUFFIXES, Shapes, shapes_of
from trtc.pipeline import StageOutcome, collect_reports, run_recipe, workspace_for
from trtc.recipe import Recipe, load_recipe
from trtc.stages import Reporter
from trtc.workspace import atomic_path


@dataclass
class RunResult:
    """What ``trtc run`` did: one outcome per stage, and the summary it wrote."""

    recipe: str
    workspace: Path
    outcomes: list[StageOutcome]
    #: ``report.md`` in the workspace (None for a dry run).
    report: Path | None = None
    #: ``report.html`` beside it: the same summary with plots, one self-contained file.
    report_html: Path | None = None
    #: The manifests and verify/bench reports the summary was made from.
    collected: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"recipe": self.recipe, "workspace": str(self.workspace),
                               "stages": [o.to_dict() for o in self.outcomes]}
        if self.report is not None:
            out["report"] = str(self.report)
        if self.report_html is not None:
            out["report_html"] = str(self.report_html)
        return out


def run(recipe: str | Path | Recipe, /, *, workspace: str | Path = "build",
        until: str | None = None, force: bool = False, dry_run: bool = False,
        on_outcome: Callable[[StageOutcome], None] | None = None,
        reporter: Reporter | None = None, verbose: bool = False) -> RunResult:
    """Run every enabled stage of a recipe in order, skipping those that are up to date.

    Args:
        recipe: a recipe path or a loaded Recipe.
        workspace: the artifact root (``WORKSPACE/<recipe-name>/<stage>/``).
        until: stop after this stage.
        force: run every stage even if up to date.
        dry_run: say what would run and why; run and write nothing.
        on_outcome: called with each stage's outcome as soon as it is known.
        reporter: where progress goes.
        verbose: TensorRT's builder log for the build stage.

    Returns:
        The outcomes, and (unless ``dry_run``) the ``report.md`` and ``report.html``
        summaries written.

    Raises:
        TrtcError: the first stage that fails stops the run (its error).
    """
    loaded = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    ws = workspace_for(loaded, workspace)
    outcomes = run_recipe(loaded, ws, until=until, force=force, dry_run=dry_run,
                          on_outcome=on_outcome, reporter=reporter, verbose=verbose)
    result = RunResult(loaded.name, ws.root, outcomes)
    if not dry_run:
        from trtc.report import summary_markdown
        from trtc.report_html import summary_html

        result.collected = collect_reports(ws)
        result.report = ws.root / "report.md"
        with atomic_path(result.report) as tmp:
            tmp.write_text(summary_markdown(result.collected, loaded.name))
        result.report_html = ws.root / "report.html"
        with atomic_path(result.report_html) as tmp:
            tmp.write_text(summary_html(result.collected, loaded.name), encoding="utf-8")
    return result


#: What ``trtc --version`` lists: the runtimes the toolchain drives.
RUNTIMES = ("onnx", "onnxruntime", "polygraphy", "tensorrt", "torch")
#: Distributions that install the ``tensorrt`` module (NVIDIA's wheels by CUDA major).
_TENSORRT_DISTS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11",
                   "tensorrt_cu13_bindings", "tensorrt_cu12_bindings")


def versions() -> dict[str, str | None]:
    """trtc's version and its runtimes', from package metadata: nothing heavy is imported.

    None: not installed. A ``tensorrt`` module without package metadata (a build from
    source) reads as ``installed (no package metadata)``.
    """
    import importlib.util
    from importlib import metadata

    from trtc import __version__

    def version(*dists: str) -> str | None:
        for dist in dists:
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
        return None

    out: dict[str, str | None] = {"trtc": __version__}
    for name in RUNTIMES:
        found = version(*(_TENSORRT_DISTS if name == "tensorrt" else (name,)))
        if found is None and name == "tensorrt":
            spec = importlib.util.find_spec(name)
            # A namespace package (origin None) is a leftover folder, e.g. type stubs.
            if spec is not None and spec.origin is not None:
                found = "installed (no package metadata)"
        out[name] = found
    return out


def inspect(model: str | Path, /, *, shapes: Shapes = None) -> dict[str, Any]:
    """Describe an ONNX model or a TensorRT engine.

    Args:
        model: an ONNX model, or an engine (``.engine``/``.plan``/``.trt``; read from
            its ``.engine.json`` sidecar where TensorRT is not installed).
        shapes: sizes for dynamic inputs, for the FLOPs estimate.

    Returns:
        ONNX: I/O, opset, op histogram, parameters, size, FLOPs. Engine: the
        sidecar's build facts, I/O, profiles and layers.

    Raises:
        ModelError: the file is missing or unreadable.
    """
    path = Path(model)
    if path.suffix.lower() in ENGINE_SUFFIXES:
        from trtc.backends.tensorrt import engine_summary

        return dict(engine_summary(path))
    from trtc.graph.inspect import summarize_model

    return dict(summarize_model(path, shapes_of(shapes) or {}).to_dict())
