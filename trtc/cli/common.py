"""Options and output shared by every subcommand."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from trtc.recipe import Recipe, load_recipe, recipe_for_model


@dataclass
class Settings:
    verbose: bool = False
    quiet: bool = False
    json: bool = False
    #: A JSON result is already on stdout: an error after it must not add a second document.
    result_written: bool = False


#: Set by the root callback; a subcommand's own --json/--quiet/--verbose add to it.
SETTINGS = Settings()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON result "
                                       "on stdout (human output is suppressed).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print more detail, and "
                                          "tracebacks for errors.")]
WorkspaceOpt = Annotated[Path, typer.Option("--workspace", help="Root of the artifact tree "
                                            "(artifacts go to WORKSPACE/<recipe-name>/<stage>/).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Run even if up to date.")]
ShapesOpt = Annotated[str | None, typer.Option(
    "--shapes", help="trtexec-style shapes for dynamic inputs: 'x:1x3x640x640,y:1x128'.")]


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr, soft_wrap=False)
    if not console.is_terminal:  # piped or logged: 80 columns would truncate tables
        console.width = max(console.width, 120)
    return console


class Output:
    """Where a command's results go: rich to stdout for people, JSON for machines."""

    def __init__(self, json_out: bool = False, quiet: bool = False, verbose: bool = False) -> None:
        # A subcommand's flags count for the whole invocation (error output too).
        SETTINGS.json = self.json = json_out or SETTINGS.json
        SETTINGS.quiet = self.quiet = quiet or SETTINGS.quiet
        SETTINGS.verbose = self.verbose = verbose or SETTINGS.verbose
        self.console = _console(stderr=False)
        self.err = _console(stderr=True)

    def show(self, renderable: Any) -> None:
        if not self.json and not self.quiet:
            self.console.print(renderable)

    def info(self, message: str) -> None:
        if not self.json and not self.quiet:
            self.err.print(message, highlight=False)

    def detail(self, message: str) -> None:
        if self.verbose and not self.json:
            self.err.print(message, highlight=False)

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.err.print(Text.assemble(("warning", "yellow"), ": ", message), highlight=False)

    def result(self, data: Any) -> None:
        if self.json:
            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
            SETTINGS.result_written = True


def is_recipe(target: str) -> bool:
    return target.endswith((".yaml", ".yml"))


def load_target(target: str) -> Recipe:
    """A recipe file, or a recipe made on the fly for a model path / source (flags mode)."""
    if is_recipe(target):
        return load_recipe(target)
    return recipe_for_model(target)


def run_one_stage(recipe: Recipe, stage: str, workspace: Path, force: bool,
                  out: Output, reporter: Any = None) -> Any:
    """Run one stage of a recipe in its workspace (skipping it when up to date)."""
    from trtc.pipeline import run_recipe, workspace_for

    (outcome,) = run_recipe(recipe, workspace_for(recipe, workspace), only=stage, force=force,
                            reporter=reporter)
    out.info(outcome_line(outcome))
    return outcome


def outcome_line(outcome: Any) -> str:
    style = {"ran": "green", "would run": "yellow"}.get(outcome.status, "dim")
    took = f" in {outcome.wall_time_s:.2f} s" if outcome.status == "ran" else ""
    return f"[{style}]{outcome.stage:8} {outcome.status}[/]{took} ({escape(outcome.reason)})"
