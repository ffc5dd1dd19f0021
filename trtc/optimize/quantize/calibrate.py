"""The one calibration pass: every float activation's histograms, collected once and cached.

ONNX Runtime's ``create_calibrator`` builds the augmented model and
``HistogramCollector`` bins the values; trtc runs that model once per
(model, data) and keeps the histograms in the workspace (an .npz without
pickles), so another method, percentile or exclusion list reuses them
without running the model (``trtc.optimize.quantize.ranges``).

Tensors that hold no values (zero-size, e.g. a Resize's empty ``roi``) are
skipped and listed: there is nothing to calibrate, and they are never quantized.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtc.errors import DataError

#: Bins of the cached value histogram (entropy, fp8 'distribution' which needs >= 512, min/max).
#: ONNX Runtime's entropy search is quadratic in bins: 512 costs ~0.07 s per tensor.
NUM_BINS = 512
#: Bins of the |value| histogram for percentile (ONNX Runtime's default for that method).
NUM_ABS_BINS = 2048
#: Quantized bins for the entropy search: 128, as TensorRT's entropy calibrator uses.
NUM_QUANTIZED_BINS = 128
_CACHE_FORMAT = 2

Feed = dict[str, np.ndarray]
Progress = Callable[[int, int], None]


@dataclass
class Collection:
    """What one calibration pass saw: per tensor a value histogram and an |value| histogram.

    ``value[name] = (hist, edges, min, max, threshold)`` and ``absolute[name] =
    (hist, edges, min, max)``, in ONNX Runtime's ``HistogramCollector`` layouts, so
    its range computations run on them unchanged. ``empty`` lists the float
    tensors that were zero-size in some batch: not calibrated, never quantized.
    """

    value: dict[str, tuple[np.ndarray, ...]]
    absolute: dict[str, tuple[np.ndarray, ...]]
    batches: int
    key: str = ""
    empty: list[str] = field(default_factory=list)


@dataclass
class CalibrationResult:
    """A collection and how it was obtained (``runs`` = calibration model inferences now)."""

    collection: Collection
    cache_hit: bool
    runs: int
    cache_path: Path | None


def cache_key(model_sha256: str, data_fingerprint: str) -> str:
    """Key of a cached collection: the model, the data and the collection settings."""
    text = f"{_CACHE_FORMAT}:{model_sha256}:{data_fingerprint}:{NUM_BINS}:{NUM_ABS_BINS}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """ONNX Runtime's calibrators print progress to stdout, where it would corrupt --json."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def collect(model_path: Path, feeds: Sequence[Feed], progress: Progress | None = None
            ) -> Collection:
    """Run the calibration model once over ``feeds``, collecting every float tensor.

    Raises:
        DataError: ONNX Runtime rejects a feed (wrong name, shape or dtype).
    """
    from onnxruntime.quantization.calibrate import (
        CalibrationMethod,
        HistogramCollector,
        create_calibrator,
    )

    with tempfile.TemporaryDirectory(prefix="trtc-calib-") as tmp, quiet_stdout():
        calibrator = create_calibrator(
            Path(model_path), None, augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.Entropy, extra_options={"num_bins": NUM_BINS})
        session = calibrator.infer_session
        names = [o.name for o in session.get_outputs()]
        wanted = set(calibrator.tensors_to_calibrate)
        value = HistogramCollector("entropy", False, NUM_BINS, NUM_QUANTIZED_BINS, 99.999, "same")
        absolute = HistogramCollector("percentile", True, NUM_ABS_BINS, NUM_QUANTIZED_BINS,
                                      99.999, "same")
        empty: set[str] = set()
        for i, feed in enumerate(feeds):
            try:
                outputs = session.run(None, feed)
            except Exception as exc:  # ORT raises its own InvalidArgument/Fail classes
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise DataError(f"calibration batch {i}: ONNX Runtime rejected the data: "
                                f"{first}", "make the calibration data match the model's "
                                "inputs (names, shapes, dtypes)") from None
            for name, out in zip(names, outputs):
                array = np.asarray(out)
                if name not in wanted or name in empty or array.dtype.kind != "f":
                    continue  # integer / bool tensors (indices, shapes) have no scale
                if array.size == 0:  # e.g. a Resize's empty roi: nothing to bin
                    empty.add(name)
                    continue
                _collect_one(value, absolute, name, array.copy(), i)
            if progress is not None:
                progress(i + 1, len(feeds))
    hists, abs_hists = value.histogram_dict, absolute.histogram_dict
    return Collection({k: v for k, v in hists.items() if k not in empty},
                      {k: v for k, v in abs_hists.items() if k not in empty}, len(feeds),
                      empty=sorted(empty))


