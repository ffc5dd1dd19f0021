"""Execution contexts and buffers for the cuda-python harness: one slot per stream.

Works on an engine the adapter (trtc/backends/tensorrt.py) deserialized and its
``engine_io``; uses only the tensor-name API TensorRT 8.6, 10 and 11 share
(``set_input_shape``, ``get_tensor_shape``, ``set_tensor_address``,
``execute_async_v3``) and imports no tensorrt itself.

Host buffers have the engine's I/O type and format (``io_dtype`` / ``format`` in
``engine_io``, from build.input_formats / output_formats): each input is converted
once, here, before the timed loop (trtc.tensorrt.io_formats.to_engine_layout), and
each output buffer is as large as its padded format needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from trtc.backends.cuda_harness import Binding, CudaError, Slot, check, cudart
from trtc.errors import UsageError
from trtc.shapes import format_shape
from trtc.tensorrt.io_formats import engine_shape, to_engine_layout
from trtc.tensorrt.profiles import context_profiles

if TYPE_CHECKING:
    import numpy as np


def make_slots(engine: Any, io: Mapping[str, Any], feed: Mapping[str, np.ndarray],
               streams: int, scales: Mapping[str, float] | None = None,
               another_engine: Callable[[], Any] | None = None) -> list[Slot]:
    """One execution context + pinned/device buffers per stream, shapes bound to ``feed``.

    ``scales``: the int8 I/O tensors' quantization scales (the engine's sidecar).
    ``another_engine``: deserializes one more copy of the engine, for the streams its
    profiles cannot serve (trtc.tensorrt.profiles.context_profiles; trtexec's habit).

    Raises:
        UsageError: an engine input without data, shapes outside the profiles, or fewer
            fitting profiles than streams and no ``another_engine``.
        CudaError: TensorRT refuses a context or a profile.
    """
    shapes = {n: tuple(int(d) for d in a.shape) for n, a in feed.items()}
    host = {n: engine_input(a, io["inputs"][n], (scales or {}).get(n))
            for n, a in feed.items() if n in io["inputs"]}
    missing = [n for n in io["inputs"] if n not in feed]
    if missing:
        raise UsageError(f"no data for engine input(s) {', '.join(missing)}",
                         "pass --shapes for every dynamic input")
    plan = context_profiles(io["profiles"], shapes, streams)
    engines = [engine]
    for _ in range(max(copy for copy, _ in plan)):
        if another_engine is None:
            fitting = sum(1 for copy, _ in plan if copy == 0)
            covering = ", ".join(f"{n} {format_shape(s)}" for n, s in shapes.items())
            raise UsageError(f"--streams {streams} needs {streams} optimization profiles "
                             f"covering {covering}; the engine has {fitting} (a profile "
                             "serves one execution context at a time)",
                             f"use --streams {fitting}")
        engines.append(another_engine())
    copies = len(engines)
    slots: list[Slot] = []
    contexts_of = [0] * copies
    for copy, profile in plan:
        engine = engines[copy]
        context = engine.create_execution_context()
        if context is None:
            raise CudaError("TensorRT could not create an execution context (out of "
                            "GPU memory?)", "use fewer --streams or a smaller batch")
        index, contexts_of[copy] = contexts_of[copy], contexts_of[copy] + 1
        # The first context of an engine gets profile 0 by itself; TensorRT 8.6
        # leaves every later one without a profile until one is set.
        if profile is not None and (index > 0 or profile != 0):
            if not context.set_optimization_profile_async(profile, 0):
                raise CudaError(f"TensorRT refused optimization profile {profile}",
                                "rerun with --verbose for TensorRT's log")
            check(cudart().cudaStreamSynchronize(0), "cudaStreamSynchronize")
        bindings: list[Binding] = []
        for name, arr in feed.items():
            if name not in io["inputs"]:
                continue
            if not context.set_input_shape(name, tuple(arr.shape)):
                raise UsageError(f"input '{name}': the engine rejects shape "
                                 f"{format_shape(shapes[name])}", "check --batch / "
                                 "--shapes against the engine's profiles (trtc inspect "
                                 "ENGINE)")
            b = Binding.allocate(name, True, host[name].shape, host[name].dtype)
            b.host.array[...] = host[name]
            bindings.append(b)
        for name, meta in io["outputs"].items():
            shape = tuple(int(d) for d in context.get_tensor_shape(name))
            bindings.append(Binding.allocate(name, False,
                                             engine_shape(shape, meta.get("format", "linear")),
                                             meta.get("io_dtype", meta["dtype"])))
        for b in bindings:
            context.set_tensor_address(b.name, b.device.ptr)

        def enqueue(stream: int, context: Any = context) -> None:
            if not context.execute_async_v3(stream):
                raise CudaError("TensorRT execute_async_v3 failed",
                                "rerun with --verbose for TensorRT's log")

        slots.append(Slot(bindings, enqueue, keepalive=(context, engine)))
    return slots


def engine_input(array: np.ndarray, meta: Mapping[str, Any],
                 scale: float | None = None) -> np.ndarray:
    """``array`` as the engine's input buffer holds it: its I/O type and format."""
    return to_engine_layout(array, str(meta.get("format", "linear")),
                            str(meta.get("io_dtype", meta["dtype"])),
                            meta.get("scale", scale))
