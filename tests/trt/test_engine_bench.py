"""trtc bench on a real engine: the cuda-python harness, CUDA graphs, streams, correctness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from trt_helpers import Invoke, ok_json

from trtc.backends.cuda_harness import HarnessConfig, run_harness
from trtc.backends.tensorrt import TensorRTBackend, deserialize

pytestmark = [pytest.mark.trt, pytest.mark.cuda]

FAST = ["--duration", "0.1", "--warmup", "20", "--iterations", "20"]


def test_bench_with_cuda_graph(cli: Invoke, fp32_engine: Path) -> None:
    report = ok_json(cli("bench", fp32_engine, "--batch", "1,4", *FAST, "--json"))
    assert report["backend"] == "tensorrt"
    assert report["method"]["cuda_graph"] is True and report["method"]["timer"] == "cuda events"
    assert [r["batch"] for r in report["results"]] == [1, 4]
    for row in report["results"]:
        s = row["tensorrt"]
        assert s["cuda_graph"] is True, s.get("notes")
        assert s["iterations"] >= 20 and s["streams"] == 1
        assert 0 < s["min_ms"] <= s["median_ms"] <= s["p99_ms"] <= s["max_ms"]
        # Latency spans H2D + compute + D2H, so it is never below the compute time.
        assert s["latency"]["median_ms"] >= s["gpu_compute_time"]["median_ms"]
        assert s["h2d_latency"]["median_ms"] > 0 and s["d2h_latency"]["median_ms"] > 0
        assert s["throughput_samples_s"] == pytest.approx(s["throughput_qps"] * row["batch"])


def test_bench_without_graph_on_two_streams(cli: Invoke, static_engine: Path) -> None:
    report = ok_json(cli("bench", static_engine, "--batch", "2", "--no-cuda-graph", "--streams",
                         "2", *FAST, "--json"))
    s = report["results"][0]["tensorrt"]
    assert s["cuda_graph"] is False and s["streams"] == 2
    assert s["iterations"] % 2 == 0  # both streams ran the same number of iterations
    assert report["method"]["streams"] == 2


def test_streams_beyond_the_profiles_run_on_copies_of_the_engine(cli: Invoke,
                                                                  fp32_engine: Path) -> None:
    """One profile, two streams: the second context runs on a second deserialized copy
    (trtexec's --streams), not refused."""
    report = ok_json(cli("bench", fp32_engine, "--batch", "2", "--streams", "2", *FAST,
                         "--json"))
    s = report["results"][0]["tensorrt"]
    assert s["streams"] == 2 and s["engine_copies"] == 2
    assert s["iterations"] % 2 == 0  # both streams ran


def test_bench_human_output(cli: Invoke, fp32_engine: Path) -> None:
    result = cli("bench", fp32_engine, *FAST)
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())  # rich wraps long titles
    assert "GPU compute time" in text and "tensorrt" in text


@pytest.mark.parametrize("graph", [True, False], ids=["graph", "plain"])
def test_harness_computes_what_onnxruntime_computes(fp32_engine: Path, tiny_onnx: Path,
                                                    graph: bool) -> None:
    """The timed path (pinned buffers, copies, graph replay) produces the right outputs."""
    from trtc.backends.onnxruntime import make_session

    x = np.random.default_rng(7).standard_normal((4, 3, 8, 8)).astype(np.float32)
    backend = TensorRTBackend()
    slots = backend.make_slots(deserialize(fp32_engine), {"x": x}, streams=1)
    try:
        for slot in slots:
            out = next(b for b in slot.bindings if not b.is_input)
            out.host.array[...] = np.nan
        result = run_harness(slots, HarnessConfig(warmup_ms=1, duration_s=0.0,
                                                  min_iterations=4, cuda_graph=graph))
        assert result.cuda_graph is graph, result.notes
        want = make_session(tiny_onnx, level="disable").run(["y"], {"x": x})[0]
        for slot in slots:
            got = next(b for b in slot.bindings if not b.is_input).host.array
            np.testing.assert_allclose(got, want, atol=5e-2, rtol=1e-2)
    finally:
        for slot in slots:
            slot.free()


def test_cross_check_with_torch_events_runs(fp32_engine: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    x = np.zeros((4, 3, 8, 8), np.float32)
    check = TensorRTBackend().cross_check(fp32_engine, {"x": x},
                                          HarnessConfig(warmup_ms=20, duration_s=0.1,
                                                        min_iterations=20))
    assert check["harness_median_ms"] > 0 and check["torch_events_median_ms"] > 0
    assert check["harness_iterations"] >= 20 and check["torch_iterations"] >= 20


def test_sweep_times_each_point_and_runs_streams_beyond_the_profiles_on_copies(
        cli: Invoke, fp32_engine: Path, static_engine: Path) -> None:
    # A static engine serves any number of contexts: the whole grid runs.
    report = ok_json(cli("bench", static_engine, "--sweep", "batch=2 streams=1,2", *FAST,
                         "--json"))
    assert [(r["batch"], r["streams"]) for r in report["results"]] == [(2, 1), (2, 2)]
    assert [r["tensorrt"]["streams"] for r in report["results"]] == [1, 2]
    points = report["sweep"]["points"]
    assert all(p["latency_ms"] >= p["median_ms"] for p in points)  # host latency >= compute
    assert report["sweep"]["best"] == max(points, key=lambda p: p["samples_per_s"])
    # One profile: the second stream runs on a second copy of the engine (trtexec's way).
    one = ok_json(cli("bench", fp32_engine, "--sweep", "batch=1,4 streams=1,2", *FAST,
                      "--json"))
    copies = {(r["batch"], r["streams"]): r["tensorrt"]["engine_copies"]
              for r in one["results"]}
    assert copies == {(1, 1): 1, (4, 1): 1, (1, 2): 2, (4, 2): 2}
    assert not any("skipped" in w for w in one.get("warnings", []))
