"""The root command: global options, error-to-exit-code mapping, subcommand wiring."""

from __future__ import annotations

import signal
import traceback
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import TyperException

from trtc import __version__
from trtc.cli import bench, build, export, inspect, package, prune, quantize, run, verify
from trtc.cli.options import JsonOpt, QuietOpt, VerboseOpt
from trtc.cli.output import SETTINGS
from trtc.errors import Interrupted, TrtcError, disk_error, is_disk_error

INTERNAL_ERROR = 70

#: Signals received during this invocation (set by :func:`_on_signal`).
SIGNALS: list[int] = []


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGINT / SIGTERM: unwind (every ``finally`` and atomic write cleans up), then exit."""
    SIGNALS.append(signum)
    raise KeyboardInterrupt


def _interrupted(exc: BaseException) -> Interrupted | None:
    """An Interrupted error when a signal arrived or ``exc`` came from one, else None.

    Libraries (torch.onnx, ONNX Runtime) turn a KeyboardInterrupt into their own errors,
    which trtc would otherwise report as a model error ("try exporter: legacy").
    """
    seen: BaseException | None = exc
    chain = False
    for _ in range(20):
        if seen is None:
            break
        if isinstance(seen, KeyboardInterrupt):
            chain = True
            break
        seen = seen.__cause__ or seen.__context__
    if not SIGNALS and not chain:
        return None
    sigterm = signal.SIGTERM in SIGNALS
    error = Interrupted("interrupted by " + ("SIGTERM" if sigterm else "Ctrl-C") +
                        "; nothing half-written was kept",
                        "run the command again: finished stages are reused")
    if sigterm:
        error.exit_code = 143  # 128 + SIGTERM
    return error


class TrtcGroup(TyperGroup):
    """Maps trtc's exceptions to one message line, one hint line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (TyperException, typer.Exit, typer.Abort):
            raise
        except BaseException as raised:
            exc: BaseException = _interrupted(raised) or raised
            if isinstance(exc, OSError) and is_disk_error(exc):
                exc = disk_error(exc)  # a write outside atomic_path (a library's own file)
            if isinstance(exc, TrtcError):
                _report(exc)
                raise typer.Exit(exc.exit_code) from None
            if not isinstance(exc, Exception):
                raise
            err = Console(stderr=True)
            err.print(traceback.format_exc(), markup=False, highlight=False)
            err.print("[bold red]internal error[/]: this is a bug in trtc; please report it "
                      "with the traceback above", highlight=False)
            raise typer.Exit(INTERNAL_ERROR) from None


def _report(exc: TrtcError) -> None:
    import json
    import sys

    if SETTINGS.json and not SETTINGS.result_written:
        sys.stdout.write(json.dumps(exc.to_dict()) + "\n")
    err = Console(stderr=True, soft_wrap=True)
    # Messages hold user text (paths, 'trtc[trt]'): never parse them as rich markup.
    err.print(Text.assemble((exc.kind, "bold red"), ": ", exc.message), highlight=False)
    if exc.hint:
        err.print(Text.assemble(("hint", "dim"), ": ", exc.hint), highlight=False)
    if SETTINGS.verbose:
        err.print(traceback.format_exc(), markup=False, highlight=False)


app = typer.Typer(
    cls=TrtcGroup,
    name="trtc",
    help="Compile models for NVIDIA TensorRT from a YAML recipe: "
         "export -> prune -> quantize -> build -> verify -> bench.",
    no_args_is_help=True,
    add_completion=True,  # Typer's --install-completion / --show-completion
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from trtc.api import versions

        found = versions()
        typer.echo(f"trtc {found.pop('trtc') or __version__}")
        for name, version in found.items():
            typer.echo(f"{name} {version or 'not installed'}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the versions of trtc and its runtimes (onnx, "
                                      "onnxruntime, polygraphy, tensorrt, torch) and exit."),
) -> None:
    """Compile models for NVIDIA TensorRT from a YAML recipe."""
    SETTINGS.verbose, SETTINGS.quiet, SETTINGS.json = verbose, quiet, json_out
    SETTINGS.result_written = False


app.command("export")(export.export)
app.command("prune")(prune.prune)
app.command("quantize")(quantize.quantize)
app.command("build")(build.build)
app.command("verify")(verify.verify)
app.command("bench")(bench.bench)
app.command("package")(package.package)
app.command("run")(run.run)
app.command("inspect")(inspect.inspect)


def main() -> None:
    """The ``trtc`` entry point: Ctrl-C and SIGTERM end the run as errors (130 / 143)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    app()

