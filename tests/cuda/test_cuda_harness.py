"""The cuda-python harness on its own (no TensorRT): buffers, events, graphs, streams.

The "engine" here is a device-to-device copy from the input buffer to the output
buffer, so every timed iteration's result can be checked on the host.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from trtc.backends import cuda_harness as ch
from trtc.backends.harness_stats import summarize
from trtc.backends.torch_cuda import torch_cuda_baseline

pytestmark = pytest.mark.cuda


def _copy_slot(x: np.ndarray, extra: Callable[[int], None] | None = None) -> ch.Slot:
    rt = ch.cudart()
    inp = ch.Binding.allocate("x", True, x.shape, x.dtype)
    out = ch.Binding.allocate("y", False, x.shape, x.dtype)
    inp.host.array[...] = x
    out.host.array[...] = 0

    def enqueue(stream: int) -> None:
        ch.check(rt.cudaMemcpyAsync(out.device.ptr, inp.device.ptr, inp.host.nbytes,
                                    rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream),
                 "cudaMemcpyAsync")
        if extra is not None:
            extra(stream)

    return ch.Slot([inp, out], enqueue)


def _output(slot: ch.Slot) -> np.ndarray:
    return next(b for b in slot.bindings if not b.is_input).host.array


def test_gpu_info() -> None:
    info = ch.gpu_info(0)
    assert ch.gpu_count() >= 1
    assert info.name and info.compute_capability[0] >= 3
    assert info.total_memory_bytes > 1 << 30
    assert info.to_dict()["compute_capability"] == list(info.compute_capability)


def test_pinned_array_is_a_numpy_view() -> None:
    arr = ch.PinnedArray((2, 3), np.float16)
    try:
        arr.array[...] = np.arange(6, dtype=np.float16).reshape(2, 3)
        assert arr.array.dtype == np.float16 and arr.array.shape == (2, 3)
        assert arr.nbytes == 12 and arr.array.sum() == 15
    finally:
        arr.free()


@pytest.mark.parametrize("graph", [True, False], ids=["graph", "plain"])
@pytest.mark.parametrize("streams", [1, 3])
def test_harness_round_trip(graph: bool, streams: int) -> None:
    x = np.arange(4 * 1024, dtype=np.float32).reshape(4, 1024)
    slots = [_copy_slot(x * (i + 1)) for i in range(streams)]
    try:
        result = ch.run_harness(slots, ch.HarnessConfig(warmup_ms=5, duration_s=0.05,
                                                        min_iterations=12, cuda_graph=graph))
        assert result.cuda_graph is graph and not result.notes
        assert result.streams == streams
        assert result.iterations >= 12 and result.iterations % streams == 0
        for key in ("h2dMs", "computeMs", "d2hMs", "latencyMs", "enqueueMs"):
            assert len(result.samples[key]) == result.iterations
            assert all(v >= 0 for v in result.samples[key])
        for lat, parts in zip(result.samples["latencyMs"],
                              zip(result.samples["h2dMs"], result.samples["computeMs"],
                                  result.samples["d2hMs"])):
            assert lat == pytest.approx(sum(parts), rel=1e-3, abs=3e-3)
        for i, slot in enumerate(slots):
            np.testing.assert_array_equal(_output(slot), x * (i + 1))
        summary = summarize(result, batch=4)
        assert summary["iterations"] == result.iterations
        assert summary["throughput_samples_s"] == pytest.approx(4 * summary["throughput_qps"])
        assert summary["gpu_compute_time"]["median_ms"] == summary["median_ms"]
    finally:
        for slot in slots:
            slot.free()


def test_capture_failure_falls_back_with_a_note() -> None:
    rt = ch.cudart()

    def sync(stream: int) -> None:  # illegal while capturing: the capture must fail
        ch.check(rt.cudaStreamSynchronize(stream), "cudaStreamSynchronize")

    x = np.ones((8, 8), np.float32)
    slot = _copy_slot(x, extra=sync)
    try:
        result = ch.run_harness([slot], ch.HarnessConfig(warmup_ms=1, duration_s=0.0,
                                                         min_iterations=3, cuda_graph=True))
        assert result.cuda_graph is False
        assert result.notes and "CUDA graph capture failed" in result.notes[0]
        assert result.iterations == 3
        np.testing.assert_array_equal(_output(slot), x)
    finally:
        slot.free()


def test_no_data_transfers_times_only_the_work() -> None:
    x = np.ones((16,), np.float32)
    slot = _copy_slot(x)
    try:
        result = ch.run_harness([slot], ch.HarnessConfig(warmup_ms=1, duration_s=0.0,
                                                         min_iterations=5,
                                                         data_transfers=False))
        assert (_output(slot) == 0).all()  # nothing was copied to or from the host
        assert result.iterations == 5
    finally:
        slot.free()


def test_torch_cuda_baseline_fp32_and_fp16() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
    feed = {"x": np.zeros((2, 3, 8, 8), np.float32)}
    out = torch_cuda_baseline(model, feed, ["x"], ("fp32", "fp16"), warmup_ms=5,
                                 duration_s=0.02, min_iterations=5)
    assert set(out) == {"pytorch_fp32", "pytorch_fp16"}
    for stats in out.values():
        assert stats["iterations"] >= 5 and stats["median_ms"] > 0
        assert stats["timer"] == "torch.cuda events"
    assert next(model.parameters()).device.type == "cpu"  # the caller's model is untouched
