"""Options every subcommand shares, declared once, and the decorator that adds them."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from trtc.cli.output import Output

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON result "
                                       "on stdout (human output is suppressed).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print more detail, and "
                                          "tracebacks for errors.")]
WorkspaceOpt = Annotated[Path, typer.Option("--workspace", help="Root of the artifact tree "
                                            "(artifacts go to WORKSPACE/<recipe-name>/<stage>/).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Run even if up to date.")]
JunitOpt = Annotated[Path | None, typer.Option(
    "--junit", metavar="FILE", help="Also write the result as JUnit XML (for CI reporters: "
    "GitLab, Jenkins, GitHub).")]
ShapesOpt = Annotated[str | None, typer.Option(
    "--shapes", help="trtexec-style shapes for dynamic inputs: 'x:1x3x640x640,y:1x128'.")]


def one_of(choices: Any) -> str:
    """``'a, b or c'`` from a schema choice type (``Literal['a', 'b', 'c']``)."""
    names = [str(c) for c in get_args(choices)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@dataclass
class Common:
    """The shared options of one invocation, handed to the command as ``common``."""

    out: Output
    workspace: Path = Path("build")
    force: bool = False


_SHARED = {
    "workspace": (WorkspaceOpt, Path("build")),
    "force": (ForceOpt, False),
    "json_out": (JsonOpt, False),
    "quiet": (QuietOpt, False),
    "verbose": (VerboseOpt, False),
}


def command(*, workspace: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the shared options (--workspace, --force, --json, --quiet, --verbose).

    The command declares a last parameter ``common: Common`` instead of the five options;
    ``workspace=False`` leaves --workspace and --force to the command (``build`` reads a
    size or a folder; ``inspect`` writes nothing).
    """
    names = list(_SHARED) if workspace else ["json_out", "quiet", "verbose"]

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(fn, eval_str=True).parameters.values()
               if p.name != "common"]
        shared = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=_SHARED[n][1],
                                    annotation=_SHARED[n][0]) for n in names]

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> None:
            values = {n: kwargs.pop(n) for n in names}
            out = Output(values.pop("json_out"), values.pop("quiet"), values.pop("verbose"))
            fn(**kwargs, common=Common(out, **values))

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + shared
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate
