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
