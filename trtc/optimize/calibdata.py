"""Calibration data for post-training quantization: .npz, image folders, python readers, random.

Every source ends up as the same thing, a :class:`CalibrationSet` of feed dicts
checked against the model's inputs (names, rank, static dims, dtype kind,
finite values) before ONNX Runtime sees them, so a bad calibration file is
reported by file and tensor name rather than as a calibrator's stack trace.
The set carries a fingerprint so the quantize stage can cache calibrated
ranges and skip recomputing activations when only the method or the
exclusion list changes.

ONNX Runtime is not imported here: :class:`FeedReader` satisfies
``onnxruntime.quantization.CalibrationDataReader`` structurally (that ABC
accepts any class with ``get_next`` through ``__subclasshook__``), which keeps
this module importable, and ``trtc --help`` fast, without onnxruntime.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtc.data import (
    Feed,
    InputInfo,
    array_dataset,
    load_arrays,
    random_dataset,
)
from trtc.errors import DataError, DependencyError, UsageError
from trtc.recipe import CalibPreprocessSpec

#: Image file suffixes read from a folder (what Pillow decodes in every build).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm")

RANDOM_WARNING = ("calibrating on seeded random data: the INT8 scales will fit N(0, 1) noise, "
                  "not your real inputs, and accuracy will likely drop; calibrate on a few "
                  "hundred real samples (.npz, an image folder or python:module:function)")


#: How an image folder becomes an input tensor: the recipe's ``quantize.calib_preprocess``
#: (the usual ImageNet recipe by default). Each image is converted to ``color`` ("RGB" or
#: "L"), resized so its shorter side is ``resize`` pixels, center-cropped to ``crop`` x
#: ``crop``, multiplied by ``scale``, normalized per channel with ``mean`` / ``std`` (after
#: scaling) and laid out as ``layout`` with a leading batch axis.
ImagePreprocess = CalibPreprocessSpec


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
        shapes: concrete shapes for ``random`` where a non-batch dim is dynamic.

    Raises:
        DataError: the data does not match the model's inputs, holds NaN/Inf, or
            cannot be read (named by file and input).
        UsageError: ``samples`` or ``batch`` below 1, or a preprocessing that cannot fit.
    """
    if samples < 1 or batch < 1:
        raise UsageError(f"calibration needs samples >= 1 and batch >= 1, got samples "
                         f"{samples}, batch {batch}", "pass --calib-samples 32 or more")
    infos = [InputInfo(name, dtype, tuple(shape)) for name, (dtype, shape) in inputs.items()]
    if not infos:
        raise DataError("the model has no inputs to calibrate", "check the model")
    warnings: list[str] = []
    batch = _effective_batch(infos, batch, warnings)
    if source == "random":
        feeds = _random_feeds(infos, samples, batch, seed, shapes or {})
        warnings.insert(0, RANDOM_WARNING)
        label = f"random (seed {seed})"
    elif source.startswith("python:"):
        feeds = _python_feeds(source, infos, samples, batch)
        label = source
    elif Path(source).is_dir():
        feeds = _image_feeds(Path(source), infos, samples, batch, preprocess or ImagePreprocess())
        label = source
    else:
        arrays = load_arrays(source)
        feeds = _array_feeds(arrays, infos, samples, batch, source)
        label = source
    check_finite(feeds, label)
    got = count_samples(feeds)
    if got == 0:
        raise DataError(f"{label}: no calibration samples", "provide at least one sample")
    if got < samples:
        warnings.append(f"{label} has {got} samples, {samples} asked: calibrating on {got}")
    return CalibrationSet(feeds=feeds, fingerprint=fingerprint(feeds), source=label,
                          samples=got, warnings=warnings)


def count_samples(feeds: Sequence[Feed]) -> int:
    """Samples in ``feeds``: the first axis of each feed's first array (1 for scalars)."""
    total = 0
    for feed in feeds:
        first = next(iter(feed.values()))
        total += first.shape[0] if first.ndim else 1
    return total


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


