"""ResNet-50 on TensorRT, measured on the GPU machine: fp32, fp16, int8 (calibrated, Q/DQ).

Every engine is made the way a user would make it: `trtc run` on a recipe derived
from configs/resnet50.yaml (export -> build -> bench, with the PyTorch eager
baseline fp32 + fp16 on the same GPU in the same bench), then `trtc bench
--no-cuda-graph` for the latency without CUDA graphs and `trtc verify` against
ONNX Runtime fp32 on the exported model for the accuracy columns. The Q/DQ
model comes from `trtc quantize --target tensorrt` (its row is skipped, with a
note, where that command is missing). Builds share one timing cache.

Each device command may run 10 minutes at most, so the script runs in parts and
resumes: rows already in OUT.json are skipped (``--force`` re-measures them).

    python scripts/bench_trt.py --only fp32,fp16            # part 1
    python scripts/bench_trt.py --only int8-calib           # part 2
    python scripts/bench_trt.py --only int8-qdq,throughput  # part 3
    python scripts/bench_trt.py --only sweep --max-latency-ms 5  # issue 13: batch x streams
    python scripts/bench_trt.py --report-only               # rewrite the .md from the .json

Writes OUT.json (all measurements) and OUT.md (the table), OUT = docs/bench-trt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BASE_RECIPE = ROOT / "configs" / "resnet50.yaml"
VARIANTS = ("fp32", "fp16", "int8-calib", "int8-qdq")
PARTS = (*VARIANTS, "throughput", "sweep")
#: Builder precision per variant: int8 engines also get fp16 for their non-int8 layers
#: ("best" = fp16 + int8 on 8.6/10), as the reference int8 figures were measured.
PRECISION = {"fp32": "fp32", "fp16": "fp16", "int8-calib": "best", "int8-qdq": "best"}
INPUT = "input"


def log(msg: str) -> None:
    print(f"[bench_trt {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def trtc(*args: Any, check: bool = True, timeout: float = 590) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "trtc", *(str(a) for a in args)]
    log("$ trtc " + " ".join(str(a) for a in args))
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})
    if check and proc.returncode != 0:
        raise SystemExit(f"trtc {' '.join(map(str, args))} failed with exit "
                         f"{proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def json_of(proc: subprocess.CompletedProcess) -> Any:
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------- recipes


def base_recipe(args: argparse.Namespace) -> dict[str, Any]:
    data = yaml.safe_load(BASE_RECIPE.read_text())
    # TensorRT 8.6 parses ONNX opsets up to 17; the TorchScript exporter writes the
    # classic Flatten/Gemm graph its parser knows (the recipe's dynamo/opset-18 export
    # fails to parse there: a Reshape with allowzero).
    data["export"].update(cleanup=args.cleanup, opset=args.opset, exporter=args.exporter)
    data["verify"] = {"enabled": False}  # accuracy: flags-mode verify below, same for every row
    return data


def recipe_for(args: argparse.Namespace, variant: str, batch: int, qdq: Path | None
               ) -> Path:
    """The derived recipe of one row: static batch profile, shared timing cache.

    ``qdq``: an ONNX model to build as it is (export off), instead of torchvision's.
    """
    data = base_recipe(args)
    # One workspace name for the torchvision rows so the export runs once and is reused.
    data["name"] = "resnet50-trt" if qdq is None else "resnet50-trt-qdq"
    if qdq is not None:
        data["model"]["source"] = f"onnx:{qdq}"
        data["export"] = {"enabled": False}
    shape = [batch, 3, 224, 224]
    build: dict[str, Any] = {
        "backend": "tensorrt", "precision": PRECISION[variant],
        "profiles": [{INPUT: {"min": shape, "opt": shape, "max": shape}}],
        "timing_cache": str(args.timing_cache),
    }
    if variant == "int8-calib":
        # One calibration cache for every calibrated engine: the scales do not depend on
        # the batch, so only the first build calibrates.
        build["int8_calib"] = str(args.calib_npz)
        build["int8_calib_samples"] = args.calib_samples
        build["int8_calib_cache"] = str(args.work / "calib.cache")
    data["build"] = build
    data["bench"] = {"batch": [batch], "duration_s": args.duration, "warmup_ms": args.warmup,
                     "min_iterations": args.iterations, "cuda_graph": True, "streams": 1,
                     "baseline": "pytorch" if qdq is None else "none"}
    path = args.work / f"resnet50-{variant}-b{batch}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --------------------------------------------------------------------------- data


def make_data(args: argparse.Namespace, exported: Path) -> None:
    """Seeded random inputs; labels = ONNX Runtime fp32's top-1 (so 'top-1' = agreement)."""
    import numpy as np
    import onnxruntime as ort

    if not args.calib_npz.is_file():
        rng = np.random.default_rng(1)
        np.savez(args.calib_npz, **{INPUT: rng.standard_normal(
            (args.calib_samples, 3, 224, 224)).astype(np.float32)})
    if not args.eval_npz.is_file():
        rng = np.random.default_rng(2)
        x = rng.standard_normal((args.eval_samples, 3, 224, 224)).astype(np.float32)
        sess = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
        logits = np.concatenate([sess.run(None, {INPUT: x[i:i + 16]})[0]
                                 for i in range(0, len(x), 16)])
        np.savez(args.eval_npz, **{INPUT: x, "labels": logits.argmax(-1)})


