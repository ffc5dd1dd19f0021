"""The files beside an engine (trtc.tensorrt.engine_file): sidecar, verdicts, timing caches.

Compatibility rules from TensorRT's "Version Compatibility" / "Engine Compatibility" docs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tensorrt_plan_helpers import P_1_8_32, plan

from trtc.tensorrt.engine_file import (
    SIDECAR_FORMAT,
    compatibility_verdict,
    default_timing_cache_dir,
    layers_path,
    sidecar,
    sidecar_path,
    sidecar_problem,
    timing_cache_file,
    timing_cache_key,
)


def test_timing_cache_auto_file_and_off() -> None:
    s = plan("8.6", cache_dir="/ws/.timing-cache")
    assert (s.timing_cache, s.timing_cache_keyed) == ("/ws/.timing-cache", True)
    assert timing_cache_file(s, gpu_name="NVIDIA H100 80GB HBM3",
                             compute_capability=(9, 0)) == \
        "/ws/.timing-cache/nvidia-h100-80gb-hbm3_sm90_trt8.6.0.cache"
    s = plan("8.6", timing_cache="my.cache", cache_dir="/ws/.timing-cache")
    assert timing_cache_file(s, gpu_name="x", compute_capability=(8, 0)) == "my.cache"
    for off in (None, "none", "off"):
        s = plan("8.6", timing_cache=off, cache_dir="/ws")
        assert timing_cache_file(s, gpu_name="x", compute_capability=(8, 0)) is None


def test_timing_cache_key_separates_gpu_cc_and_version() -> None:
    base = timing_cache_key("NVIDIA H100 80GB HBM3", (9, 0), "8.6.0")
    assert base == "nvidia-h100-80gb-hbm3_sm90_trt8.6.0"
    assert timing_cache_key("NVIDIA A100-SXM4-40GB", (8, 0), "8.6.0") != base
    assert timing_cache_key("NVIDIA H100 80GB HBM3", (9, 0), "8.6.1") != base
    assert timing_cache_key("NVIDIA H100 80GB HBM3", (8, 9), "8.6.0") != base


def make_sidecar(version: str = "8.6", trt: str = "8.6.0", gpu: str = "NVIDIA H100 80GB HBM3",
                 cc: tuple[int, int] = (9, 0), **build: Any) -> dict[str, Any]:
    s = plan(version, **build)
    return sidecar(s, gpu_name=gpu, compute_capability=cc, trt_version=trt,
                   onnx_sha256="a" * 64, engine_sha256="b" * 64,
                   io={"inputs": {"input": {"dtype": "float32"}}})


def test_sidecar_content_is_json_and_complete() -> None:
    side = make_sidecar(precision="fp16", version_compatible=True)
    assert json.loads(json.dumps(side)) == side
    assert side["format"] == SIDECAR_FORMAT
    assert side["tensorrt_version"] == "8.6.0"
    assert side["gpu"] == {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
    assert side["precision"] == "fp16" and side["precision_flags"] == ["fp16"]
    assert side["profiles"] == [P_1_8_32]
    assert side["version_compatible"] is True and side["hardware_compatibility"] == "none"
    assert side["onnx_sha256"] == "a" * 64 and side["engine_sha256"] == "b" * 64


def test_a_sidecar_trtc_writes_passes_its_own_check() -> None:
    side = make_sidecar()
    side["io"] = {"inputs": {"input": {"dtype": "float32", "shape": ["batch", 3, 224, 224]}},
                  "outputs": {"y": {"dtype": "float32", "shape": ["batch", 10]}},
                  "profiles": [{"input": [[1, 3, 224, 224], [8, 3, 224, 224],
                                          [32, 3, 224, 224]]}]}
    assert sidecar_problem(json.loads(json.dumps(side))) is None


@pytest.mark.parametrize("data, problem", [
    ([1, 2], "not a JSON object"),
    ({"gpu": "H100"}, "'gpu' is not an object"),
    ({"gpu": {"name": "H100", "compute_capability": "nine"}}, "compute_capability 'nine'"),
    ({"tensorrt_version": "latest"}, "tensorrt_version 'latest'"),
    ({"io": {"inputs": {"x": {"dtype": "float32"}}}}, "io.inputs.x needs a dtype and a shape"),
    ({"io": {"inputs": {}, "profiles": [{"x": [[1], [2]]}]}}, "io.profiles"),
])
def test_sidecar_problem_names_the_bad_key(data: Any, problem: str) -> None:
    assert problem in (sidecar_problem(data) or "")


def verdict(side: dict[str, Any], gpu: str = "NVIDIA H100 80GB HBM3",
            cc: tuple[int, int] = (9, 0), trt: str = "8.6.0") -> tuple[bool, str]:
    return compatibility_verdict(side, gpu_name=gpu, compute_capability=cc, trt_version=trt)


def test_same_machine_loads() -> None:
    assert verdict(make_sidecar()) == (True, "")


def test_other_tensorrt_version_is_refused_without_version_compatibility() -> None:
    ok, why = verdict(make_sidecar(), trt="8.6.1")
    assert not ok
    assert "built with TensorRT 8.6.0 and this machine has 8.6.1" in why
    assert "version_compatible" in why


@pytest.mark.parametrize("built, here, ok", [
    ("8.6.0", "8.6.1", True),     # newer, same major
    ("8.6.1", "8.6.0", False),    # older runtime
    ("8.6.1", "10.3.0", True),    # 8 -> 10 documented
    ("8.6.1", "11.0.0", False),   # 8 -> 11 not supported
    ("10.3.0", "11.1.0", True),   # 10 -> 11 documented
    ("11.1.0", "10.16.0", False),
])
def test_version_compatible_engines_run_on_documented_newer_versions(built: str, here: str,
                                                                     ok: bool) -> None:
    side = make_sidecar(trt=built, version_compatible=True)
    assert verdict(side, trt=here)[0] is ok


def test_other_compute_capability_is_refused_unless_hardware_compatible() -> None:
    ok, why = verdict(make_sidecar(), gpu="NVIDIA A100-SXM4-80GB", cc=(8, 0))
    assert not ok
    assert "built for NVIDIA H100 80GB HBM3 (compute capability 9.0)" in why
    assert "NVIDIA A100-SXM4-80GB (compute capability 8.0)" in why
    # Same major, other minor (an A10's sm86 engine on an A100's sm80) is another CC too.
    a10 = make_sidecar(gpu="NVIDIA A10", cc=(8, 6))
    assert not verdict(a10, gpu="NVIDIA A100-SXM4-80GB", cc=(8, 0))[0]
    side = make_sidecar(hardware_compatibility="ampere+")
    assert verdict(side, gpu="NVIDIA A100-SXM4-80GB", cc=(8, 0))[0]
    assert not verdict(side, gpu="Tesla T4", cc=(7, 5))[0]


def test_same_compute_capability_level_allows_other_models_only() -> None:
    side = make_sidecar(version="10.16", trt="10.16.0",
                        hardware_compatibility="same-compute-capability")
    assert verdict(side, gpu="NVIDIA H200", cc=(9, 0), trt="10.16.0") == (True, "")
    assert not verdict(side, gpu="NVIDIA A100", cc=(8, 0), trt="10.16.0")[0]


def test_other_gpu_model_same_cc_loads_with_a_caveat() -> None:
    ok, why = verdict(make_sidecar(), gpu="NVIDIA H200", cc=(9, 0))
    assert ok and "TensorRT loads it but warns" in why


def test_files_next_to_the_engine() -> None:
    assert sidecar_path("out/model.engine") == Path("out/model.engine.json")
    assert layers_path("out/model.engine") == Path("out/model.layers.json")
    assert sidecar_path("a/b.plan") == Path("a/b.plan.json")


def test_timing_cache_beside_the_engine_or_shared_by_the_workspace(tmp_path: Path) -> None:
    from trtc.stages.build import workspace_timing_cache_dir

    assert default_timing_cache_dir(tmp_path / "out" / "m.engine") == \
        tmp_path / "out" / ".timing-cache"
    # -o ~/build/m.engine is flags mode: the cache stays beside it, not two levels up
    # (/home/.timing-cache, which the user may not even be allowed to write).
    assert default_timing_cache_dir(tmp_path / "home" / "build" / "m.engine") == \
        tmp_path / "home" / "build" / ".timing-cache"
    stage = tmp_path / "build" / "resnet50" / "build"
    assert workspace_timing_cache_dir(stage) == tmp_path / "build" / ".timing-cache"
