"""The feeds an int8 calibrator reads, from trtc's data layer, at the calibration shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trtc.tensorrt.settings import TrtBuildSettings


def calibration_feeds(settings: TrtBuildSettings,
                      inputs: Mapping[str, tuple[str, tuple[int | str, ...]]]
                      ) -> tuple[list[dict[str, Any]], str | None]:
    """Return (feeds, calibration cache file or None) for ``settings.calibration``.

    TensorRT calibrates at the opt shape of the last profile (Polygraphy's
    calibration profile); ``samples`` rounds up to whole batches.
    """
    from trtc import data
    from trtc.data import InputInfo

    calib = dict(settings.calibration or {})
    source = str(calib.get("data") or "random")
    samples = int(calib.get("samples") or 32)
    shapes: dict[str, tuple[int, ...]] = {}
    if settings.profiles:
        shapes = {n: tuple(int(d) for d in rng[1])
                  for n, rng in settings.profiles[-1].shapes.items()}
    infos = [InputInfo(n, d, s) for n, (d, s) in inputs.items()]
    first = next(iter(shapes.values()), None)
    batch = int(first[0]) if first else next(
        (int(s[0]) for _, s in inputs.values() if s and isinstance(s[0], int)), 1)
    iterations = max(1, -(-samples // max(batch, 1)))
    if source == "random":
        dataset = data.random_dataset(infos, shapes, batch, iterations, 0)
    else:
        arrays = data.load_arrays(source)
        dataset = data.array_dataset(arrays, infos, batch, "labels", source)
        dataset.feeds = dataset.feeds[:iterations]
    cache = calib.get("cache")
    return list(dataset.feeds), str(cache) if cache else None
