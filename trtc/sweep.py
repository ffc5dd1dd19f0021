"""``bench.sweep``: every (batch, streams) point timed in one run, and the best under a bound.

Pure planning and summarising (no runtime): :func:`parse_sweep` reads the trtexec-like text
``'batch=1,8,32 streams=1,2,4'`` (``bench.sweep`` / ``--sweep``), :func:`summarize` picks the
point with the most samples/s whose latency stays under ``bench.max_latency_ms``. The
latency bound is judged on what a request waits for: on TensorRT the host latency
(H2D + compute + D2H, trtexec's "Latency"), elsewhere the timed median.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The axes a sweep may name, trtexec's words.
AXES = ("batch", "streams")


class SweepError(ValueError):
    """The sweep text does not parse: the message says which part and why."""


@dataclass(frozen=True)
class Sweep:
    """The swept values per axis (each sorted, without repeats)."""

    batch: tuple[int, ...]
    streams: tuple[int, ...] = (1,)

    def points(self) -> list[tuple[int, int]]:
        """(batch, streams) in the order they are timed: streams outer, batch inner."""
        return [(b, s) for s in self.streams for b in self.batch]


def parse_sweep(text: str, *, default_batch: Sequence[int] = (1,),
                default_streams: int = 1) -> Sweep:
    """``'batch=1,8,32 streams=1,2,4'`` (spaces or ';' between axes) as a :class:`Sweep`.

    An axis left out takes the bench section's own value (``bench.batch``,
    ``bench.streams``).

    Raises:
        SweepError: an unknown axis, an axis given twice, or a value that is not a
            positive integer.
    """
    values: dict[str, tuple[int, ...]] = {}
    parts = [p for p in re.split(r"[\s;]+", text.strip()) if p]
    if not parts:
        raise SweepError("is empty; write e.g. 'batch=1,8,32 streams=1,2'")
    for part in parts:
        axis, sep, rest = part.partition("=")
        axis = axis.strip().lower()
        if not sep or axis not in AXES:
            raise SweepError(f"{'unknown axis ' + repr(axis) if sep else repr(part)}: expected "
                             f"AXIS=V1,V2,... with AXIS one of {', '.join(AXES)}")
        if axis in values:
            raise SweepError(f"{axis} is given twice")
        nums = []
        for v in rest.split(","):
            v = v.strip()
            if not v.isdigit() or int(v) <= 0:
                raise SweepError(f"{axis}={rest}: {v!r} is not a positive integer")
            nums.append(int(v))
        values[axis] = tuple(sorted(set(nums)))
    return Sweep(values.get("batch", tuple(sorted(set(default_batch)))),
                 values.get("streams", (default_streams,)))


def request_latency_ms(stats: Mapping[str, Any]) -> float:
    """What one request waits for: TensorRT's host latency (copies included) when the
    harness measured it, else the timed median."""
    latency = stats.get("latency")
    if isinstance(latency, Mapping) and latency.get("median_ms") is not None:
        return float(latency["median_ms"])
    return float(stats["median_ms"])


def summarize(points: Sequence[Mapping[str, Any]], max_latency_ms: float | None = None
              ) -> dict[str, Any]:
    """The sweep's table and its best point.

    ``points``: one dict per timed point with ``batch``, ``streams`` and the runtime's
    stats (``median_ms``, ``throughput_samples_s``, TensorRT: ``latency``).

    Returns ``points`` (batch, streams, median_ms, latency_ms, samples_per_s,
    within_bound), ``best`` (the most samples/s within ``max_latency_ms``; None when no
    point is within it), ``fastest`` (the most samples/s of all) and ``max_latency_ms``.
    """
    table = []
    for p in points:
        latency = request_latency_ms(p)
        table.append({"batch": int(p["batch"]), "streams": int(p["streams"]),
                      "median_ms": float(p["median_ms"]), "latency_ms": latency,
                      "samples_per_s": float(p["throughput_samples_s"]),
                      "within_bound": max_latency_ms is None or latency <= max_latency_ms})
    fastest = max(table, key=lambda r: r["samples_per_s"], default=None)
    inside = [r for r in table if r["within_bound"]]
    best = max(inside, key=lambda r: r["samples_per_s"], default=None)
    return {"max_latency_ms": max_latency_ms, "points": table, "best": best,
            "fastest": fastest}


def point_label(row: Mapping[str, Any]) -> str:
    """``batch 8``, or ``batch 8 streams 2`` for a sweep's row (bench, its gate, JUnit)."""
    streams = row.get("streams")
    return f"batch {row['batch']}" + (f" streams {streams}" if streams is not None else "")
