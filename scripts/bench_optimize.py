"""Measure what `trtc quantize` and `trtc prune` buy on ONNX Runtime CPU, in one run.

For each model (the digits CNN with real held-out accuracy; ResNet-50 with random init,
compared by cosine similarity with FP32), make every variant through trtc's own CLI —

    fp32 (the export) | int8 --target onnxruntime-cpu | int8 --target tensorrt | fp16
    | prune 2:4 | prune magnitude 0.5 | prune channel 0.3 | channel 0.3 + int8 (ORT CPU)

— then time each with `trtc bench` (same threads, same machine, same run) and score it with
ONNX Runtime. Latency ratios are against FP32 measured in the same run.

Usage: python scripts/bench_optimize.py --out docs/bench-optimize [--models digits,resnet50]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WS = ROOT / "build" / "bench-optimize"

#: name -> (stage commands after the fp32 model; {model} and {out} filled in). Order matters:
#: "channel30+int8" quantizes the channel-pruned model.
VARIANTS: dict[str, list[list[str]]] = {
    "fp32": [],
    "int8 ort-cpu": [["quantize", "{model}", "-o", "{out}", "--precision", "int8",
                      "--target", "onnxruntime-cpu", "--calib-data", "{calib}",
                      "--calib-samples", "{samples}"]],
    "int8 tensorrt": [["quantize", "{model}", "-o", "{out}", "--precision", "int8",
                       "--target", "tensorrt", "--calib-data", "{calib}",
                       "--calib-samples", "{samples}", "--calib-method", "entropy"]],
    "fp16": [["quantize", "{model}", "-o", "{out}", "--precision", "fp16"]],
    "prune 2:4": [["prune", "{model}", "-o", "{out}", "--method", "2:4"]],
    "prune magnitude 0.5": [["prune", "{model}", "-o", "{out}", "--method", "magnitude",
                             "--ratio", "0.5"]],
    "prune channel 0.3": [["prune", "{model}", "-o", "{out}", "--method", "channel",
                           "--ratio", "0.3"]],
    "channel 0.3 + int8 ort-cpu": [
        ["prune", "{model}", "-o", "{out}", "--method", "channel", "--ratio", "0.3"],
        ["quantize", "{model}", "-o", "{out}", "--precision", "int8", "--target",
         "onnxruntime-cpu", "--calib-data", "{calib}", "--calib-samples", "{samples}"]],
}


def trtc(*args: str, json_out: bool = False) -> Any:
    cmd = [sys.executable, "-m", "trtc", *args] + (["--json"] if json_out else ["--quiet"])
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return json.loads(proc.stdout) if json_out else None


def _digits_data() -> tuple[Path, dict[str, np.ndarray]]:
    sys.path.insert(0, str(ROOT / "scripts"))
    import digits

    train = digits.train_split()
    calib = WS / "digits-calib.npz"
    np.savez(calib, input=train["input"][:256])
    return calib, digits.test_split()


def _resnet_data() -> tuple[str, dict[str, np.ndarray]]:
    # Random init and random inputs: latency and agreement with FP32 only, no accuracy.
    rng = np.random.default_rng(1234)  # not the calibration seed
    return "random", {"input": rng.standard_normal((8, 3, 224, 224)).astype(np.float32)}


MODELS: dict[str, dict[str, Any]] = {
    "digits": {"recipe": "configs/digits.yaml", "data": _digits_data, "samples": "256",
               "batches": ["1", "64"], "metric": "top1"},
    "resnet50": {"recipe": "configs/resnet50.yaml", "data": _resnet_data, "samples": "32",
                 "batches": ["1", "8"], "metric": "cosine"},
}


def make_variant(name: str, fp32: Path, calib: str, samples: str, out_dir: Path) -> Path:
    model = fp32
    for i, step in enumerate(VARIANTS[name]):
        out = out_dir / f"{name.replace(' ', '_').replace(':', '-')}.{i}.onnx"
        fill = {"model": str(model), "out": str(out), "calib": calib, "samples": samples}
        trtc(*[a.format(**fill) for a in step])
        model = out
    return model


def score(model: Path, data: dict[str, np.ndarray], reference: np.ndarray | None,
          metric: str) -> dict[str, float]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    logits = sess.run(None, {name: data["input"]})[0].astype(np.float64)
    out: dict[str, float] = {}
    if "labels" in data:
        out["top1"] = float((logits.argmax(1) == data["labels"]).mean())
    if reference is not None:
        a, b = logits.reshape(len(logits), -1), reference.reshape(len(reference), -1)
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        out["cosine_min"] = float(cos.min())
        out["top1_agreement"] = float((a.argmax(1) == b.argmax(1)).mean())
        out["max_abs_error"] = float(np.abs(a - b).max())
    return out


def latency(model: Path, batches: list[str], threads: int,
            duration: float) -> dict[str, dict[str, float]]:
    args = ["bench", str(model), "--baseline", "none", "--threads", str(threads),
            "--duration", str(duration), "--workspace", str(WS / "ws")]
    for b in batches:
        args += ["--batch", b]
    report = trtc(*args, json_out=True)
    rows = report.get("results") or report.get("report", {}).get("results", [])
    return {str(r["batch"]): {"median_ms": r["onnxruntime"]["median_ms"],
                              "p99_ms": r["onnxruntime"]["p99_ms"]} for r in rows}


def bench_model(key: str, threads: int, variants: list[str], duration: float) -> dict[str, Any]:
    spec = MODELS[key]
    out_dir = WS / key
    out_dir.mkdir(parents=True, exist_ok=True)
    trtc("export", spec["recipe"], "--workspace", str(WS / "ws"))
    fp32 = WS / "ws" / key / "export" / "model.onnx"
    calib, data = spec["data"]()
    rows: dict[str, Any] = {}
    reference = None
    for name in ["fp32", *(v for v in variants if v != "fp32")]:
        start = time.perf_counter()
        model = make_variant(name, fp32, str(calib), spec["samples"], out_dir)
        made_s = time.perf_counter() - start
        scores = score(model, data, reference, spec["metric"])
        if name == "fp32":
            import onnxruntime as ort

            sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
            reference = sess.run(None, {sess.get_inputs()[0].name: data["input"]})[0]
        raw = model.read_bytes()
        rows[name] = {"make_s": round(made_s, 2), "bytes": len(raw),
                      "gzip_bytes": len(gzip.compress(raw, 6)), **scores,
                      "latency": latency(model, spec["batches"], threads, duration)}
        print(f"{key:9} {name:28} {json.dumps(rows[name]['latency'])}", file=sys.stderr)
    base = rows["fp32"]["latency"]
    for row in rows.values():
        row["speedup_vs_fp32"] = {b: base[b]["median_ms"] / lat["median_ms"]
                                  for b, lat in row["latency"].items()}
    return {"batches": spec["batches"], "metric": spec["metric"], "variants": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Optimisation on ONNX Runtime CPU: quantize and prune", "",
             f"Machine: {result['machine']}. Command: `{result['command']}`. "
             f"Threads: {result['threads']}. All rows of a model come from one run; "
             "speedups are FP32 median latency / variant median latency.", ""]
    for key, res in result["models"].items():
        b = res["batches"]
        acc = "top-1 (held-out)" if res["metric"] == "top1" else "cosine min vs FP32"
        lines += [f"## {key}", "",
                  f"| variant | {acc} | top-1 agreement | "
                  + " | ".join(f"b{x} median ms | b{x} speedup" for x in b)
                  + " | size KiB | gzip KiB |",
                  "|---|---|---|" + "---|---|" * len(b) + "---|---|"]
        for name, row in res["variants"].items():
            quality = row.get("top1") if res["metric"] == "top1" else row.get("cosine_min")
            qual = "" if quality is None else (f"{quality * 100:.2f} %" if res["metric"] ==
                                               "top1" else f"{quality:.4f}")
            agree = row.get("top1_agreement")
            cells = [f"{row['latency'][x]['median_ms']:.3f} | {row['speedup_vs_fp32'][x]:.2f}x"
                     for x in b]
            lines.append(f"| {name} | {qual} | "
                         f"{'' if agree is None else f'{agree * 100:.1f} %'} | "
                         + " | ".join(cells)
                         + f" | {row['bytes'] / 1024:.0f} | {row['gzip_bytes'] / 1024:.0f} |")
        lines.append("")
    lines += ["Notes: ResNet-50 has random weights and is calibrated on seeded random data "
              "(trtc warns about that); its quality column is agreement with FP32, not "
              "accuracy. Magnitude pruning changes compressibility (gzip column), not speed. "
              "The tensorrt-target INT8 model is built for TensorRT's fused kernels; on CPU it "
              "is not expected to be faster.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/bench-optimize"))
    parser.add_argument("--models", default="digits,resnet50")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated variant names (fp32 always runs)")
    parser.add_argument("--duration", type=float, default=2.0, help="timed seconds per batch")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    result = {"machine": f"{os.cpu_count()} cores, {platform.machine()}, "
                         f"Python {platform.python_version()}",
              "command": "python scripts/bench_optimize.py "
                         f"--out {args.out} --models {args.models}"
                         + (f" --duration {args.duration:g}" if args.duration != 2.0 else ""),
              "threads": args.threads, "models": {}}
    for key in args.models.split(","):
        result["models"][key] = bench_model(key, args.threads, variants, args.duration)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
