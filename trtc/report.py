"""Render results: rich tables for the terminal, Markdown for report.md.

Functions here take plain data (reports, manifests) and return renderables or
text; only the CLI prints them.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.markup import escape
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


def _count(n: int | None) -> str:
    if n is None:
        return "?"
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


def precision_line(report: dict[str, Any]) -> str:
    """One line of an engine's precision proof: its compute layers by precision."""
    n = report.get("compute_layers") or 0
    if not n:
        return "layer precision: no convolution/GEMM/matmul layer in the inspector's output"
    parts = ", ".join(f"{p} {c}/{n} ({c / n * 100:.0f}%)"
                      for p, c in sorted(report["by_precision"].items(), key=lambda kv: -kv[1]))
    unfused = len(report.get("unfused_qdq") or [])
    return (f"compute layers by precision: {parts}" +
            (f"; {unfused} unfused Q/DQ / int8 reformat layer(s)" if unfused else ""))


def precision_renderable(report: dict[str, Any]) -> Group:
    """``trtc inspect ENGINE``'s precision table: compute layers, and unfused Q/DQ."""
    parts: list[Any] = [Text(precision_line(report))]
    if report.get("compute"):
        table = Table(title="compute layers", title_justify="left")
        for col in ("layer", "kind", "precision"):
            table.add_column(col, overflow="fold")
        for row in report["compute"]:
            style = "green" if row["precision"] in ("INT8", "FP8") else \
                ("yellow" if row["precision"] in ("FP16", "BF16") else "red")
            table.add_row(row["name"], row["kind"], Text(row["precision"], style))
        parts.append(table)
    for row in report.get("unfused_qdq") or []:
        parts.append(Text(f"unfused: {row['name']} ({row['kind']}): {row['why']}",
                          style="yellow"))
    return Group(*parts)


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


def engine_renderable(summary: dict[str, Any], show_layers: bool = False) -> Group:
    """``trtc inspect ENGINE``: the sidecar (what it was built with), I/O and layer counts."""
    side = summary.get("sidecar") or {}
    gpu = side.get("gpu") or {}
    facts = Table(title=f"{summary['engine']}", title_justify="left", show_header=False)
    facts.add_column("", style="bold")
    facts.add_column("")
    facts.add_row("size", _size(summary["bytes"]))
    for label, value in (("TensorRT", side.get("tensorrt_version")),
                         ("GPU", f"{gpu.get('name')} (compute capability "
                                 f"{gpu.get('compute_capability')})" if gpu else None),
                         ("precision", side.get("precision")),
                         ("builder flags", ", ".join(side.get("precision_flags") or []) or
                          ("-" if side else None)),
                         ("TF32", side.get("tf32")), ("int8", side.get("int8_mode")),
                         ("strongly typed", side.get("strongly_typed")),
                         ("version compatible", side.get("version_compatible")),
                         ("hardware compatibility", side.get("hardware_compatibility"))):
        if value is not None:
            facts.add_row(label, str(value))
    here = summary.get("here") or {}
    if here:
        facts.add_row("loads here", Text("yes" + (f" ({here['reason']})" if here["reason"]
                                                  else ""), "green") if here["loadable_here"]
                      else Text(f"no: {here['reason']}", "bold red"))
    parts: list[Any] = [facts]
    io = side.get("io") or {}
    if io:
        table = Table(title="I/O", title_justify="left")
        for col in ("", "name", "dtype", "shape"):
            table.add_column(col)
        for kind in ("inputs", "outputs"):
            for name, t in (io.get(kind) or {}).items():
                table.add_row(kind[:-1], name, t["dtype"], "x".join(str(d) for d in t["shape"]))
        parts.append(table)
        for i, prof in enumerate(io.get("profiles") or []):
            parts.append(Text(f"profile {i}: " + "; ".join(
                f"{n} min {'x'.join(map(str, r[0]))} opt {'x'.join(map(str, r[1]))} "
                f"max {'x'.join(map(str, r[2]))}" for n, r in prof.items())))
    layer_summary = summary.get("layer_summary")
    if layer_summary:
        parts.append(Text(f"{layer_summary['layers']} layers; by output precision: " + ", ".join(
            f"{k} {v}" for k, v in layer_summary["by_output_precision"].items())))
        kinds = Table(title="layers by type", title_justify="left")
        kinds.add_column("type")
        kinds.add_column("count", justify="right")
        for kind, n in layer_summary["by_type"].items():
            kinds.add_row(kind, str(n))
        parts.append(kinds)
    precision = summary.get("precision")
    if precision:
        if show_layers:
            parts.append(precision_renderable(precision))
        else:
            parts.append(Text(precision_line(precision)))
    if show_layers and summary.get("layers"):
        layers = Table(title="layers", title_justify="left")
        for col in ("name", "type", "tactic / kernel", "output"):
            layers.add_column(col, overflow="fold")
        for layer in summary["layers"]:
            if isinstance(layer, dict):
                outs = layer.get("Outputs") or [{}]
                layers.add_row(str(layer.get("Name", "")), str(layer.get("LayerType", "")),
                               str(layer.get("TacticName") or layer.get("Tactic") or ""),
                               str(outs[0].get("Format/Datatype", "")))
            else:
                layers.add_row(str(layer), "", "", "")
        parts.append(layers)
    for note in summary.get("notes") or []:
        parts.append(Text(f"note: {note}", style="yellow"))
    return Group(*parts)


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
    if not report.get("elementwise_gates", True):
        parts.append(Text(f"element-wise tolerances reported, not gating: the model was "
                          f"changed on purpose ({', '.join(report.get('changed_by') or [])})",
                          style="dim"))
    metric = report.get("metric")
    if metric:
        parts.append(Text(metric_line(metric),
                          style="green" if metric["passed"] else "bold red"))
    parts.extend(Text(f"warning: {w}", style="yellow") for w in report.get("warnings", []))
    return Group(*parts)


