"""trtc package: a Triton model repository from a built artifact, flags and recipe mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from integration_helpers import ok_json

pytest.importorskip("tritonclient.grpc")


def _parse(path: Path):  # type: ignore[no-untyped-def]
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_package_an_onnxruntime_model_in_flags_mode(cli, conv_onnx: Path, tmp_path: Path
                                                    ) -> None:
    built = tmp_path / "conv.ort.onnx"
    assert cli("build", conv_onnx, "-o", built, "--backend", "onnxruntime").exit_code == 0
    out = ok_json(cli("package", built, "--triton", tmp_path / "models", "--max-batch", "8",
                      "--json"))
    config = _parse(Path(out["config"]))
    assert out["config"] == str(tmp_path / "models" / "conv" / "config.pbtxt")
    assert config.name == "conv" and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == 8 and config.HasField("dynamic_batching")
    assert (tmp_path / "models" / "conv" / "1" / "model.onnx").is_file()
    assert {p.name for p in tmp_path.iterdir()} == {conv_onnx.name, "conv.ort.onnx", "models"}


def test_package_needs_a_repository_in_flags_mode(cli, conv_onnx: Path) -> None:
    result = cli("package", conv_onnx)
    assert result.exit_code == 2 and "--triton DIR" in result.output


def test_recipe_package_stage_runs_after_bench(cli, onnx_recipe: Path, ws: Path) -> None:
    data = yaml.safe_load(onnx_recipe.read_text())
    data["package"] = {"enabled": True}
    onnx_recipe.write_text(yaml.safe_dump(data))
    out = ok_json(cli("run", onnx_recipe, "--workspace", ws, "--json"))
    assert [s["stage"] for s in out["stages"]][-2:] == ["bench", "package"]
    config_path = ws / "conv" / "package" / "triton" / "conv" / "config.pbtxt"
    config = _parse(config_path)
    assert config.platform == "onnxruntime_onnx"
    assert list(config.input[0].dims) == [3, 8, 8] and config.max_batch_size == 4
    assert out["report_html"] == str(ws / "conv" / "report.html")
    assert "Triton model repository" in (ws / "conv" / "report.html").read_text()
    again = ok_json(cli("run", onnx_recipe, "--workspace", ws, "--json"))
    assert again["stages"][-1]["status"] == "skipped"


def test_package_command_on_a_recipe_writes_where_asked(cli, onnx_recipe: Path, ws: Path,
                                                        tmp_path: Path,
                                                        write_recipe: Callable[..., Path]
                                                        ) -> None:
    assert cli("run", onnx_recipe, "--workspace", ws, "--until", "build").exit_code == 0
    out = ok_json(cli("package", onnx_recipe, "--workspace", ws, "--triton",
                      tmp_path / "repo", "--name", "served", "--json"))
    assert Path(out["config"]) == tmp_path / "repo" / "served" / "config.pbtxt"
    assert _parse(Path(out["config"])).name == "served"
