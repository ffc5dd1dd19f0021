"""trtc prune: 2:4 sparsity, unstructured magnitude or channel pruning of an ONNX model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from trtc.cli.common import (
    ForceOpt,
    JsonOpt,
    Output,
    QuietOpt,
    VerboseOpt,
    WorkspaceOpt,
    is_recipe,
    load_target,
    run_one_stage,
)
from trtc.errors import UsageError
from trtc.recipe import override

METHODS = ("2:4", "magnitude", "channel")


def prune(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or an ONNX model.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Pruned ONNX path "
                                                "(flags mode).")] = None,
    method: Annotated[str | None, typer.Option(
        help="2:4 (TensorRT sparse tensor cores), magnitude (unstructured; smaller "
             "compressed file, no speedup) or channel (removes channels; fewer FLOPs).")
    ] = None,
    ratio: Annotated[float | None, typer.Option(
        help="Fraction of weights (magnitude) or output channels (channel) to remove; "
             "between 0 and 1; ignored by 2:4.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="ONNX node name of a layer to leave dense (repeatable).")] = None,
    channel_multiple: Annotated[int | None, typer.Option(
        help="Round kept channel counts up to a multiple of this (e.g. 8 for tensor cores)."
    )] = None,
    workspace: WorkspaceOpt = Path("build"),
    force: ForceOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Prune an ONNX model and report params, FLOPs and size before and after."""
    out = Output(json_out, quiet, verbose)
    if method is not None and method not in METHODS:
        raise UsageError(f"--method {method!r} is not one of {', '.join(METHODS)}",
                         "e.g. --method channel --ratio 0.3")
    recipe = load_target(target)
    if ratio is not None:
        from trtc.optimize.prune import check_ratio

        check_ratio(method or recipe.prune.method, ratio)
    recipe = override(recipe, "prune", method=method, ratio=ratio,
                      exclude=tuple(exclude) if exclude else None,
                      channel_multiple=channel_multiple)
    if is_recipe(target):
        if output is not None:
            raise UsageError("-o/--output is for flags mode; a recipe writes to the workspace",
                             f"the model goes to {workspace}/{recipe.name}/prune/model.onnx")
        recipe = override(recipe, "prune", enabled=True)
        outcome = run_one_stage(recipe, "prune", workspace, force, out)
        if outcome.manifest and not out.json and not out.quiet:
            out.err.print(prune_renderable(outcome.manifest["metrics"]))
        out.result(outcome.to_dict())
        return
    if output is None:
        raise UsageError("flags mode needs -o OUT.onnx",
                         f"e.g. trtc prune {target} -o pruned.onnx --method channel --ratio 0.3")
    from trtc.optimize.prune import prune_model

    report = prune_model(Path(target), output, recipe.prune).to_dict()
    if not out.json and not out.quiet:
        out.err.print(prune_renderable(report))
    out.info(f"[green]pruned[/] {output} ({report['layers_pruned']} layer(s), method "
             f"{report['method']})")
    out.result({"output": str(output), "metrics": report})


def _count(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def _change(before: int | None, after: int | None) -> str:
    if before is None or after is None:
        return "?"
    if before == after:
        return _count(before)
    return f"{_count(before)} -> {_count(after)}"


def prune_renderable(report: dict[str, Any]) -> Group:
    """Per-layer table, skipped chains and totals of one prune report."""
    layers = Table(title=f"prune --method {report['method']}", title_justify="left")
    for col in ("layer", "op", "status", "weight shape", "params", "FLOPs", "zeros"):
        layers.add_column(col, justify="right" if col in ("params", "FLOPs", "zeros")
                          else "left")
    layers.add_column("why not", overflow="fold")
    for row in report["layers"]:
        shape = "x".join(map(str, row["shape_before"]))
        if row["shape_after"] != row["shape_before"]:
            shape += " -> " + "x".join(map(str, row["shape_after"]))
        zeros = f"{row['zeros_after'] * 100:.0f}%"
        style = "" if row["status"] == "pruned" else "dim"
        layers.add_row(row["name"], row["op"], row["status"], shape,
                       _change(row["params_before"], row["params_after"]),
                       _change(row["flops_before"], row["flops_after"]), zeros, row["reason"],
                       style=style)
    parts: list[Any] = [layers]
    skipped = [c for c in report.get("chains", []) if c["status"] == "skipped"]
    if skipped:
        parts.append(Text(f"{len(skipped)} channel chain(s) left alone: " + "; ".join(
            f"{c['producer']}: {c['reason']}" for c in skipped[:8])
            + (" ..." if len(skipped) > 8 else ""), style="dim"))
    before, after = report["before"], report["after"]
    totals = Table(title="total", title_justify="left")
    for col in ("", "before", "after", "after/before"):
        totals.add_column(col, justify="right" if col else "left")
    for key in ("params", "flops", "size_bytes", "gzip_bytes", "weight_zeros_fraction"):
        if key in before:
            ratio = report["after_over_before"].get(key)
            totals.add_row(key, str(before[key]), str(after[key]),
                           "" if ratio is None else f"{ratio:.3f}")
    parts += [totals, Text(f"note: {report['note']}", style="dim")]
    return Group(*parts)
