"""bench: trtexec-style latency/throughput of the artifact, with a PyTorch baseline.

Method (as trtexec): a time-based warm-up, then at least ``min_iterations``
runs and at least ``duration_s`` seconds; latency percentiles over the runs;
a warning when the run-to-run coefficient of variation exceeds ``cov_warn``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from trtc.recipe import BenchSpec, ModelSpec, Recipe, format_shape
from trtc.stages import StageResult
from trtc.workspace import write_json


def run(recipe: Recipe, inputs: dict[str, Path], out_dir: Path) -> StageResult:
    """Benchmark ``inputs['artifact']`` (and the PyTorch model when there is one)."""
    baseline = recipe.model if _wants_baseline(recipe) else None
    report = benchmark(inputs["artifact"], recipe.bench, baseline)
    path = out_dir / "report.json"
    write_json(path, report)
    return StageResult("bench", {"report": path}, {"results": report["results"]},
                       warnings=report["warnings"])


def _wants_baseline(recipe: Recipe) -> bool:
    if recipe.bench.baseline == "none":
        return False
    return recipe.is_pytorch


def measure(fn: Callable[[], Any], warmup_ms: float, duration_s: float,
            min_iterations: int, clock: Callable[[], float] = time.perf_counter,
            ) -> tuple[list[float], float]:
    """Time ``fn``: warm up for ``warmup_ms``, then run >= min_iterations and >= duration_s.

    Returns:
        (per-run latencies in ms, total timed wall time in s).
    """
    end_warmup = clock() + warmup_ms / 1000.0
    while True:
        fn()
        if clock() >= end_warmup:
            break
    latencies: list[float] = []
    start = clock()
    deadline = start + duration_s
    now = start
    while len(latencies) < min_iterations or now < deadline:
        t0 = clock()
        fn()
        now = clock()
        latencies.append((now - t0) * 1000.0)
    return latencies, now - start


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (as trtexec reports): the smallest value >= q% of runs."""
    if not sorted_ms:
        raise ValueError("no samples")
    # Round away float noise first: 0.07 * 100 is 7.000000000000001, whose ceil
    # would skip a rank.
    rank = max(1, math.ceil(round(q * len(sorted_ms) / 100.0, 9)))
    return sorted_ms[rank - 1]


def latency_stats(latencies_ms: Sequence[float], batch: int, wall_s: float) -> dict[str, float]:
    """Summarise per-run latencies: min/mean/median/p90/p95/p99/max, CoV, throughput."""
    ordered = sorted(latencies_ms)
    n = len(ordered)
    mean = sum(ordered) / n
    var = sum((x - mean) ** 2 for x in ordered) / (n - 1) if n > 1 else 0.0
    median = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2.0
    return {
        "iterations": n, "batch": batch, "wall_s": wall_s,
        "min_ms": ordered[0], "mean_ms": mean, "median_ms": median,
        "p90_ms": percentile(ordered, 90), "p95_ms": percentile(ordered, 95),
        "p99_ms": percentile(ordered, 99), "max_ms": ordered[-1],
        "std_ms": math.sqrt(var), "cov": math.sqrt(var) / mean if mean > 0 else 0.0,
        "throughput_qps": n / wall_s if wall_s > 0 else 0.0,
        "throughput_samples_s": n * batch / wall_s if wall_s > 0 else 0.0,
    }


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def benchmark(artifact: Path, spec: BenchSpec, baseline: ModelSpec | None = None
              ) -> dict[str, Any]:
    """Measure the artifact at every batch size (and the PyTorch baseline, same inputs).

    Both runtimes get the same thread count, so the ratio compares runtimes,
    not thread pools.
    """
    from trtc.backends import backend_for_artifact
    from trtc.data import InputInfo, random_dataset

    backend = backend_for_artifact(artifact)
    if backend.name == "tensorrt":
        return benchmark_gpu(artifact, spec, baseline)
    inputs, _ = backend.io_specs(artifact)
    infos = [InputInfo(n, d, s) for n, (d, s) in inputs.items()]
    threads = spec.threads or default_threads()
    infer = backend.infer_fn(artifact, threads)
    torch_model = None
    if baseline is not None:
        from trtc.backends import torch as torch_backend

        torch_model = torch_backend.load_model(baseline)
        torch_infer = torch_backend.infer_fn(torch_model, [i.name for i in infos])
    results: list[dict[str, Any]] = []
    warnings: list[str] = []
    noisy: list[str] = []
    for batch in _batches(spec, infos[0].name if infos else None, warnings):
        feed = random_dataset(infos, spec.shapes, batch, 1, spec.seed).feeds[0]
        shapes = {n: format_shape(list(a.shape)) for n, a in feed.items()}
        runs: dict[str, Callable[[], Any]] = {backend.name: partial(infer, feed)}
        if torch_model is not None:
            runs["pytorch"] = partial(torch_infer, feed)
        row: dict[str, Any] = {"batch": batch, "shapes": shapes}
        for name, fn in runs.items():
            if name == "pytorch":
                with torch_backend.torch_threads(threads):
                    lat, wall = measure(fn, spec.warmup_ms, spec.duration_s, spec.min_iterations)
            else:
                lat, wall = measure(fn, spec.warmup_ms, spec.duration_s, spec.min_iterations)
            stats = latency_stats(lat, batch, wall)
            row[name] = stats
            if stats["cov"] > spec.cov_warn:
                noisy.append(f"batch {batch} {name} {stats['cov'] * 100:.1f}%")
        if "pytorch" in row:
            row["speedup_vs_pytorch"] = row["pytorch"]["median_ms"] / row[backend.name]["median_ms"]
        results.append(row)
    if noisy:
        warnings.append(f"latency varies run to run (CoV above {spec.cov_warn * 100:.1f}%: "
                        f"{', '.join(noisy)}); the machine may be busy, or runs are so short "
                        "that scheduler noise dominates: compare medians, not means")
    return {"artifact": str(artifact), "backend": backend.name, "threads": threads,
            "method": {"warmup_ms": spec.warmup_ms, "duration_s": spec.duration_s,
                       "min_iterations": spec.min_iterations, "timer": "time.perf_counter",
                       "inputs": f"random (seed {spec.seed})"},
            "results": results, "warnings": warnings}


