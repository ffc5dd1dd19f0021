"""PyTorch on the GPU, timed with torch.cuda events: the baseline bench compares with,
and a cross-check of the cuda-python harness on the same engine."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from trtc.metrics import latency_stats

if TYPE_CHECKING:
    import numpy as np

    from trtc.backends.cuda_harness import HarnessConfig, Slot


def time_torch_cuda(fn: Callable[[], Any], warmup_ms: float, duration_s: float,
                    min_iterations: int, clock: Callable[[], float] = time.perf_counter,
                    ) -> tuple[list[float], float]:
    """Time ``fn`` (which launches work on torch's current stream) with torch.cuda events.

    Returns (per-run GPU time in ms, timed wall time in s). Used for the PyTorch
    baseline on the GPU and to cross-check the harness on the same engine.
    """
    import torch

    stream = torch.cuda.current_stream()
    end_warmup = clock() + warmup_ms / 1000.0
    while True:
        fn()
        if clock() >= end_warmup:
            break
    torch.cuda.synchronize()
    pairs: list[tuple[Any, Any]] = []
    start = clock()
    deadline = start + duration_s
    while len(pairs) < min_iterations or clock() < deadline:
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record(stream)
        fn()
        b.record(stream)
        pairs.append((a, b))
        if len(pairs) % 64 == 0:
            b.synchronize()  # bounded queue: the host may not run far ahead of the GPU
    torch.cuda.synchronize()
    wall = clock() - start
    return [float(a.elapsed_time(b)) for a, b in pairs], wall


def torch_cuda_baseline(model: Any, feed: dict[str, np.ndarray], input_names: Sequence[str],
                        precisions: Sequence[str], warmup_ms: float, duration_s: float,
                        min_iterations: int) -> dict[str, dict[str, Any]]:
    """PyTorch eager on the GPU (inputs already on the device), per precision.

    Returns ``{"pytorch_fp32": stats, "pytorch_fp16": stats}`` with the spine's
    latency statistics over torch.cuda event times.
    """
    import copy

    import torch

    batch = int(next(iter(feed.values())).shape[0]) if feed else 1
    out: dict[str, dict[str, Any]] = {}
    for precision in precisions:
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        m = copy.deepcopy(model).to("cuda", dtype=dtype).eval()
        args = [torch.from_numpy(feed[n]).to("cuda") for n in input_names]
        args = [a.to(dtype) if a.is_floating_point() else a for a in args]

        def step(m: Any = m, args: list[Any] = args) -> Any:
            with torch.inference_mode():
                return m(*args)

        lat, wall = time_torch_cuda(step, warmup_ms, duration_s, min_iterations)
        stats: dict[str, Any] = dict(latency_stats(lat, batch, wall))
        stats["timer"] = "torch.cuda events"
        out[f"pytorch_{precision}"] = stats
        del m, args
        torch.cuda.empty_cache()
    return out


def cross_check(slots: Sequence[Slot], batch: int, config: HarnessConfig) -> dict[str, Any]:
    """Time one slot's compute with torch.cuda events and with the harness; free the slots.

    Both without CUDA graphs and without copies, so only the timers differ;
    ``ratio`` is torch / harness median (goal: within 2 %).
    """
    import torch

    from trtc.backends.cuda_harness import run_harness

    plain = dataclasses.replace(config, cuda_graph=False, data_transfers=False)
    try:
        harness = run_harness(slots[:1], plain)
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            lat, wall = time_torch_cuda(lambda: slots[0].enqueue(stream.cuda_stream),
                                        plain.warmup_ms, plain.duration_s,
                                        plain.min_iterations)
    finally:
        torch.cuda.synchronize()
        for slot in slots:
            slot.free()
    h = latency_stats(harness.samples["computeMs"], batch, harness.wall_s)
    t = latency_stats(lat, batch, wall)
    return {"harness_median_ms": h["median_ms"], "torch_events_median_ms": t["median_ms"],
            "ratio": t["median_ms"] / h["median_ms"] if h["median_ms"] else float("nan"),
            "harness_iterations": h["iterations"], "torch_iterations": t["iterations"]}
