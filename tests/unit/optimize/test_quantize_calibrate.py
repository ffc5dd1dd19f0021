"""The calibration pass on tensors ONNX Runtime's histograms cannot bin as they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.optimize.quantize import quantize_model
from trtc.optimize.quantize.calibrate import NUM_ABS_BINS, NUM_BINS, collect
from trtc.optimize.quantize.ranges import compute_ranges, plain_ranges
from trtc.recipe import QuantizeSpec


def make_gate_model(path: Path) -> Path:
    """x[batch,8] -> *1e-6 -> sigmoid -> gate (0.5 +- ~1e-6, an SE gate) -> matmul -> y."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.array(1e-6, dtype=np.float32), "tiny"),
             numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w")]
    nodes = [helper.make_node("Mul", ["x", "tiny"], ["t"], name="scale"),
             helper.make_node("Sigmoid", ["t"], ["gate"], name="sigmoid"),
             helper.make_node("MatMul", ["gate", "w"], ["y"], name="fc")]
    graph = helper.make_graph(
        nodes, "gate", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _feeds(batches: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    return [{"x": rng.standard_normal((4, 8)).astype(np.float32)} for _ in range(batches)]


def test_a_nearly_constant_tensor_is_binned_and_keeps_its_min_max(tmp_path: Path) -> None:
    collection = collect(make_gate_model(tmp_path / "m.onnx"), _feeds(3))
    hist, edges, low, high, _ = collection.value["gate"]
    assert 0.4999 < float(low) <= 0.5 <= float(high) < 0.5001
    assert len(hist) >= NUM_BINS and hist.sum() == 3 * 4 * 8
    ahist, aedges, alow, ahigh = collection.absolute["gate"]
    assert len(ahist) >= NUM_ABS_BINS and ahist.sum() == 3 * 4 * 8
    assert np.all(np.diff(aedges) > 0) and aedges.dtype == np.float32
    assert (float(alow), float(ahigh)) == (float(low), float(high))
    for method in ("minmax", "entropy", "percentile"):
        lo, hi = plain_ranges(compute_ranges(collection, method, ["gate"]))["gate"]
        assert hi == pytest.approx(0.5, rel=1e-3), method


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_int8_quantizes_a_model_with_an_se_gate(tmp_path: Path, method: str) -> None:
    src = make_gate_model(tmp_path / "m.onnx")
    spec = QuantizeSpec(enabled=True, precision="int8", target="onnxruntime-cpu",
                        calib_data="random", calib_samples=8, calib_batch=4,
                        calib_method=method)
    report = quantize_model(src, tmp_path / "q.onnx", spec, cache_dir=tmp_path / "cache")
    assert report.ranges["ranges"]["gate"][1] == pytest.approx(0.5, rel=1e-3)


def make_masked_attention_model(path: Path) -> Path:
    """scores[batch,4] + mask (0 or -inf, as attention masks are) -> Softmax -> MatMul -> y."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "v")]
    nodes = [helper.make_node("Add", ["scores", "mask"], ["masked"], name="add_mask"),
             helper.make_node("Softmax", ["masked"], ["probs"], name="softmax", axis=-1),
             helper.make_node("MatMul", ["probs", "v"], ["y"], name="attend")]
    graph = helper.make_graph(
        nodes, "attn", [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["b", 4]),
                        helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["b", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 3])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("masked", [-np.inf, np.finfo(np.float32).min])
def test_masked_attention_scores_calibrate_on_their_finite_values(tmp_path: Path,
                                                                  masked: float) -> None:
    # DistilBERT with a padding mask: the scores hold -inf (or float32's min, as Hugging
    # Face writes it) where the mask is 0; ONNX Runtime's histogram refused the first
    # ("supplied range of [-inf, inf] is not finite") and could not bin the second
    # ("Too many bins for data range").
    rng = np.random.default_rng(2)
    mask = np.where(rng.random((4, 4)) < 0.3, masked, 0.0).astype(np.float32)
    mask[:, 0] = 0.0  # every row keeps one position
    feeds = [{"scores": rng.standard_normal((4, 4)).astype(np.float32), "mask": mask}
             for _ in range(2)]
    collection = collect(make_masked_attention_model(tmp_path / "m.onnx"), feeds)
    _, _, low, high, _ = collection.value["masked"]
    assert np.isfinite(float(low)) and np.isfinite(float(high))
    lo, hi = plain_ranges(compute_ranges(collection, "minmax", ["probs"]))["probs"]
    assert lo >= 0.0 and hi <= 1.0


def test_nan_activations_are_a_data_error_naming_nan(tmp_path: Path) -> None:
    from trtc.errors import DataError

    feeds = [{"scores": np.full((2, 4), np.nan, dtype=np.float32),
              "mask": np.zeros((2, 4), dtype=np.float32)}]
    with pytest.raises(DataError, match=r"tensor '\w+' holds NaN"):
        collect(make_masked_attention_model(tmp_path / "m.onnx"), feeds)