def check_finite(feeds: Sequence[Mapping[str, np.ndarray]], source: str) -> None:
    """Raise DataError naming the input, the NaN / Inf counts and the first bad sample.

    A single NaN in calibration data turns a min/max range (and every scale
    derived from it) into NaN, which only shows up later as garbage outputs.
    """
    names = list(feeds[0]) if feeds else []
    for name in names:
        nan = inf = bad = 0
        first: int | None = None
        offset = 0
        for feed in feeds:
            arr = feed[name]
            if arr.dtype.kind in "fc":
                per_sample = ~np.isfinite(arr.reshape(len(arr), -1) if arr.ndim else arr[None])
                rows = np.flatnonzero(per_sample.any(axis=-1))
                if rows.size:
                    nan += int(np.isnan(arr).sum())
                    inf += int(np.isinf(arr).sum())
                    bad += rows.size
                    first = offset + int(rows[0]) if first is None else first
            offset += len(arr) if arr.ndim else 1
        if first is not None:
            raise DataError(f"{source}: input '{name}' has {nan} NaN and {inf} Inf values in "
                            f"{bad} of {offset} samples (first: sample {first})",
                            "clean the data (numpy.nan_to_num) or drop those samples; "
                            "calibration ranges would be NaN/Inf")


def _effective_batch(infos: Sequence[InputInfo], batch: int, warnings: list[str]) -> int:
    """A static batch dim wins over the requested batch (the model cannot take another)."""
    static = {i.shape[0] for i in infos if i.shape and isinstance(i.shape[0], int)}
    if len(static) == 1:
        fixed = int(static.pop())
        if fixed != batch and batch != 1:
            warnings.append(f"the model's batch dim is static ({fixed}): calibrating in "
                            f"batches of {fixed}, not {batch}")
        return fixed
    return batch


def _random_feeds(infos: Sequence[InputInfo], samples: int, batch: int, seed: int,
                  shapes: Mapping[str, Sequence[int]]) -> list[Feed]:
    iterations = -(-samples // batch)
    data = random_dataset(infos, shapes, batch, iterations, seed)
    return _truncate(data.feeds, samples, infos)


def _truncate(feeds: list[Feed], samples: int, infos: Sequence[InputInfo]) -> list[Feed]:
    """Keep the first ``samples`` samples (a short last batch only with a dynamic batch dim)."""
    static_batch = any(i.shape and isinstance(i.shape[0], int) for i in infos)
    out: list[Feed] = []
    total = 0
    for feed in feeds:
        if total >= samples:
            break
        n = count_samples([feed])
        if total + n > samples:
            if static_batch:
                break
            feed = {k: v[: samples - total] for k, v in feed.items()}
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
    for name, arr in arrays.items():
        info = by_name.get(name)
        if info is None and len(infos) == 1 and len(arrays) == 1:
            info = infos[0]
        if info is not None and arr.ndim != len(info.shape):
            raise DataError(f"{source}: input '{info.name}' has rank {len(info.shape)} "
                            f"(model shape {_fmt(info.shape)}), the array has shape "
                            f"{_fmt(arr.shape)}", "the first axis counts samples; match the "
                            "model's rank")


def _fmt(shape: Sequence[int | str]) -> str:
    return "x".join(str(d) for d in shape)


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
    """Concatenate an iterable of feed mappings along axis 0, stopping after ``samples``."""
    ranks = {i.name: len(i.shape) for i in infos}
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
                if name in ranks and arr.ndim == ranks[name] - 1:
                    arr = arr[np.newaxis]  # one sample without its batch axis
                parts.setdefault(name, []).append(arr)
            if feed:
                total += count_samples([{k: parts[k][-1] for k in feed}])
            if total >= samples:
                break
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"calibration data {source} raised {type(exc).__name__} while "
                        f"iterating: {exc}", "fix the reader function") from None
    joined = {}
    for name, arrays in parts.items():
        trailing = {a.shape[1:] for a in arrays}
        if len(trailing) > 1:
            raise DataError(f"calibration data {source}: input '{name}' comes in shapes "
                            f"{', '.join(_fmt(('N', *t)) for t in sorted(trailing))}",
                            "yield samples of one shape per input")
        joined[name] = np.concatenate(arrays, axis=0)
    return joined


