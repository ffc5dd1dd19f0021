"""Tests for trtc.metrics: percentiles, latency stats, the warm-up and timing loop.

``measure`` is driven by a fake clock that only moves when the timed function
runs, so iteration counts and latencies are exact and worked out by hand.
Costs are powers of two (0.25 s) so that every sum is exact in binary.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from trtc import metrics
from trtc.metrics import (
    cosine_metric,
    default_threads,
    latency_stats,
    measure,
    percentile,
    sample_rows,
)

# --------------------------------------------------------------------------- percentile


ONE_TO_100 = [float(i) for i in range(1, 101)]


@pytest.mark.parametrize(("q", "expected"), [
    (90, 90.0), (95, 95.0), (99, 99.0), (50, 50.0), (100, 100.0), (1, 1.0), (0, 1.0),
    (99.5, 100.0), (0.5, 1.0),
])
def test_percentile_nearest_rank_1_to_100(q: float, expected: float) -> None:
    assert percentile(ONE_TO_100, q) == expected


@pytest.mark.parametrize(("q", "expected"), [
    (95, 100.0),  # rank ceil(9.5) = 10: the 10th (largest) item
    (90, 90.0),   # rank 9
    (91, 100.0),  # rank ceil(9.1) = 10
    (50, 50.0),   # rank 5
    (51, 60.0),   # rank ceil(5.1) = 6
    (10, 10.0),   # rank 1
])
def test_percentile_ten_items(q: float, expected: float) -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], q) == expected


def test_percentile_is_a_sample_not_an_interpolation() -> None:
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([1.0, 2.0], 75) == 2.0
    assert percentile([3.5], 99) == 3.5


@pytest.mark.parametrize(("values", "q", "expected"), [
    # q / 100 * n is a little above an integer in floating point for these
    # (0.07 * 100 == 7.000000000000001); nearest rank must still be that integer.
    (ONE_TO_100, 7, 7.0),
    ([float(i) for i in range(1, 51)], 14, 7.0),
    ([float(i) for i in range(1, 1001)], 99.9, 999.0),
])
def test_percentile_exact_ranks_despite_float_rounding(values: list[float], q: float,
                                                       expected: float) -> None:
    assert percentile(values, q) == expected


def test_percentile_empty() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


# --------------------------------------------------------------------------- latency_stats


def test_latency_stats_odd_count() -> None:
    s = latency_stats([4.0, 1.0, 3.0, 2.0, 5.0], batch=2, wall_s=0.5)
    assert s["iterations"] == 5
    assert s["batch"] == 2
    assert s["wall_s"] == 0.5
    assert s["min_ms"] == 1.0
    assert s["max_ms"] == 5.0
    assert s["mean_ms"] == 3.0
    assert s["median_ms"] == 3.0
    # sample variance: (4 + 1 + 0 + 1 + 4) / (5 - 1) = 2.5
    assert s["std_ms"] == pytest.approx(1.5811388300841898)
    assert s["cov"] == pytest.approx(1.5811388300841898 / 3.0)
    assert s["p90_ms"] == 5.0  # rank ceil(4.5) = 5
    assert s["p95_ms"] == 5.0
    assert s["p99_ms"] == 5.0
    assert s["throughput_qps"] == 10.0        # 5 runs / 0.5 s
    assert s["throughput_samples_s"] == 20.0  # x batch 2


def test_latency_stats_even_count() -> None:
    s = latency_stats([10.0, 2.0, 1.0, 3.0], batch=1, wall_s=2.0)
    assert s["median_ms"] == 2.5  # mean of the 2nd and 3rd of 1, 2, 3, 10
    assert s["mean_ms"] == 4.0
    # (9 + 4 + 1 + 36) / 3 = 50 / 3
    assert s["std_ms"] == pytest.approx(math.sqrt(50.0 / 3.0))
    assert s["cov"] == pytest.approx(math.sqrt(50.0 / 3.0) / 4.0)
    assert s["p90_ms"] == 10.0  # rank ceil(3.6) = 4
    assert s["p95_ms"] == 10.0
    assert s["min_ms"] == 1.0
    assert s["throughput_qps"] == 2.0
    assert s["throughput_samples_s"] == 2.0


def test_latency_stats_constant_runs_have_zero_spread() -> None:
    s = latency_stats([2.0] * 7, batch=8, wall_s=0.014)
    assert s["std_ms"] == 0.0
    assert s["cov"] == 0.0
    assert s["median_ms"] == 2.0
    assert s["throughput_qps"] == pytest.approx(500.0)
    assert s["throughput_samples_s"] == pytest.approx(4000.0)


def test_latency_stats_single_run() -> None:
    s = latency_stats([7.0], batch=1, wall_s=0.007)
    assert s["std_ms"] == 0.0
    assert s["cov"] == 0.0
    assert s["median_ms"] == 7.0
    assert s["p99_ms"] == 7.0


def test_latency_stats_zero_wall_time() -> None:
    s = latency_stats([1.0, 1.0], batch=4, wall_s=0.0)
    assert s["throughput_qps"] == 0.0
    assert s["throughput_samples_s"] == 0.0


def test_latency_stats_does_not_reorder_input() -> None:
    lat = [3.0, 1.0, 2.0]
    latency_stats(lat, batch=1, wall_s=1.0)
    assert lat == [3.0, 1.0, 2.0]


# --------------------------------------------------------------------------- measure


class FakeClock:
    """Time moves only when the benchmarked function runs: by ``costs[i]`` on call i."""

    def __init__(self, costs: list[float] | float) -> None:
        self.now = 0.0
        self.costs = costs
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def run(self) -> None:
        cost = self.costs if isinstance(self.costs, float) else self.costs[self.calls]
        self.calls += 1
        self.now += cost


def test_measure_runs_until_duration_when_min_iterations_is_small() -> None:
    clock = FakeClock(0.25)
    lat, wall = measure(clock.run, warmup_ms=600, duration_s=2.0, min_iterations=1, clock=clock)
    # warm-up: 0.25, 0.5, 0.75 >= 0.6 -> 3 calls; timed from 0.75 to the deadline 2.75
    assert lat == [250.0] * 8
    assert wall == 2.0
    assert clock.calls == 3 + 8


def test_measure_times_min_iterations_even_after_the_duration() -> None:
    clock = FakeClock(0.25)
    lat, wall = measure(clock.run, warmup_ms=600, duration_s=2.0, min_iterations=20, clock=clock)
    assert len(lat) == 20
    assert wall == 5.0  # 20 x 0.25 s, far past the 2 s duration
    assert clock.calls == 3 + 20


def test_measure_warmup_boundary_is_inclusive() -> None:
    clock = FakeClock(0.25)
    measure(clock.run, warmup_ms=500, duration_s=0.25, min_iterations=1, clock=clock)
    # warm-up: 0.25, then 0.5 >= 0.5 stops it -> 2 calls; timed: one run reaches 0.75
    assert clock.calls == 2 + 1


def test_measure_always_warms_up_once() -> None:
    clock = FakeClock(0.25)
    lat, _ = measure(clock.run, warmup_ms=0, duration_s=0.5, min_iterations=1, clock=clock)
    assert clock.calls == 1 + 2
    assert lat == [250.0, 250.0]


def test_measure_long_warmup() -> None:
    clock = FakeClock(0.25)
    lat, wall = measure(clock.run, warmup_ms=2000, duration_s=1.0, min_iterations=2, clock=clock)
    assert clock.calls == 8 + 4  # warm-up up to 2.0 s, then 1 s of 0.25 s runs
    assert wall == 1.0
    assert lat == [250.0] * 4


def test_measure_records_each_run_latency() -> None:
    # two warm-up calls of 0.5 s, then runs of 0.25, 0.5, 0.125, 1.0 s
    clock = FakeClock([0.5, 0.5, 0.25, 0.5, 0.125, 1.0])
    lat, wall = measure(clock.run, warmup_ms=1000, duration_s=1.5, min_iterations=2, clock=clock)
    # deadline = 1.0 + 1.5 = 2.5; after the 3rd run now = 1.875 < 2.5, after the 4th 2.875
    assert lat == [250.0, 500.0, 125.0, 1000.0]
    assert wall == 1.875


def test_measure_with_real_clock_is_sane() -> None:
    calls = []
    lat, wall = measure(lambda: calls.append(1), warmup_ms=1, duration_s=0.01, min_iterations=5)
    assert len(lat) >= 5
    assert wall >= 0.01 - 1e-9  # (start + 0.01) - start can be 0.01 minus an ulp
    assert all(x >= 0.0 for x in lat)
    assert len(calls) >= len(lat) + 1


# --------------------------------------------------------------------------- threads


def test_default_threads_at_least_one() -> None:
    n = default_threads()
    assert isinstance(n, int)
    assert n >= 1


def test_default_threads_follows_cpu_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no sched_getaffinity on this platform")
    monkeypatch.setattr(metrics.os, "sched_getaffinity", lambda pid: {0, 2, 5})
    assert default_threads() == 3


def test_warm_up_runs_for_the_time_and_at_least_min_calls() -> None:
    from trtc.metrics import warm_up

    clock = FakeClock(0.25)
    assert warm_up(clock.run, 600, clock) == 3  # 0.25, 0.5, 0.75 >= 0.6
    clock = FakeClock(0.25)
    assert warm_up(clock.run, 0, clock, min_calls=4) == 4  # e.g. one launch per stream
    clock = FakeClock(0.25)
    assert warm_up(clock.run, 0, clock) == 1  # always at least once


def test_cosine_metric_per_sample() -> None:
    from trtc.metrics import cosine_metric

    a = [np.array([[1.0, 0.0], [0.0, 2.0]])]
    b = [np.array([[1.0, 0.0], [2.0, 0.0]])]
    m = cosine_metric(a, b, min_cosine=0.9)
    assert m["mean"] == 0.5 and m["min"] == 0.0 and m["samples"] == 2
    assert m["agreement"] == 0.5 and m["passed"] is False
    assert cosine_metric(b, b, 0.999)["passed"] is True


def test_a_time_major_output_counts_one_sample_per_feed_not_per_time_step() -> None:
    """A CRNN's [seq, batch, classes] output (ddddocr: 32 x 1 x 8210 for one image):
    four batch-1 feeds are four samples, each compared whole, not 128 time steps."""
    rng = np.random.default_rng(0)
    ref = [rng.standard_normal((32, 1, 10)) for _ in range(4)]
    cand = [r.copy() for r in ref]
    cand[0][0] = -cand[0][0]                     # one time step of the first image flipped
    by_step = cosine_metric(cand, ref, 0.99)
    by_image = cosine_metric(cand, ref, 0.99, per_feed=[1, 1, 1, 1])
    assert by_step["samples"] == 128 and by_image["samples"] == 4
    # no top-1 agreement for a [seq, batch, classes] map: an argmax over it means nothing
    assert by_image["agreement"] is None
    flat = [r[:, 0, :] for r in ref]                    # [seq, classes] rows: rank 2
    assert cosine_metric(flat, flat, 0.99)["agreement"] == 1.0
    assert by_image["min"] == pytest.approx(1 - 2 * float((ref[0][0] ** 2).sum())
                                            / float((ref[0] ** 2).sum()))
    # batch 2 on axis 1 of a [seq, batch, classes] output: two rows, one per image
    two = rng.standard_normal((5, 2, 3))
    assert sample_rows(two, 2).shape == (2, 15)
    assert np.array_equal(sample_rows(two, 2)[1], two[:, 1, :].ravel())
    assert sample_rows(two, 5).shape == (5, 6)            # batch first: as before
    assert sample_rows(two, 7).shape == (1, 30)           # no axis of that size: one sample
    assert sample_rows(np.float64(3.0)).shape == (1, 1)
