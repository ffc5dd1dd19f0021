"""trtc run: every enabled stage of a recipe, in order, skipping what is up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, command
from trtc.report import summary_renderable


@command()
def run(
    recipe_path: Annotated[Path, typer.Argument(metavar="RECIPE", help="A recipe (.yaml).")],
    until: Annotated[str | None, typer.Option(help="Stop after this stage.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would run and why; "
                                          "run nothing.")] = False,
    *, common: Common,
) -> None:
    """Run all enabled stages of a recipe (export -> prune -> quantize -> build -> verify ->
    bench)."""
    out = common.out

    def progress(outcome: api.StageOutcome) -> None:
        out.outcome(outcome)
        if outcome.manifest_path is not None:
            out.detail(f"        manifest: {outcome.manifest_path}")
        if outcome.stage != "bench":  # bench's warnings are in its table
            out.warnings(outcome.warnings)

    result = api.run(recipe_path, workspace=common.workspace, until=until, force=common.force,
                     dry_run=dry_run, on_outcome=progress, reporter=out.reporter(),
                     verbose=out.verbose)
    if result.report is not None:
        out.show(summary_renderable(result.collected, result.recipe))
        out.info(f"report: {result.report}")
    out.result(result.to_dict())
