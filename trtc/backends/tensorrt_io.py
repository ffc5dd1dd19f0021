"""Verify's view of an engine with I/O formats: a Polygraphy runner in the model's terms.

An engine built with ``build.input_formats: fp16:hwc8`` takes float16 NHWC8 data; the
reference (ONNX Runtime) and the data loader speak float32 NCHW. The runner here wraps
Polygraphy's TrtRunner: it converts each feed to the engine's I/O type and format, and
each output back, with trtc.tensorrt.io_formats, so Polygraphy's Comparator compares
like with like. It follows TrtRunner's own conventions (Polygraphy 0.53): a vectorized
tensor travels as a ``FormattedArray`` (physical array, semantic shape), an ``hwc``
one as a plain array in HWC order, and TrtRunner converts ``chw16`` itself when its
util module can. Nothing here imports tensorrt.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from polygraphy.backend.base import BaseRunner
from polygraphy.common import FormattedArray, TensorMetadata

from trtc.tensorrt.io_formats import from_engine_layout, numpy_dtype, to_engine_layout


def has_io_formats(io: Mapping[str, Any]) -> bool:
    """Whether any tensor of an engine's ``io`` (engine_io / sidecar) is not as the model's."""
    return any("io_dtype" in meta or "format" in meta
               for kind in ("inputs", "outputs") for meta in io.get(kind, {}).values())


def polygraphy_converts() -> tuple[str, ...]:
    """The formats the installed TrtRunner converts by itself (chw16 in Polygraphy 0.53)."""
    from polygraphy.backend.trt import util

    return ("chw16",) if hasattr(util, "convert_linear_to_vectorized_format") else ()


class FormattedIoRunner(BaseRunner):
    """A TrtRunner fed and read in the model's types and layout (see the module docstring).

    Args:
        inner: the TrtRunner (any Polygraphy runner with TrtRunner's conventions).
        io: the engine's ``io`` (its sidecar's, or engine_io): ``dtype`` is the model's,
            ``io_dtype`` / ``format`` / ``scale`` what the engine holds.
        converts: formats ``inner`` converts from linear itself (:func:`polygraphy_converts`).
    """

    def __init__(self, inner: Any, io: Mapping[str, Any], name: str | None = None,
                 converts: Sequence[str] = ()) -> None:
        super().__init__(name=name, prefix="trtc-formatted-runner")
        self.inner, self.io, self.converts = inner, io, tuple(converts)

    def activate_impl(self) -> None:
        self.inner.activate()

    def deactivate_impl(self) -> None:
        self.inner.deactivate()

    def get_input_metadata_impl(self) -> TensorMetadata:
        meta = TensorMetadata()
        for name, entry in self.io["inputs"].items():
            meta.add(name, numpy_dtype(str(entry["dtype"])), list(entry["shape"]))
        return meta

    def infer_impl(self, feed_dict: Mapping[str, Any]) -> OrderedDict[str, np.ndarray]:
        feed = {name: self._to_engine(name, np.asarray(a)) for name, a in feed_dict.items()}
        outputs = self.inner.infer(feed, check_inputs=False)
        self.inference_time = self.inner.last_inference_time()
        return OrderedDict((name, self._from_engine(name, value))
                           for name, value in outputs.items())

    def _to_engine(self, name: str, array: np.ndarray) -> Any:
        meta = self.io["inputs"].get(name, {})
        fmt = str(meta.get("format", "linear"))
        dtype = str(meta.get("io_dtype", meta.get("dtype", array.dtype)))
        if fmt in self.converts:
            fmt = "linear"  # TrtRunner packs it from linear data itself
        data = to_engine_layout(array, fmt, dtype, meta.get("scale"))
        return data if fmt in ("linear", "hwc") else FormattedArray(data, array.shape)

    def _from_engine(self, name: str, value: Any) -> np.ndarray:
        meta = self.io["outputs"].get(name, {})
        if "io_dtype" not in meta and "format" not in meta:
            return np.asarray(value)
        fmt, dtype = str(meta.get("format", "linear")), str(meta["dtype"])
        io_dtype = numpy_dtype(str(meta.get("io_dtype", dtype)))
        scale = meta.get("scale")
        if isinstance(value, FormattedArray):  # raw bytes of a vectorized tensor
            raw = np.ascontiguousarray(value.array).reshape(-1).view(np.uint8)
            usable = raw[: raw.size - raw.size % io_dtype.itemsize].view(io_dtype)
            return from_engine_layout(usable, fmt, value.shape, dtype, scale)
        array = np.asarray(value)
        if fmt == "hwc":  # TrtRunner hands it back in HWC order
            shape = array.shape[:-3] + (array.shape[-1],) + array.shape[-3:-1]
            return from_engine_layout(array, "hwc", shape, dtype, scale)
        return from_engine_layout(array, "linear", array.shape, dtype, scale)
