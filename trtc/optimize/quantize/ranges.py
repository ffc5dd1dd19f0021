"""Tensor ranges per calibration method, computed from the cached collection (no inference).

The range math is ONNX Runtime's ``HistogramCollector`` (minmax, entropy,
percentile, and fp8's distribution); :class:`RangeBook` memoises it per
method in memory and beside the collection on disk, so a budget search that
builds the Q/DQ model many times computes each tensor's range once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from trtc.errors import UsageError
from trtc.optimize.quantize.calibrate import (
    NUM_ABS_BINS,
    NUM_BINS,
    NUM_QUANTIZED_BINS,
    Collection,
    quiet_stdout,
)

METHODS = ("minmax", "entropy", "percentile")


class RangeBook:
    """Per-method tensor ranges computed from a collection, memoised and kept on disk.

    The quantizer asks for the tensors it needs; ranges already computed (in
    this process or an earlier one, ``<cache>.<method>.json``) are not computed
    again, so a budget search quantizing the model many times stays cheap.
    """

    def __init__(self, collection: Collection, cache_path: Path | None = None,
                 percentile: float = 99.999) -> None:
        self.collection = collection
        self.cache_path = cache_path
        self.percentile = percentile
        self._done: dict[str, dict[str, Any]] = {}

    def _file(self, method: str) -> Path | None:
        if self.cache_path is None:
            return None
        suffix = f"p{self.percentile:g}" if method == "percentile" else ""
        return self.cache_path.with_suffix(f".{method}{suffix}.json")

    def __call__(self, method: str, names: Iterable[str] | None = None) -> Any:
        """Return ONNX Runtime ``TensorsData`` for ``method`` and the tensors in ``names``."""
        from onnxruntime.quantization.calibrate import (
            TensorsData,
            load_tensors_data,
            save_tensors_data,
        )

        enum = _method_enum(method)
        done = self._done.get(method)
        path = self._file(method)
        if done is None:
            done = {}
            if path is not None and path.is_file():
                with contextlib.suppress(Exception):  # a damaged cache is recomputed
                    done = dict(load_tensors_data(path).data)
            self._done[method] = done
        wanted = set(self.collection.value if names is None else names) & \
            set(self.collection.value)
        missing = sorted(wanted - set(done))
        if missing:
            done.update(compute_ranges(self.collection, method, missing, self.percentile).data)
            if path is not None:
                from trtc.workspace import atomic_path

                with atomic_path(path) as tmp:
                    save_tensors_data(TensorsData(enum, done), tmp)
        return TensorsData(enum, {k: done[k] for k in sorted(wanted)})


def _method_enum(method: str) -> Any:
    from onnxruntime.quantization.calibrate import CalibrationMethod

    enums = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
             "percentile": CalibrationMethod.Percentile,
             "distribution": CalibrationMethod.Distribution}
    if method not in enums:
        raise UsageError(f"unknown calibration method {method!r}",
                         f"use one of: {', '.join(METHODS)}")
    return enums[method]


def compute_ranges(collection: Collection, method: str, names: Iterable[str] | None = None,
                   percentile: float = 99.999) -> Any:
    """Return ONNX Runtime ``TensorsData`` for ``method`` from a collection (no inference).

    ``method`` is minmax, entropy, percentile or distribution (fp8); the range
    math is ONNX Runtime's ``HistogramCollector``.
    """
    from onnxruntime.quantization.calibrate import HistogramCollector, TensorsData

    enum = _method_enum(method)
    keep = set(names) if names is not None else set(collection.value)
    value = {k: v for k, v in collection.value.items() if k in keep}
    if method == "minmax":
        return TensorsData(enum, {
            k: (np.asarray(v[2], dtype=np.float32), np.asarray(v[3], dtype=np.float32))
            for k, v in value.items()})
    if method == "percentile":
        hists = {k: v for k, v in collection.absolute.items() if k in keep}
        collector = HistogramCollector("percentile", True, NUM_ABS_BINS, NUM_QUANTIZED_BINS,
                                       percentile, "same")
    else:
        hists = value
        collector = HistogramCollector(method, False, NUM_BINS, NUM_QUANTIZED_BINS, percentile,
                                       "same")
    if not hists:
        return TensorsData(enum, {})
    collector.histogram_dict = {k: tuple(v) for k, v in hists.items()}
    with quiet_stdout():
        result = collector.compute_collection_result()
    return TensorsData(enum, result)


def plain_ranges(ranges: Any) -> dict[str, tuple[float, float]]:
    """Per-tensor (low, high) floats from ``TensorsData`` (for calibration.json and fp16)."""
    out = {}
    for name, data in ranges.items():
        lo, hi = data.range_value
        out[name] = (float(np.min(lo)), float(np.max(hi)))
    return out