def _collect_one(value: Any, absolute: Any, name: str, array: np.ndarray, batch: int) -> None:
    """Add one tensor of one batch to both histograms, widening a range too narrow to bin.

    numpy bins in the data's dtype: a nearly constant float32 tensor far from 0 (an SE
    gate's Sigmoid at 0.5 +- 1e-6) spans fewer float32 steps than there are bins, and
    ``np.histogram`` refuses it. Its first histogram then spans 0..max|value| (binned in
    float64); min and max stay the tensor's own, so every method still gets its range.
    """
    # +-inf, or float32's extreme (Hugging Face writes finfo.min), is how attention masks
    # say "never attend here" (scores + mask before Softmax): the range is the other
    # values' (a quantized mask saturates at its low end; trtc's TensorRT placement puts
    # no Q/DQ on Softmax inputs anyway). One pass: NaN fails the comparison too.
    kept = np.abs(array) < _MASK_MAGNITUDE
    if not kept.all():
        if np.isnan(array[~kept]).any():
            raise DataError(f"calibration batch {batch}: tensor '{name}' holds NaN",
                            "check the data and the model's weights for NaN / Inf (an "
                            "overflow upstream of this tensor)")
        array = array[kept]
        if array.size == 0:
            return
    for collector, widened in ((value, _value_entry), (absolute, _absolute_entry)):
        try:
            collector.collect({name: [array]})
        except ValueError as exc:  # numpy: "Too many bins for data range"
            if name in collector.histogram_dict or not np.isfinite(array).all():
                span = f"{float(np.min(array)):g}..{float(np.max(array)):g}"
                raise DataError(f"calibration batch {batch}: tensor '{name}' (values {span}) "
                                f"cannot be binned by ONNX Runtime's histogram: "
                                f"{str(exc).splitlines()[0]}",
                                "check the model's outputs for Inf/NaN on this data (an "
                                "overflow), or keep the node in float (--exclude-nodes)"
                                ) from None
            collector.histogram_dict[name] = widened(array, collector.num_bins)


#: Values at least this large (float32's max is 3.4e38) are masks, not activations.
_MASK_MAGNITUDE = 1e38

#: The smallest histogram span: float32 bin edges of 0..1e-30 in 2048 bins stay distinct.
_MIN_SPAN = 1e-30


def _value_entry(array: np.ndarray, bins: int) -> tuple[np.ndarray, ...]:
    """A first value histogram, ONNX Runtime's layout, over -t..t (t = max|value|, widened)."""
    data = array.astype(np.float64).ravel()
    low, high = array.min(), array.max()
    threshold = max(float(np.abs(data).max()), _MIN_SPAN)
    edges = np.linspace(-threshold, threshold, bins + 1)
    hist = np.histogram(data, bins=edges)[0]
    return (hist, edges.astype(array.dtype), low, high,
            np.asarray(threshold, dtype=array.dtype))


def _absolute_entry(array: np.ndarray, bins: int) -> tuple[np.ndarray, ...]:
    """A first |value| histogram, ONNX Runtime's layout, over 0..max|value| (widened)."""
    data = np.abs(array.astype(np.float64).ravel())
    edges = np.linspace(0.0, max(float(data.max()), _MIN_SPAN), bins + 1)
    hist = np.histogram(data, bins=edges)[0]
    return hist, edges.astype(array.dtype), array.min(), array.max()


def calibrate(model_path: Path, feeds: Sequence[Feed], data_fingerprint: str,
              cache_dir: Path | None, progress: Progress | None = None) -> CalibrationResult:
    """Collect statistics, or load them from ``cache_dir`` when this model and data were seen."""
    from trtc.workspace import sha256_file

    key = cache_key(sha256_file(model_path), data_fingerprint)
    path = cache_dir / f"{key}.npz" if cache_dir is not None else None
    if path is not None and path.is_file():
        cached = load_collection(path)
        if cached is not None:
            return CalibrationResult(cached, True, 0, path)
    collection = collect(model_path, feeds, progress)
    collection.key = key
    if path is not None:
        save_collection(collection, path)
    return CalibrationResult(collection, False, len(feeds), path)


def save_collection(collection: Collection, path: Path) -> None:
    """Write a collection as one .npz (no pickles), atomically."""
    from trtc.workspace import atomic_path

    arrays: dict[str, np.ndarray] = {}
    names = sorted(collection.value)
    for i, name in enumerate(names):
        for j, part in enumerate(collection.value[name]):
            arrays[f"v{i}_{j}"] = np.asarray(part)
        for j, part in enumerate(collection.absolute.get(name, ())):
            arrays[f"a{i}_{j}"] = np.asarray(part)
    index = {"format": _CACHE_FORMAT, "names": names, "batches": collection.batches,
             "key": collection.key, "empty": collection.empty}
    arrays["index"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load_collection(path: Path) -> Collection | None:
    """Read a cached collection; None when it is unreadable or from another format."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            index = json.loads(bytes(npz["index"]).decode())
            if index.get("format") != _CACHE_FORMAT:
                return None
            value, absolute = {}, {}
            for i, name in enumerate(index["names"]):
                value[name] = tuple(npz[f"v{i}_{j}"] for j in range(5))
                absolute[name] = tuple(npz[f"a{i}_{j}"] for j in range(4))
    except (OSError, ValueError, KeyError):
        return None
    return Collection(value, absolute, int(index["batches"]), str(index.get("key", "")),
                      [str(n) for n in index.get("empty", [])])