def metric_line(metric: dict[str, Any]) -> str:
    """One line for verify's task metric (top-1 drop or cosine similarity)."""
    if metric.get("name") == "cosine":
        agree = metric.get("agreement")
        return (f"cosine similarity on {metric['samples']} samples: mean {metric['mean']:.4f}, "
                f"min {metric['min']:.4f} (required mean >= {metric['min_cosine']:g})"
                + (f", top-1 agreement {_pct(agree)}" if agree is not None else ""))
    return (f"top-1 accuracy on {metric['samples']} labelled samples: candidate "
            f"{_pct(metric['candidate'])}, reference {_pct(metric['reference'])}, drop "
            f"{metric['drop'] * 100:.2f} points (max {metric['max_drop'] * 100:.2f}), "
            f"agreement {_pct(metric['agreement'])}")


def bench_renderable(report: dict[str, Any]) -> Group:
    how = (f"{report['threads']} threads" if report.get("threads") else
           f"{report.get('device', {}).get('name', 'GPU')}, GPU compute time, "
           f"CUDA graph {'on' if report['method'].get('cuda_graph') else 'off'}, "
           f"{report['method'].get('streams', 1)} stream(s)")
    table = Table(title=f"bench: {report['artifact']} ({how}; latency in ms)",
                  title_justify="left")
    for col in ("batch", "runtime", "median", "p90", "p99", "max", "CoV", "samples/s",
                "speedup"):
        table.add_column(col, justify="left" if col in ("runtime",) else "right",
                         no_wrap=True)
    for row in report["results"]:
        gpu = "pytorch_fp32" in row
        names = (report["backend"], "pytorch_fp32", "pytorch_fp16") if gpu else \
            (report["backend"], "pytorch")
        for name in names:
            if name not in row:
                continue
            s = row[name]
            speed = ""
            if name == report["backend"] and "speedup_vs_pytorch" in row:
                speed = f"{row['speedup_vs_pytorch']:.2f}x"
            elif name in ("pytorch", "pytorch_fp32"):
                speed = "1.00x"
            elif name == "pytorch_fp16":
                speed = f"{row['pytorch_fp32']['median_ms'] / s['median_ms']:.2f}x"
            batch = str(row["batch"]) + (f" x{row['streams']} streams" if row.get("streams")
                                         and row["streams"] != 1 else "")
            table.add_row(batch, name, _ms(s["median_ms"]), _ms(s["p90_ms"]),
                          _ms(s["p99_ms"]), _ms(s["max_ms"]), f"{s['cov'] * 100:.1f}%",
                          f"{s['throughput_samples_s']:.0f}", speed)
    parts: list[Any] = [table]
    if report.get("sweep"):
        parts.append(sweep_renderable(report["sweep"], str(report["backend"])))
    for w in report.get("warnings", []):
        parts.append(Text(f"warning: {w}", style="yellow"))
    return Group(*parts)


