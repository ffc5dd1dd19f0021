"""Pruning on real ONNX graphs: 2:4 layout, magnitude ratio, channel surgery, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.errors import ModelError, UsageError
from trtc.graph.inspect import summarize_model
from trtc.optimize.prune import prune_model
from trtc.optimize.prune.channel import channels_to_keep
from trtc.optimize.prune.weights import magnitude_mask, mask_2_4
from trtc.recipe import PruneSpec


def is_2_4_sparse(weights: np.ndarray, axis: int) -> bool:
    """Every group of 4 along ``axis`` has at least 2 zeros (TensorRT's check)."""
    moved = np.moveaxis(weights, axis % weights.ndim, -1)
    if moved.shape[-1] % 4:
        return False
    groups = moved.reshape(*moved.shape[:-1], moved.shape[-1] // 4, 4)
    return bool((np.count_nonzero(groups, axis=-1) <= 2).all())


# --------------------------------------------------------------------------- model builders


def _save(path: Path, nodes: list, inputs: list, outputs: list, inits: dict) -> Path:
    graph = helper.make_graph(nodes, "m", inputs, outputs,
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _vi(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def sparsity_model(path: Path) -> Path:
    """Layers that 2:4 must take (conv_main, gemm_t, gemm_n, matmul_w) and must refuse."""
    rng = np.random.default_rng(0)
    inits = {
        "w_first": _f32(rng, 32, 3, 3, 3),     # C=3: not a multiple of 4
        "w_main": _f32(rng, 32, 32, 3, 3),     # eligible, groups along axis 1
        "w_group": _f32(rng, 32, 8, 3, 3),     # group=4
        "w_dw": _f32(rng, 32, 1, 3, 3),        # depthwise
        "w_gemm_t": _f32(rng, 64, 32),         # transB=1: reduction axis 1
        "w_gemm_n": _f32(rng, 64, 48),         # transB=0: reduction axis 0
        "w_mm": _f32(rng, 48, 40),             # MatMul: reduction axis 0
        "w_dyn": _f32(rng, 40, 40),            # reaches MatMul through Identity: not constant
        "w_small": _f32(rng, 10, 40),          # 400 weights: too small
    }
    nodes = [
        helper.make_node("Conv", ["x", "w_first"], ["c0"], name="conv_first", pads=[1] * 4),
        helper.make_node("Conv", ["c0", "w_main"], ["c1"], name="conv_main", pads=[1] * 4),
        helper.make_node("Conv", ["c1", "w_group"], ["c2"], name="conv_group", pads=[1] * 4,
                         group=4),
        helper.make_node("Conv", ["c2", "w_dw"], ["c3"], name="conv_dw", pads=[1] * 4, group=32),
        helper.make_node("GlobalAveragePool", ["c3"], ["p"], name="gap"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w_gemm_t"], ["g1"], name="gemm_t", transB=1),
        helper.make_node("Gemm", ["g1", "w_gemm_n"], ["g2"], name="gemm_n"),
        helper.make_node("MatMul", ["g2", "w_mm"], ["m1"], name="matmul_w"),
        helper.make_node("Identity", ["w_dyn"], ["w_dyn_id"], name="ident"),
        helper.make_node("MatMul", ["m1", "w_dyn_id"], ["m2"], name="matmul_dyn"),
        helper.make_node("Gemm", ["m2", "w_small"], ["y"], name="gemm_small", transB=1),
    ]
    return _save(path, nodes, [_vi("x", ["batch", 3, 8, 8])], [_vi("y", ["batch", 10])], inits)


ELIGIBLE_2_4 = {"conv_main": ("w_main", 1), "gemm_t": ("w_gemm_t", 1),
                "gemm_n": ("w_gemm_n", 0), "matmul_w": ("w_mm", 0)}
INELIGIBLE_2_4 = {"conv_first": "not a multiple of 4", "conv_group": "grouped Conv",
                  "conv_dw": "depthwise Conv", "matmul_dyn": "not a constant initializer",
                  "gemm_small": "too small"}

#: chain_model: input channels, conv1 filters, conv2 filters, H=W.
C_IN, K1, K2, HW = 4, 16, 12, 6


def chain_model(path: Path, *, dead1: tuple[int, ...] = (), dead2: tuple[int, ...] = (),
                flatten: str = "Flatten", seed: int = 0) -> Path:
    """x -> conv1 -> BN -> Relu -> conv2 -> Relu -> MaxPool -> Flatten|Reshape -> Gemm -> y.

    ``dead1`` / ``dead2`` are conv1 / conv2 filters planted as exactly zero (with zero
    bias and, for conv1, a BN that maps 0 to 0): they contribute nothing, so removing
    them must leave the output unchanged.
    """
    rng = np.random.default_rng(seed)
    w1, b1 = _f32(rng, K1, C_IN, 3, 3) * 0.5, _f32(rng, K1) * 0.1
    w2, b2 = _f32(rng, K2, K1, 3, 3) * 0.2, _f32(rng, K2) * 0.1
    scale, beta = 1 + 0.1 * _f32(rng, K1), _f32(rng, K1) * 0.1
    mean, var = _f32(rng, K1) * 0.1, np.abs(_f32(rng, K1)) + 0.5
    for k in dead1:
        w1[k], b1[k], beta[k], mean[k] = 0, 0, 0, 0
    for k in dead2:
        w2[k], b2[k] = 0, 0
    flat = K2 * (HW // 2) ** 2
    inits = {"w1": w1, "b1": b1, "scale": scale, "beta": beta, "mean": mean, "var": var,
             "w2": w2, "b2": b2, "fc": _f32(rng, 10, flat) * 0.1, "fcb": _f32(rng, 10)}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1] * 4),
        helper.make_node("BatchNormalization", ["c1", "scale", "beta", "mean", "var"], ["n1"],
                         name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1] * 4),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
    ]
    if flatten == "Flatten":
        nodes.append(helper.make_node("Flatten", ["p"], ["f"], name="flatten"))
    else:
        inits["shape"] = np.array([-1, flat], dtype=np.int64)
        nodes.append(helper.make_node("Reshape", ["p", "shape"], ["f"], name="reshape"))
    nodes.append(helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], name="fc", transB=1))
    return _save(path, nodes, [_vi("x", ["batch", C_IN, HW, HW])], [_vi("y", ["batch", 10])],
                 inits)


