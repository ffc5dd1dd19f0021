"""trtc run: every enabled stage of a recipe, in order, skipping what is up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trtc import api
from trtc.cli.options import Common, JunitOpt, command
from trtc.errors import TrtcError
from trtc.junit import run_suite, write_junit
from trtc.recipe import STAGES, load_recipe
from trtc.report import summary_renderable


@command()
def run(
    recipe_path: Annotated[Path, typer.Argument(metavar="RECIPE", help="A recipe (.yaml).")],
    until: Annotated[str | None, typer.Option(help="Stop after this stage.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would run and why; "
                                          "run nothing.")] = False,
    junit: JunitOpt = None,
    *, common: Common,
) -> None:
    """Run all enabled stages of a recipe (export -> prune -> quantize -> build -> verify ->
    bench)."""
    out = common.out
    seen: list[api.StageOutcome] = []

    def progress(outcome: api.StageOutcome) -> None:
        seen.append(outcome)
        out.outcome(outcome)
        if outcome.manifest_path is not None:
            out.detail(f"        manifest: {outcome.manifest_path}")
        if outcome.stage not in ("bench", "verify"):  # theirs are in their reports' tables
            out.warnings(outcome.warnings)

    try:
        result = api.run(recipe_path, workspace=common.workspace, until=until,
                         force=common.force, dry_run=dry_run, on_outcome=progress,
                         reporter=out.reporter(), verbose=out.verbose)
    except TrtcError as exc:
        if junit is not None:
            write_junit(junit, [run_suite(recipe_path.stem, seen, exc, exc.stage,
                                          _stages(recipe_path))])
        raise
    if junit is not None:
        write_junit(junit, [run_suite(result.recipe, result.outcomes)])
    if result.report is not None:
        out.show(summary_renderable(result.collected, result.recipe))
        out.info(f"report: {result.report}")
        if result.report_html is not None:
            out.info(f"        {result.report_html}")
    out.result(result.to_dict())


def _stages(recipe_path: Path) -> tuple[str, ...]:
    """The stages the recipe enables (all of them when it does not load)."""
    try:
        return load_recipe(recipe_path).enabled_stages()
    except TrtcError:
        return STAGES
