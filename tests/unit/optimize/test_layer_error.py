"""The cheap ranking signal: each quantized node's isolated output error under its Q/DQ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.optimize.layer_error import build_probe, layer_errors
from trtc.optimize.quantize import quantize_model
from trtc.recipe import QuantizeSpec


def make_chain_model(path: Path, outlier_at: int = 2, depth: int = 6, seed: int = 0) -> Path:
    """x[batch,16] -> m0 -> ... -> m5 -> y: the input of m``outlier_at`` has one channel
    ~1000x the others, so per-tensor int8 on that input zeroes the rest of it.

    Every node after it computes on the damaged tensor: compared with FP32 in the
    all-int8 model, they all look as wrong as it; isolated, only it is.
    """
    rng = np.random.default_rng(seed)
    weights, nodes = [], []
    for k in range(depth):
        w = rng.standard_normal((16, 16)).astype(np.float32) * 0.3
        if k == outlier_at - 1:
            w[:, 0] *= 1000.0               # m(k) writes the outlier channel...
        if k == outlier_at:
            w[0, :] *= 1e-3                 # ...that m(outlier_at) barely uses
        weights.append(numpy_helper.from_array(w, f"w{k}"))
        nodes.append(helper.make_node("MatMul", [f"h{k}" if k else "x", f"w{k}"],
                                      [f"h{k + 1}" if k < depth - 1 else "y"], name=f"m{k}"))
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


Feeds = list[dict[str, np.ndarray]]


def _parts(src: Path, tmp_path: Path, target: str = "tensorrt"
           ) -> tuple[onnx.ModelProto, onnx.ModelProto, Feeds]:
    quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(
        enabled=True, target=target, calib_data="random", calib_samples=16),
        cache_dir=tmp_path / "cache")
    rng = np.random.default_rng(1)
    feeds = [{"x": rng.standard_normal((4, 16)).astype(np.float32)} for _ in range(3)]
    return onnx.load(str(src)), onnx.load(str(tmp_path / "q.onnx")), feeds


@pytest.mark.parametrize("target", ["tensorrt", "onnxruntime-cpu"])
def test_the_node_reading_a_huge_range_activation_ranks_first(tmp_path: Path,
                                                              target: str) -> None:
    src = make_chain_model(tmp_path / "chain.onnx")
    fp32, qdq, feeds = _parts(src, tmp_path, target)
    errors = layer_errors(fp32, qdq, [f"m{k}" for k in range(6)], feeds)
    assert set(errors) == {f"m{k}" for k in range(6)}
    ranked = sorted(errors, key=lambda n: -errors[n])
    assert ranked[0] == "m2"
    # Isolated: the nodes below m2 are not charged with its error.
    assert errors["m2"] > 10 * max(errors[n] for n in ("m3", "m4", "m5"))


def test_the_all_int8_activations_would_charge_every_node_below(tmp_path: Path) -> None:
    # Why the isolated signal: comparing the all-int8 model's activations with FP32's ranks
    # a node below the damaged one as high as it (the check of the test above, inverted).
    from trtc.optimize.layer_error import with_outputs
    from trtc.optimize.sensitivity import run_outputs

    src = make_chain_model(tmp_path / "chain.onnx")
    fp32, qdq, feeds = _parts(src, tmp_path)
    names = ["h3", "h5"]   # m2's and m4's outputs
    ref = run_outputs(with_outputs(fp32, names), feeds[:1])[0][1:]
    got = run_outputs(with_outputs(qdq, names), feeds[:1])[0][1:]
    rel = [float(np.linalg.norm(g - r) / np.linalg.norm(r)) for g, r in zip(got, ref)]
    assert rel[1] > 0.5 * rel[0]


def test_a_node_the_quantizer_removed_gets_no_score(tmp_path: Path, conv_onnx: Path) -> None:
    # ONNX Runtime's QDQ quantizer folds a Relu after a Conv into the Conv's output Q/DQ:
    # the Relu is not in the quantized graph, so nothing can be compared for it.
    src = conv_onnx
    quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(
        enabled=True, target="onnxruntime-cpu", calib_data="random", calib_samples=8),
        cache_dir=tmp_path / "cache")
    fp32, qdq = onnx.load(str(src)), onnx.load(str(tmp_path / "q.onnx"))
    removed = sorted({n.name for n in fp32.graph.node} - {n.name for n in qdq.graph.node})
    assert removed, "the quantizer kept every node: this test needs one it removes"
    probe = build_probe(fp32, qdq, [n.name for n in fp32.graph.node])
    assert not set(probe.outputs) & set(removed) and probe.outputs


def test_no_feeds_or_nothing_matched_is_no_scores(tmp_path: Path) -> None:
    src = make_chain_model(tmp_path / "chain.onnx")
    fp32, qdq, feeds = _parts(src, tmp_path)
    assert layer_errors(fp32, qdq, ["m0"], []) == {}
    assert layer_errors(fp32, qdq, ["no_such_node"], feeds) == {}


def test_the_budget_search_floats_the_damaged_node_and_records_the_ranking(
        tmp_path: Path) -> None:
    src = make_chain_model(tmp_path / "chain.onnx")
    result = quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(
        enabled=True, calib_data="random", calib_samples=16, max_drop=0.01),
        cache_dir=tmp_path / "cache").to_dict()
    budget = result["budget"]
    assert budget["before"]["drop"] > 0.01 and budget["met"]
    assert budget["float_nodes"] == ["m2"]
    assert budget["ranking"]["signals"] == {"scored": 6, "groups": 0}
    assert max(budget["ranking"]["scores"], key=budget["ranking"]["scores"].get) == "m2"
    # One model for the all-int8 start, then a bisection over 6 ranked nodes.
    assert budget["evaluations"] <= 1 + 3 + 1
