"""report.html: the run's summary as one self-contained page, with plots.

Latency distribution per batch and runtime, speed-up against PyTorch, accuracy per
stage (export -> quantize -> engine) and, for a TensorRT engine, its compute layers
by precision. Plots are drawn with matplotlib (``pip install 'trtc[report]'``) and
embedded as base64 PNG, so the file opens alone (no network, no side files);
without matplotlib the page has the same tables and says why there are no plots.
Functions take the manifests and reports ``trtc run`` collected; nothing is measured.
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Mapping, Sequence
from typing import Any

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
       margin: 2em auto; max-width: 1100px; color: #1d2327; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.8em; font-size: 1.25em;
     border-bottom: 1px solid #dde1e4; padding-bottom: .2em; }
.meta { color: #5f6b73; font-size: .9em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .9em; }
th, td { border: 1px solid #dde1e4; padding: .3em .7em; text-align: right; }
th { background: #f3f5f6; } td.l, th.l { text-align: left; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
.note { background: #fff8c5; border: 1px solid #e9d66b; padding: .5em .8em; }
img { max-width: 100%; display: block; margin: .5em 0; }
code { background: #f3f5f6; padding: 0 .25em; }
"""
#: One colour per runtime, the same in every plot.
_COLOURS = {"tensorrt": "#76b900", "onnxruntime": "#0a6ebd", "pytorch": "#ee4c2c",
            "pytorch_fp32": "#ee4c2c", "pytorch_fp16": "#f5a623"}
