"""Input data for verify and bench: seeded random feeds, .npz files, python loaders.

Every feed is checked against the model's inputs before anything runs, so a
wrong name, rank, static dim or dtype is reported by tensor name rather than
as a runtime's stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trtc.errors import DataError, UsageError
from trtc.shapes import format_shape, format_shapes

Feed = dict[str, np.ndarray]


@dataclass(frozen=True)
class InputInfo:
    """A model input as the data layer needs it."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]


def input_infos(specs: Mapping[str, tuple[str, Sequence[int | str]]]) -> list[InputInfo]:
    """``{name: (dtype, shape)}`` (what ``Backend.io_specs`` gives) as InputInfo, in order."""
    return [InputInfo(name, dtype, tuple(shape)) for name, (dtype, shape) in specs.items()]


@dataclass
class Dataset:
    """Feeds (one dict per iteration) and, for labelled data, one label array per feed."""

    feeds: list[Feed]
    labels: list[np.ndarray] | None
    description: str
    per_feed: list[int] = field(default_factory=list)  # samples in each feed

    @property
    def samples(self) -> int:
        return sum(self.per_feed)


def batch_axes(inputs: Sequence[InputInfo]) -> dict[str, int | None]:
    """Per input, the axis its samples lie along; None: one array given whole to every batch.

    Axis 0 when it is dynamic, or when it is static and no input has a dynamic axis 0
    (a static batch, e.g. ``[1, 3, h, w]``). A 0-d (scalar) input has none. An input
    whose axis 0 is static while other inputs' axis 0 is a dynamic batch is batched
    along its dim of that name (a recurrent state ``[2, batch, 128]``), or, with no
    such dim but other dynamic dims, given as it is.
    """
    names = {i.shape[0] for i in inputs
             if i.shape and isinstance(i.shape[0], str) and i.shape[0] != "?"}
    axes: dict[str, int | None] = {}
    for info in inputs:
        dynamic = [a for a, d in enumerate(info.shape) if not isinstance(d, int)]
        if not info.shape:
            axes[info.name] = None
        elif not isinstance(info.shape[0], int) or not dynamic or not names:
            axes[info.name] = 0
        else:
            named = [a for a in dynamic if info.shape[a] in names]
            axes[info.name] = named[0] if len(named) == 1 else None
    return axes


def feed_samples(feed: Mapping[str, np.ndarray], axes: Mapping[str, int | None]) -> int:
    """Samples in one feed: the batch axis of its first batched input (1 if none is)."""
    for name, arr in feed.items():
        axis = axes.get(name, 0)
        if axis is not None and arr.ndim > axis:
            return int(arr.shape[axis])
    return 1


