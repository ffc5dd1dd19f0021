"""Render results: rich tables for the terminal, Markdown for report.md.

Functions here take plain data (reports, manifests) and return renderables or
text; only the CLI prints them.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def _ms(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _count(n: int) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def plan_table(plan: dict[str, Any]) -> Table:
    """Key/value table of a dry-run plan (nested settings flattened as a.b)."""
    table = Table(title="build plan (dry run: nothing is built)", title_justify="left",
                  show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else k, v)
        else:
            table.add_row(prefix, "default" if value is None else str(value))

    add("", plan)
    return table


def outcomes_table(outcomes: list[Any]) -> Table:
    table = Table(title="stages", title_justify="left")
    for col in ("stage", "status", "why", "time"):
        table.add_column(col)
    for o in outcomes:
        style = {"ran": "green", "skipped": "dim", "would run": "yellow"}.get(o.status, "")
        table.add_row(o.stage, Text(o.status, style=style), o.reason,
                      f"{o.wall_time_s:.2f} s" if o.status == "ran" else "")
    return table


def inspect_renderable(summary: dict[str, Any]) -> Group:
    io = Table(title=f"{summary['path']}", title_justify="left")
    for col in ("", "name", "dtype", "shape"):
        io.add_column(col)
    for kind in ("inputs", "outputs"):
        for t in summary[kind]:
            io.add_row(kind[:-1], t["name"], t["dtype"], "x".join(str(d) for d in t["shape"]))
    facts = Table(show_header=False, box=None)
    facts.add_row("opset", str(summary["opset"]))
    facts.add_row("producer", summary.get("producer") or "-")
    facts.add_row("nodes", str(summary["node_count"]))
    facts.add_row("parameters", _count(summary["parameter_count"]))
    facts.add_row("size", _size(summary["size_bytes"]))
    facts.add_row("FLOPs (Conv/Gemm/MatMul)",
                  f"{_count(summary['flops'])} ({summary['flops_note']})")
    ops = Table(title="op histogram", title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, n in summary["op_histogram"].items():
        ops.add_row(op, str(n))
    return Group(io, facts, ops)


def verify_renderable(report: dict[str, Any]) -> Group:
    table = Table(title=f"verify: {report['candidate']} vs {report['reference']}",
                  title_justify="left", caption=f"data: {report['data']}", caption_justify="left")
    for col in ("output", "max abs", "mean abs", "max rel", "cosine", "atol", "rtol", "result"):
        table.add_column(col, justify="right" if col not in ("output", "result") else "left",
                         no_wrap=col != "output")
    for name, s in report["outputs"].items():
        table.add_row(name, f"{s['max_abs']:.3g}", f"{s['mean_abs']:.3g}", f"{s['max_rel']:.3g}",
                      f"{s['cosine']:.6f}", f"{s['atol']:g}", f"{s['rtol']:g}",
                      Text("pass", "green") if s["passed"] else Text("FAIL", "bold red"))
    parts: list[Any] = [table]
    metric = report.get("metric")
    if metric:
        parts.append(Text(
            f"top-1 accuracy on {metric['samples']} labelled samples: candidate "
            f"{_pct(metric['candidate'])}, reference {_pct(metric['reference'])}, drop "
            f"{metric['drop'] * 100:.2f} points (max {metric['max_drop'] * 100:.2f}), "
            f"agreement {_pct(metric['agreement'])}",
            style="green" if metric["passed"] else "bold red"))
    return Group(*parts)


def bench_renderable(report: dict[str, Any]) -> Group:
    table = Table(title=f"bench: {report['artifact']} ({report['threads']} threads; "
                        "latency in ms)", title_justify="left")
    for col in ("batch", "runtime", "median", "p90", "p99", "max", "CoV", "samples/s",
                "speedup"):
        table.add_column(col, justify="left" if col in ("runtime",) else "right",
                         no_wrap=True)
    for row in report["results"]:
        for name in (report["backend"], "pytorch"):
            if name not in row:
                continue
            s = row[name]
            speed = ""
            if name == report["backend"] and "speedup_vs_pytorch" in row:
                speed = f"{row['speedup_vs_pytorch']:.2f}x"
            elif name == "pytorch":
                speed = "1.00x"
            table.add_row(str(row["batch"]), name, _ms(s["median_ms"]), _ms(s["p90_ms"]),
                          _ms(s["p99_ms"]), _ms(s["max_ms"]), f"{s['cov'] * 100:.1f}%",
                          f"{s['throughput_samples_s']:.0f}", speed)
    parts: list[Any] = [table]
    for w in report.get("warnings", []):
        parts.append(Text(f"warning: {w}", style="yellow"))
    return Group(*parts)


def summary_renderable(collected: dict[str, Any], name: str) -> Group:
    """The final summary of ``trtc run``: artifact, accuracy, latency vs PyTorch."""
    parts: list[Any] = [Text(f"summary: {name}", style="bold")]
    build = collected.get("build")
    if build:
        m = build["metrics"]
        parts.append(Text(f"artifact: {build['outputs']['artifact']['path']} "
                          f"({_size(build['outputs']['artifact']['bytes'])}, {m['backend']}, "
                          f"{m['precision']}; {m['backend_choice']})"))
    if "verify_report" in collected:
        parts.append(verify_renderable(collected["verify_report"]))
    if "bench_report" in collected:
        parts.append(bench_renderable(collected["bench_report"]))
    return Group(*parts)


def summary_markdown(collected: dict[str, Any], name: str) -> str:
    """Render the same summary as Markdown (build/<name>/report.md)."""
    lines = [f"# trtc report: {name}", ""]
    export = collected.get("export")
    if export:
        nodes = export["metrics"].get("nodes", {})
        lines.append(f"- export: opset {export['metrics'].get('opset')}, nodes "
                     f"{nodes.get('before')} -> {nodes.get('after')} ({nodes.get('method')})")
        parity = export["metrics"].get("parity")
        if parity:
            worst = max(v["max_abs"] for v in parity["outputs"].values())
            lines.append(f"- export parity (PyTorch vs ONNX Runtime): max abs error {worst:.3g}")
    build = collected.get("build")
    if build:
        m = build["metrics"]
        lines.append(f"- build: {m['backend']} {m['precision']}, "
                     f"{_size(build['outputs']['artifact']['bytes'])}, {m['build_time_s']:.2f} s")
    vr = collected.get("verify_report")
    if vr:
        lines += ["", "## verify", "",
                  f"{vr['candidate']} vs {vr['reference']}; data: {vr['data']}",
                  "", "| output | max abs | mean abs | max rel | cosine | result |",
                  "|---|---|---|---|---|---|"]
        for out, s in vr["outputs"].items():
            lines.append(f"| {out} | {s['max_abs']:.3g} | {s['mean_abs']:.3g} | {s['max_rel']:.3g}"
                         f" | {s['cosine']:.6f} | {'pass' if s['passed'] else 'FAIL'} |")
        metric = vr.get("metric")
        if metric:
            lines += ["", f"Top-1 accuracy ({metric['samples']} samples): candidate "
                      f"{_pct(metric['candidate'])}, reference {_pct(metric['reference'])}, "
                      f"agreement {_pct(metric['agreement'])}."]
    br = collected.get("bench_report")
    if br:
        lines += ["", "## bench", "", f"{br['backend']}, {br['threads']} threads, warm-up "
                  f"{br['method']['warmup_ms']:g} ms, >= {br['method']['duration_s']:g} s and >= "
                  f"{br['method']['min_iterations']} runs", "",
                  "| batch | runtime | median ms | p90 ms | p99 ms | samples/s | vs PyTorch |",
                  "|---|---|---|---|---|---|---|"]
        for row in br["results"]:
            for rt in (br["backend"], "pytorch"):
                if rt in row:
                    s = row[rt]
                    sp = (f"{row['speedup_vs_pytorch']:.2f}x" if rt == br["backend"] and
                          "speedup_vs_pytorch" in row else ("1.00x" if rt == "pytorch" else ""))
                    lines.append(f"| {row['batch']} | {rt} | {_ms(s['median_ms'])} | "
                                 f"{_ms(s['p90_ms'])} | {_ms(s['p99_ms'])} | "
                                 f"{s['throughput_samples_s']:.0f} | {sp} |")
        for w in br.get("warnings", []):
            lines.append(f"\nwarning: {w}")
    return "\n".join(lines) + "\n"