# image folders -------------------------------------------------------------------------------


def image_files(folder: Path) -> list[Path]:
    """Every non-hidden file under ``folder``, sorted (class sub-folders included)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".")
                                             for part in p.relative_to(folder).parts))


def pick_evenly(files: Sequence[Path], count: int) -> list[Path]:
    """Pick ``count`` files spread evenly over the sorted list.

    Image folders are often sorted by class (class sub-folders): the first N
    files would calibrate on one class only.
    """
    if count >= len(files):
        return list(files)
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def _image_feeds(folder: Path, infos: Sequence[InputInfo], samples: int, batch: int,
                 pre: ImagePreprocess) -> list[Feed]:
    if len(infos) != 1:
        raise DataError(f"{folder}: an image folder feeds one input, the model has "
                        f"{len(infos)} ({', '.join(i.name for i in infos)})",
                        "use an .npz or python:module:function for multi-input models")
    info = infos[0]
    check_image_input(info, pre)
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder}: the image folder is empty", "put calibration images in it "
                        f"({', '.join(IMAGE_SUFFIXES[:3])}, ...)")
    for path in files:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}: not a supported image file ({path.suffix or 'no suffix'})",
                            f"image folders hold only {', '.join(IMAGE_SUFFIXES)} files; "
                            "move it out")
    images = np.stack([load_image(p, pre) for p in pick_evenly(files, samples)])
    return _array_feeds({info.name: images.astype(info.dtype)}, infos, samples, batch,
                        str(folder))


def check_image_input(info: InputInfo, pre: ImagePreprocess) -> None:
    """Raise unless images preprocessed with ``pre`` fit ``info`` (rank, channels, size, dtype)."""
    # The settings themselves first: a bad crop is a usage error, not a model mismatch.
    if pre.crop > pre.resize or pre.crop < 1 or 0 in pre.std:
        raise UsageError(f"preprocess crop {pre.crop} must be >= 1 and <= resize {pre.resize}, "
                         "std must not be 0", "e.g. resize 256, crop 224")
    if np.dtype(info.dtype).kind != "f":
        raise DataError(f"input '{info.name}' is {info.dtype}; image folders feed float inputs",
                        "use an .npz or python:module:function")
    if len(info.shape) != 4:
        raise DataError(f"input '{info.name}' has shape {_fmt(info.shape)}; image folders "
                        "feed 4-D image inputs (NCHW or NHWC)",
                        "use an .npz or python:module:function")
    channels = 3 if pre.color == "RGB" else 1
    c_axis, hw = (1, info.shape[2:]) if pre.layout == "NCHW" else (3, info.shape[1:3])
    want_c = info.shape[c_axis]
    if isinstance(want_c, int) and want_c != channels:
        other = info.shape[3 if pre.layout == "NCHW" else 1]
        hint = (f"set layout {'NHWC' if pre.layout == 'NCHW' else 'NCHW'}"
                if other == channels else f"set color {'L' if want_c == 1 else 'RGB'}")
        raise DataError(f"input '{info.name}' (shape {_fmt(info.shape)}, {pre.layout}) has "
                        f"{want_c} channels, {pre.color} images have {channels}", hint)
    for dim in hw:
        if isinstance(dim, int) and dim != pre.crop:
            raise DataError(f"input '{info.name}' takes {_fmt(hw)} images (shape "
                            f"{_fmt(info.shape)}), the preprocessing crops {pre.crop}x{pre.crop}",
                            f"set crop {dim} (and resize >= {dim})")
    for key, values in (("mean", pre.mean), ("std", pre.std)):
        if len(values) not in (1, channels):
            raise UsageError(f"preprocess {key} has {len(values)} values for {channels}-channel "
                             f"{pre.color} images", f"give 1 or {channels} values")


def resized_size(size: tuple[int, int], shorter: int) -> tuple[int, int]:
    """(width, height) with the shorter side ``shorter``, the longer truncated as torchvision does.

    Calibration must see the preprocessing the model was trained and will be
    served with, and that is most often torchvision's Resize + CenterCrop.
    """
    w, h = size
    if w <= h:
        return shorter, int(shorter * h / w)
    return int(shorter * w / h), shorter


def load_image(path: Path, pre: ImagePreprocess) -> np.ndarray:
    """Read one image and preprocess it into a float32 CHW / HWC array (no batch axis).

    Resize (bilinear, antialiased) and center crop follow torchvision's
    ``Resize(resize)`` + ``CenterCrop(crop)`` on PIL images.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DependencyError("reading an image folder needs Pillow",
                              "pip install pillow") from None
    try:
        with Image.open(path) as opened:
            img = opened.convert(pre.color)
        size = resized_size(img.size, pre.resize)
        img = img.resize(size, Image.Resampling.BILINEAR)
        left, top = (round((size[0] - pre.crop) / 2), round((size[1] - pre.crop) / 2))
        img = img.crop((left, top, left + pre.crop, top + pre.crop))
        pixels = np.asarray(img, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read as an image ({type(exc).__name__}: {exc})",
                        "remove or replace the file") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    mean, std = np.asarray(pre.mean, np.float32), np.asarray(pre.std, np.float32)
    arr = ((pixels * np.float32(pre.scale) - mean) / std).astype(np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1) if pre.layout == "NCHW" else arr)