def residual_model(path: Path) -> Path:
    """x -> conv0 -> Relu (t) -> conv1 -> Relu -> conv2 -> Add(t) -> y: only conv1 is prunable."""
    rng = np.random.default_rng(3)
    inits = {name: _f32(rng, 8, 8, 3, 3) * 0.3 for name in ("w0", "w1", "w2")}
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["c0"], name="conv0", pads=[1] * 4),
        helper.make_node("Relu", ["c0"], ["t"], name="relu0"),
        helper.make_node("Conv", ["t", "w1"], ["c1"], name="conv1", pads=[1] * 4),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1] * 4),
        helper.make_node("Add", ["t", "c2"], ["y"], name="add"),
    ]
    return _save(path, nodes, [_vi("x", [1, 8, 5, 5])], [_vi("y", [1, 8, 5, 5])], inits)


def _weights(path: Path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _x(*shape: int) -> np.ndarray:
    return np.random.default_rng(7).standard_normal(shape).astype(np.float32)


# --------------------------------------------------------------------------- pure numpy


@pytest.mark.parametrize("shape,axis", [((8, 16, 3, 3), 1), ((12, 8), 1), ((16, 5), 0),
                                        ((2, 8, 6), 1)])
def test_mask_2_4_keeps_the_two_largest_of_every_group(shape: tuple, axis: int) -> None:
    w = np.random.default_rng(1).standard_normal(shape)
    kept = np.where(mask_2_4(w, axis), w, 0)
    assert is_2_4_sparse(kept, axis) and not is_2_4_sparse(w, axis)
    groups = np.moveaxis(np.abs(w), axis, -1).reshape(-1, 4)
    kept_groups = np.moveaxis(kept, axis, -1).reshape(-1, 4) != 0
    for g, k in zip(groups, kept_groups, strict=True):
        assert k.sum() == 2 and g[k].min() >= g[~k].max()


def test_mask_2_4_rejects_a_length_not_divisible_by_4() -> None:
    with pytest.raises(ValueError, match="multiple of 4"):
        mask_2_4(np.ones((4, 6)), 1)


def test_magnitude_mask_zeroes_exactly_the_smallest_fraction() -> None:
    w = np.random.default_rng(2).standard_normal((37, 11))
    keep = magnitude_mask(w, 0.3)
    assert (~keep).sum() == round(0.3 * w.size)
    assert np.abs(w[keep]).min() >= np.abs(w[~keep]).max()


def test_channels_to_keep_picks_the_highest_l1_filters_in_order() -> None:
    rng = np.random.default_rng(4)
    norms = rng.permutation(10) + 1.0
    w = np.ones((10, 3, 2, 2)) * norms[:, None, None, None]
    keep = channels_to_keep(w, 0.3)
    assert list(keep) == sorted(np.argsort(-norms)[:7])
    assert channels_to_keep(w, 0.99).size == 1          # never zero channels
    assert channels_to_keep(w, 0.3, multiple=4).size == 8


# --------------------------------------------------------------------------- 2:4


def test_2_4_prunes_every_eligible_layer_in_tensorrts_layout(tmp_path: Path) -> None:
    src = sparsity_model(tmp_path / "m.onnx")
    report = prune_model(src, tmp_path / "s.onnx", PruneSpec(method="2:4"))
    before, after = _weights(src), _weights(tmp_path / "s.onnx")
    by_name = {layer.name: layer for layer in report.layers}
    for layer, (weight, axis) in ELIGIBLE_2_4.items():
        assert by_name[layer].status == "pruned", by_name[layer]
        assert is_2_4_sparse(after[weight], axis)
        assert np.array_equal(after[weight], np.where(mask_2_4(before[weight], axis),
                                                      before[weight], 0))
        assert by_name[layer].zeros_after == pytest.approx(0.5)
    # NVIDIA's own check for Conv weights [K, C, R, S], written out as in its guide.
    w = after["w_main"]
    for k in range(w.shape[0]):
        for r in range(w.shape[2]):
            for s in range(w.shape[3]):
                for c in range(w.shape[1] // 4):
                    assert np.count_nonzero(w[k, c * 4:(c + 1) * 4, r, s]) <= 2
    for layer, why in INELIGIBLE_2_4.items():
        assert by_name[layer].status == "skipped" and why in by_name[layer].reason
    for weight in ("w_first", "w_group", "w_dw", "w_dyn", "w_small"):
        assert np.array_equal(before[weight], after[weight])
    assert _run(tmp_path / "s.onnx", _x(2, 3, 8, 8)).shape == (2, 10)
    assert report.after.flops == report.before.flops  # dense math: no FLOP claim
    assert report.after.gzip_bytes < report.before.gzip_bytes


def test_2_4_excluded_layer_stays_dense(tmp_path: Path) -> None:
    src = sparsity_model(tmp_path / "m.onnx")
    report = prune_model(src, tmp_path / "s.onnx", PruneSpec(method="2:4", exclude=("gemm_t",)))
    assert {x.name: x.reason for x in report.layers}["gemm_t"] == "excluded"
    assert np.array_equal(_weights(src)["w_gemm_t"], _weights(tmp_path / "s.onnx")["w_gemm_t"])


# --------------------------------------------------------------------------- magnitude


def test_magnitude_reaches_the_ratio_on_every_layer(tmp_path: Path) -> None:
    src = sparsity_model(tmp_path / "m.onnx")
    report = prune_model(src, tmp_path / "s.onnx", PruneSpec(method="magnitude", ratio=0.6))
    before, after = _weights(src), _weights(tmp_path / "s.onnx")
    pruned = {layer.weight for layer in report.pruned_layers}
    assert pruned == {"w_first", "w_main", "w_group", "w_dw", "w_gemm_t", "w_gemm_n", "w_mm",
                      "w_small"}
    for name in pruned:
        zeros = after[name] == 0
        assert zeros.sum() == round(0.6 * after[name].size), name
        assert np.abs(before[name][~zeros]).min() >= np.abs(before[name][zeros]).max()
    assert report.after.weight_zeros_fraction > 0.55
    assert report.after.gzip_bytes < 0.8 * report.before.gzip_bytes
    assert report.after.params == report.before.params
    assert "not a speedup" in report.note


# --------------------------------------------------------------------------- channels


@pytest.mark.parametrize("flatten", ["Flatten", "Reshape"])
def test_removing_dead_channels_leaves_the_output_unchanged(tmp_path: Path,
                                                            flatten: str) -> None:
    # 25 %: 4 of conv1's 16 and 3 of conv2's 12 filters go -- exactly the planted zero ones.
    src = chain_model(tmp_path / "m.onnx", dead1=(1, 6, 9, 15), dead2=(0, 4, 11),
                      flatten=flatten)
    dst = tmp_path / "p.onnx"
    report = prune_model(src, dst, PruneSpec(method="channel", ratio=0.25))
    onnx.checker.check_model(onnx.load(str(dst)), full_check=True)
    after = _weights(dst)
    assert after["w1"].shape == (12, C_IN, 3, 3) and after["w2"].shape == (9, 12, 3, 3)
    assert after["fc"].shape == (10, 9 * (HW // 2) ** 2)
    assert all(after[p].shape == (12,) for p in ("scale", "beta", "mean", "var", "b1"))
    x = _x(3, C_IN, HW, HW)
    np.testing.assert_allclose(_run(dst, x), _run(src, x), rtol=1e-5, atol=1e-5)
    assert {c.producer: c.status for c in report.chains} == {
        "conv1": "pruned", "conv2": "pruned", "fc": "skipped"}


def test_channel_pruning_keeps_the_highest_l1_filters(tmp_path: Path) -> None:
    src = chain_model(tmp_path / "m.onnx")
    w1 = _weights(src)["w1"]
    l1 = np.abs(w1).reshape(K1, -1).sum(axis=1)
    prune_model(src, tmp_path / "p.onnx", PruneSpec(method="channel", ratio=0.5))
    expected = np.sort(np.argsort(-l1)[:K1 // 2])
    np.testing.assert_array_equal(_weights(tmp_path / "p.onnx")["w1"], w1[expected])


def test_channel_pruning_cuts_flops_by_the_expected_amount(tmp_path: Path) -> None:
    src = chain_model(tmp_path / "m.onnx")
    dst = tmp_path / "p.onnx"
    report = prune_model(src, dst, PruneSpec(method="channel", ratio=0.5))

    def flops(k1: int, k2: int) -> int:  # conv1 + conv2 + fc at batch 1
        return 2 * (k1 * HW * HW * C_IN * 9 + k2 * HW * HW * k1 * 9 + 10 * k2 * (HW // 2) ** 2)

    assert summarize_model(src).flops == flops(K1, K2) == report.before.flops
    assert summarize_model(dst).flops == flops(K1 // 2, K2 // 2) == report.after.flops
    per_layer = {x.name: (x.flops_before, x.flops_after) for x in report.layers}
    assert per_layer["conv2"] == (2 * K2 * HW * HW * K1 * 9, 2 * 6 * HW * HW * 8 * 9)
    assert report.after.params < report.before.params
    assert report.after.size_bytes < report.before.size_bytes
    assert _run(dst, _x(2, C_IN, HW, HW)).shape == (2, 10)


def test_residual_fed_channels_are_left_alone(tmp_path: Path) -> None:
    src = residual_model(tmp_path / "m.onnx")
    dst = tmp_path / "p.onnx"
    report = prune_model(src, dst, PruneSpec(method="channel", ratio=0.5))
    chains = {c.producer: c for c in report.chains}
    assert chains["conv1"].status == "pruned" and chains["conv1"].consumers == ["conv2"]
    for name in ("conv0", "conv2"):
        assert chains[name].status == "skipped" and "Add 'add' (residual)" in \
            chains[name].reason
    before, after = _weights(src), _weights(dst)
    assert np.array_equal(before["w0"], after["w0"])
    assert after["w1"].shape == (4, 8, 3, 3) and after["w2"].shape == (8, 4, 3, 3)
    x = _x(1, 8, 5, 5)
    assert _run(dst, x).shape == _run(src, x).shape == (1, 8, 5, 5)


def test_channels_that_reach_a_graph_output_are_left_alone(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1] * 4),
             helper.make_node("Relu", ["y"], ["z"], name="relu")]
    src = _save(tmp_path / "m.onnx", nodes, [_vi("x", [1, 4, 4, 4])],
                [_vi("y", [1, 8, 4, 4]), _vi("z", [1, 8, 4, 4])], {"w": _f32(rng, 8, 4, 3, 3)})
    with pytest.raises(ModelError, match=r"nothing to prune with --method channel.*graph output"):
        prune_model(src, tmp_path / "p.onnx", PruneSpec(method="channel", ratio=0.5))
    assert not (tmp_path / "p.onnx").exists()


# --------------------------------------------------------------------------- bad input


def test_nothing_eligible_for_2_4_names_the_method_and_why(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    src = _save(tmp_path / "m.onnx",
                [helper.make_node("Conv", ["x", "w"], ["y"], name="stem")],
                [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 64, 6, 6])],
                {"w": _f32(rng, 64, 3, 3, 3)})
    with pytest.raises(ModelError, match=r"nothing to prune with --method 2:4: reduction dim "
                                         r"C=3 is not a multiple of 4 \(stem\)") as info:
        prune_model(src, tmp_path / "p.onnx", PruneSpec(method="2:4"))
    assert "\n" not in info.value.message and info.value.hint
    assert not (tmp_path / "p.onnx").exists()


def test_a_model_without_weight_layers_has_nothing_to_prune(tmp_path: Path) -> None:
    src = _save(tmp_path / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                [_vi("x", [1, 4])], [_vi("y", [1, 4])], {})
    with pytest.raises(ModelError, match="no Conv, Gemm or MatMul"):
        prune_model(src, tmp_path / "p.onnx", PruneSpec(method="magnitude", ratio=0.5))


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.2, 1.5])
def test_ratio_out_of_range_is_a_usage_error(tmp_path: Path, ratio: float) -> None:
    with pytest.raises(UsageError, match="--ratio .* out of range for --method channel"):
        prune_model(tmp_path / "missing.onnx", tmp_path / "p.onnx",
                    PruneSpec(method="channel", ratio=ratio))


def test_missing_and_corrupt_models_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        prune_model(tmp_path / "missing.onnx", tmp_path / "p.onnx", PruneSpec())
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelError, match="bad.onnx"):
        prune_model(bad, tmp_path / "p.onnx", PruneSpec())


@pytest.mark.parametrize("op,why", [("Concat", "Concat 'join'"), ("Mul", "Mul 'join'")])
def test_channels_into_concat_or_an_unknown_op_are_left_alone(tmp_path: Path, op: str,
                                                              why: str) -> None:
    rng = np.random.default_rng(8)
    attrs = {"axis": 1} if op == "Concat" else {}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1] * 4),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node(op, ["r", "x"], ["j"], name="join", **attrs),
             helper.make_node("Conv", ["j", "w2"], ["y"], name="conv2")]
    joined = 16 if op == "Concat" else 8
    src = _save(tmp_path / "m.onnx", nodes, [_vi("x", [1, 8, 4, 4])], [_vi("y", [1, 4, 2, 2])],
                {"w": _f32(rng, 8, 8, 3, 3), "w2": _f32(rng, 4, joined, 3, 3)})
    with pytest.raises(ModelError, match=f"nothing to prune with --method channel.*{why}"):
        prune_model(src, tmp_path / "p.onnx", PruneSpec(method="channel", ratio=0.5))