def exported_model(args: argparse.Namespace) -> Path:
    """Export once (`trtc run --until export` on the fp32 recipe); return the ONNX path."""
    recipe = recipe_for(args, "fp32", 1, None)
    trtc("run", recipe, "--until", "export", "--workspace", args.workspace, "--quiet")
    path = args.workspace / "resnet50-trt" / "export" / "model.onnx"
    if not path.is_file():
        raise SystemExit(f"export did not write {path}")
    return path


def qdq_model(args: argparse.Namespace, exported: Path, name: str = "resnet50-qdq.onnx"
              ) -> tuple[Path | None, str | None]:
    out = args.work / name
    if out.is_file() and not args.force:
        return out, None
    proc = trtc("quantize", exported, "-o", out, "--precision", "int8", "--target", "tensorrt",
                "--calib-data", args.calib_npz, "--calib-samples", args.calib_samples,
                check=False)
    if proc.returncode != 0 or not out.is_file():
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"`trtc quantize --target tensorrt` is not available here ({why})"
    return out, None


# --------------------------------------------------------------------------- rows


def engine_of(workspace: Path, name: str) -> Path:
    manifest = json.loads((workspace / name / "build" / "manifest.json").read_text())
    return Path(manifest["outputs"]["artifact"]["path"])


def measure_row(args: argparse.Namespace, variant: str, batch: int, exported: Path,
                qdq: Path | None) -> dict[str, Any]:
    recipe = recipe_for(args, variant, batch, qdq)
    name = "resnet50-trt" if qdq is None else "resnet50-trt-qdq"
    start = time.perf_counter()
    trtc("run", recipe, "--workspace", args.workspace, "--quiet")
    run_s = time.perf_counter() - start
    ws = args.workspace / name
    build = json.loads((ws / "build" / "manifest.json").read_text())
    bench = json.loads((ws / "bench" / "report.json").read_text())
    engine = engine_of(args.workspace, name)
    plain = json_of(trtc("bench", engine, "--batch", batch, "--no-cuda-graph", "--baseline",
                         "none", "--duration", args.duration, "--warmup", args.warmup,
                         "--iterations", args.iterations, "--json"))
    verify = json_of(trtc("verify", engine, "--reference", exported, "--data", args.eval_npz,
                          "--batch", min(batch, args.eval_samples), "--metric", "top1",
                          "--max-drop", "1", "--json", check=False))
    cross = None
    if args.cross_check:
        cross = cross_check(engine, batch, args)
    metrics = build["metrics"]
    row = bench["results"][0]
    return {
        "variant": variant, "batch": batch, "precision": metrics.get("precision"),
        "build_time_s": metrics.get("build_time_s"),
        # metrics["engine"]: the adapter's build facts (timing cache loaded or not).
        "engine_build_s": (metrics.get("engine") or {}).get("engine_build_s"),
        "timing_cache": (metrics.get("engine") or {}).get("timing_cache"),
        "engine_bytes": build["outputs"]["artifact"]["bytes"],
        "trtexec": (metrics.get("settings") or {}).get("trtexec"),
        "graph": row["tensorrt"], "no_graph": plain["results"][0]["tensorrt"],
        "pytorch_fp32": row.get("pytorch_fp32"), "pytorch_fp16": row.get("pytorch_fp16"),
        "accuracy": {"outputs": verify.get("outputs"), "metric": verify.get("metric"),
                     "samples": verify.get("samples"), "passed": verify.get("passed")},
        "bench_warnings": bench.get("warnings", []) + plain.get("warnings", []),
        "device": bench.get("device"), "tensorrt": (build.get("device") or {}).get("tensorrt"),
        "cross_check": cross, "trtc_run_s": round(run_s, 1),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def cross_check(engine: Path, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    """The harness vs torch.cuda events on the same engine (goal: within 2 %)."""
    code = ("import json, numpy as np, sys\n"
            "from pathlib import Path\n"
            "from trtc.backends.tensorrt import TensorRTBackend\n"
            "from trtc.backends.cuda_harness import HarnessConfig\n"
            f"x = np.random.default_rng(0).standard_normal(({batch}, 3, 224, 224))"
            ".astype(np.float32)\n"
            f"r = TensorRTBackend().cross_check(Path({str(engine)!r}), {{{INPUT!r}: x}}, "
            f"HarnessConfig(warmup_ms={args.warmup}, duration_s={args.duration}, "
            f"min_iterations={args.iterations}))\n"
            "print(json.dumps(r))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def throughput_row(args: argparse.Namespace, exported: Path, qdq: Path | None
                   ) -> dict[str, Any]:
    """int8 at batch 256 on 2+ streams: the large-batch throughput."""
    variant = args.throughput_variant
    if variant != "int8-qdq":
        qdq = None
    elif qdq is None:
        raise SystemExit("no Q/DQ model for the int8-qdq throughput row")
    batch = args.throughput_batch
    # An optimization profile serves one execution context at a time, so N streams need
    # a static-shape engine (the float model exported at batch 256) or N profiles (the
    # Q/DQ model, whose batch is dynamic). No PyTorch baseline in this row.
    recipe = recipe_for(args, variant, batch, qdq)
    data = yaml.safe_load(recipe.read_text())
    data["name"] = f"resnet50-trt-tput-{variant}"
    data["bench"].update(baseline="none", streams=args.streams)
    if qdq is None:
        data["model"]["inputs"][0]["shape"] = [batch, 3, 224, 224]
        data["build"].pop("profiles", None)
    else:
        data["build"]["profiles"] = data["build"]["profiles"] * args.streams
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    trtc("run", recipe, "--workspace", args.workspace, "--quiet")
    ws = args.workspace / data["name"]
    build = json.loads((ws / "build" / "manifest.json").read_text())
    bench = json.loads((ws / "bench" / "report.json").read_text())
    row = bench["results"][0]["tensorrt"]
    return {"variant": variant, "batch": batch, "streams": args.streams,
            "precision": build["metrics"].get("precision"),
            "build_time_s": build["metrics"].get("build_time_s"),
            "engine_bytes": build["outputs"]["artifact"]["bytes"],
            "throughput_samples_s": row["throughput_samples_s"], "graph": row,
            "device": bench.get("device"),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def sweep_key(args: argparse.Namespace, sparse: bool) -> str:
    """The sweep's row: 'sweep', '-sparse' for 2:4 weights, '-o5' for builder level 5."""
    level = args.sweep_opt_level
    return "sweep" + ("-sparse" if sparse else "") + (f"-o{level}" if level != 3 else "")


def sweep_row(args: argparse.Namespace, qdq: Path | None, sparse: bool = False
              ) -> dict[str, Any]:
    """Issue 13 in one part: the Q/DQ int8 engine over a batch x streams sweep, batch 1 on
    a profile of its own (build.batch_profiles), and a second build on the warm timing
    cache (time and ratio). The default profile is built once: streams beyond it run on
    copies of the engine (trtexec's --streams). ``sparse``: ``qdq`` was pruned 2:4 first
    and the build allows sparse kernels (a changed model, reported apart from the dense
    sweep); a builder level other than 3 is a row of its own too (``sweep_key``)."""
    if qdq is None:
        raise SystemExit("no Q/DQ model for the sweep row")
    batches = [int(b) for b in args.sweep_batches.split(",")]
    streams = [int(s) for s in args.sweep_streams.split(",")]
    recipe = recipe_for(args, "int8-qdq", max(batches), qdq)
    data = yaml.safe_load(recipe.read_text())
    data["name"] = "resnet50-trt-" + sweep_key(args, sparse)
    data["build"].pop("profiles", None)  # the default: batches 1..max
    data["build"]["batch_profiles"] = [1]
    # The record wants TensorRT's full tactic search; trtc's own default on 8.6 + Hopper is
    # level 0 (fast builds of small models, docs/zoo-findings.md G2). ResNet-50 builds in
    # under a minute at 3.
    data["build"].setdefault("builder_optimization_level", args.sweep_opt_level)
    data["build"]["timing_cache"] = str(args.workspace / f"{data['name']}-timing.cache")
    if sparse:
        data["build"]["sparsity"] = True
    if args.sweep_input_format:
        data["build"]["input_formats"] = [args.sweep_input_format]
    data["bench"].update(baseline="none", batch=[1],
                         sweep=f"batch={','.join(map(str, batches))} "
                               f"streams={','.join(map(str, streams))}",
                         max_latency_ms=args.max_latency_ms)
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    Path(data["build"]["timing_cache"]).unlink(missing_ok=True)  # the first build is cold
    trtc("run", recipe, "--workspace", args.workspace, "--quiet", "--force")
    ws = args.workspace / data["name"]
    first = json.loads((ws / "build" / "manifest.json").read_text())
    bench = json.loads((ws / "bench" / "report.json").read_text())
    # The warm build with TensorRT's verbose log stamped (scripts/build_profile.py): where
    # the time goes once the tactics come from the cache (issue 13 wants >= 5x).
    warm_log = ws / "warm-build.log"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_profile.py"), "run",
                           str(recipe), "--log", str(warm_log), "--json",
                           str(ws / "warm-build-profile.json"), "--", "--workspace",
                           str(args.workspace), "--force"], cwd=ROOT, capture_output=True,
                          text=True, timeout=590, env={**os.environ, "COLUMNS": "200"})
    if proc.returncode != 0:
        raise SystemExit(f"the warm build failed with exit {proc.returncode}:\n"
                         f"{proc.stdout[-3000:]}")
    second = json.loads((ws / "build" / "manifest.json").read_text())
    warm_profile = json.loads((ws / "warm-build-profile.json").read_text())
    cold = first["metrics"].get("build_time_s")
    warm = second["metrics"].get("build_time_s")
    b1 = next((p for p in bench["sweep"]["points"] if p["batch"] == 1 and p["streams"] == 1),
              None)
    return {"variant": "int8-qdq", "sparse_2of4": sparse, "sweep": bench["sweep"],
            "batch1_streams1": b1,
            "input_format": args.sweep_input_format or "fp32:chw (the ONNX's)",
            "builder_optimization_level": data["build"]["builder_optimization_level"],
            "profiles": first["metrics"].get("settings", {}).get("profiles"),
            "build_time_s": cold, "build_time_warm_cache_s": warm,
            "timing_cache_speedup": round(cold / warm, 2) if cold and warm else None,
            "warm_build_profile": {k: warm_profile.get(k) for k in
                                   ("seconds", "phases", "summary_lines")},
            "warnings": bench.get("warnings"), "device": bench.get("device"),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# --------------------------------------------------------------------------- report


def _ms(stats: dict[str, Any] | None, key: str = "median_ms") -> str:
    return f"{stats[key]:.3f}" if stats else "-"


def _speedup(row: dict[str, Any], which: str) -> str:
    base = row.get(which)
    return f"{base['median_ms'] / row['graph']['median_ms']:.2f}x" if base else "-"


def _warm_phases(row: dict[str, Any]) -> str:
    """Where the warm build's time went (its verbose log, stamped), or nothing."""
    prof = row.get("warm_build_profile") or {}
    phases = prof.get("phases") or {}
    if not phases:
        return ""
    said = "; ".join(line.split(": ", 1)[-1] for line in prof.get("summary_lines") or []
                     if "completed in" in line or "optimization time" in line)
    return (f"; the warm build (verbose log on) spent {phases.get('before_tactics_s')} s "
            f"before tactic selection, {phases.get('tactics_s')} s in it and "
            f"{phases.get('after_tactics_s')} s after it" + (f" (TensorRT: {said})"
                                                              if said else ""))


def sweep_markdown(row: dict[str, Any]) -> list[str]:
    """The sweep part: every point, the best under the bound, batch 1 on its own profile,
    and the timing cache's second build."""
    sw = row["sweep"]
    bound = sw.get("max_latency_ms")
    device = row.get("device") or {}
    profiles = row.get("profiles") or []
    opts = ", ".join(f"{p['input']['min'][0]}-{p['input']['max'][0]} (opt {p['input']['opt'][0]})"
                     for p in profiles if "input" in p)
    title = "int8 (Q/DQ), one engine, batch 1 on a profile of its own"
    if row.get("builder_optimization_level", 3) != 3:
        title += f", builder optimization level {row['builder_optimization_level']}"
    if row.get("sparse_2of4"):
        title += (", 2:4 sparse weights (`trtc prune --method 2:4`, `build.sparsity: true`:"
                  " a changed model, not the dense record)")
    lines = ["", f"## Sweep: {title}", "",
             f"GPU: {device.get('name', 'unknown')}, measured {row.get('measured_at', '?')} "
             f"(the table above may come from another run and GPU: see its header). "
             f"Profiles in the engine (batch): {opts or 'unknown'}. Input format: "
             f"{row.get('input_format', 'fp32:chw')}. Builder optimization level: "
             f"{row.get('builder_optimization_level', 3)}.", "",
             f"Build {row['build_time_s']:.0f} s with a cold timing cache, "
             f"{row['build_time_warm_cache_s']:.0f} s again with it warm "
             f"({row['timing_cache_speedup']}x){_warm_phases(row)}. Latency = host "
             "latency with copies (H2D + compute + D2H); samples/s counts host wall time, "
             "copies included.", "",
             "| batch | streams | GPU compute median ms | latency ms | img/s |",
             "|---|---|---|---|---|"]
    for p in sw["points"]:
        lines.append(f"| {p['batch']} | {p['streams']} | {p['median_ms']:.3f} | "
                     f"{p['latency_ms']:.3f} | {p['samples_per_s']:.0f} |")
    best, fastest = sw.get("best"), sw.get("fastest")
    if fastest:
        lines += ["", f"Most img/s: batch {fastest['batch']} on {fastest['streams']} "
                  f"stream(s), {fastest['samples_per_s']:.0f} img/s."]
    if bound is not None:
        lines.append(f"Best within {bound:g} ms: " + (
            f"batch {best['batch']} on {best['streams']} stream(s), "
            f"{best['samples_per_s']:.0f} img/s." if best else "none."))
    return lines


def markdown(result: dict[str, Any]) -> str:
    rows = result["rows"]
    dev = next((r["device"] for r in rows.values() if r.get("device")), {}) or {}
    trt = next((r["tensorrt"] for r in rows.values() if r.get("tensorrt")), "?")
    lines = [
        "# ResNet-50 on TensorRT (trtc)", "",
        f"GPU: {dev.get('name', '?')} (compute capability "
        f"{'.'.join(map(str, dev.get('compute_capability', [])))}), TensorRT {trt}, "
        f"torchvision ResNet-50 with random weights, static batch per engine, random inputs. "
        f"Command: `{result['command']}` (run in parts; see scripts/bench_trt.py).", "",
        "Latency is GPU compute time (CUDA events around the enqueue / graph launch, "
        "trtexec's 'GPU Compute Time'), median and p99 over >= "
        f"{result['settings']['iterations']} runs and >= {result['settings']['duration']} s. "
        "Throughput counts host wall time with H2D and D2H copies included. PyTorch eager "
        "runs in the same `trtc bench` on the same GPU (inputs on the device, torch.cuda "
        "events). Accuracy: against ONNX Runtime fp32 (CPU) on the exported ONNX, "
        f"{result['settings']['eval_samples']} random inputs; top-1 = agreement with "
        "ONNX Runtime's top-1.", "",
        "| engine | batch | build s | engine MB | median ms (graph) | p99 ms (graph) | "
        "median ms (no graph) | p99 ms (no graph) | img/s | vs PyTorch fp32 | "
        "vs PyTorch fp16 | max abs err | cosine | top-1 agree |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted((k for k in rows if not k.startswith("sweep")),
                      key=lambda k: (VARIANTS.index(rows[k]["variant"])
                                           if rows[k]["variant"] in VARIANTS else 9,
                                           rows[k]["batch"])):
        r = rows[key]
        if key.startswith("throughput"):
            continue
        acc = r.get("accuracy") or {}
        out = next(iter((acc.get("outputs") or {}).values()), None)
        metric = acc.get("metric") or {}
        accuracy = (f"{out['max_abs']:.3g} | {out['cosine']:.5f} | "
                    + (f"{metric['agreement'] * 100:.1f}%" if metric.get("agreement")
                       is not None else "-")) if out else \
            "- | - | -"
        lines.append(
            f"| {r['variant']} ({r['precision']}) | {r['batch']} | {r['build_time_s']:.0f} | "
            f"{r['engine_bytes'] / 1e6:.1f} | {_ms(r['graph'])} | {_ms(r['graph'], 'p99_ms')} | "
            f"{_ms(r['no_graph'])} | {_ms(r['no_graph'], 'p99_ms')} | "
            f"{r['graph']['throughput_samples_s']:.0f} | {_speedup(r, 'pytorch_fp32')} | "
            f"{_speedup(r, 'pytorch_fp16')} | {accuracy} |")
    base = [r for r in rows.values() if r.get("pytorch_fp32")]
    if base:
        lines += ["", "PyTorch eager on the same GPU (same runs):", "",
                  "| batch | fp32 median ms | fp32 p99 ms | fp16 median ms | fp16 p99 ms |",
                  "|---|---|---|---|---|"]
        seen = set()
        for r in sorted(base, key=lambda r: r["batch"]):
            if r["batch"] in seen:
                continue
            seen.add(r["batch"])
            lines.append(f"| {r['batch']} | {_ms(r['pytorch_fp32'])} | "
                         f"{_ms(r['pytorch_fp32'], 'p99_ms')} | {_ms(r['pytorch_fp16'])} | "
                         f"{_ms(r['pytorch_fp16'], 'p99_ms')} |")
    tput = [r for k, r in rows.items() if k.startswith("throughput")]
    for r in tput:
        lines += ["", f"Large batch: {r['variant']} ({r['precision']}) at batch {r['batch']} on "
                  f"{r['streams']} streams with CUDA graphs: **{r['throughput_samples_s']:.0f} "
                  f"img/s** (GPU compute median {_ms(r['graph'])} ms per batch; build "
                  f"{r['build_time_s']:.0f} s)."]
    for key in sorted(k for k in rows if k.startswith("sweep")):
        lines += sweep_markdown(rows[key])
    checks = [(k, r["cross_check"]) for k, r in rows.items() if r.get("cross_check")]
    if checks:
        lines += ["", "Harness vs torch.cuda events on the same engine (no graph, no copies): " +
                  ", ".join(f"{k}: {c['harness_median_ms']:.3f} vs "
                            f"{c['torch_events_median_ms']:.3f} ms ({(c['ratio'] - 1) * 100:+.1f}%)"
                            for k, c in checks if "ratio" in c) + "."]
    for note in result.get("notes", []):
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench-trt")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--workspace", type=Path, default=ROOT / "build" / "bench-trt")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=500.0)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--calib-samples", type=int, default=256,
                        help="at least the largest calibrated batch (256)")
    parser.add_argument("--eval-samples", type=int, default=64)
    parser.add_argument("--throughput-batch", type=int, default=256)
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--sweep-batches", default="1,8,32,128,256,512")
    parser.add_argument("--sweep-streams", default="1,2,4")
    parser.add_argument("--sweep-input-format", default=None,
                        help="sweep: the engine input's type:format (trtexec --inputIOFormats, "
                        "e.g. int8:chw4: a third of a 3-channel fp32 image's H2D copy; "
                        "int8:chw32 pads 3 channels to 32, more than fp32); the host "
                        "converts once outside the timed loop")
    parser.add_argument("--sweep-opt-level", type=int, default=3, choices=range(6),
                        help="sweep: build.builder_optimization_level (5: the widest tactic "
                        "search, for the batch-1 record; longer builds on 8.6 + Hopper)")
    parser.add_argument("--sweep-sparse", action="store_true",
                        help="sweep: prune 2:4 first and build with sparse kernels allowed "
                        "(row 'sweep-sparse', reported apart from the dense sweep)")
    parser.add_argument("--max-latency-ms", type=float, default=None,
                        help="sweep: the best point's latency bound")
    parser.add_argument("--throughput-variant", choices=("int8-calib", "int8-qdq"),
                        default="int8-calib")
    parser.add_argument("--cleanup", default="graphsurgeon",
                        help="export.cleanup (onnxslim may be missing on the GPU machine)")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--exporter", default="legacy")
    parser.add_argument("--cross-check", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--force", action="store_true", help="re-measure rows already done")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    args.workspace = args.workspace.resolve()
    args.work = args.workspace / "inputs"
    args.work.mkdir(parents=True, exist_ok=True)
    args.timing_cache = args.workspace / "timing.cache"
    args.calib_npz = args.work / "calib.npz"
    args.eval_npz = args.work / "eval.npz"
    out_json = args.out.with_suffix(".json")
    result: dict[str, Any] = (json.loads(out_json.read_text()) if out_json.is_file()
                              else {"rows": {}, "notes": []})

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(result, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(result))

    if args.report_only:  # re-render what was measured, with the settings it was measured with
        save()
        return
    result.setdefault("command", "python scripts/bench_trt.py")
    result["settings"] = {"duration": args.duration, "warmup_ms": args.warmup,
                          "iterations": args.iterations, "calib_samples": args.calib_samples,
                          "eval_samples": args.eval_samples}
    result["host"] = {"python": platform.python_version(), "machine": platform.machine()}
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"--only: unknown part(s) {sorted(unknown)}; parts: {PARTS}")
    batches = [int(b) for b in args.batches.split(",")]
    exported = exported_model(args)
    make_data(args, exported)
    qdq: Path | None = None
    if "int8-qdq" in parts or "sweep" in parts or (
            "throughput" in parts and args.throughput_variant == "int8-qdq"):
        qdq, why = qdq_model(args, exported)
        if why and why not in result["notes"]:
            result["notes"].append(why)
    for variant in (v for v in VARIANTS if v in parts):
        if variant == "int8-qdq" and qdq is None:
            log("skipping int8-qdq: no Q/DQ model")
            continue
        for batch in batches:
            key = f"{variant}-b{batch}"
            if key in result["rows"] and not args.force:
                log(f"{key}: already measured, skipped (--force re-measures)")
                continue
            log(f"{key}: measuring")
            result["notes"] = [n for n in result["notes"] if not n.startswith(f"{key} ")]
            try:
                result["rows"][key] = measure_row(args, variant, batch, exported,
                                                  qdq if variant == "int8-qdq" else None)
            except (SystemExit, subprocess.TimeoutExpired) as exc:
                # One row failing (e.g. TensorRT refusing a model) must not lose the others.
                failure = f"{key} failed: {str(exc).strip().splitlines()[-1]}"
                log(failure)
                result["notes"].append(failure)
            save()
    if "throughput" in parts:
        key = f"throughput-b{args.throughput_batch}"
        if key not in result["rows"] or args.force:
            log(f"{key}: measuring")
            try:
                result["rows"][key] = throughput_row(args, exported, qdq)
            except (SystemExit, subprocess.TimeoutExpired) as exc:
                result["notes"].append(f"{key} failed: {str(exc).strip().splitlines()[-1]}")
    key = sweep_key(args, args.sweep_sparse)
    if "sweep" in parts and (key not in result["rows"] or args.force):
        log(f"{key}: measuring")
        try:
            model = qdq
            if args.sweep_sparse:
                pruned = args.work / "resnet50-2of4.onnx"
                if not pruned.is_file() or args.force:
                    trtc("prune", exported, "-o", pruned, "--method", "2:4", "--quiet")
                model, why = qdq_model(args, pruned, "resnet50-2of4-qdq.onnx")
                if why:
                    raise SystemExit(why)
            result["rows"][key] = sweep_row(args, model, sparse=args.sweep_sparse)
        except (SystemExit, subprocess.TimeoutExpired) as exc:
            result["notes"].append(f"{key} failed: {str(exc).strip().splitlines()[-1]}")
    save()
    log(f"wrote {out_json} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