def _batches(spec: BenchSpec, first_input: str | None, warnings: list[str]) -> tuple[int, ...]:
    """The batch sizes to run: ``spec.batch``, or the one ``--shapes`` fixes for input 0."""
    if first_input and first_input in spec.shapes and spec.shapes[first_input]:
        # --shapes fixes the first input's dim 0: that is the batch actually run and counted.
        shaped = int(spec.shapes[first_input][0])
        if set(spec.batch) - {1, shaped}:
            warnings.append(f"--shapes sets {first_input} to batch {shaped}; "
                            f"batch sizes {list(spec.batch)} were not used")
        return (shaped,)
    return tuple(spec.batch)


def benchmark_gpu(artifact: Path, spec: BenchSpec, baseline: ModelSpec | None = None
                  ) -> dict[str, Any]:
    """A TensorRT engine timed as trtexec does, with PyTorch eager on the same GPU.

    GPU compute time (CUDA events around the enqueue or graph launch) is the
    headline latency, H2D/D2H are reported beside it, and throughput is measured
    with every stream busy, copies included. The PyTorch baseline runs eagerly on
    the same GPU in fp32 and fp16 with its inputs already on the device, timed by
    torch.cuda events, so the speedup compares GPU time with GPU time.
    """
    from trtc.backends.cuda_harness import HarnessConfig, gpu_info, torch_cuda_baseline
    from trtc.backends.tensorrt import TensorRTBackend, read_sidecar
    from trtc.data import InputInfo, random_dataset

    backend = TensorRTBackend()
    inputs, _ = backend.io_specs(artifact)
    infos = [InputInfo(n, d, s) for n, (d, s) in inputs.items()]
    cuda_graph, streams = spec.cuda_graph, spec.streams
    config = HarnessConfig(warmup_ms=spec.warmup_ms, duration_s=spec.duration_s,
                           min_iterations=spec.min_iterations, cuda_graph=cuda_graph)
    torch_model = None
    if baseline is not None:
        from trtc.backends import torch as torch_backend

        torch_model = torch_backend.load_model(baseline)
    warnings: list[str] = []
    noisy: list[str] = []
    results: list[dict[str, Any]] = []
    for batch in _batches(spec, infos[0].name if infos else None, warnings):
        feed = random_dataset(infos, spec.shapes, batch, 1, spec.seed).feeds[0]
        row: dict[str, Any] = {"batch": batch,
                               "shapes": {n: format_shape(list(a.shape)) for n, a in feed.items()}}
        stats = backend.bench(artifact, feed, config, streams)
        stats.pop("samples", None)
        for note in stats.get("notes", []):
            if note not in warnings:
                warnings.append(note)
        row["tensorrt"] = stats
        if torch_model is not None:
            row.update(torch_cuda_baseline(torch_model, feed, [i.name for i in infos],
                                           ("fp32", "fp16"), spec.warmup_ms, spec.duration_s,
                                           spec.min_iterations))
            row["pytorch"] = row["pytorch_fp32"]
            row["speedup_vs_pytorch"] = row["pytorch_fp32"]["median_ms"] / stats["median_ms"]
            row["speedup_vs_pytorch_fp16"] = (row["pytorch_fp16"]["median_ms"]
                                              / stats["median_ms"])
        for name in ("tensorrt", "pytorch_fp32", "pytorch_fp16"):
            if name in row and row[name]["cov"] > spec.cov_warn:
                noisy.append(f"batch {batch} {name} {row[name]['cov'] * 100:.1f}%")
        results.append(row)
    if noisy:
        warnings.append(f"latency varies run to run (CoV above {spec.cov_warn * 100:.1f}%: "
                        f"{', '.join(noisy)}); compare medians, not means")
    side = read_sidecar(artifact) or {}
    return {"artifact": str(artifact), "backend": "tensorrt", "threads": None,
            "device": gpu_info(0).to_dict(), "engine": {k: side[k] for k in side
                                                         if k != "io"},
            "method": {"warmup_ms": spec.warmup_ms, "duration_s": spec.duration_s,
                       "min_iterations": spec.min_iterations, "timer": "cuda events",
                       "cuda_graph": cuda_graph, "streams": streams,
                       "latency": "GPU compute time (trtexec's 'GPU Compute Time')",
                       "inputs": f"random (seed {spec.seed})"},
            "results": results, "warnings": warnings}
