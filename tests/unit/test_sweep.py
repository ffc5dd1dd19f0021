"""trtc.sweep: the bench sweep's grid and its best point under a latency bound."""

from __future__ import annotations

import pytest

from trtc.sweep import Sweep, SweepError, parse_sweep, request_latency_ms, summarize


def test_the_grid_parses_with_defaults_for_a_missing_axis() -> None:
    assert parse_sweep("batch=1,8,32 streams=1,2,4") == Sweep((1, 8, 32), (1, 2, 4))
    assert parse_sweep("streams=2;batch=8,1,8") == Sweep((1, 8), (2,))
    assert parse_sweep("batch=4", default_streams=3) == Sweep((4,), (3,))
    assert parse_sweep("streams=1,2", default_batch=(8, 1)) == Sweep((1, 8), (1, 2))
    assert Sweep((1, 8), (1, 2)).points() == [(1, 1), (8, 1), (1, 2), (8, 2)]


@pytest.mark.parametrize(("text", "says"), [
    ("", "is empty"), ("batch", "expected AXIS=V1,V2"), ("bs=1", "expected AXIS=V1,V2"),
    ("batch=1,0", "'0' is not a positive integer"), ("batch=1,x", "'x' is not a positive"),
    ("batch=1 batch=2", "batch is given twice"), ("streams=", "'' is not a positive"),
])
def test_bad_grids_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(SweepError, match=says):
        parse_sweep(text)


def _point(batch: int, streams: int, median: float, per_s: float,
           host: float | None = None) -> dict[str, object]:
    p: dict[str, object] = {"batch": batch, "streams": streams, "median_ms": median,
                            "throughput_samples_s": per_s}
    if host is not None:
        p["latency"] = {"median_ms": host}
    return p


def test_the_best_point_is_the_most_samples_per_second_within_the_bound() -> None:
    points = [_point(1, 1, 0.2, 4000, host=0.3), _point(32, 1, 1.0, 30000, host=1.4),
              _point(256, 2, 4.7, 62000, host=9.0), _point(64, 2, 1.9, 40000, host=2.6)]
    out = summarize(points, max_latency_ms=3.0)
    # The bound is judged on the host latency (copies included), not GPU compute.
    assert out["best"]["batch"] == 64 and out["best"]["latency_ms"] == 2.6
    assert out["fastest"]["batch"] == 256
    assert [p["within_bound"] for p in out["points"]] == [True, True, False, True]
    assert summarize(points)["best"]["batch"] == 256  # no bound: the fastest
    assert summarize(points, max_latency_ms=0.1)["best"] is None
    assert request_latency_ms({"median_ms": 5.0}) == 5.0  # ONNX Runtime: the timed median
