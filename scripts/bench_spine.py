"""Measure the spine's numbers in one run on this machine and write them under docs/.

- `trtc --help` wall time (goal < 0.3 s) and which heavy modules it imports (goal: none);
- a second `trtc run configs/digits.yaml` (every stage skipped; goal < 1 s of trtc work);
- the digits model on ONNX Runtime vs PyTorch eager (latency, ratio) and its accuracy,
  from the demo's own verify/bench reports, measured by this run (`--force`).

Usage: python scripts/bench_spine.py --out docs/bench-spine   (writes .json and .md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = "configs/digits.yaml"
HEAVY = ("torch", "onnxruntime", "tensorrt", "polygraphy", "onnx")


def _trtc(*args: str) -> list[str]:
    return [sys.executable, "-m", "trtc", *args]


def wall(cmd: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports_of_help() -> list[str]:
    code = ("import sys\nfrom trtc.cli.app import app\n"
            "try:\n    app(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("HEAVY="))
    return [m for m in line[len("HEAVY="):].split(",") if m]


def in_process_skip_time() -> float:
    """Time `trtc run` inside one process, after imports: trtc's own work on a skip run."""
    code = ("import time\nfrom trtc.cli.app import app\nstart = time.perf_counter()\n"
            f"app(['run', {RECIPE!r}, '--quiet'], standalone_mode=False)\n"
            "print(time.perf_counter() - start)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return float(out)


def _latency_table(report: dict) -> list[str]:
    lines = ["| batch | ONNX Runtime median ms | PyTorch median ms | speedup | ORT p99 ms | "
             "PyTorch p99 ms |", "|---|---|---|---|---|---|"]
    for row in report["results"]:
        ort, pt = row["onnxruntime"], row.get("pytorch")
        if pt:
            lines.append(f"| {row['batch']} | {ort['median_ms']:.3f} | {pt['median_ms']:.3f} | "
                         f"{row['speedup_vs_pytorch']:.2f}x | {ort['p99_ms']:.3f} | "
                         f"{pt['p99_ms']:.3f} |")
    lines += [f"\nwarning: {w}" for w in report.get("warnings", [])]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/bench-spine"))
    args = parser.parse_args()

    # A full run measured now (not a stale report), then the skip measurements.
    full_start = time.perf_counter()
    subprocess.run(_trtc("run", RECIPE, "--force", "--quiet"), cwd=ROOT, check=True)
    full_s = time.perf_counter() - full_start
    help_s = wall(_trtc("--help"), 10)
    skip_s = wall(_trtc("run", RECIPE, "--quiet"), 5)
    skip_inproc = [in_process_skip_time() for _ in range(5)]
    verify = json.loads((ROOT / "build/digits/verify/report.json").read_text())
    bench = json.loads((ROOT / "build/digits/bench/report.json").read_text())
    # ResNet-50 (random init): the same comparison on a model big enough for compute to dominate.
    subprocess.run(_trtc("run", "configs/resnet50.yaml", "--force", "--quiet"), cwd=ROOT,
                   check=True)
    resnet = json.loads((ROOT / "build/resnet50/bench/report.json").read_text())

    result = {
        "machine": {"cpu_count": os.cpu_count(), "machine": platform.machine(),
                    "python": platform.python_version()},
        "command": "make bench  (python scripts/bench_spine.py --out docs/bench-spine)",
        "help_wall_s_median": statistics.median(help_s),
        "help_heavy_imports": heavy_imports_of_help(),
        "full_run_s": full_s,
        "skip_run_wall_s_median": statistics.median(skip_s),
        "skip_run_trtc_work_s_median": statistics.median(skip_inproc),
        "digits_accuracy": verify.get("metric"),
        "digits_max_abs_error": {k: v["max_abs"] for k, v in verify["outputs"].items()},
        "digits_bench": bench,
        "resnet50_bench": resnet,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")

    m = result["digits_accuracy"] or {}
    lines = [
        "# Spine measurements", "",
        f"Machine: {result['machine']['cpu_count']} cores, {result['machine']['machine']}, "
        f"Python {result['machine']['python']}. Command: `make bench`.", "",
        "| what | measured | goal |", "|---|---|---|",
        f"| `trtc --help` wall time (median of 10) | {result['help_wall_s_median']:.3f} s | "
        "< 0.3 s |",
        "| heavy modules imported by `--help` | "
        f"{', '.join(result['help_heavy_imports']) or 'none'} | none |",
        f"| `trtc run {RECIPE}`, full (--force) | {full_s:.1f} s | |",
        f"| second run, every stage skipped: process wall time (median of 5) | "
        f"{result['skip_run_wall_s_median']:.3f} s | |",
        f"| second run: trtc's work after imports (median of 5) | "
        f"{result['skip_run_trtc_work_s_median']:.3f} s | < 1 s |", "",
        "## Digits: ONNX Runtime artifact vs PyTorch eager", "",
        f"Top-1 on the held-out split ({m.get('samples')} images): ONNX Runtime "
        f"{m.get('candidate', 0) * 100:.2f}%, PyTorch {m.get('reference', 0) * 100:.2f}%, "
        f"agreement {m.get('agreement', 0) * 100:.2f}%.", "",
        f"Latency ({bench['threads']} threads, same inputs, same run):", "",
        *_latency_table(bench), "",
        "## ResNet-50 (torchvision, random init): ONNX Runtime vs PyTorch eager", "",
        f"`trtc run configs/resnet50.yaml` ({resnet['threads']} threads, same run):", "",
        *_latency_table(resnet),
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
