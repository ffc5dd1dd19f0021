"""Quantization with real ONNX Runtime calibration on generated models: placement, scales,
the calibration cache, exclusions, bad input and the accuracy-budget loop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.errors import DataError, ModelError, UsageError, VerificationError
from trtc.optimize.quantize import META_PRECISION, META_TARGET, quantize_model
from trtc.optimize.quantize.calibrate import calibrate
from trtc.optimize.quantize.ranges import RangeBook, compute_ranges, plain_ranges
from trtc.optimize.sensitivity import search_bound
from trtc.recipe import QuantizeSpec


def make_residual_model(path: Path, seed: int = 0) -> Path:
    """x -> conv1 -> relu1 -> conv2 -> add(conv2, relu1) -> relu2 -> maxpool -> reshape -> fc."""
    rng = np.random.default_rng(seed)

    def init(name: str, shape: tuple[int, ...], scale: float = 0.3) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * scale,
                                       name)

    inits = [init("w1", (4, 3, 3, 3)), init("b1", (4,), 0.1), init("w2", (4, 4, 3, 3)),
             init("b2", (4,), 0.1), init("fc", (10, 64), 0.1), init("fcb", (10,), 0.1),
             numpy_helper.from_array(np.array([-1, 64], dtype=np.int64), "shape")]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape"], ["f"], name="reshape"),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                          ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_hostile_model(path: Path, seed: int = 0) -> Path:
    """x[batch,16] -> gemm_a -> h -> gemm_b -> y: h has one channel ~1000x the others.

    Quantizing gemm_b's input per tensor spends the whole int8 range on that
    outlier channel and zeroes the rest, so gemm_b is the node the budget loop
    must move back to float; gemm_a alone quantizes well.
    """
    rng = np.random.default_rng(seed)
    wa = rng.standard_normal((16, 16)).astype(np.float32) * 0.3
    wa[:, 0] *= 1000.0                       # output channel 0 of gemm_a: an outlier
    wb = rng.standard_normal((16, 8)).astype(np.float32) * 0.3
    wb[0, :] *= 1e-3                         # ...that gemm_b barely uses
    nodes = [helper.make_node("MatMul", ["x", "wa"], ["h"], name="gemm_a"),
             helper.make_node("MatMul", ["h", "wb"], ["y"], name="gemm_b")]
    graph = helper.make_graph(
        nodes, "hostile", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(wa, "wa"), numpy_helper.from_array(wb, "wb")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def _metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props if p.key.startswith("trtc.")}


def _run(path: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0]


def _quantize(src: Path, tmp_path: Path, name: str = "q.onnx", **spec: object) -> tuple[
        onnx.ModelProto, dict]:
    spec.setdefault("calib_data", "random")
    spec.setdefault("calib_samples", 8)
    result = quantize_model(src, tmp_path / name, QuantizeSpec(enabled=True, **spec),
                            cache_dir=tmp_path / "cache")
    return onnx.load(str(tmp_path / name)), result.to_dict()


def _graph_maps(model: onnx.ModelProto) -> tuple[dict, dict, dict]:
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    by_name = {n.name: n for n in model.graph.node}
    return producer, inits, by_name


def _is_dq(producer: dict, tensor: str) -> bool:
    return tensor in producer and producer[tensor].op_type == "DequantizeLinear"


# --------------------------------------------------------------------------- placement, scales


def test_tensorrt_placement_and_scales_follow_nvidias_recipe(tmp_path: Path) -> None:
    src = make_residual_model(tmp_path / "res.onnx")
    model, metrics = _quantize(src, tmp_path, target="tensorrt")
    producer, inits, by_name = _graph_maps(model)
    # Inputs and weights of every weighted op come through DequantizeLinear ...
    for name in ("conv1", "conv2", "fc"):
        node = by_name[name]
        assert _is_dq(producer, node.input[0]) and _is_dq(producer, node.input[1]), name
        # ... but no bias does (TensorRT 8.6 rejects an int32 bias DQ): it stays float.
        assert node.input[2] in inits and inits[node.input[2]].dtype == np.float32, name
    # Residual Add: the identity input (relu1) is quantized, the conv2 branch stays float.
    add = by_name["add"]
    assert not _is_dq(producer, add.input[0]) and add.input[0] == "c2"
    assert _is_dq(producer, add.input[1])
    # No Q/DQ around Relu / MaxPool / Reshape.
    for name in ("relu1", "relu2", "pool", "reshape"):
        node = by_name[name]
        assert not any(_is_dq(producer, t) for t in node.input), name
    # Activations quantized: the conv1 input, relu1 (conv2's input and the residual), and
    # fc's input after the reshape; nothing else (no conv/add outputs, no pool/relu2).
    activations = {n.input[0] for n in model.graph.node
                   if n.op_type == "QuantizeLinear" and n.input[0] not in inits}
    assert activations == {"x", "r1", "f"}
    # Symmetric int8 everywhere: zero points 0 and int8; weights per output channel.
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zp = inits[node.input[2]]
            assert zp.dtype == np.int8 and not zp.any(), node.name
    # Weights stay float behind their own Q -> DQ pair, per output channel (TensorRT 8.6's
    # Myelin rejects int8 weight initializers in MatMul regions).
    for name, channels in (("conv1", 4), ("conv2", 4), ("fc", 10)):
        dq = producer[by_name[name].input[1]]
        q = producer[dq.input[0]]
        assert q.op_type == "QuantizeLinear", name
        assert q.input[0] in inits and inits[q.input[0]].dtype == np.float32, name
        scale = inits[dq.input[1]]
        assert scale.shape == (channels,) and (scale > 0).all(), name
        assert {a.name: a.i for a in dq.attribute}.get("axis", 1) == 0, name
        assert {a.name: a.i for a in q.attribute}.get("axis", 1) == 0, name
    assert _metadata(model) == {META_TARGET: "tensorrt", META_PRECISION: "int8"}
    assert metrics["target"] == "tensorrt" and metrics["qdq"]["quantize_linear"] == 4 + 3


def test_onnxruntime_cpu_uses_uint8_activations_and_int8_per_channel_weights(
        tmp_path: Path, conv_onnx: Path) -> None:
    src = conv_onnx
    model, _ = _quantize(src, tmp_path, target="onnxruntime-cpu")
    producer, inits, by_name = _graph_maps(model)
    act_zp = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert act_zp and all(z.dtype == np.uint8 for z in act_zp)
    weight_dq = producer[by_name["conv"].input[1]]
    assert inits[weight_dq.input[0]].dtype == np.int8
    assert inits[weight_dq.input[1]].shape == (4,)
    assert _metadata(model)[META_TARGET] == "onnxruntime-cpu"


@pytest.mark.parametrize("target", ["tensorrt", "onnxruntime-cpu"])
@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_quantized_model_runs_and_stays_close_to_fp32(tmp_path: Path, target: str,
                                                      method: str) -> None:
    src = make_residual_model(tmp_path / "res.onnx")
    _, metrics = _quantize(src, tmp_path, target=target, calib_method=method, calib_samples=16)
    feed = {"x": np.random.default_rng(1).standard_normal((4, 3, 8, 8)).astype(np.float32)}
    ref, got = _run(src, feed), _run(tmp_path / "q.onnx", feed)
    cos = float(np.dot(ref.ravel(), got.ravel()) / np.linalg.norm(ref) / np.linalg.norm(got))
    assert cos > 0.98, (target, method, cos)
    assert not np.array_equal(ref, got)  # it really is quantized
    assert metrics["accuracy"]["metric"] == "cosine"


def test_fp8_writes_float8_qdq_for_tensorrt(tmp_path: Path, conv_onnx: Path) -> None:
    src = conv_onnx
    model, metrics = _quantize(src, tmp_path, precision="fp8")
    _, inits, _ = _graph_maps(model)
    zps = [i for i in model.graph.initializer if i.name.endswith("zero_point")]
    assert zps and all(z.data_type == TensorProto.FLOAT8E4M3FN for z in zps)
    assert metrics["calibration"]["method"] == "distribution"
    assert _metadata(model)[META_PRECISION] == "fp8"


def test_fp16_reports_the_nodes_kept_in_fp32(tmp_path: Path, conv_onnx: Path) -> None:
    src = conv_onnx
    result = quantize_model(src, tmp_path / "h.onnx",
                            QuantizeSpec(enabled=True, precision="fp16", exclude_nodes=("fc",)))
    kept = {k["name"]: k for k in result.to_dict()["kept_fp32"]}
    assert "fc" in kept and kept["fc"]["reason"]
    model = onnx.load(str(tmp_path / "h.onnx"))
    # No target key: plain casts run on every backend (build checks the key for Q/DQ only).
    assert _metadata(model) == {META_PRECISION: "fp16"}
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT  # io kept


# --------------------------------------------------------------------------- calibration cache


def test_second_run_with_other_method_and_exclusions_reuses_the_calibration(
        tmp_path: Path) -> None:
    src = make_residual_model(tmp_path / "res.onnx")
    _, first = _quantize(src, tmp_path, "a.onnx", calib_method="minmax")
    assert first["calibration"]["cache"] == "miss"
    assert first["calibration"]["calibration_runs"] == first["calibration"]["batches"] > 0
    model, second = _quantize(src, tmp_path, "b.onnx", calib_method="entropy",
                              exclude_nodes=("conv2",))
    assert second["calibration"]["cache"] == "hit"
    assert second["calibration"]["calibration_runs"] == 0
    assert "conv2" not in second["qdq"]["quantized_nodes"]
    assert "conv1" in second["qdq"]["quantized_nodes"]
    # conv2 reads float r1 although r1 is Q/DQ'd for the residual Add.
    producer, _, by_name = _graph_maps(model)
    assert by_name["conv2"].input[:2] == ["r1", "w2"]
    assert _is_dq(producer, by_name["add"].input[1])
    # Other data -> another key -> the model runs again.
    _, third = _quantize(src, tmp_path, "c.onnx", calib_seed=5)
    assert third["calibration"]["cache"] == "miss"


def test_ranges_from_the_cache_equal_a_fresh_collection(
        tmp_path: Path, conv_onnx: Path) -> None:
    src = conv_onnx
    feeds = [{"x": np.random.default_rng(i).standard_normal((2, 3, 8, 8)).astype(np.float32)}
             for i in range(3)]
    first = calibrate(src, feeds, "fp", tmp_path / "c")
    again = calibrate(src, feeds, "fp", tmp_path / "c")
    assert (first.cache_hit, again.cache_hit, again.runs) == (False, True, 0)
    for method in ("minmax", "entropy", "percentile"):
        fresh = plain_ranges(compute_ranges(first.collection, method))
        cached = plain_ranges(RangeBook(again.collection, again.cache_path)(method))
        assert fresh == cached, method
    # min/max really are the data's extremes at the model input.
    lo, hi = plain_ranges(compute_ranges(first.collection, "minmax"))["x"]
    assert lo == pytest.approx(min(f["x"].min() for f in feeds))
    assert hi == pytest.approx(max(f["x"].max() for f in feeds))


# --------------------------------------------------------------------------- bad input


def test_excluding_a_missing_node_names_it_with_a_suggestion(tmp_path: Path) -> None:
    src = make_residual_model(tmp_path / "res.onnx")
    with pytest.raises(UsageError) as err:
        _quantize(src, tmp_path, exclude_nodes=("conv3",))
    assert "'conv3'" in err.value.message and err.value.hint == "did you mean 'conv2'?"
    with pytest.raises(UsageError, match="'Conv2d'"):
        _quantize(src, tmp_path, exclude_ops=("Conv2d",))
    assert not (tmp_path / "q.onnx").exists()


def test_a_model_with_no_quantizable_nodes_is_a_model_error(
        tmp_path: Path, conv_onnx: Path, relu_onnx: Path) -> None:
    with pytest.raises(ModelError, match="no quantizable nodes"):
        _quantize(relu_onnx, tmp_path)
    src = conv_onnx
    with pytest.raises(ModelError, match="after exclusions"):
        _quantize(src, tmp_path, exclude_ops=("Conv", "Gemm"))


def test_calibration_data_not_matching_the_model_is_a_data_error(
        tmp_path: Path, conv_onnx: Path) -> None:
    src = conv_onnx
    np.savez(tmp_path / "wrong.npz", image=np.zeros((4, 3, 8, 8), np.float32))
    with pytest.raises(DataError, match="x"):
        _quantize(src, tmp_path, calib_data=str(tmp_path / "wrong.npz"))
    bad = np.zeros((4, 3, 8, 8), np.float32)
    bad[1, 0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", x=bad)
    with pytest.raises(DataError):
        _quantize(src, tmp_path, calib_data=str(tmp_path / "nan.npz"))
    assert not (tmp_path / "q.onnx").exists()


def test_int8_without_calibration_data_is_a_usage_error(
        tmp_path: Path, conv_onnx: Path) -> None:
    src = conv_onnx
    with pytest.raises(UsageError, match="calibration data"):
        quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(enabled=True))


# --------------------------------------------------------------------------- accuracy budget


def test_a_budget_on_the_calibration_samples_says_to_hold_data_out(tmp_path: Path) -> None:
    import numpy as np

    src = make_hostile_model(tmp_path / "hostile.onnx")
    (inp,) = onnx.load(str(src)).graph.input
    dims = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    for name, seed in (("calib.npz", 0), ("held_out.npz", 1)):
        np.savez(tmp_path / name, **{inp.name: np.random.default_rng(seed).standard_normal(
            [16, *dims[1:]]).astype(np.float32)})
    spec = QuantizeSpec(enabled=True, calib_data=str(tmp_path / "calib.npz"), calib_samples=16,
                        max_drop=0.5)
    same = quantize_model(src, tmp_path / "a.onnx", spec, cache_dir=tmp_path / "cache")
    assert any("measured on the calibration samples" in w for w in same.warnings)
    held = quantize_model(src, tmp_path / "b.onnx", spec, cache_dir=tmp_path / "cache",
                          eval_source=str(tmp_path / "held_out.npz"))
    assert not any("measured on the calibration samples" in w for w in held.warnings)
    assert held.to_dict()["budget"]["met"]  # unlabelled held-out data: cosine vs FP32


def test_budget_loop_moves_the_hostile_node_to_float_and_meets_the_budget(
        tmp_path: Path) -> None:
    src = make_hostile_model(tmp_path / "hostile.onnx")
    model, metrics = _quantize(src, tmp_path, max_drop=0.01, calib_samples=16)
    budget = metrics["budget"]
    assert budget["before"]["drop"] > 0.01          # the plain int8 model misses it
    assert budget["met"] and budget["after"]["drop"] <= 0.01
    assert budget["float_nodes"] == ["gemm_b"]      # the search found the right node
    scores = budget["ranking"]["scores"]            # each node's isolated error under Q/DQ
    assert scores["gemm_b"] > 10 * scores["gemm_a"]
    assert budget["ranking"]["signals"] == {"scored": 2, "groups": 0}
    # Every model measured is in the manifest, the chosen one with the final drop.
    chosen = [c for c in budget["candidates"] if c["nodes"] == ["gemm_b"]]
    assert chosen and chosen[0]["drop"] == budget["after"]["drop"]
    assert budget["candidates"][0]["nodes"] == [] and budget["evaluations"] == 2
    _, _, by_name = _graph_maps(model)
    producer = {o: n for n in model.graph.node for o in n.output}
    assert _is_dq(producer, by_name["gemm_a"].input[0])
    assert not _is_dq(producer, by_name["gemm_b"].input[0])
    # And the written model really meets it.
    feed = {"x": np.random.default_rng(3).standard_normal((8, 16)).astype(np.float32)}
    ref, got = _run(src, feed), _run(tmp_path / "q.onnx", feed)
    assert float(np.dot(ref.ravel(), got.ravel()) / np.linalg.norm(ref) /
                 np.linalg.norm(got)) > 0.99


class _Recorder:
    """A progress factory that records which bars opened and their updates."""

    def __init__(self) -> None:
        self.bars: dict[str, list[tuple[int, int]]] = {}

    def __call__(self, description: str, total: int) -> _Recorder:
        self.current = self.bars.setdefault(description, [])
        self.total = total
        return self

    def __enter__(self) -> Callable[[int, int], None]:
        updates = self.current
        return lambda done, total: updates.append((done, total))

    def __exit__(self, *exc: object) -> None:
        return None


def test_sensitivity_search_reports_progress_only_when_it_runs(tmp_path: Path) -> None:
    src = make_hostile_model(tmp_path / "hostile.onnx")
    missed = _Recorder()
    quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(enabled=True, calib_data="random",
                                                          calib_samples=16, max_drop=0.01),
                   cache_dir=tmp_path / "cache", progress=missed)
    bound = search_bound(2)
    # One update per model measured after the first, then the bar completes.
    assert missed.bars["budget search"] == [(1, bound), (bound, bound)]
    met = _Recorder()
    quantize_model(src, tmp_path / "q2.onnx", QuantizeSpec(enabled=True, calib_data="random",
                                                           calib_samples=16, max_drop=2.0),
                   cache_dir=tmp_path / "cache", progress=met)
    assert "budget search" not in met.bars                 # budget met: no search, no bar


def test_budget_uses_top1_on_labelled_data(tmp_path: Path) -> None:
    src = make_hostile_model(tmp_path / "hostile.onnx")
    x = np.random.default_rng(4).standard_normal((32, 16)).astype(np.float32)
    labels = _run(src, {"x": x}).argmax(-1)          # FP32 is 100 % right by construction
    np.savez(tmp_path / "eval.npz", x=x, labels=labels)
    result = quantize_model(src, tmp_path / "q.onnx",
                            QuantizeSpec(enabled=True, calib_data="random", calib_samples=16,
                                         max_drop=0.0),
                            cache_dir=tmp_path / "cache", eval_source=str(tmp_path / "eval.npz"),
                            eval_batch=8)
    budget = result.to_dict()["budget"]
    assert budget["after"]["metric"] == "top1" and budget["after"]["reference"] == 1.0
    assert budget["met"] and budget["after"]["value"] == 1.0


def test_unnamed_nodes_get_stable_names_that_can_be_excluded(tmp_path: Path,
                                                             conv_onnx: Path) -> None:
    model = onnx.load(str(conv_onnx))
    for node in model.graph.node:
        node.name = ""
    src = tmp_path / "unnamed.onnx"
    onnx.save(model, str(src))
    out, metrics = _quantize(src, tmp_path, exclude_nodes=("Gemm_3",))
    assert metrics["qdq"]["quantized_nodes"] == ["Conv_0"]
    assert {n.name for n in out.graph.node} >= {"Conv_0", "Relu_1", "Flatten_2", "Gemm_3"}


def test_bf16_that_onnxruntime_cpu_cannot_run_is_reported_not_measured(
        tmp_path: Path, conv_onnx: Path) -> None:
    result = quantize_model(conv_onnx, tmp_path / "b.onnx", QuantizeSpec(
        enabled=True, precision="bf16", calib_data="random", calib_samples=2))
    if result.accuracy is not None:        # an ONNX Runtime with bf16 CPU kernels
        assert result.to_dict()["accuracy"]["value"] > 0.9
    else:
        assert any("accuracy not measured" in w for w in result.warnings)
        with pytest.raises(UsageError, match="max_drop"):
            quantize_model(conv_onnx, tmp_path / "b2.onnx", QuantizeSpec(
                enabled=True, precision="bf16", calib_data="random", calib_samples=2,
                max_drop=0.1))
    assert _metadata(onnx.load(str(tmp_path / "b.onnx"))) == {META_PRECISION: "bf16"}


def test_fp8_for_onnxruntime_cpu_is_a_recipe_error() -> None:
    from trtc.errors import RecipeError
    from trtc.recipe import parse_recipe

    with pytest.raises(RecipeError, match="quantize.precision"):
        parse_recipe({"name": "x", "model": {"source": "onnx:m.onnx"},
                      "quantize": {"precision": "fp8", "target": "onnxruntime-cpu"}})


def test_budget_out_of_reach_is_a_verification_error_not_no_quantizable_nodes(
        tmp_path: Path) -> None:
    # Cosine drop 0 needs every node in float: that model has nothing quantized, so the
    # search must stop and report the missed budget (exit 1), writing nothing.
    src = make_hostile_model(tmp_path / "hostile.onnx")
    with pytest.raises(VerificationError, match="budget missed.*1 of 2 quantized nodes"):
        _quantize(src, tmp_path, max_drop=0.0, calib_samples=16)
    assert not (tmp_path / "q.onnx").exists()


def test_budget_on_a_single_quantizable_node_reports_the_miss(tmp_path: Path,
                                                               conv_onnx: Path) -> None:
    with pytest.raises(VerificationError, match="budget missed.*0 of 1 quantized nodes"):
        _quantize(conv_onnx, tmp_path, max_drop=0.0, exclude_nodes=("fc",))


@pytest.mark.parametrize("target", ["tensorrt", "onnxruntime-cpu"])
def test_input_activation_scale_follows_the_calibrated_range(tmp_path: Path, conv_onnx: Path,
                                                             target: str) -> None:
    # minmax on the graph input: the scale is the data's range spread over the int8 grid,
    # symmetric (|max| / 127, zero point 0) for TensorRT, asymmetric uint8 for ORT CPU.
    x = np.random.default_rng(2).uniform(-0.5, 2.0, (16, 3, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x)
    model, _ = _quantize(conv_onnx, tmp_path, target=target,
                         calib_data=str(tmp_path / "calib.npz"), calib_samples=16)
    _, inits, _ = _graph_maps(model)
    (qx,) = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"]
    scale, zero = float(inits[qx.input[1]]), int(inits[qx.input[2]])
    lo, hi = float(x.min()), float(x.max())
    if target == "tensorrt":
        assert scale == pytest.approx(max(abs(lo), abs(hi)) / 127, rel=1e-5) and zero == 0
    else:
        assert scale == pytest.approx((hi - min(lo, 0.0)) / 255, rel=1e-5)
        assert zero == round(-min(lo, 0.0) / scale)


@pytest.mark.parametrize("first,then", [("int8", "int8"), ("fp16", "int8"), ("fp16", "fp16"),
                                        ("int8", "fp16")])
def test_an_already_quantized_model_is_a_model_error(tmp_path: Path, conv_onnx: Path,
                                                     first: str, then: str) -> None:
    # int8 on an fp16 model crashed in ONNX Runtime's histogram code; int8 on Q/DQ stacked
    # a second set of Q/DQ; fp16 on fp16 failed the checker with an SSA message.
    _quantize(conv_onnx, tmp_path, "once.onnx", precision=first)
    with pytest.raises(ModelError, match=f"once.onnx: the model is already "
                                         f"{'quantized' if first == 'int8' else 'fp16'}"):
        _quantize(tmp_path / "once.onnx", tmp_path, "twice.onnx", precision=then)
    assert not (tmp_path / "twice.onnx").exists()


def test_a_dynamically_quantized_model_is_a_model_error(tmp_path: Path,
                                                      conv_onnx: Path) -> None:
    """ONNX Runtime's quantize_dynamic writes ConvInteger / MatMulInteger after
    DynamicQuantizeLinear, no Q/DQ pair: ddddocr ships such a model, and quantizing it
    again was an internal error (KeyError in ONNX Runtime's quantizer, exit 70)."""
    from onnxruntime.quantization import quantize_dynamic

    dynamic = tmp_path / "dynamic.onnx"
    quantize_dynamic(str(conv_onnx), str(dynamic))
    ops = {n.op_type for n in onnx.load(str(dynamic)).graph.node}
    assert ops & {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}, ops
    with pytest.raises(ModelError, match="dynamic.onnx: the model is already quantized "
                                         r"\(it has .*DynamicQuantizeLinear"):
        _quantize(dynamic, tmp_path, "again.onnx", target="onnxruntime-cpu")
    assert not (tmp_path / "again.onnx").exists()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # ONNX's reference op
def test_quantizer_failure_on_an_all_zero_weight_is_a_model_error(tmp_path: Path) -> None:
    # fp8 scales an all-zero weight to NaN; ONNX Runtime raises ValueError (was a traceback).
    src = make_hostile_model(tmp_path / "zero.onnx")
    model = onnx.load(str(src))
    (wa,) = [i for i in model.graph.initializer if i.name == "wa"]
    wa.CopyFrom(numpy_helper.from_array(np.zeros((16, 16), np.float32), "wa"))
    onnx.save(model, str(src))
    with pytest.raises(ModelError, match="cannot quantize this model to fp8.*wa"):
        _quantize(src, tmp_path, precision="fp8")
    assert not (tmp_path / "q.onnx").exists()


def test_a_constant_large_activation_calibrates_to_its_value(tmp_path: Path) -> None:
    # Constant calibration data -> h is 1.6e5 everywhere: numpy cannot cut that range into
    # ONNX Runtime's 2048 float32 bins (was an internal-error traceback, then a DataError):
    # its histogram is widened, its range is its value.
    src = make_hostile_model(tmp_path / "m.onnx")
    model = onnx.load(str(src))
    for init in model.graph.initializer:
        if init.name == "wa":
            init.CopyFrom(numpy_helper.from_array(np.full((16, 16), 1e4, np.float32), "wa"))
    onnx.save(model, str(src))
    np.savez(tmp_path / "ones.npz", x=np.ones((8, 16), np.float32))
    _, metrics = _quantize(src, tmp_path, calib_data=str(tmp_path / "ones.npz"))
    assert metrics["calibration"]["cache"] == "miss"
    assert (tmp_path / "q.onnx").is_file()


def make_hard_swish_model(path: Path) -> Path:
    """x -> add3 (x + 3) -> clip6 (Clip 0..6) -> mul (x * clip) -> y: a hard-swish's core."""
    nodes = [helper.make_node("Add", ["x", "three"], ["a"], name="add3"),
             helper.make_node("Clip", ["a", "zero", "six"], ["c"], name="clip6"),
             helper.make_node("Mul", ["x", "c"], ["y"], name="mul")]
    consts = [numpy_helper.from_array(np.array(v, dtype=np.float32), n)
              for n, v in (("three", 3.0), ("zero", 0.0), ("six", 6.0))]
    graph = helper.make_graph(
        nodes, "hswish", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])], consts)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_a_float_node_after_a_removable_clip_reads_the_clipped_tensor(tmp_path: Path) -> None:
    # uint8 activations let ONNX Runtime drop the Clip (its Q range clips) and name the
    # Add's output after it: the float Mul must not read that unclipped tensor.
    src = make_hard_swish_model(tmp_path / "hswish.onnx")
    x = np.random.default_rng(0).standard_normal((16, 64)).astype(np.float32) * 4
    np.savez(tmp_path / "calib.npz", x=x)
    quantize_model(src, tmp_path / "q.onnx", QuantizeSpec(
        enabled=True, target="onnxruntime-cpu", calib_data=str(tmp_path / "calib.npz"),
        calib_samples=16, exclude_nodes=("mul",)), cache_dir=tmp_path / "cache")
    ref, got = _run(src, {"x": x}), _run(tmp_path / "q.onnx", {"x": x})
    assert float(np.abs(got - ref).max()) < 0.1 * float(np.abs(ref).max())


@pytest.mark.parametrize("target, written", [("tensorrt", True), ("onnxruntime-cpu", False)])
def test_tensorrt_convs_get_kernel_shape_from_their_weights(tmp_path: Path, conv_onnx: Path,
                                                             target: str, written: bool) -> None:
    # TensorRT 8.6 reads a Q/DQ weight's kernel size only from kernel_shape (the parser:
    # "The input tensor shape misaligns with the input kernel shape"); conftest's conv
    # model, like some converted ones, has none.
    assert not any(a.name == "kernel_shape" for n in onnx.load(str(conv_onnx)).graph.node
                   for a in n.attribute)
    out, _ = _quantize(conv_onnx, tmp_path, target=target)
    conv = next(n for n in out.graph.node if n.op_type in ("Conv", "QLinearConv"))
    shapes = {a.name: list(a.ints) for a in conv.attribute}
    assert (shapes.get("kernel_shape") == [3, 3]) is written