def take(arr: np.ndarray, axis: int | None, start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of ``arr`` along its batch ``axis`` (None: ``arr`` itself)."""
    if axis is None:
        return arr
    return np.ascontiguousarray(arr[(slice(None),) * axis + (slice(start, stop),)])


def resolve_shape(info: InputInfo, shapes: Mapping[str, Sequence[int]],
                  batch: int, batch_axis: int | None = 0) -> tuple[int, ...]:
    """Return a concrete shape for ``info``: from ``shapes``, else the dynamic batch dim = batch.

    ``batch_axis`` is the input's batch dim (:func:`batch_axes`; None: it has none).

    Raises:
        DataError: a given shape contradicts the model's rank or static dims, or a
            dynamic dim other than the batch dim has no value.
    """
    if info.name in shapes:
        shape = tuple(int(d) for d in shapes[info.name])
        _check_shape(info, shape, "--shapes")
        return shape
    out = []
    for axis, dim in enumerate(info.shape):
        if isinstance(dim, int):
            out.append(dim)
        elif axis == batch_axis:
            out.append(batch)
        else:
            raise DataError(f"input '{info.name}' has dynamic dim '{dim}' at axis {axis} "
                            f"(shape {format_shape(info.shape)}) and no value for it",
                            f"pass --shapes {info.name}:{_example(info.shape, batch)}")
    if batch != 1 and batch_axis == 0 and info.shape and isinstance(info.shape[0], int) \
            and info.shape[0] != batch:
        raise DataError(f"input '{info.name}' has a static batch dim {info.shape[0]}; "
                        f"batch {batch} cannot run", "re-export with a dynamic batch dim "
                        "(a named dim such as 'batch' in model.inputs), or use --batch "
                        f"{info.shape[0]}")
    return tuple(out)


def check_shape_names(inputs: Sequence[InputInfo], shapes: Mapping[str, Any], flag: str) -> None:
    names = [i.name for i in inputs]
    for name in shapes:
        if name not in names:
            raise UsageError(f"{flag}: the model has no input '{name}'",
                             f"inputs are: {', '.join(names)}")


def _example(shape: Sequence[int | str], batch: int) -> str:
    return "x".join(str(d) if isinstance(d, int) else (str(batch) if i == 0 else "N")
                    for i, d in enumerate(shape))


def _check_shape(info: InputInfo, shape: Sequence[int], where: str) -> None:
    if len(shape) != len(info.shape):
        raise DataError(f"{where}: input '{info.name}' has rank {len(info.shape)} "
                        f"(model shape {format_shape(info.shape)}), got shape "
                        f"{format_shape(shape)}",
                        "match the model's rank")
    for axis, (want, got) in enumerate(zip(info.shape, shape)):
        if isinstance(want, int) and want != got:
            raise DataError(f"{where}: input '{info.name}' axis {axis} must be {want} "
                            f"(model shape {format_shape(info.shape)}), got {format_shape(shape)}",
                            "only dynamic (named) dims can change")


def random_dataset(inputs: Sequence[InputInfo], shapes: Mapping[str, Sequence[int]],
                   batch: int, iterations: int, seed: int) -> Dataset:
    """Make seeded random feeds honouring dynamic dims (floats ~ N(0, 1), ints in [0, 8))."""
    check_shape_names(inputs, shapes, "--shapes")
    rng = np.random.default_rng(seed)
    axes = batch_axes(inputs)
    concrete = {i.name: resolve_shape(i, shapes, batch, axes[i.name]) for i in inputs}
    check_feed_size(inputs, concrete, iterations)
    feeds = []
    for _ in range(iterations):
        feed: Feed = {}
        for info in inputs:
            dtype = np.dtype(info.dtype)
            shape = concrete[info.name]
            if dtype.kind == "f":
                value = rng.standard_normal(shape).astype(dtype)
            elif dtype.kind == "b":
                value = rng.integers(0, 2, shape).astype(dtype)
            else:
                value = rng.integers(0, 8, shape).astype(dtype)
            feed[info.name] = np.asarray(value, dtype=dtype)  # a 0-d input: a 0-d array
        feeds.append(feed)
    desc = format_shapes(concrete)
    return Dataset(feeds, None, f"random (seed {seed}, {iterations} x {desc})",
                   [feed_samples(f, axes) for f in feeds])


#: The most random input data trtc makes at once (a declared dim of 10**9 would
#: otherwise allocate until the machine runs out of memory).
MAX_FEED_BYTES = 4 << 30


def check_feed_size(inputs: Sequence[InputInfo], concrete: Mapping[str, Sequence[int]],
                    iterations: int) -> None:
    """Refuse, before allocating, random feeds larger than :data:`MAX_FEED_BYTES`."""
    total = 0
    for info in inputs:
        n = int(np.prod([int(d) for d in concrete[info.name]], dtype=np.float64))
        size = n * np.dtype(info.dtype).itemsize
        total += size * iterations
        if total > MAX_FEED_BYTES:
            raise DataError(f"input '{info.name}' of shape {format_shape(concrete[info.name])}"
                            f" needs {size / 2**30:.1f} GiB per feed ({iterations} feeds); "
                            f"the limit is {MAX_FEED_BYTES / 2**30:.0f} GiB",
                            "give smaller shapes (--shapes) or fewer iterations")


def load_arrays(source: str, base: Path | None = None) -> dict[str, np.ndarray]:
    """Load named arrays from ``npz:PATH`` / ``PATH.npz`` or ``python:module:function``.

    Raises:
        DataError: the file is missing or unreadable, or the function fails or
            returns something other than a mapping of arrays / an (inputs, labels) pair.
    """
    if source.startswith("python:"):
        from trtc.usercode import call_user_function

        result = call_user_function(source, "data source", DataError, "fix the loader function")
        if isinstance(result, tuple) and len(result) == 2:
            inputs, labels = result
            result = {**(inputs if isinstance(inputs, Mapping) else {"": inputs}),
                      "labels": labels}
        if not isinstance(result, Mapping):
            raise DataError(f"data source {source} returned {type(result).__name__}",
                            "return a dict of arrays keyed by input name (plus 'labels'), "
                            "or an (inputs, labels) pair")
        return check_arrays({str(k): np.asarray(v) for k, v in result.items()}, source)
    path = Path(source[4:] if source.startswith("npz:") else source)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise DataError(f"data file not found: {path}", "check the path (relative to the recipe)")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: is a single .npy array, not an .npz archive",
                            "write it with numpy.savez(path, input_name=array, ...)")
        with loaded as npz:
            others = [m for m in (npz.zip.namelist() if npz.zip else []) if not m.endswith(".npy")]
            if others:
                raise DataError(f"{path}: member {others[0]!r} is not a .npy array",
                                "an .npz holds only arrays: numpy.savez(path, name=array)")
            arrays = {k: npz[k] for k in npz.files}
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read as .npz: {type(exc).__name__}: {exc}",
                        "write it with numpy.savez(path, input_name=array, ...)") from None
    return check_arrays(arrays, str(path))


def check_arrays(arrays: dict[str, np.ndarray], source: str,
                 labels_key: str = "labels") -> dict[str, np.ndarray]:
    """Refuse arrays no stage can use: no samples, NaN/Inf, labels that are not 1-D."""
    if not arrays:
        raise DataError(f"{source}: holds no arrays", "numpy.savez(path, input_name=array)")
    for name, arr in arrays.items():
        if arr.ndim and len(arr) == 0:  # (0-d arrays: array_dataset checks their rank)
            raise DataError(f"{source}: array '{name}' has 0 samples",
                            "provide at least one sample")
        if name == labels_key and arr.ndim != 1:
            raise DataError(f"{source}: '{name}' has shape {list(arr.shape)}; labels are one "
                            "class index per sample (1-D)",
                            "for one-hot labels save labels.argmax(axis=1)")
    check_finite([{k: v for k, v in arrays.items() if k != labels_key}], source)
    return arrays


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


def array_dataset(arrays: Mapping[str, np.ndarray], inputs: Sequence[InputInfo], batch: int,
                  labels_key: str, source: str, limit: int | None = None) -> Dataset:
    """Split named arrays into batches of feeds, checking names, shapes and dtypes."""
    arrays = dict(arrays)
    labels = arrays.pop(labels_key, None)
    if len(inputs) == 1 and len(arrays) == 1 and ("" in arrays or "arr_0" in arrays):
        # One unnamed array (numpy.savez's default name, or a loader's bare array)
        # for a one-input model.
        arrays = {inputs[0].name: next(iter(arrays.values()))}
    for info in inputs:
        if info.name not in arrays:
            raise DataError(f"{source}: no array for input '{info.name}'",
                            f"arrays present: {', '.join(arrays) or 'none'}; name them after "
                            "the model's inputs")
    for name in arrays:
        if name not in {i.name for i in inputs}:
            raise DataError(f"{source}: array '{name}' matches no model input",
                            f"inputs are: {', '.join(i.name for i in inputs)}")
    axes = batch_axes(inputs)
    for info in inputs:
        check_rank(info, arrays[info.name], axes[info.name], source)
    batched = [i for i in inputs if axes[i.name] is not None]
    count = {arrays[i.name].shape[axes[i.name]] for i in batched}  # type: ignore[index]
    if labels is not None and batched:
        count.add(len(labels))
    if len(count) > 1:
        raise DataError(f"{source}: arrays have different sample counts: {sorted(count)}")
    if not batched:  # every input given whole: one feed
        n, batch = 1, 1
    else:
        n = count.pop()
    if limit is not None:
        n = min(n, limit)
    dropped = 0
    if any(isinstance(i.shape[axes[i.name]], int) for i in batched) and n % batch:  # type: ignore[index]
        # A static batch dim cannot take a short last batch: leave the remainder out, and say so.
        dropped = n % batch
        n -= dropped
        if n == 0:
            raise DataError(f"{source}: {dropped} samples, fewer than the model's static "
                            f"batch of {batch}", "provide at least one full batch")
    converted = {}
    for info in inputs:
        arr = arrays[info.name]
        want = np.dtype(info.dtype)
        if arr.dtype != want:
            if arr.dtype.kind != want.kind and not (arr.dtype.kind in "iu" and want.kind in "iu"):
                raise DataError(f"{source}: input '{info.name}' is {arr.dtype}, the model wants "
                                f"{want}", f"convert the array with .astype('{want}')")
            arr = arr.astype(want)
        axis = axes[info.name]
        shape = list(arr.shape)
        if axis is not None:
            shape[axis] = batch
        _check_shape(info, shape, source)
        converted[info.name] = arr
    feeds, label_batches, per_feed = [], [], []
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        feeds.append({k: take(v, axes[k], start, stop) for k, v in converted.items()})
        per_feed.append(stop - start)
        if labels is not None:
            label_batches.append(np.asarray(labels[start:stop] if batched else labels))
    note = f", {dropped} left out: static batch dim" if dropped else ""
    return Dataset(feeds, label_batches if labels is not None else None,
                   f"{source} ({n} samples, batch {batch}{note})", per_feed)


def check_rank(info: InputInfo, arr: np.ndarray, axis: int | None, source: str) -> None:
    """DataError naming the input when ``arr`` cannot be its data (rank, batch axis)."""
    if arr.ndim == len(info.shape):
        return
    if not info.shape:
        raise DataError(f"{source}: input '{info.name}' is a scalar (shape []), the array has "
                        f"shape {format_shape(arr.shape)}",
                        f"give one 0-d array (e.g. {info.name}=numpy.array(value, "
                        f"dtype='{info.dtype}')): it is fed whole to every batch")
    where = ("fed whole to every batch" if axis is None else
             f"samples along axis {axis}")
    raise DataError(f"{source}: input '{info.name}' has rank {len(info.shape)} (model shape "
                    f"{format_shape(info.shape)}, {where}), the array has shape "
                    f"{format_shape(arr.shape)}", "match the model's rank")