# ONNX Runtime calibration reader ---------------------------------------------------------------


class FeedReader:
    """An ONNX Runtime calibration data reader over a :class:`CalibrationSet`.

    It is an ``onnxruntime.quantization.CalibrationDataReader`` without
    importing onnxruntime: that ABC's ``__subclasshook__`` accepts any class
    with ``get_next``, so ``isinstance`` holds and ``quantize_static`` takes it.
    ``__len__`` and ``set_range`` serve ORT's chunked calibration.

    Args:
        calib: the feeds.
        progress: called after each batch handed out with the number handed out
            since the last rewind (e.g. to advance a rich progress bar).
    """

    def __init__(self, calib: CalibrationSet,
                 progress: Callable[[int], None] | None = None) -> None:
        self.calib = calib
        self.progress = progress
        self._start, self._end = 0, len(calib.feeds)
        self._pos = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        """Return the next feed, or None when the range is exhausted."""
        if self._pos >= self._end:
            return None
        feed = self.calib.feeds[self._pos]
        self._pos += 1
        if self.progress is not None:
            self.progress(self._pos - self._start)
        return feed

    def rewind(self) -> None:
        """Start again from the first feed of the range (for a second calibration pass)."""
        self._pos = self._start

    def set_range(self, start_index: int, end_index: int) -> None:
        """Restrict the reader to feeds [start_index, end_index) and rewind."""
        self._start = max(0, start_index)
        self._end = min(len(self.calib.feeds), end_index)
        self._pos = self._start

    def __len__(self) -> int:
        return len(self.calib.feeds)

    def __iter__(self) -> FeedReader:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        feed = self.get_next()
        if feed is None:
            raise StopIteration
        return feed


def feed_reader(calib: CalibrationSet,
                progress: Callable[[int], None] | None = None) -> FeedReader:
    """Return an ONNX Runtime calibration data reader over ``calib``."""
    return FeedReader(calib, progress)


__all__ = ["CalibrationSet", "FeedReader", "ImagePreprocess", "RANDOM_WARNING",
           "calibration_batches", "check_finite", "feed_reader", "fingerprint"]