def test_gemm_chain_without_flatten_and_excluded_readers(tmp_path: Path) -> None:
    """x -> Gemm(transB=0) -> Relu -> MatMul -> y: dead hidden units go, output unchanged."""
    rng = np.random.default_rng(9)
    w1, b1, w2 = _f32(rng, 6, 8), _f32(rng, 8), _f32(rng, 8, 3)
    w1[:, [2, 5]], b1[[2, 5]] = 0, 0
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")]
    src = _save(tmp_path / "m.onnx", nodes, [_vi("x", ["batch", 6])], [_vi("y", ["batch", 3])],
                {"w1": w1, "b1": b1, "w2": w2})
    dst = tmp_path / "p.onnx"
    prune_model(src, dst, PruneSpec(method="channel", ratio=0.25))
    after = _weights(dst)
    assert after["w1"].shape == (6, 6) and after["b1"].shape == (6,) and after["w2"].shape == (6, 3)
    x = _x(4, 6)
    np.testing.assert_allclose(_run(dst, x), _run(src, x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ModelError, match="reader fc2 is excluded"):
        prune_model(src, tmp_path / "q.onnx",
                    PruneSpec(method="channel", ratio=0.25, exclude=("fc2",)))


def test_pruned_model_says_so_in_its_metadata(tmp_path: Path) -> None:
    import onnx

    from trtc.stages.verify import changed_on_purpose

    src = chain_model(tmp_path / "m.onnx")
    dst = tmp_path / "p.onnx"
    prune_model(src, dst, PruneSpec(enabled=True, method="channel", ratio=0.5))
    props = {p.key: p.value for p in onnx.load(str(dst)).metadata_props}
    assert props["trtc.prune.method"] == "channel" and props["trtc.prune.ratio"] == "0.5"
    assert changed_on_purpose(dst) == ["prune"]
