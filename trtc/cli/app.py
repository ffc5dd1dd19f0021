"""The root command: global options, error-to-exit-code mapping, subcommand wiring."""

from __future__ import annotations

import traceback
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
from trtc.errors import TrtcError

INTERNAL_ERROR = 70


class TrtcGroup(TyperGroup):
    """Maps trtc's exceptions to one message line, one hint line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TrtcError as exc:
            _report(exc)
            raise typer.Exit(exc.exit_code) from None
        except (TyperException, typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            Console(stderr=True).print("interrupted")
            raise typer.Exit(130) from None
        except Exception:
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
    app()
