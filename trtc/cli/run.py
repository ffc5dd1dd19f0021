"""trtc run: every enabled stage of a recipe, in order, skipping what is up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc.cli.common import (
    ForceOpt,
    JsonOpt,
    Output,
    QuietOpt,
    VerboseOpt,
    WorkspaceOpt,
    outcome_line,
)
from trtc.recipe import load_recipe


def run(
    recipe_path: Annotated[Path, typer.Argument(metavar="RECIPE", help="A recipe (.yaml).")],
    until: Annotated[str | None, typer.Option(help="Stop after this stage.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would run and why; "
                                          "run nothing.")] = False,
    workspace: WorkspaceOpt = Path("build"),
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run all enabled stages of a recipe (export -> prune -> quantize -> build -> verify ->
    bench)."""
    from trtc.cli.quantize import CliReporter
    from trtc.pipeline import collect_reports, run_recipe, workspace_for
    from trtc.report import summary_markdown, summary_renderable

    out = Output(json_out, quiet, verbose)
    recipe = load_recipe(recipe_path)
    ws = workspace_for(recipe, workspace)

    def progress(outcome: object) -> None:
        out.info(outcome_line(outcome))
        if getattr(outcome, "status", "") in ("ran", "skipped"):
            out.detail(f"        manifest: {ws.manifest_path(getattr(outcome, 'stage', ''))}")
        if getattr(outcome, "stage", "") != "bench":  # bench's warnings are in its table
            for w in getattr(outcome, "warnings", []):
                out.warn(w)

    outcomes = run_recipe(recipe, ws, until=until, force=force, dry_run=dry_run,
                          on_outcome=progress, reporter=CliReporter(out))
    result = {"recipe": recipe.name, "workspace": str(ws.root),
              "stages": [o.to_dict() for o in outcomes]}
    if not dry_run:
        from trtc.workspace import atomic_path

        collected = collect_reports(ws)
        with atomic_path(ws.root / "report.md") as tmp:
            tmp.write_text(summary_markdown(collected, recipe.name))
        out.show(summary_renderable(collected, recipe.name))
        out.info(f"report: {ws.root / 'report.md'}")
        result["report"] = str(ws.root / "report.md")
    out.result(result)
