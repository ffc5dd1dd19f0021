"""The GPU timing harness on cuda-python, the way trtexec measures an engine.

Each timed iteration on a stream is bracketed by CUDA events::

    start | H2D copies | compute_start | enqueue (or graph launch) | compute_end | D2H | end

so GPU compute time is reported apart from the host<->device copies, as
trtexec's "GPU Compute Time", "H2D Latency" and "D2H Latency" are. Several
streams, each with its own buffers and execution context, are kept busy
round-robin for throughput; each stream keeps ``depth`` iterations in flight
and reads an iteration's events only when it needs them again, so the host
never waits for the GPU more than the pipeline requires.

The harness knows nothing about TensorRT (trtc/backends/tensorrt.py is the only
module that imports it): a caller hands it one :class:`Slot` per stream, whose
``enqueue(stream_handle)`` launches the work on that stream using the slot's
device buffers. CUDA-graph capture of ``enqueue`` is attempted by default, as
trtexec's ``--useCudaGraph``; when a capture fails the harness falls back to
plain enqueue and says why.

Per-iteration samples come back as lists (trtc.backends.harness_stats), so
trtc.metrics' percentile and CoV code summarises them exactly as it does CPU
timings; the PyTorch-on-GPU baseline is in trtc.backends.torch_cuda.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from trtc.backends.harness_stats import HarnessConfig, HarnessResult
from trtc.errors import DependencyError, TrtcError

CUDA_HINT = ("install cuda-python (pip install 'cuda-bindings') and run on a machine with an "
             "NVIDIA GPU and driver")


class CudaError(TrtcError):
    """A CUDA runtime call failed (a bug or a broken GPU, not a user error)."""

    exit_code = 70
    kind = "CUDA error"


def cudart() -> Any:
    """Return cuda-python's runtime module, or raise DependencyError."""
    try:
        from cuda.bindings import runtime  # cuda-python >= 12.6 (cuda-bindings)
    except ImportError:
        raise DependencyError("cuda-python (cuda-bindings) is not installed", CUDA_HINT) from None
    return runtime


def check(result: Any, what: str) -> Any:
    """Unpack a cuda-python result tuple ``(err, *values)``; raise CudaError on failure."""
    rt = cudart()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != rt.cudaError_t.cudaSuccess:
        _, name = rt.cudaGetErrorName(err)
        raise CudaError(f"{what} failed: {name.decode() if isinstance(name, bytes) else name}",
                        "check the GPU with nvidia-smi; rerun with --verbose for details")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


@dataclass(frozen=True)
class GpuInfo:
    """The GPU engines are built for and run on."""

    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory_bytes: int
    driver_version: int
    runtime_version: int

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name,
                "compute_capability": list(self.compute_capability),
                "total_memory_bytes": self.total_memory_bytes,
                "driver_version": self.driver_version, "runtime_version": self.runtime_version}


def gpu_count() -> int:
    """Number of CUDA devices; 0 when cuda-python, the driver or a GPU is missing."""
    try:
        rt = cudart()
    except DependencyError:
        return 0
    err, count = rt.cudaGetDeviceCount()
    return int(count) if err == rt.cudaError_t.cudaSuccess else 0


def gpu_info(index: int = 0) -> GpuInfo:
    """Name, compute capability and memory of CUDA device ``index``."""
    rt = cudart()
    prop = check(rt.cudaGetDeviceProperties(index), "cudaGetDeviceProperties")
    name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
    return GpuInfo(index=index, name=name.split("\x00")[0].strip(),
                   compute_capability=(int(prop.major), int(prop.minor)),
                   total_memory_bytes=int(prop.totalGlobalMem),
                   driver_version=int(check(rt.cudaDriverGetVersion(), "cudaDriverGetVersion")),
                   runtime_version=int(check(rt.cudaRuntimeGetVersion(),
                                             "cudaRuntimeGetVersion")))


# --------------------------------------------------------------------------- resources