def sweep_renderable(sweep: dict[str, Any], backend: str) -> Group:
    """bench.sweep's grid: samples/s and request latency per (batch, streams), the best."""
    bound = sweep.get("max_latency_ms")
    table = Table(title=f"sweep ({backend}; best = most samples/s"
                  + (f" with latency <= {bound:g} ms" if bound is not None else "") + ")",
                  title_justify="left")
    for col in ("batch", "streams", "median ms", "latency ms", "samples/s", ""):
        table.add_column(col, justify="right", no_wrap=True)
    best = sweep.get("best") or {}
    for p in sweep["points"]:
        mark = ("best" if (p["batch"], p["streams"]) == (best.get("batch"), best.get("streams"))
                else "" if p["within_bound"] else "over bound")
        table.add_row(str(p["batch"]), str(p["streams"]), _ms(p["median_ms"]),
                      _ms(p["latency_ms"]), f"{p['samples_per_s']:.0f}", mark)
    parts: list[Any] = [table]
    if best:
        parts.append(Text(f"best: batch {best['batch']}, {best['streams']} stream(s): "
                          f"{best['samples_per_s']:.0f} samples/s at {best['latency_ms']:.3f} "
                          "ms latency"))
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
        if m.get("layer_precision"):
            lines.append(f"- {precision_line(m['layer_precision'])}")
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
            lines += ["", metric_line(metric) + "."]
    br = collected.get("bench_report")
    if br:
        where = (f"{br['threads']} threads" if br.get("threads") else
                 (br.get("device") or {}).get("name") or "the backend's default threads")
        lines += ["", "## bench", "", f"{br['backend']}, {where}, warm-up "
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
    package = (collected.get("package") or {}).get("metrics") or {}
    if package.get("config"):
        lines += ["", f"Triton model repository: {package['config']} ({package['platform']}, "
                  f"max_batch_size {package['max_batch_size']})"]
    for stage, why in (collected.get("stale") or {}).items():
        lines += ["", f"## {stage}", "", f"(stale, not shown: {why})"]
    return "\n".join(lines) + "\n"


def package_lines(metrics: dict[str, Any]) -> list[str]:
    """What ``trtc package`` wrote: the config, the model file, batching, GPU kinds."""
    if not metrics.get("config"):
        return []
    lines = [f"triton: {metrics['config']} ({metrics['platform']}, max_batch_size "
             f"{metrics['max_batch_size']})", f"model:  {metrics['model_file']}"]
    if metrics.get("cc_model_filenames"):
        lines.append("plans by compute capability: " + ", ".join(
            f"{cc} -> {f}" for cc, f in sorted(metrics["cc_model_filenames"].items())))
    return [escape(line) for line in lines]


def outcome_line(outcome: Any) -> str:
    """One line of a stage's outcome: its name, what happened, how long, and why."""
    style = {"ran": "green", "would run": "yellow"}.get(outcome.status, "dim")
    took = f" in {outcome.wall_time_s:.2f} s" if outcome.status == "ran" else ""
    return f"[{style}]{outcome.stage:8} {outcome.status}[/]{took} ({escape(outcome.reason)})"


#: Resolved settings whose None sends nothing to TensorRT, so its default applies.
_UNSET = {"workspace_bytes": "TensorRT's default (the GPU's memory)",
          "builder_optimization_level": "TensorRT's default (3)"}


def dry_run_settings(plan: dict[str, Any]) -> dict[str, Any]:
    """What ``build --dry-run`` shows of a plan: TensorRT's resolved settings, not the raw
    section; an unset setting reads 'none', or TensorRT's default where that applies."""
    if "tensorrt" not in plan:
        return {k: v for k, v in plan.items() if k != "warnings"}
    shown = {k: v for k, v in plan.items() if k not in ("settings", "trtexec", "warnings")}
    shown["tensorrt"] = {k: _UNSET.get(k, "none") if v is None else v
                         for k, v in plan["tensorrt"].items() if k != "notes"}
    return shown


def quantize_lines(metrics: dict[str, Any]) -> list[str]:
    """One line per fact a user acts on: calibration, Q/DQ, accuracy, budget, kept nodes."""
    lines = []
    calib = metrics.get("calibration")
    if calib:
        lines.append(f"calibration: {calib['method']} on {calib['samples']} samples from "
                     f"{escape(str(calib['source']))} (cache {calib['cache']}, "
                     f"{calib['calibration_runs']} calibration runs)")
    qdq = metrics.get("qdq")
    if qdq:
        lines.append(f"Q/DQ: {qdq['quantize_linear']} QuantizeLinear, "
                     f"{qdq['dequantize_linear']} DequantizeLinear; "
                     f"{len(qdq['quantized_nodes'])} nodes quantized")
    acc = metrics.get("accuracy")
    if acc:
        lines.append(f"accuracy: {acc['metric']} {acc['value']:.4f} (FP32 "
                     f"{acc['reference']:.4f}, drop {acc['drop']:.4f})")
    if metrics.get("budget"):
        lines += budget_lines(metrics["budget"])
    regions = metrics.get("float_regions")
    if regions:
        lines.append(f"float part in {regions['precision']}: {regions['fp16_nodes']} node(s), "
                     f"{regions['casts']} Cast(s) at the int8 part and the I/O; "
                     f"{len(regions['kept_fp32'])} kept fp32 (overflow / op support)")
    for kept in metrics.get("kept_fp32", []):
        lines.append(f"kept in fp32: {escape(str(kept.get('name')))} "
                     f"({escape(str(kept.get('op_type', '')))}): "
                     f"{escape(str(kept.get('reason', '')))}")
    peaks = metrics.get("fp16_peaks")
    if peaks and peaks.get("top"):
        top = peaks["top"][0]
        lines.append(f"fp16 ranges: {peaks['tensors_measured']} tensors calibrated; the "
                     f"largest, {escape(str(top['tensor']))} ({escape(str(top['op_type']))}), "
                     f"peaks at {top['peak']:.4g}, "
                     + (f"{top['headroom']:g}x under fp16's max" if top["headroom"] >= 1
                        else "beyond fp16's max (its node is kept fp32)"))
    return lines


def budget_verdicts(budget: dict[str, Any]) -> dict[str, int] | None:
    """How ONNX Runtime's verdict (meets / misses the budget) compared with the engine's on
    every model an engine search measured (the ``meets`` the search recorded for each);
    None when no candidate has both.

    Keys: ``models``, ``agree``, ``ort_meets_engine_misses`` (ONNX Runtime would have
    shipped a model the engine fails), ``ort_misses_engine_meets`` (it would have floated
    more than needed).
    """
    pairs = [(c["onnxruntime"]["meets"], c["meets"])
             for c in budget.get("candidates") or [] if c.get("onnxruntime")]
    if not pairs:
        return None
    return {"models": len(pairs), "agree": sum(o == e for o, e in pairs),
            "ort_meets_engine_misses": sum(o and not e for o, e in pairs),
            "ort_misses_engine_meets": sum(e and not o for o, e in pairs)}


def budget_lines(budget: dict[str, Any]) -> list[str]:
    """The budget search: nodes left in float, the search, the trade-off, ORT's verdicts."""
    lines = []
    if budget.get("float_nodes"):
        lines.append(f"budget {budget['max_drop']:g}: {budget['before']['drop']:.4f} -> "
                     f"{budget['after']['drop']:.4f} with {len(budget['float_nodes'])} "
                     f"node(s) in float: {escape(', '.join(budget['float_nodes']))}")
    if budget.get("evaluations", 0) > 1:
        lines.append(budget_search_line(budget))
    if budget.get("after", {}).get("latency_ms") is not None:
        lines.append(budget_tradeoff_line(budget))
    v = budget_verdicts(budget) if budget.get("evaluator") == "engine" else None
    if v is not None:
        lines.append(f"ONNX Runtime's verdict on the same {v['models']} models: agreed on "
                     f"{v['agree']}; said 'meets' where the engine missed "
                     f"{v['ort_meets_engine_misses']}, 'misses' where it met "
                     f"{v['ort_misses_engine_meets']}")
    return lines


def budget_search_line(budget: dict[str, Any]) -> str:
    """How the budget search went: models measured, time, what ranked the nodes."""
    signals = budget.get("ranking", {}).get("signals", {})
    ranked = ", ".join(f"{n} {name}" for name, n in (("by layer error", signals.get("scored")),
                                                     ("group-wise", signals.get("groups")))
                       if n)
    latency = [c["latency_ms"] for c in budget.get("candidates", []) if "latency_ms" in c]
    timed = f"; latency {min(latency):.3f}-{max(latency):.3f} ms" if latency else ""
    reused = sum(1 for c in budget.get("candidates", []) if c.get("reused"))
    again = f", {reused} read back from an earlier run" if reused else ""
    return (f"budget search on {budget.get('evaluator', 'onnxruntime')}: "
            f"{budget['evaluations']} models measured in {budget['seconds']:.1f} s"
            f"{f' (ranked: {ranked})' if ranked else ''}{again}{timed}")


def budget_tradeoff_line(budget: dict[str, Any]) -> str:
    """The chosen model's latency against the all-quantized one and the float reference."""
    after, before = budget["after"], budget["before"]
    parts = [f"chosen ({budget.get('chosen_by', 'fewest float nodes')}): "
             f"{after['latency_ms']:.3f} ms"]
    if before.get("latency_ms"):
        parts.append(f"{after['latency_ms'] / before['latency_ms']:.2f}x the all-quantized "
                     f"model's {before['latency_ms']:.3f} ms")
    base = budget.get("baseline")
    if base and base.get("latency_ms"):
        parts.append(f"{base['latency_ms'] / after['latency_ms']:.2f}x faster than "
                     f"{base['precision']} ({base['latency_ms']:.3f} ms)")
    return "budget trade-off: " + ", ".join(parts)


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
