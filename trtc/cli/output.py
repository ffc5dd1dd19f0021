"""Where a command's output goes: rich on stderr/stdout for people, JSON for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text

from trtc.report import outcome_line


@dataclass
class Settings:
    verbose: bool = False
    quiet: bool = False
    json: bool = False
    #: A JSON result is already on stdout: an error after it must not add a second document.
    result_written: bool = False


#: Set by the root callback; a subcommand's own --json/--quiet/--verbose add to it.
SETTINGS = Settings()


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

    @property
    def human(self) -> bool:
        """Whether people read this run's output (neither --json nor --quiet)."""
        return not self.json and not self.quiet

    def show(self, renderable: Any) -> None:
        if self.human:
            self.console.print(renderable)

    def show_err(self, renderable: Any) -> None:
        if self.human:
            self.err.print(renderable)

    def info(self, message: str) -> None:
        if self.human:
            self.err.print(message, highlight=False)

    def detail(self, message: str) -> None:
        if self.verbose and not self.json:
            self.err.print(message, highlight=False)

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.err.print(Text.assemble(("warning", "yellow"), ": ", message), highlight=False)

    def warnings(self, messages: list[str]) -> None:
        for message in messages:
            self.warn(message)

    def outcome(self, outcome: Any) -> None:
        """One line: the stage, whether it ran or was skipped, and why."""
        self.info(outcome_line(outcome))

    def result(self, data: Any) -> None:
        if self.json:
            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
            SETTINGS.result_written = True

    def reporter(self) -> CliReporter:
        return CliReporter(self)


class _Bar:
    """A rich progress bar on stderr for one phase (a context manager yielding update)."""

    def __init__(self, out: Output, description: str, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress("[progress.description]{task.description}", BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=out.err,
                                 transient=True)
        self.task = self.progress.add_task(description, total=total or None)

    def __enter__(self) -> Callable[[int, int], None]:
        self.progress.start()
        return lambda done, n: self.progress.update(self.task, completed=done, total=n or None)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


@contextmanager
def _silent() -> Iterator[Callable[[int, int], None]]:
    yield lambda done, n: None


class CliReporter:
    """The stages' reporter on the terminal: rich progress bars on stderr, phases as lines.

    No bars under --quiet / --json, or when stderr is not a terminal (a log gets no bar
    frames or blank lines).
    """

    def __init__(self, out: Output) -> None:
        self.out = out
        self.bars = out.human and out.err.is_terminal

    def phase(self, name: str) -> None:
        self.out.info(f"  {name}")

    def progress(self, description: str, total: int) -> Any:
        return _Bar(self.out, description, total) if self.bars else _silent()
