"""build.input_formats / output_formats for real: the engine's I/O types and formats, and
verify / the bench harness converting to them (trtc.tensorrt.io_formats).

Runs where TensorRT and a GPU are (the GPU machine with the kit); skips elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trt_helpers import PROFILE, Invoke, make_qdq_model, ok_json

from trtc.backends.cuda_harness import HarnessConfig, run_harness
from trtc.backends.tensorrt import TensorRTBackend, deserialize
from trtc.tensorrt.engine_file import read_sidecar
from trtc.tensorrt.io_formats import from_engine_layout

pytestmark = [pytest.mark.trt, pytest.mark.cuda]


def _trt() -> Any:
    import tensorrt

    return tensorrt


def _formats(engine_path: Path) -> dict[str, tuple[Any, Any]]:
    """{tensor: (trt.DataType, trt.TensorFormat)} read from the engine itself."""
    engine = deserialize(engine_path)
    names = [engine.get_tensor_name(i) for i in range(int(engine.num_io_tensors))]
    return {n: (engine.get_tensor_dtype(n), engine.get_tensor_format(n)) for n in names}


@pytest.fixture(scope="module")
def hwc8_build(cli: Invoke, tiny_onnx: Path, trt_dir: Path, timing_cache: Path) -> Any:
    """The tiny conv model taking fp16 NHWC8 and giving fp16 (linear): build's JSON."""
    out = trt_dir / "tiny_hwc8.engine"
    return ok_json(cli("build", tiny_onnx, "-o", out, "--backend", "tensorrt", "--precision",
                       "fp16", "--profile", PROFILE, "--input-formats", "fp16:hwc8",
                       "--output-formats", "fp16:chw", "--timing-cache", timing_cache,
                       "--json"))


@pytest.fixture(scope="module")
def hwc8_engine(hwc8_build: Any) -> Path:
    return Path(hwc8_build["output"])


def test_the_engine_has_the_asked_types_and_formats(hwc8_engine: Path, hwc8_build: Any
                                                    ) -> None:
    trt = _trt()
    got = _formats(hwc8_engine)
    assert got["x"] == (trt.DataType.HALF, trt.TensorFormat.HWC8)
    assert got["y"] == (trt.DataType.HALF, trt.TensorFormat.LINEAR)
    side = read_sidecar(hwc8_engine)
    assert side is not None
    assert side["input_formats"] == ["fp16:hwc8"] and side["output_formats"] == ["fp16:chw"]
    x, y = side["io"]["inputs"]["x"], side["io"]["outputs"]["y"]
    assert (x["dtype"], x["io_dtype"], x["format"]) == ("float32", "float16", "hwc8")
    assert (y["dtype"], y["io_dtype"], y["format"]) == ("float32", "float16", "linear")
    line = hwc8_build["metrics"]["settings"]["trtexec"]
    assert "--inputIOFormats=fp16:hwc8" in line and "--outputIOFormats=fp16:chw" in line


def test_verify_feeds_and_reads_the_engine_formats(cli: Invoke, hwc8_engine: Path,
                                                   tiny_onnx: Path) -> None:
    report = ok_json(cli("verify", hwc8_engine, "--reference", tiny_onnx, "--batch", "4",
                         "--json"))
    assert report["passed"], report
    assert report["outputs"]["y"]["cosine"] > 0.999


def test_the_harness_converts_once_and_computes_the_same(hwc8_engine: Path,
                                                         tiny_onnx: Path) -> None:
    from trtc.backends.onnxruntime import make_session

    x = np.random.default_rng(3).standard_normal((4, 3, 8, 8)).astype(np.float32)
    slots = TensorRTBackend().make_slots(deserialize(hwc8_engine), {"x": x}, streams=1)
    try:
        inp = next(b for b in slots[0].bindings if b.is_input)
        assert inp.host.array.dtype == np.float16 and inp.host.array.shape == (4, 8, 8, 8)
        run_harness(slots, HarnessConfig(warmup_ms=1, duration_s=0.0, min_iterations=4))
        out = next(b for b in slots[0].bindings if not b.is_input).host.array
        assert out.dtype == np.float16
        want = make_session(tiny_onnx, level="disable").run(["y"], {"x": x})[0]
        np.testing.assert_allclose(from_engine_layout(out, "linear", want.shape), want,
                                   atol=5e-2, rtol=2e-2)
    finally:
        for slot in slots:
            slot.free()


def test_bench_runs_an_engine_with_io_formats(cli: Invoke, hwc8_engine: Path) -> None:
    report = ok_json(cli("bench", hwc8_engine, "--batch", "4", "--duration", "0.1",
                         "--warmup", "20", "--iterations", "20", "--json"))
    assert report["results"][0]["tensorrt"]["median_ms"] > 0


def test_fp16_chw_output_of_a_4d_tensor(cli: Invoke, tmp_path: Path) -> None:
    """The Q/DQ model's y[batch,4,8,8] as fp16 NHWC8, its input fp16 linear."""
    model = make_qdq_model(tmp_path / "qdq.onnx")
    out = tmp_path / "qdq_fp16io.engine"
    ok_json(cli("build", model, "-o", out, "--backend", "tensorrt", "--profile", PROFILE,
                "--input-formats", "fp16:chw", "--output-formats", "fp16:hwc8", "--json"))
    trt = _trt()
    got = _formats(out)
    assert got["x"] == (trt.DataType.HALF, trt.TensorFormat.LINEAR)
    assert got["y"] == (trt.DataType.HALF, trt.TensorFormat.HWC8)
    report = ok_json(cli("verify", out, "--reference", model, "--batch", "2", "--json"))
    assert report["outputs"]["y"]["cosine"] > 0.99, report


def test_int8_chw32_input_takes_the_qdq_scale(cli: Invoke, tmp_path: Path) -> None:
    """int8 NC/32HW32 input on a Q/DQ model: the host quantizes with the input's Q scale."""
    model = make_qdq_model(tmp_path / "qdq.onnx")
    out = tmp_path / "qdq_int8io.engine"
    ok_json(cli("build", model, "-o", out, "--backend", "tensorrt", "--profile", PROFILE,
                "--input-formats", "int8:chw32", "--json"))
    trt = _trt()
    assert _formats(out)["x"] == (trt.DataType.INT8, trt.TensorFormat.CHW32)
    side = read_sidecar(out)
    assert side is not None and side["io_scales"] == {"x": pytest.approx(4.0 / 127.0)}
    assert side["io"]["inputs"]["x"]["scale"] == pytest.approx(4.0 / 127.0)
    report = ok_json(cli("verify", out, "--reference", model, "--batch", "2", "--json"))
    assert report["outputs"]["y"]["cosine"] > 0.99, report
