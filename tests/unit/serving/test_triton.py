"""Triton model repositories (trtc.serving.triton): configs read back with Triton's schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trtc.errors import ModelError, UsageError
from trtc.serving.triton import package_artifact, parse_config, served_model
from trtc.tensorrt.engine_file import sidecar_path

pytest.importorskip("tritonclient.grpc")


def _config(path: Path) -> Any:
    return parse_config(path.read_text())


def _engine(tmp_path: Path, cc: str, name: str = "m.engine", max_batch: int = 8) -> Path:
    engine = tmp_path / cc / name
    engine.parent.mkdir(parents=True, exist_ok=True)
    engine.write_bytes(f"engine for {cc}".encode())
    sidecar_path(engine).write_text(json.dumps({
        "tensorrt_version": "8.6.0",
        "gpu": {"name": "NVIDIA H100", "compute_capability": cc},
        "io": {"inputs": {"x": {"dtype": "float32", "shape": ["batch", 3, 8, 8]}},
               "outputs": {"y": {"dtype": "float16", "shape": ["batch", 10]}},
               "profiles": [{"x": [[1, 3, 8, 8], [4, 3, 8, 8], [max_batch, 3, 8, 8]]}]}}))
    return engine


def test_onnx_model_gets_an_onnxruntime_config(tmp_path: Path, conv_onnx: Path) -> None:
    result = package_artifact(conv_onnx, tmp_path / "repo", "conv", batches=(1, 16))
    config = _config(result.config)
    assert result.config == tmp_path / "repo" / "conv" / "config.pbtxt"
    assert (tmp_path / "repo" / "conv" / "1" / "model.onnx").read_bytes() == \
        conv_onnx.read_bytes()
    assert config.name == "conv" and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == 16  # the largest batch the recipe runs
    assert config.HasField("dynamic_batching")
    (x,) = config.input
    assert (x.name, x.data_type, list(x.dims)) == ("x", 11, [3, 8, 8])  # 11 = TYPE_FP32
    assert [list(o.dims) for o in config.output] == [[10]]
    assert config.instance_group[0].kind == 2  # KIND_CPU
    assert not config.cc_model_filenames


def test_no_batching_keeps_full_dims(tmp_path: Path, conv_onnx: Path) -> None:
    result = package_artifact(conv_onnx, tmp_path, "conv", max_batch=0,
                              dynamic_batching=False)
    config = _config(result.config)
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    assert list(config.input[0].dims) == [-1, 3, 8, 8]


def test_engine_plans_for_two_gpu_kinds_share_one_model(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    first = package_artifact(_engine(tmp_path, "9.0"), repo, "resnet")
    config = _config(first.config)
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 8
    assert dict(config.cc_model_filenames) == {"9.0": "model.plan"}
    assert config.default_model_filename == "model.plan"
    assert config.output[0].data_type == 10  # TYPE_FP16
    assert config.instance_group[0].kind == 1  # KIND_GPU
    second = package_artifact(_engine(tmp_path, "8.0", max_batch=4), repo, "resnet")
    config = _config(second.config)
    assert dict(config.cc_model_filenames) == {"9.0": "model.plan", "8.0": "model_sm80.plan"}
    assert (repo / "resnet" / "1" / "model_sm80.plan").read_bytes() == b"engine for 8.0"
    assert (repo / "resnet" / "1" / "model.plan").read_bytes() == b"engine for 9.0"
    assert config.max_batch_size == 4 and second.warnings  # the smaller profile wins
    again = package_artifact(_engine(tmp_path, "9.0", name="n.engine"), repo, "resnet",
                             max_batch=4)
    assert dict(_config(again.config).cc_model_filenames) == dict(config.cc_model_filenames)
    assert sorted(p.name for p in (repo / "resnet").rglob("*") if p.is_file()) == [
        "config.pbtxt", "model.plan", "model_sm80.plan"]


def test_another_model_under_the_same_name_is_refused(tmp_path: Path, conv_onnx: Path
                                                      ) -> None:
    package_artifact(_engine(tmp_path, "9.0"), tmp_path / "repo", "m")
    with pytest.raises(UsageError, match="tensorrt_plan model"):
        package_artifact(conv_onnx, tmp_path / "repo", "m")


def test_bad_names_batches_and_engines_are_refused(tmp_path: Path, conv_onnx: Path) -> None:
    for name in ("../up", "a/b", "..", ""):
        with pytest.raises(UsageError, match="one folder name"):
            package_artifact(conv_onnx, tmp_path / "repo", name)
    with pytest.raises(UsageError, match="more than the engine's profile"):
        package_artifact(_engine(tmp_path, "9.0"), tmp_path / "repo", "m", max_batch=64)
    bare = tmp_path / "bare.engine"
    bare.write_bytes(b"x")
    with pytest.raises(ModelError, match="no sidecar"):
        package_artifact(bare, tmp_path / "repo", "m")
    assert not (tmp_path / "repo").exists() or not any((tmp_path / "repo").rglob("*.pbtxt"))


def test_static_batch_model_is_not_batched(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "static",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])])
    static = tmp_path / "static.onnx"
    onnx.save(helper.make_model(graph), str(static))
    assert served_model(static).max_batch_size == 0
    with pytest.raises(UsageError, match="dynamic first"):
        served_model(static, max_batch=4)


def test_engine_io_formats_give_triton_the_engine_types(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "9.0")
    side = json.loads(sidecar_path(engine).read_text())
    # Built with input_formats fp16:chw: the model's float32, the engine's float16.
    side["io"]["inputs"]["x"].update(io_dtype="float16", format="linear")
    sidecar_path(engine).write_text(json.dumps(side))
    config = _config(package_artifact(engine, tmp_path / "repo", "m").config)
    assert config.input[0].data_type == 10  # TYPE_FP16