class DeviceBuffer:
    """``nbytes`` of device memory (cudaMalloc); ``ptr`` is the address TensorRT binds."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = max(int(nbytes), 1)
        self.ptr = int(check(cudart().cudaMalloc(self.nbytes), "cudaMalloc"))

    def free(self) -> None:
        if self.ptr:
            check(cudart().cudaFree(self.ptr), "cudaFree")
            self.ptr = 0


class PinnedArray:
    """A numpy array in page-locked host memory (cudaMallocHost), for async copies."""

    def __init__(self, shape: Sequence[int], dtype: Any) -> None:
        import numpy as np

        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(d) for d in shape)
        self.nbytes = max(int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize, 1)
        self.ptr = int(check(cudart().cudaMallocHost(self.nbytes), "cudaMallocHost"))
        raw = (ctypes.c_uint8 * self.nbytes).from_address(self.ptr)
        flat = np.ctypeslib.as_array(raw)
        count = int(np.prod(self.shape, dtype=np.int64))
        self.array: np.ndarray = flat[: count * self.dtype.itemsize].view(self.dtype).reshape(
            self.shape)

    def free(self) -> None:
        if self.ptr:
            check(cudart().cudaFreeHost(self.ptr), "cudaFreeHost")
            self.ptr = 0


class Stream:
    """A non-blocking CUDA stream; ``handle`` is the integer TensorRT's enqueue takes."""

    def __init__(self) -> None:
        rt = cudart()
        self.obj = check(rt.cudaStreamCreateWithFlags(rt.cudaStreamNonBlocking),
                         "cudaStreamCreateWithFlags")
        self.handle = int(self.obj)

    def synchronize(self) -> None:
        check(cudart().cudaStreamSynchronize(self.obj), "cudaStreamSynchronize")

    def destroy(self) -> None:
        if self.obj is not None:
            check(cudart().cudaStreamDestroy(self.obj), "cudaStreamDestroy")
            self.obj = None


class Event:
    """A CUDA event with timing enabled."""

    def __init__(self) -> None:
        self.obj = check(cudart().cudaEventCreate(), "cudaEventCreate")

    def record(self, stream: Stream) -> None:
        check(cudart().cudaEventRecord(self.obj, stream.obj), "cudaEventRecord")

    def synchronize(self) -> None:
        check(cudart().cudaEventSynchronize(self.obj), "cudaEventSynchronize")

    def elapsed_ms(self, later: Event) -> float:
        return float(check(cudart().cudaEventElapsedTime(self.obj, later.obj),
                           "cudaEventElapsedTime"))

    def destroy(self) -> None:
        if self.obj is not None:
            check(cudart().cudaEventDestroy(self.obj), "cudaEventDestroy")
            self.obj = None


def copy_async(dst: int, src: int, nbytes: int, to_device: bool, stream: Stream) -> None:
    rt = cudart()
    kind = (rt.cudaMemcpyKind.cudaMemcpyHostToDevice if to_device
            else rt.cudaMemcpyKind.cudaMemcpyDeviceToHost)
    check(rt.cudaMemcpyAsync(dst, src, nbytes, kind, stream.obj), "cudaMemcpyAsync")


class CudaGraph:
    """``enqueue`` captured once on a stream and replayed with one launch."""

    def __init__(self, stream: Stream, enqueue: Callable[[int], None]) -> None:
        rt = cudart()
        self.graph = None
        self.exec = None
        mode = rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check(rt.cudaStreamBeginCapture(stream.obj, mode), "cudaStreamBeginCapture")
        try:
            enqueue(stream.handle)
        except Exception:
            # End the capture so the stream is usable again, then report the enqueue's error.
            rt.cudaStreamEndCapture(stream.obj)
            raise
        self.graph = check(rt.cudaStreamEndCapture(stream.obj), "cudaStreamEndCapture")
        self.exec = check(rt.cudaGraphInstantiate(self.graph, 0), "cudaGraphInstantiate")

    def launch(self, stream: Stream) -> None:
        check(cudart().cudaGraphLaunch(self.exec, stream.obj), "cudaGraphLaunch")

    def destroy(self) -> None:
        rt = cudart()
        if self.exec is not None:
            rt.cudaGraphExecDestroy(self.exec)
            self.exec = None
        if self.graph is not None:
            rt.cudaGraphDestroy(self.graph)
            self.graph = None


# --------------------------------------------------------------------------- the harness


@dataclass
class Binding:
    """One engine I/O tensor of a slot: host (pinned) and device memory of one shape."""

    name: str
    is_input: bool
    host: PinnedArray
    device: DeviceBuffer

    @classmethod
    def allocate(cls, name: str, is_input: bool, shape: Sequence[int], dtype: Any) -> Binding:
        host = PinnedArray(shape, dtype)
        return cls(name, is_input, host, DeviceBuffer(host.nbytes))

    def free(self) -> None:
        self.host.free()
        self.device.free()


@dataclass
class Slot:
    """What one stream runs: its bindings and a function launching the work on a stream.

    ``enqueue(stream_handle)`` must only launch asynchronous work (no host sync) and
    use the bindings' device buffers, so that it can be captured into a CUDA graph.
    """

    bindings: list[Binding]
    enqueue: Callable[[int], None]
    #: Anything that must live as long as the slot (e.g. the execution context).
    keepalive: Any = None

    def free(self) -> None:
        for b in self.bindings:
            b.free()


@dataclass
class _Timing:
    start: Event
    compute_start: Event
    compute_end: Event
    end: Event
    enqueue_ms: float = 0.0
    pending: bool = False

    @classmethod
    def create(cls) -> _Timing:
        return cls(Event(), Event(), Event(), Event())

    def destroy(self) -> None:
        for ev in (self.start, self.compute_start, self.compute_end, self.end):
            ev.destroy()


