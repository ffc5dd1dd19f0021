"""The engine inspector's JSON (trtc.tensorrt.inspector): lenient parsing, layer summary,
and ``trtc inspect ENGINE``'s logic with the adapter's engine reading faked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trtc.errors import DependencyError, ModelError
from trtc.tensorrt.engine_file import layers_path, sidecar_path
from trtc.tensorrt.inspector import (
    engine_summary,
    layers_info,
    parse_engine_information,
    parse_layer_information,
    summarize_layers,
)


def test_summarize_layers_counts_types_and_output_precisions() -> None:
    info = {"Layers": [
        {"Name": "conv1", "LayerType": "CaskConvolution",
         "Outputs": [{"Format/Datatype": "Thirty-two wide channel vectorized row major Int8 "
                                         "format"}]},
        {"Name": "conv2", "LayerType": "CaskConvolution",
         "Outputs": [{"Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]},
        {"Name": "fc", "LayerType": "CaskGemmConvolution",
         "Outputs": [{"Format/Datatype": "Row major linear FP32"}]},
        {"Name": "reformat", "LayerType": "Reformat", "Outputs": []},
        "names only",
    ]}
    summary = summarize_layers(info)
    assert summary["layers"] == 5
    assert summary["by_type"] == {"CaskConvolution": 2, "CaskGemmConvolution": 1, "Reformat": 1}
    assert summary["by_output_precision"] == {"FP16": 1, "FP32": 1, "INT8": 1, "unknown": 1}

def test_raw_control_characters_are_read_not_refused() -> None:
    # TensorRT 8.6's inspector writes raw newlines / tabs inside JSON strings.
    text = '{"Layers": [{"Name": "a\nb", "LayerType": "Reformat\t"}]}'
    assert parse_engine_information(text)["Layers"][0]["Name"] == "a\nb"
    assert parse_engine_information("not json") == {}
    assert parse_engine_information("[1, 2]") == {}
    assert parse_layer_information('{"Name": "x\ty"}') == {"Name": "x\ty"}
    assert parse_layer_information("conv1") == "conv1"  # LAYER_NAMES_ONLY: kept as text


def test_layers_info_falls_back_to_layer_by_layer() -> None:
    calls: list[int] = []

    def per_layer() -> list[str]:
        calls.append(1)
        return ['{"Name": "c", "LayerType": "CaskConvolution"}', "names only"]

    whole = layers_info('{"Layers": [{"Name": "a", "LayerType": "Reformat"}]}', per_layer)
    assert whole["summary"]["by_type"] == {"Reformat": 1} and not calls
    info = layers_info("{broken", per_layer)
    assert calls and info["Layers"][1] == "names only"
    assert info["summary"]["layers"] == 2 and info["summary"]["by_type"] == {
        "CaskConvolution": 1}


def _no_engine(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    raise DependencyError("TensorRT is not installed (the tensorrt library does not import)")


def _no_machine() -> tuple[str, str, tuple[int, int]]:
    raise DependencyError("no GPU")


def _sidecar(engine: Path) -> None:
    sidecar_path(engine).write_text(json.dumps({
        "tensorrt_version": "10.16.0",
        "gpu": {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"},
        "io": {"inputs": {"x": {"dtype": "float32", "shape": ["batch", 4]}},
               "outputs": {"y": {"dtype": "float32", "shape": ["batch", 2]}}}}))


def test_engine_summary_says_whether_the_engine_loads_here(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    _sidecar(engine)
    layers_path(engine).write_text(json.dumps({"Layers": []}))
    out = engine_summary(engine, read_engine=_no_engine,
                         machine=lambda: ("10.16.0", "NVIDIA A100", (8, 0)))
    assert out["here"]["loadable_here"] is False and "compute capability 9.0" in \
        out["here"]["reason"]
    assert engine_summary(engine, read_engine=_no_engine, machine=_no_machine)["here"] == {}


def test_engine_summary_reads_the_engine_only_for_what_is_missing(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    read = {"io": {"inputs": {}, "outputs": {}, "profiles": []},
            "layers": {"Layers": [{"LayerType": "Reformat"}]}}
    out = engine_summary(engine, read_engine=lambda p: (read["io"], read["layers"]),
                         machine=_no_machine)
    assert out["sidecar"]["note"] == "no sidecar: read from the engine"
    assert out["layer_summary"]["by_type"] == {"Reformat": 1}
    _sidecar(engine)  # a sidecar but no layers.json and no TensorRT: a note, not an error
    out = engine_summary(engine, read_engine=_no_engine, machine=_no_machine)
    assert out["sidecar"]["tensorrt_version"] == "10.16.0" and out["layer_summary"] is None
    assert "m.layers.json, and the engine cannot be inspected here" in out["notes"][0]
    with pytest.raises(ModelError, match="engine not found"):
        engine_summary(tmp_path / "none.engine", read_engine=_no_engine, machine=_no_machine)
