"""Numbers every stage reports: latency statistics, cosine similarity, top-1 accuracy.

A leaf module: it imports nothing from trtc, so backends, stages and the
optimizers share one definition of each measure.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def warm_up(fn: Callable[[], Any], warmup_ms: float,
            clock: Callable[[], float] = time.perf_counter, min_calls: int = 1) -> int:
    """Call ``fn`` until ``warmup_ms`` have passed (trtexec's --warmUp), at least ``min_calls``.

    The one warm-up loop: the CPU timer, the CUDA harness and the torch.cuda
    baseline warm up the same way. Returns the number of calls.
    """
    end = clock() + warmup_ms / 1000.0
    calls = 0
    while True:
        fn()
        calls += 1
        if clock() >= end and calls >= min_calls:
            return calls


def measure(fn: Callable[[], Any], warmup_ms: float, duration_s: float,
            min_iterations: int, clock: Callable[[], float] = time.perf_counter,
            ) -> tuple[list[float], float]:
    """Time ``fn``: warm up for ``warmup_ms``, then run >= min_iterations and >= duration_s.

    Returns:
        (per-run latencies in ms, total timed wall time in s).
    """
    warm_up(fn, warmup_ms, clock)
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


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two flattened arrays in float64 (1.0 for two equal zero arrays)."""
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(np.dot(x, y) / norm) if norm > 0 else float(np.array_equal(x, y))


def within_budget(drop: float, max_drop: float) -> bool:
    """Whether an accuracy drop meets ``max_drop``: the one rule for verify's top-1 gate and
    the quantize budget search (a rounding-level excess still meets it)."""
    return drop <= max_drop + 1e-12


def top1_metric(cand_logits: list[np.ndarray], ref_logits: list[np.ndarray],
                labels: list[np.ndarray], max_drop: float) -> dict[str, Any]:
    """Top-1 accuracy of candidate and reference, the drop, and how often they agree."""
    cand = np.concatenate([np.asarray(x).reshape(len(x), -1).argmax(-1) for x in cand_logits])
    ref = np.concatenate([np.asarray(x).reshape(len(x), -1).argmax(-1) for x in ref_logits])
    truth = np.concatenate([np.asarray(y).reshape(-1) for y in labels])
    cand_acc = float((cand == truth).mean())
    ref_acc = float((ref == truth).mean())
    drop = ref_acc - cand_acc
    return {"name": "top1", "candidate": cand_acc, "reference": ref_acc, "drop": drop,
            "max_drop": max_drop, "agreement": float((cand == ref).mean()),
            "samples": int(truth.size), "passed": within_budget(drop, max_drop)}


def sample_rows(out: np.ndarray, samples: int | None = None) -> np.ndarray:
    """One output as one row per sample, in float64.

    The first axis is the batch unless ``samples`` (the feed's batch) says otherwise: a
    time-major output (a CRNN's ``[seq, batch, classes]``, ddddocr's OCR) puts the batch
    on another axis, moved to the front; with no axis of that size the whole output is
    one sample. Without this, each time step of a batch-1 CRNN counted as a sample.
    """
    x = np.asarray(out, np.float64)
    if x.ndim == 0:
        return x.reshape(1, 1)
    if samples is not None and x.shape[0] != samples:
        axis = next((i for i, d in enumerate(x.shape) if d == samples), None)
        if axis is None:
            return x.reshape(1, -1)
        x = np.moveaxis(x, axis, 0)
    return x.reshape(len(x), -1)


def cosine_metric(cand_out: list[np.ndarray], ref_out: list[np.ndarray],
                  min_cosine: float, per_feed: list[int] | None = None) -> dict[str, Any]:
    """Per-sample cosine similarity of candidate and reference outputs.

    ``per_feed``: the samples in each feed (the batch axis is the first, or the one of
    that size: :func:`sample_rows`). ``agreement``: how often their argmax agrees (top-1
    agreement without labels), for a ``[batch, classes]`` output only; None for others,
    where an argmax over a whole feature map, box list or sequence means nothing (an
    encoder's memory at cosine 0.9999 showed "0 % agreement").
    """
    sizes: list[int | None] = list(per_feed) if per_feed and len(per_feed) == len(cand_out) \
        else [None] * len(cand_out)
    a = np.concatenate([sample_rows(x, n) for x, n in zip(cand_out, sizes)])
    b = np.concatenate([sample_rows(x, n) for x, n in zip(ref_out, sizes)])
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.where(norms > 0, (a * b).sum(1) / np.maximum(norms, np.finfo(np.float64).tiny),
                   np.all(a == b, axis=1).astype(np.float64))
    mean = float(cos.mean())
    return {"name": "cosine", "mean": mean, "min": float(cos.min()), "min_cosine": min_cosine,
            "agreement": float((a.argmax(1) == b.argmax(1)).mean())
            if all(np.ndim(x) == 2 for x in cand_out) else None, "samples": int(len(cos)),
            "passed": mean >= min_cosine}