def capture_graphs(slots: Sequence[Slot], streams: Sequence[Stream]
                   ) -> tuple[list[CudaGraph] | None, str | None]:
    """Capture each slot's enqueue as a CUDA graph; on failure return (None, why)."""
    graphs: list[CudaGraph] = []
    try:
        for slot, stream in zip(slots, streams):
            # One plain run first, as trtexec does: the first enqueue after binding
            # shapes may allocate or set up state that must not be captured.
            slot.enqueue(stream.handle)
            stream.synchronize()
            graphs.append(CudaGraph(stream, slot.enqueue))
    except TrtcError as exc:
        for g in graphs:
            g.destroy()
        for stream in streams:
            cudart().cudaStreamSynchronize(stream.obj)
        cudart().cudaGetLastError()  # clear the sticky-free error a failed capture leaves
        return None, (f"CUDA graph capture failed ({exc.message}); timed plain enqueue "
                      "instead")
    return graphs, None


def run_harness(slots: Sequence[Slot], config: HarnessConfig,
                clock: Callable[[], float] = time.perf_counter) -> HarnessResult:
    """Time the slots' work: warm-up, then >= min_iterations and >= duration_s, round-robin.

    Returns per-iteration samples ``h2dMs``, ``computeMs``, ``d2hMs``, ``latencyMs``
    (H2D start to D2H end) and ``enqueueMs`` (host time to launch), in completion order.
    """
    if not slots:
        raise ValueError("run_harness needs at least one slot")
    streams = [Stream() for _ in slots]
    timings = [[_Timing.create() for _ in range(max(1, config.depth))] for _ in slots]
    notes: list[str] = []
    graphs: list[CudaGraph] | None = None
    if config.cuda_graph:
        graphs, why = capture_graphs(slots, streams)
        if why:
            notes.append(why)
    samples: dict[str, list[float]] = {k: [] for k in ("h2dMs", "computeMs", "d2hMs",
                                                        "latencyMs", "enqueueMs")}

    def launch(i: int, t: _Timing, record: bool) -> None:
        slot, stream = slots[i], streams[i]
        if t.pending:
            _collect(t, samples if record else None)
        t.start.record(stream)
        if config.data_transfers:
            for b in slot.bindings:
                if b.is_input:
                    copy_async(b.device.ptr, b.host.ptr, b.host.nbytes, True, stream)
        t.compute_start.record(stream)
        t0 = clock()
        if graphs is not None:
            graphs[i].launch(stream)
        else:
            slot.enqueue(stream.handle)
        t.enqueue_ms = (clock() - t0) * 1000.0
        t.compute_end.record(stream)
        if config.data_transfers:
            for b in slot.bindings:
                if not b.is_input:
                    copy_async(b.host.ptr, b.device.ptr, b.host.nbytes, False, stream)
        t.end.record(stream)
        t.pending = True

    try:
        # Warm-up (time-based, as trtexec --warmUp), results discarded.
        k = 0
        end_warmup = clock() + config.warmup_ms / 1000.0
        while True:
            i = k % len(slots)
            launch(i, timings[i][(k // len(slots)) % len(timings[i])], record=False)
            k += 1
            if clock() >= end_warmup and k >= len(slots):
                break
        for i, row in enumerate(timings):
            streams[i].synchronize()
            for t in row:
                if t.pending:
                    _collect(t, None)
        # Timed: keep every stream busy until both limits are met.
        start = clock()
        deadline = start + config.duration_s
        k = 0
        while k < config.min_iterations or clock() < deadline or k % len(slots):
            i = k % len(slots)
            launch(i, timings[i][(k // len(slots)) % len(timings[i])], record=True)
            k += 1
        for stream in streams:
            stream.synchronize()
        wall = clock() - start
        for row in timings:
            for t in row:
                if t.pending:
                    _collect(t, samples)
    finally:
        for stream in streams:
            cudart().cudaStreamSynchronize(stream.obj)
        for g in graphs or []:
            g.destroy()
        for row in timings:
            for t in row:
                t.destroy()
        for stream in streams:
            stream.destroy()
    return HarnessResult(samples, wall, len(slots), graphs is not None, notes)


def _collect(t: _Timing, samples: dict[str, list[float]] | None) -> None:
    t.end.synchronize()
    t.pending = False
    if samples is None:
        return
    samples["h2dMs"].append(t.start.elapsed_ms(t.compute_start))
    samples["computeMs"].append(t.compute_start.elapsed_ms(t.compute_end))
    samples["d2hMs"].append(t.compute_end.elapsed_ms(t.end))
    samples["latencyMs"].append(t.start.elapsed_ms(t.end))
    samples["enqueueMs"].append(t.enqueue_ms)

