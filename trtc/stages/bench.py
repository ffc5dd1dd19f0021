"""bench: trtexec-style latency/throughput of the artifact, with a PyTorch baseline.

Method (as trtexec): a time-based warm-up, then at least ``min_iterations``
runs and at least ``duration_s`` seconds; latency percentiles over the runs;
a warning when the run-to-run coefficient of variation exceeds ``cov_warn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from trtc.metrics import default_threads, latency_stats, measure
from trtc.recipe import BenchSpec, ModelSpec
from trtc.shapes import format_shape
from trtc.stages import StageContext, StageResult
from trtc.workspace import write_json


@dataclass(frozen=True)
class BenchJob:
    """What bench needs: the bench section and, for a PyTorch source, the baseline model."""

    bench: BenchSpec
    baseline: ModelSpec | None = None


def run(job: BenchJob, ctx: StageContext) -> StageResult:
    """Benchmark ``ctx.inputs['artifact']`` (and the PyTorch baseline when there is one)."""
    report = benchmark(ctx.inputs["artifact"], job.bench, job.baseline)
    path = ctx.outputs["report"]
    write_json(path, report)
    return StageResult("bench", {"report": path}, {"results": report["results"]},
                       warnings=report["warnings"])


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
    from trtc.backends.cuda_harness import HarnessConfig, gpu_info
    from trtc.backends.tensorrt import TensorRTBackend
    from trtc.backends.torch_cuda import torch_cuda_baseline
    from trtc.data import InputInfo, random_dataset
    from trtc.tensorrt.engine_file import read_sidecar

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