_PRECISION_COLOURS = {"INT8": "#76b900", "FP8": "#4e7a00", "FP16": "#0a6ebd",
                      "BF16": "#5b9bd5", "FP32": "#cf222e"}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _ms(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """An HTML table; the first ``left`` columns are left-aligned (names)."""
    def cell(tag: str, i: int, v: Any) -> str:
        cls = ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{v}</{tag}>"

    head = "".join(cell("th", i, _e(h)) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _verdict(passed: bool) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


# --------------------------------------------------------------------------- plots


def _matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _runtimes(report: Mapping[str, Any]) -> list[str]:
    """The timed runtimes of a bench report, artifact first."""
    names = [str(report.get("backend"))]
    for row in report.get("results") or []:
        names += [k for k, v in row.items() if isinstance(v, dict) and "median_ms" in v
                  and k not in names and not (k == "pytorch" and "pytorch_fp32" in row)]
    return names


_PERCENTILES = (("min_ms", 0), ("median_ms", 50), ("p90_ms", 90), ("p95_ms", 95),
                ("p99_ms", 99), ("max_ms", 100))


def latency_plot(report: Mapping[str, Any], figure: Any) -> str:
    """Latency by percentile (min, median, p90, p95, p99, max), one panel per batch."""
    rows = report.get("results") or []
    if not rows:
        return ""
    fig = figure(figsize=(min(4.2 * len(rows), 12), 3.4), layout="constrained")
    axes = fig.subplots(1, len(rows), squeeze=False)[0]
    for ax, row in zip(axes, rows):
        for name in _runtimes(report):
            stats = row.get(name)
            if not isinstance(stats, dict):
                continue
            ax.plot([p for _, p in _PERCENTILES], [stats[k] for k, _ in _PERCENTILES],
                    marker="o", label=name, color=_COLOURS.get(name))
        ax.set_title(f"batch {row['batch']}")
        ax.set_xlabel("percentile of runs")
        ax.set_xticks([0, 50, 90, 100], ["min", "50", "90", "max"])
        # A few slow runs (max) would flatten the rest: a log scale keeps both readable.
        ax.set_yscale("log")
        ax.grid(alpha=.3, which="both")
    axes[0].set_ylabel("latency (ms, log scale)")
    axes[0].legend(fontsize=8)
    fig.suptitle("latency distribution per batch and runtime")
    return _png(fig)


def speedup_plot(report: Mapping[str, Any], figure: Any) -> str:
    """Speed-up of each runtime over PyTorch (fp32) per batch; nothing without PyTorch."""
    rows = [r for r in report.get("results") or [] if "speedup_vs_pytorch" in r]
    if not rows:
        return ""
    backend = str(report.get("backend"))
    series: dict[str, list[float]] = {backend: [float(r["speedup_vs_pytorch"]) for r in rows]}
    if all("pytorch_fp16" in r and "pytorch_fp32" in r for r in rows):
        series["pytorch_fp16"] = [r["pytorch_fp32"]["median_ms"] / r["pytorch_fp16"]["median_ms"]
                                  for r in rows]
    fig = figure(figsize=(6.5, 3.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [j + i * width for j in range(len(rows))]
        bars = ax.bar(xs, values, width, label=name, color=_COLOURS.get(name))
        ax.bar_label(bars, labels=[f"{v:.2f}x" for v in values], fontsize=8)
    ax.axhline(1.0, color="#5f6b73", linestyle="--", linewidth=1, label="PyTorch = 1")
    ax.set_ylim(0, max(max(v) for v in series.values()) * 1.15)
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(rows))],
                  [f"batch {r['batch']}" for r in rows])
    ax.set_ylabel("speed-up (median latency)")
    ax.set_title("speed-up against PyTorch eager")
    ax.legend(fontsize=8)
    return _png(fig)


def accuracy_plot(points: Sequence[tuple[str, float]], metric: str, figure: Any) -> str:
    """The task metric at each stage (reference, quantized ONNX, built artifact)."""
    if len(points) < 2:
        return ""
    fig = figure(figsize=(6.5, 3.0), layout="constrained")
    ax = fig.subplots()
    values = [v for _, v in points]
    bars = ax.bar([s for s, _ in points], values, color="#0a6ebd")
    ax.bar_label(bars, labels=[f"{v:.4f}" for v in values], fontsize=8)
    low = min(values)
    ax.set_ylim(max(0.0, low - (1 - low) * 2 - 0.02), 1.0)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per stage")
    return _png(fig)


def chosen_candidate(budget: Mapping[str, Any]) -> int | None:
    """The index of the measured candidate the search returned: the first one meeting the
    budget with the returned float set (None: none, e.g. a search that missed)."""
    chosen = set(budget.get("float_nodes") or [])
    return next((i for i, c in enumerate(budget.get("candidates") or [])
                 if c["meets"] and set(c["nodes"]) == chosen), None)


def budget_plot(budget: Mapping[str, Any], figure: Any) -> str:
    """Every model the budget search measured: its metric against its latency (or, untimed,
    against its float-node count), the budget line, the chosen one and the float reference."""
    candidates = budget.get("candidates") or []
    if len(candidates) < 2:
        return ""
    timed = all(c.get("latency_ms") is not None for c in candidates)
    x_of = (lambda c: c["latency_ms"]) if timed else (lambda c: c["float_nodes"])
    fig = figure(figsize=(6.5, 3.4), layout="constrained")
    ax = fig.subplots()
    limit = budget["max_drop"]
    met = [c for c in candidates if c["meets"]]
    missed = [c for c in candidates if not c["meets"]]
    for group, colour, label in ((met, "#76b900", "meets the budget"),
                                 (missed, "#c62828", "misses it")):
        if group:
            ax.scatter([x_of(c) for c in group], [c["value"] for c in group], color=colour,
                       label=label, s=22)
    index = chosen_candidate(budget)
    if index is not None:
        pick = candidates[index]
        ax.scatter([x_of(pick)], [pick["value"]], facecolors="none", edgecolors="#1b1f23",
                   s=120, label=f"chosen ({pick['float_nodes']} in float)")
    first = candidates[0]
    ax.annotate("all quantized", (x_of(first), first["value"]), fontsize=8,
                textcoords="offset points", xytext=(4, 4))
    base = budget.get("baseline")
    if timed and base and base.get("latency_ms") is not None:
        ax.axvline(base["latency_ms"], color="#0a6ebd", linestyle=":", linewidth=1,
                   label=f"{base['precision']} reference")
    reference = first["reference"]
    ax.axhline(reference - limit, color="#5f6b73", linestyle="--", linewidth=1,
               label=f"budget (drop {limit:g})")
    ax.set_xlabel("latency (ms)" if timed else "nodes in float")
    ax.set_ylabel(first["metric"])
    ax.set_title(f"budget search on {budget.get('evaluator', 'onnxruntime')}: "
                 f"{len(candidates)} models")
    ax.grid(alpha=.3)
    ax.legend(fontsize=8)
    return _png(fig)


def precision_plot(layer_precision: Mapping[str, Any], figure: Any) -> str:
    """The engine's compute layers by precision, as one stacked bar."""
    counts = layer_precision.get("by_precision") or {}
    if not counts:
        return ""
    fig = figure(figsize=(6.5, 1.8), layout="constrained")
    ax = fig.subplots()
    left = 0
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        ax.barh([0], [n], left=left, color=_PRECISION_COLOURS.get(name, "#8c959f"),
                label=f"{name} {n}")
        left += n
    ax.set_yticks([])
    ax.set_xlabel("compute layers (convolution / GEMM / matmul)")
    ax.legend(fontsize=8, ncols=len(counts), loc="lower center", bbox_to_anchor=(.5, 1.0),
              frameon=False)
    return _png(fig)


# --------------------------------------------------------------------------- sections


def _header(collected: Mapping[str, Any], name: str) -> list[str]:
    out = [f"<h1>trtc report: {_e(name)}</h1>"]
    build = collected.get("build")
    facts = []
    if build:
        m = build["metrics"]
        art = build["outputs"]["artifact"]
        facts.append(f"artifact <code>{_e(art['path'])}</code> ({art['bytes']:,} bytes), "
                     f"{_e(m['backend'])} {_e(m['precision'])}, built in "
                     f"{m['build_time_s']:.2f} s")
    versions = next((m.get("versions") for m in collected.values()
                     if isinstance(m, dict) and m.get("versions")), None) or {}
    tools = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    facts.append(f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
                 + (f"; {_e(tools)}" if tools else ""))
    return out + [f'<p class="meta">{f}</p>' for f in facts]


def _accuracy_points(collected: Mapping[str, Any]) -> tuple[str, list[tuple[str, float]],
                                                           list[list[str]]]:
    """(metric name, (stage, value) points for the plot, table rows)."""
    rows: list[list[str]] = []
    points: list[tuple[str, float]] = []
    metric_name = ""
    export = collected.get("export")
    parity = (export or {}).get("metrics", {}).get("parity")
    if parity:
        worst = max(v["max_abs"] for v in parity["outputs"].values())
        rows.append(["export", "PyTorch vs ONNX Runtime", f"max abs error {worst:.3g}", ""])
    vr = collected.get("verify_report") or {}
    metric = vr.get("metric") or {}
    quantize = (collected.get("quantize") or {}).get("metrics", {})
    acc = quantize.get("accuracy")
    if metric.get("name") == "top1":
        metric_name = "top-1 accuracy"
        points.append(("reference", float(metric["reference"])))
    if acc:
        label = {"top1": "top-1", "cosine": "cosine"}.get(acc["metric"], acc["metric"])
        rows.append(["quantize", f"{label} (ONNX Runtime)",
                     f"{acc['value']:.4f} (its input model {acc['reference']:.4f}, drop "
                     f"{acc['drop']:.4f})",
                     ""])
        if acc["metric"] == "top1" and metric_name:
            points.append(("quantize", float(acc["value"])))
    if metric:
        if metric["name"] == "top1":
            rows.append(["engine" if vr.get("backend") == "tensorrt" else "build",
                         f"top-1 on {metric['samples']} labelled samples",
                         f"{metric['candidate']:.4f} (reference {metric['reference']:.4f}, "
                         f"drop {metric['drop'] * 100:.2f} points)", _verdict(metric["passed"])])
            points.append(("engine" if vr.get("backend") == "tensorrt" else "artifact",
                           float(metric["candidate"])))
        else:
            rows.append(["build", f"cosine on {metric['samples']} samples",
                         f"mean {metric['mean']:.4f}, min {metric['min']:.4f}",
                         _verdict(metric["passed"])])
    return metric_name, points, rows


def _budget_section(budget: Mapping[str, Any], figure: Any) -> list[str]:
    index = chosen_candidate(budget)
    rows = [[i, c["float_nodes"], f"{c['value']:.4f}", f"{c['drop']:.4f}",
             _ms(c["latency_ms"]) if c.get("latency_ms") is not None else "",
             f"{c['build_s']:.1f}" if c.get("build_s") is not None else "",
             "chosen" if i == index else ""]
            for i, c in enumerate(budget.get("candidates") or [])]
    ranked = (budget.get("ranking") or {}).get("measured_on")
    apart = (f"; nodes ranked on {_e(ranked['evaluator'])} ({ranked['evaluations']} models)"
             if ranked else "")
    out = ["<h2>accuracy budget search</h2>",
           f'<p class="meta">on {_e(budget.get("evaluator", "onnxruntime"))}, max drop '
           f'{budget["max_drop"]:g}; {budget.get("evaluations", len(rows))} models in '
           f'{budget.get("seconds", 0):.1f} s; chosen by {_e(budget.get("chosen_by", ""))}'
           f'{apart}</p>']
    if figure is not None:
        out.append(budget_plot(budget, figure))
    out.append("<details><summary>every model measured</summary>"
               + _table(["#", "nodes in float", "metric", "drop", "latency ms", "build s",
                         ""], rows, left=0) + "</details>")
    return out


def _verify_section(vr: Mapping[str, Any]) -> list[str]:
    gates = vr.get("elementwise_gates", True)

    def result(passed: bool) -> str:
        # A pruned / quantized model is judged by its metric: its tolerances only inform.
        return _verdict(passed) if gates else \
            ("within" if passed else '<span class="meta">outside (not gating)</span>')

    rows = [[_e(n), f"{s['max_abs']:.3g}", f"{s['mean_abs']:.3g}", f"{s['max_rel']:.3g}",
             f"{s['cosine']:.6f}", f"{s['atol']:g} / {s['rtol']:g}", result(s["passed"])]
            for n, s in (vr.get("outputs") or {}).items()]
    out = ["<h2>verify</h2>", f'<p class="meta">{_e(vr["candidate"])} vs '
           f'{_e(vr["reference"])}; data: {_e(vr["data"])}</p>',
           _table(["output", "max abs", "mean abs", "max rel", "cosine", "atol / rtol",
                   "result"], rows)]
    if not gates:
        out.append('<p class="meta">element-wise tolerances reported, not gating: the model '
                   f'was changed on purpose ({_e(", ".join(vr.get("changed_by") or []))})</p>')
    return out


def _bench_section(br: Mapping[str, Any], figure: Any) -> list[str]:
    how = (f"{br['threads']} threads" if br.get("threads") else
           _e((br.get("device") or {}).get("name", "GPU")))
    out = ["<h2>bench</h2>", f'<p class="meta">{_e(br["backend"])}, {how}; warm-up '
           f'{br["method"]["warmup_ms"]:g} ms, &ge; {br["method"]["duration_s"]:g} s and &ge; '
           f'{br["method"]["min_iterations"]} runs</p>']
    rows = []
    for row in br.get("results") or []:
        for name in _runtimes(br):
            s = row.get(name)
            if not isinstance(s, dict):
                continue
            speed = (f"{row['speedup_vs_pytorch']:.2f}x" if name == br["backend"]
                     and "speedup_vs_pytorch" in row else
                     ("1.00x" if name in ("pytorch", "pytorch_fp32") else ""))
            rows.append([row["batch"], _e(name), _ms(s["median_ms"]), _ms(s["p90_ms"]),
                         _ms(s["p99_ms"]), _ms(s["max_ms"]), f"{s['cov'] * 100:.1f}%",
                         f"{s['throughput_samples_s']:.0f}", speed])
    out.append(_table(["batch", "runtime", "median ms", "p90 ms", "p99 ms", "max ms", "CoV",
                       "samples/s", "vs PyTorch"], rows, left=2))
    if figure is not None:
        out += [latency_plot(br, figure), speedup_plot(br, figure)]
    out += [f'<p class="note">warning: {_e(w)}</p>' for w in br.get("warnings") or []]
    return out


def _precision_section(lp: Mapping[str, Any], figure: Any) -> list[str]:
    n = lp.get("compute_layers") or 0
    out = ["<h2>layer precision (TensorRT engine inspector)</h2>"]
    if not n:
        return out + ["<p>no convolution/GEMM/matmul layer in the inspector's output</p>"]
    counts = _table(["precision", "compute layers", "share"],
                    [[_e(p), c, f"{c / n * 100:.1f}%"] for p, c in
                     sorted(lp["by_precision"].items(), key=lambda kv: -kv[1])])
    out.append(counts)
    if figure is not None:
        out.append(precision_plot(lp, figure))
    rows = [[_e(r["name"]), _e(r["kind"]), _e(r["precision"])] for r in lp.get("compute") or []]
    out.append("<details><summary>every compute layer</summary>"
               + _table(["layer", "kind", "precision"], rows, left=3) + "</details>")
    unfused = lp.get("unfused_qdq") or []
    if unfused:
        out.append(f'<p class="note">{len(unfused)} Q/DQ or int8 reformat layer(s) left '
                   "unfused: each costs a memory pass (the usual reason int8 runs slower "
                   "than fp16)</p>")
        out.append(_table(["layer", "kind", "why"],
                          [[_e(r["name"]), _e(r["kind"]), _e(r["why"])] for r in unfused],
                          left=3))
    return out


def summary_html(collected: Mapping[str, Any], name: str, *, plots: bool = True) -> str:
    """The whole page (``build/<name>/report.html``); ``plots=False`` leaves plots out."""
    figure = _matplotlib() if plots else None
    body = _header(collected, name)
    if plots and figure is None:
        body.append('<p class="note">plots need matplotlib: <code>pip install '
                    "'trtc[report]'</code>; the tables below hold the same numbers</p>")
    metric_name, points, rows = _accuracy_points(collected)
    if rows:
        body += ["<h2>accuracy per stage</h2>",
                 _table(["stage", "measured", "value", "result"], rows, left=2)]
        if figure is not None and metric_name:
            body.append(accuracy_plot(points, metric_name, figure))
    budget = ((collected.get("quantize") or {}).get("metrics") or {}).get("budget")
    if budget and len(budget.get("candidates") or []) > 1:
        body += _budget_section(budget, figure)
    if collected.get("verify_report"):
        body += _verify_section(collected["verify_report"])
    if collected.get("bench_report"):
        body += _bench_section(collected["bench_report"], figure)
    lp = ((collected.get("build") or {}).get("metrics") or {}).get("layer_precision")
    if lp:
        body += _precision_section(lp, figure)
    package = (collected.get("package") or {}).get("metrics")
    if package and package.get("config"):
        body += ["<h2>package</h2>", f"<p>Triton model repository: <code>"
                 f"{_e(package['config'])}</code> ({_e(package['platform'])}, max_batch_size "
                 f"{package['max_batch_size']})</p>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>trtc report: {_e(name)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(p for p in body if p) + "\n</body></html>\n")
