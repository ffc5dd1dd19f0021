"""trtc.stages.export on tiny onnx: sources: dim renames, cleanup fallback, fresh value_info."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtc.recipe import ExportSpec, ModelSpec
from trtc.stages import StageContext
from trtc.stages.export import ExportJob, export_model, run


def _paddle_like(path: Path, *, stale_value_info: bool = False) -> Path:
    """x[?,3,?,?] -> Conv(stride 2) -> Relu -> y: Paddle2ONNX's anonymous dims."""
    w = numpy_helper.from_array(np.full((4, 3, 3, 3), 0.1, np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1] * 4,
                              strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "paddle",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             ["?", 3, "?", "?"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                             ["?", 4, "?", "?"])], [w])
    if stale_value_info:  # what a cleanup tool leaves behind: one tensor, two shapes
        graph.value_info.extend([
            helper.make_tensor_value_info("c", TensorProto.FLOAT, ["?", 4, "unk__0", "unk__1"]),
            helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 4, 7, 7])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def _dims(vi: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def _export(src: Path, out: Path, cleanup: str = "none"):  # type: ignore[no-untyped-def]
    spec = ExportSpec(opset=17, exporter="legacy", cleanup=cleanup)  # type: ignore[arg-type]
    return export_model(ModelSpec(source=f"onnx:{src}"), spec, out)


def test_placeholder_dims_are_made_unique_and_reported(tmp_path: Path) -> None:
    result = _export(_paddle_like(tmp_path / "cls.onnx"), tmp_path / "out.onnx")
    saved = onnx.load(str(tmp_path / "out.onnx"))
    assert _dims(saved.graph.input[0]) == ["batch", 3, "x_dim2", "x_dim3"]
    assert result.metrics["inputs"] == {"x": ["batch", 3, "x_dim2", "x_dim3"]}
    assert result.metrics["renamed_dims"] == ["x[0]: '?' -> batch", "x[2]: '?' -> x_dim2",
                                              "x[3]: '?' -> x_dim3"]
    assert any("x[2]: '?' -> x_dim2" in w for w in result.warnings)


def test_real_dim_names_are_left_alone(tmp_path: Path, conv_onnx: Path) -> None:
    result = _export(conv_onnx, tmp_path / "out.onnx")
    assert result.metrics["inputs"] == {"x": ["batch", 3, 8, 8]}
    assert result.metrics["renamed_dims"] == []
    assert not any("renamed" in w for w in result.warnings)


@pytest.mark.parametrize(("cleanup", "stale"), [
    ("none", True),       # stale entries in the source survive no cleanup
    ("onnxslim", False),  # onnxslim adds its symbolic shapes beside inference's unk__N
])
def test_the_saved_model_has_one_fresh_value_info_per_tensor(tmp_path: Path, cleanup: str,
                                                             stale: bool) -> None:
    if cleanup == "onnxslim":
        pytest.importorskip("onnxslim")
    _export(_paddle_like(tmp_path / "cls.onnx", stale_value_info=stale), tmp_path / "out.onnx",
            cleanup=cleanup)
    saved = onnx.load(str(tmp_path / "out.onnx"))
    counts = Counter(vi.name for vi in saved.graph.value_info)
    assert counts and max(counts.values()) == 1, counts
    c = next(vi for vi in saved.graph.value_info if vi.name == "c")
    assert _dims(c)[:2] != [1, 4] and 7 not in _dims(c)  # not the stale [1, 4, 7, 7]


def test_onnxslim_missing_falls_back_to_graphsurgeon_with_a_warning(
        tmp_path: Path, conv_onnx: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxslim", None)  # `import onnxslim` raises ImportError
    result = _export(conv_onnx, tmp_path / "out.onnx", cleanup="onnxslim")
    assert (tmp_path / "out.onnx").is_file()
    nodes = result.metrics["nodes"]
    assert nodes["method"] == "graphsurgeon" and nodes["requested"] == "onnxslim"
    assert "onnxslim is not installed" in nodes["fallback"]
    assert any("onnx-graphsurgeon" in w and "pip install onnxslim" in w
               for w in result.warnings)


def test_onnxslim_present_is_used(tmp_path: Path, conv_onnx: Path) -> None:
    pytest.importorskip("onnxslim")
    result = _export(conv_onnx, tmp_path / "out.onnx", cleanup="onnxslim")
    assert result.metrics["nodes"]["method"] == "onnxslim"
    assert "fallback" not in result.metrics["nodes"]


def test_the_stage_refuses_unresolved_auto(tmp_path: Path, conv_onnx: Path) -> None:
    job = ExportJob(ModelSpec(source=f"onnx:{conv_onnx}"), ExportSpec())
    ctx = StageContext(inputs={}, outputs={"model": tmp_path / "out.onnx"}, work_dir=tmp_path)
    with pytest.raises(TypeError, match="resolved opset and exporter"):
        run(job, ctx)


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("cleanup", ["onnxslim", "graphsurgeon"])
def test_a_cleanup_that_changes_an_onnx_source_is_not_kept(tmp_path: Path, crnn_tail_onnx: Path,
                                                           cleanup: str) -> None:
    """onnxslim folded the Reshape target to the declared [1, -1]: [6, 1, 4] became
    [1, 24] with no word (ddddocr's OCR model). The export runs the source before and
    after the cleanup and keeps only a cleanup that changes nothing."""
    src = crnn_tail_onnx
    result = _export(src, tmp_path / "out.onnx", cleanup=cleanup)
    x = np.random.default_rng(0).standard_normal((1, 6, 4)).astype(np.float32)
    assert _run(tmp_path / "out.onnx", x).shape == (6, 1, 4) == _run(src, x).shape
    changed = [w for w in result.warnings if "changed the model" in w]
    nodes = result.metrics["nodes"]
    if nodes.get("rejected"):   # the requested tool broke it: named, and another one used
        assert changed and "output 'y' 32x1x4 -> 1x128" in changed[0]
        assert nodes["requested"] == cleanup and nodes["method"] in ("graphsurgeon", "none")
    else:
        assert not changed


def test_the_cleanup_check_names_what_changed(tmp_path: Path, crnn_tail_onnx: Path) -> None:
    """The check itself, on a cleaned model that flattens the output."""
    from trtc.stages.export import _checked_cleanup

    src = onnx.load(str(crnn_tail_onnx))
    flat = onnx.load(str(crnn_tail_onnx))
    (reshape,) = [n for n in flat.graph.node if n.op_type == "Reshape"]
    reshape.input[1] = "flat_shape"
    flat.graph.initializer.append(numpy_helper.from_array(np.array([1, -1], np.int64),
                                                          "flat_shape"))
    warnings: list[str] = []
    spec = ExportSpec(opset=17, exporter="legacy", cleanup="onnxslim",  # type: ignore[arg-type]
                      example_dims={"s": 5})
    kept, counts = _checked_cleanup(src, flat, {"method": "onnxslim"}, spec, tmp_path, warnings)
    assert counts["rejected"] == "output 'y' 5x1x4 -> 1x20"
    assert counts["method"] == "graphsurgeon" and counts["requested"] == "onnxslim"
    assert warnings == ["export.cleanup: onnxslim changed the model (output 'y' 5x1x4 -> "
                        "1x20): cleaned up with onnx-graphsurgeon instead"]
    onnx.save(kept, str(tmp_path / "kept.onnx"))
    x = np.ones((1, 5, 4), np.float32)
    assert _run(tmp_path / "kept.onnx", x).shape == (5, 1, 4)
    warnings.clear()                     # a cleanup that changes nothing is kept as it is
    same, counts = _checked_cleanup(src, src, {"method": "onnxslim"}, spec, tmp_path, warnings)
    assert same is src and counts == {"method": "onnxslim"} and warnings == []


def test_the_cleanup_check_takes_the_recipes_shapes_and_one_size_per_dim_name() -> None:
    """Silero VAD does not run at sequence 32 (its STFT pads by 64): the check takes
    the recipe's verify/bench shapes; a state's [2, batch, 128] follows the batch."""
    from trtc.stages.export import _check_feeds

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "vad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence"]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "batch", 128]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence"])])
    model = helper.make_model(graph)
    spec = ExportSpec(opset=17, exporter="legacy")  # type: ignore[arg-type]
    plain = _check_feeds(model, spec, {})
    given = _check_feeds(model, spec, {"x": (4, 512)})
    named = _check_feeds(model, ExportSpec(opset=17, exporter="legacy",  # type: ignore[arg-type]
                                           example_dims={"sequence": 256}), {})
    assert plain is not None and given is not None and named is not None
    assert {k: v.shape for k, v in plain.items()} == {"x": (1, 32), "state": (2, 1, 128),
                                                      "sr": ()}
    assert {k: v.shape for k, v in given.items()} == {"x": (4, 512), "state": (2, 4, 128),
                                                      "sr": ()}
    assert named["x"].shape == (1, 256)
