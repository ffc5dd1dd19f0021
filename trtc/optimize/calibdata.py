"""Calibration data for post-training quantization: .npz, image folders, python readers, random.

Every source ends up as the same thing, a :class:`CalibrationSet` of feed dicts
checked against the model's inputs (names, rank, static dims, dtype kind,
finite values) before ONNX Runtime sees them, so a bad calibration file is
reported by file and tensor name rather than as a calibrator's stack trace.
The set carries a fingerprint so the quantize stage can cache calibrated
ranges and skip recomputing activations when only the method or the
exclusion list changes.

Image folders are read by ``trtc.optimize.calibimages``. ONNX Runtime is not
imported here (``trtc --help`` stays fast).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtc.data import (
    Feed,
    InputInfo,
    array_dataset,
    batch_axes,
    check_finite,
    check_rank,
    feed_samples,
    input_infos,
    load_arrays,
    random_dataset,
    resolve_shape,
    take,
)
from trtc.errors import DataError, UsageError
from trtc.optimize.calibimages import ImagePreprocess, image_arrays, image_files
from trtc.shapes import format_shape

RANDOM_WARNING = ("calibrating on seeded random data: the ranges will fit N(0, 1) noise, not "
                  "your real inputs (int8 / fp8 accuracy will likely drop; fp16's overflow "
                  "check measures nothing real); calibrate on a few hundred real samples "
                  "(.npz, an image folder or python:module:function)")


@dataclass
class CalibrationSet:
    """Checked calibration feeds, one dict per batch, and where they came from.

    ``fingerprint`` is a sha256 over the source and every array (names, dtypes,
    shapes, bytes): equal fingerprints mean equal calibration data.
    """

    feeds: list[dict[str, np.ndarray]]
    fingerprint: str
    source: str
    samples: int
    warnings: list[str] = field(default_factory=list)


def calibration_batches(source: str, inputs: Mapping[str, tuple[str, tuple[int | str, ...]]],
                        *, samples: int, batch: int = 1, seed: int = 0,
                        preprocess: ImagePreprocess | None = None,
                        shapes: Mapping[str, Sequence[int]] | None = None) -> CalibrationSet:
    """Load up to ``samples`` calibration samples from ``source`` as checked batches.

    Args:
        source: ``random``, a ``.npz`` path (``npz:`` prefix optional; arrays keyed by
            input name, or one unnamed array for a one-input model), an image folder
            (one-input models; files in sorted order, searched recursively), or
            ``python:<module or file.py>:<function>`` returning a mapping of arrays
            (first axis = samples) or an iterable of such mappings (batches).
        inputs: the model's inputs, {name: (numpy dtype name, shape)} as the backends'
            ``io_specs`` return them; named dims are dynamic.
        samples: how many samples to calibrate on; sources with more are truncated,
            sources with fewer give a warning.
        batch: samples per feed where the batch dim is dynamic (a static batch dim wins).
        seed: seed for ``random``.
        preprocess: image folder preprocessing (default: :class:`ImagePreprocess()`).
        shapes: concrete shapes (batch included, trtexec style) for inputs with named
            dims: ``random`` makes its batches in these shapes; other sources are
            checked against their non-batch dims.

    Raises:
        DataError: the data does not match the model's inputs, holds NaN/Inf, or
            cannot be read (named by file and input).
        UsageError: ``samples`` or ``batch`` below 1, or a preprocessing that cannot fit.
    """
    if samples < 1 or batch < 1:
        raise UsageError(f"calibration needs samples >= 1 and batch >= 1, got samples "
                         f"{samples}, batch {batch}", "pass --calib-samples 32 or more")
    infos = input_infos(inputs)
    if not infos:
        raise DataError("the model has no inputs to calibrate", "check the model")
    warnings: list[str] = []
    axes = batch_axes(infos)
    batch = _effective_batch(infos, axes, batch, warnings)
    if shapes and source != "random":
        infos = [_with_shapes(info, shapes, axes[info.name]) for info in infos]
    if source == "random":
        feeds = _random_feeds(infos, samples, batch, seed, shapes or {})
        warnings.insert(0, RANDOM_WARNING)
        label = f"random (seed {seed})"
    elif source.startswith("python:"):
        feeds = _python_feeds(source, infos, samples, batch)
        label = source
    elif Path(source).is_dir():
        images = image_arrays(Path(source), infos, samples, preprocess or ImagePreprocess())
        feeds = _array_feeds(images, infos, samples, batch, source)
        label = source
    else:
        arrays = load_arrays(source)
        feeds = _array_feeds(arrays, infos, samples, batch, source)
        label = source
    check_finite(feeds, label)
    got = count_samples(feeds, axes)
    if got == 0:
        raise DataError(f"{label}: no calibration samples", "provide at least one sample")
    if got < samples:
        warnings.append(f"{label} has {got} samples, {samples} asked: calibrating on {got}")
    return CalibrationSet(feeds=feeds, fingerprint=fingerprint(feeds), source=label,
                          samples=got, warnings=warnings)


def count_samples(feeds: Sequence[Feed], axes: Mapping[str, int | None] | None = None) -> int:
    """Samples in ``feeds``: per feed, the batch axis of its first batched input (1 if none).

    ``axes`` is :func:`trtc.data.batch_axes` (None: axis 0 of every array with one).
    """
    return sum(feed_samples(feed, axes or {}) for feed in feeds)


def fingerprint(feeds: Sequence[Feed]) -> str:
    """Return a sha256 over every array's name, dtype, shape and bytes.

    The data alone, not where it came from: the same samples reached through another
    path (or a moved file) reuse the cached calibration.
    """
    digest = hashlib.sha256()
    for feed in feeds:
        for name in sorted(feed):
            arr = np.ascontiguousarray(feed[name])
            digest.update(f"\0{name}\0{arr.dtype.str}\0{arr.shape}\0".encode())
            digest.update(arr.tobytes())
    return digest.hexdigest()


def _effective_batch(infos: Sequence[InputInfo], axes: Mapping[str, int | None], batch: int,
                     warnings: list[str]) -> int:
    """A static batch dim wins over the requested batch (the model cannot take another)."""
    static = {i.shape[axis] for i in infos
              if (axis := axes[i.name]) is not None and isinstance(i.shape[axis], int)}
    if len(static) == 1:
        fixed = int(static.pop())
        if fixed != batch and batch != 1:
            warnings.append(f"the model's batch dim is static ({fixed}): calibrating in "
                            f"batches of {fixed}, not {batch}")
        return fixed
    return batch


def _with_shapes(info: InputInfo, shapes: Mapping[str, Sequence[int]],
                 batch_axis: int | None) -> InputInfo:
    """``info`` with its named non-batch dims set from ``shapes`` (the batch dim stays named)."""
    if info.name not in shapes:
        return info
    concrete = resolve_shape(info, shapes, 1, batch_axis)  # checks rank and static dims
    dims = tuple(d if axis == batch_axis and not isinstance(d, int) else concrete[axis]
                 for axis, d in enumerate(info.shape))
    return InputInfo(info.name, info.dtype, dims)


def _random_feeds(infos: Sequence[InputInfo], samples: int, batch: int, seed: int,
                  shapes: Mapping[str, Sequence[int]]) -> list[Feed]:
    iterations = -(-samples // batch)
    data = random_dataset(infos, shapes, batch, iterations, seed)
    return _truncate(data.feeds, samples, infos)


def _truncate(feeds: list[Feed], samples: int, infos: Sequence[InputInfo]) -> list[Feed]:
    """Keep the first ``samples`` samples (a short last batch only with a dynamic batch dim)."""
    axes = batch_axes(infos)
    static_batch = any(isinstance(i.shape[axis], int) for i in infos
                       if (axis := axes[i.name]) is not None)
    out: list[Feed] = []
    total = 0
    for feed in feeds:
        if total >= samples:
            break
        n = feed_samples(feed, axes)
        if total + n > samples:
            if static_batch:
                break
            feed = {k: take(v, axes.get(k, 0), 0, samples - total) for k, v in feed.items()}
            n = samples - total
        out.append(feed)
        total += n
    return out


def _labels_key(infos: Sequence[InputInfo]) -> str:
    """The key whose array is dropped as labels (verify's loaders return 'labels' too)."""
    return "labels" if "labels" not in {i.name for i in infos} else "\0no labels"


def _array_feeds(arrays: Mapping[str, np.ndarray], infos: Sequence[InputInfo], samples: int,
                 batch: int, source: str) -> list[Feed]:
    """Check named arrays (first axis = samples) against the inputs and split them in batches."""
    check_ranks(arrays, infos, source)
    data = array_dataset(arrays, infos, batch, _labels_key(infos), source, limit=samples)
    return data.feeds


def check_ranks(arrays: Mapping[str, np.ndarray], infos: Sequence[InputInfo], source: str) -> None:
    """Raise DataError for an array whose rank differs from its input's (before batching)."""
    by_name = {i.name: i for i in infos}
    axes = batch_axes(infos)
    for name, arr in arrays.items():
        info = by_name.get(name)
        if info is None and len(infos) == 1 and len(arrays) == 1:
            info = infos[0]
        if info is not None:
            check_rank(info, arr, axes[info.name], source)


# python:module:function ----------------------------------------------------------------------


def _python_feeds(source: str, infos: Sequence[InputInfo], samples: int,
                  batch: int) -> list[Feed]:
    """Call a user reader: a mapping of arrays, an (inputs, labels) pair, or an iterable of dicts.

    Iterables are consumed only up to ``samples`` (readers may be endless
    generators); their batches are joined and re-split to ``batch``.
    """
    from trtc.usercode import call_user_function

    result = call_user_function(source, "calibration data", DataError, "fix the reader function")
    if isinstance(result, tuple) and len(result) == 2 and not isinstance(result[1], Mapping):
        result = result[0]  # (inputs, labels), as verify's loaders return
    if isinstance(result, np.ndarray):
        result = {"": result}
    if isinstance(result, Mapping):
        arrays = {str(k): np.asarray(v) for k, v in result.items()}
    elif isinstance(result, Iterable) and not isinstance(result, (str, bytes)):
        arrays = _join_batches(result, source, infos, samples)
    else:
        raise DataError(f"calibration data {source} returned {type(result).__name__}",
                        "return a dict of arrays keyed by input name, or an iterable "
                        "(e.g. a generator) of such dicts")
    return _array_feeds(arrays, infos, samples, batch, source)


def _join_batches(items: Iterable[Any], source: str, infos: Sequence[InputInfo],
                  samples: int) -> dict[str, np.ndarray]:
    """Concatenate an iterable of feed mappings along each input's batch axis, up to ``samples``.

    An input without a batch axis (a scalar) keeps the first item's array.
    """
    ranks = {i.name: len(i.shape) for i in infos}
    axes = batch_axes(infos)
    parts: dict[str, list[np.ndarray]] = {}
    total = 0
    try:
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise DataError(f"calibration data {source}: item {index} is "
                                f"{type(item).__name__}, not a dict of arrays",
                                "yield dicts keyed by input name")
            feed = {str(k): np.asarray(v) for k, v in item.items()}
            if len(feed) == 1 and len(infos) == 1 and infos[0].name not in feed:
                feed = {infos[0].name: next(iter(feed.values()))}
            for name, arr in feed.items():
                axis = axes.get(name, 0)
                if axis is not None and name in ranks and arr.ndim == ranks[name] - 1:
                    arr = np.expand_dims(arr, axis)  # one sample without its batch axis
                parts.setdefault(name, []).append(arr)
            if feed:
                total += count_samples([{k: parts[k][-1] for k in feed}], axes)
            if total >= samples:
                break
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"calibration data {source} raised {type(exc).__name__} while "
                        f"iterating: {exc}", "fix the reader function") from None
    joined = {}
    for name, arrays in parts.items():
        axis = axes.get(name, 0)
        if axis is None or arrays[0].ndim == 0:
            joined[name] = arrays[0]
            continue
        trailing = {a.shape[:axis] + ("N",) + a.shape[axis + 1:] for a in arrays}
        if len(trailing) > 1:
            raise DataError(f"calibration data {source}: input '{name}' comes in shapes "
                            f"{', '.join(format_shape(t) for t in sorted(trailing, key=str))}",
                            "yield samples of one shape per input")
        joined[name] = np.concatenate(arrays, axis=axis)
    return joined


#: ``image_files`` is re-exported for trtc.pipeline (which should import it from calibimages).
__all__ = ["CalibrationSet", "ImagePreprocess", "RANDOM_WARNING", "calibration_batches",
           "check_finite", "fingerprint", "image_files"]
