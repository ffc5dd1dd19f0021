"""The build settings (trtc.tensorrt.settings): sizes, the plan, GPU gates, the table."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from tensorrt_plan_helpers import IMG, P_1_8_32, STATIC, argv, plan

from trtc.errors import DependencyError, UsageError
from trtc.recipe import BuildSpec, override, parse_recipe
from trtc.tensorrt.engine_file import sidecar
from trtc.tensorrt.profiles import (
    parse_profile,
    profile_to_data,
)
from trtc.tensorrt.settings import (
    SETTINGS,
    TrtBuildSettings,
    TrtEnum,
    check_gpu,
    gpu_defaults,
    is_size,
    parse_size,
    polygraphy_kwargs,
    settings_to_data,
)
from trtc.tensorrt.trtexec import trtexec_command
from trtc.tensorrt.versions import features


@pytest.mark.parametrize("text, expected", [
    ("4GiB", 4 << 30), ("4G", 4 << 30), ("512MiB", 512 << 20), ("512m", 512 << 20),
    ("1.5GiB", 3 << 29), ("4GB", 4 * 10**9), ("1073741824", 1 << 30), (2048, 2048),
    (" 16 KiB ", 16 << 10),
])
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["4 gigs", "GiB", "-1GiB", "0", "", "4XB", True])
def test_parse_size_rejects(text: Any) -> None:
    with pytest.raises(UsageError, match="--workspace"):
        parse_size(text)


def test_is_size() -> None:
    assert is_size("4GiB") and not is_size("build/ws")


def test_workspace_level_hardware_and_misc() -> None:
    s = plan("10.16", workspace="4GiB", builder_optimization_level=5, sparsity=True, refit=True,
             hardware_compatibility="same-compute-capability", plugins=["libmy.so"])
    assert s.workspace_bytes == 4 << 30 and s.optimization_level == 5
    assert s.sparsity and s.refit and s.plugins == ("libmy.so",)
    assert s.hardware_compatibility == "same-compute-capability"
    assert plan("8.6").hardware_compatibility is None


def test_bad_workspace_level_and_hardware_are_refused() -> None:
    with pytest.raises(UsageError, match="build.workspace"):
        plan("8.6", workspace="lots")
    with pytest.raises(UsageError, match="outside 0-5"):
        plan("8.6", builder_optimization_level=6)
    with pytest.raises(UsageError, match="needs a newer TensorRT"):
        plan("8.6", hardware_compatibility="same-compute-capability")
    pinned = plan("8.6", batch_profiles=[1])  # beside the recipe's 1/8/32 profile
    assert [p.shapes["input"][1][0] for p in pinned.profiles] == [8, 1]  # opt per profile
    assert pinned.profiles[1].shapes["input"] == ((1, 3, 224, 224),) * 3
    with pytest.raises(UsageError, match="build.max_aux_streams: -1 is not a count"):
        plan("8.6", max_aux_streams=-1)
    assert plan("8.6", max_aux_streams=0).max_aux_streams == 0  # main stream only
    both = plan("10", refit=True, version_compatible=True)
    assert both.refit and both.version_compatible
    assert any("cannot be refitted" in n for n in both.notes)


def test_default_profile_note_and_static_model() -> None:
    s = plan("8.6", inputs=IMG, default={"input": ((1, 3, 224, 224),) * 3})
    assert s.profiles[0].shapes["input"][0] == (1, 3, 224, 224)
    assert any("no build.profiles given" in n for n in s.notes)
    assert plan("8.6", inputs=STATIC).profiles == ()


def test_check_gpu_refuses_precisions_the_gpu_lacks() -> None:
    fp8 = plan("10", precision="fp8", qdq=True, qprec="fp8")
    with pytest.raises(DependencyError, match="fp8 needs .* 8.9"):
        check_gpu(fp8, (8, 0), "A100")
    assert check_gpu(fp8, (9, 0), "H100") == []
    with pytest.raises(DependencyError, match="bf16"):
        check_gpu(plan("10", precision="bf16"), (7, 5), "T4")
    with pytest.raises(DependencyError, match="ampere\\+"):
        check_gpu(plan("8.6", hardware_compatibility="ampere+"), (7, 5), "T4")
    assert "no effect" in check_gpu(plan("8.6", sparsity=True), (7, 5), "T4")[0]


def test_gpu_defaults_lower_the_level_only_where_tactics_were_measured_slow() -> None:
    old = plan("8.6.0")
    chosen, notes = gpu_defaults(old, (9, 0))
    assert chosen.optimization_level == 0 and old.optimization_level is None
    assert "8.6.0" in notes[0] and "builder_optimization_level 0" in notes[0]
    assert "--builderOptimizationLevel=0" in trtexec_command(chosen, "m.onnx", "m.engine")
    # The recipe's own level, an older GPU, or a TensorRT that knows the GPU: untouched.
    for settings, cc in ((plan("8.6.0", builder_optimization_level=3), (9, 0)),
                         (old, (8, 0)), (plan("10.16"), (9, 0)), (plan("10.7"), (8, 9))):
        assert gpu_defaults(settings, cc) == (settings, [])
    assert gpu_defaults(plan("8.6.1"), (9, 0))[0].optimization_level == 0
    assert gpu_defaults(plan("9.0"), (9, 0))[1] == []


def test_settings_to_data_round_trips_through_json() -> None:
    s = plan("10", precision="best", int8_calib="c.npz")
    data = settings_to_data(s)
    assert json.loads(json.dumps(data)) == data
    assert data["precision_flags"] == ["fp16", "int8"]
    assert data["profiles"] == [P_1_8_32]


def test_flag_overrides_validate_like_the_recipe() -> None:
    recipe = parse_recipe({"name": "t", "model": {"source": "onnx:m.onnx"}})
    recipe = override(recipe, "build", precision="fp16",
                      profiles=[profile_to_data(parse_profile("input:1x3,2x3,4x3"))])
    assert recipe.build.precision == "fp16"
    assert dataclasses.asdict(recipe.build)["profiles"][0]["input"]["max"] == (4, 3)
    with pytest.raises(UsageError, match="build.precision"):
        override(recipe, "build", precision="fp64")


def test_recipe_build_paths_resolve_against_the_recipe(tmp_path: Any) -> None:
    from trtc.recipe import load_recipe

    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "r.yaml"
    path.write_text("name: r\nmodel: {source: onnx:m.onnx}\nbuild:\n"
                    "  int8_calib: calib/images\n  int8_calib_cache: c.cache\n"
                    "  timing_cache: cache\n  plugins: [libp.so]\n")
    build = load_recipe(path).build
    root = (tmp_path / "cfg").resolve()
    assert build.int8_calib == str(root / "calib" / "images")
    assert build.int8_calib_cache == str(root / "c.cache")
    assert build.timing_cache == str(root / "cache")
    assert build.plugins == (str(root / "libp.so"),)
    path.write_text("name: r\nmodel: {source: onnx:m.onnx}\nbuild:\n"
                    "  int8_calib: random\n  timing_cache: auto\n")
    build = load_recipe(path).build
    assert (build.int8_calib, build.timing_cache) == ("random", "auto")


# --------------------------------------------------------------------------- the table


def everything_set() -> TrtBuildSettings:
    """A plan where every row of the table is set (none at its default)."""
    return plan("10.16", precision="int8", qdq=True, strongly_typed=True, tf32=False,
                workspace="4GiB", builder_optimization_level=5, max_aux_streams=2,
                timing_cache="t.cache", input_formats="fp32:chw32", output_formats="fp32:chw",
                sparsity=True, refit=True, version_compatible=True,
                hardware_compatibility="same-compute-capability", plugins=["libmy.so"],
                tactic_sources="jit_convolutions,+CUDNN")


def test_every_row_is_a_recipe_key_and_a_settings_field() -> None:
    recipe_keys = {f.name for f in dataclasses.fields(BuildSpec)}
    fields = {f.name for f in dataclasses.fields(TrtBuildSettings)}
    for row in SETTINGS:
        assert row.key in recipe_keys, row.key
        assert row.field in fields, row.field
    assert len({row.key for row in SETTINGS}) == len(SETTINGS)


def test_every_row_set_reaches_polygraphy_trtexec_sidecar_and_data() -> None:
    s = everything_set()
    line = trtexec_command(s, "m.onnx", "m.engine")
    side = sidecar(s, gpu_name="g", compute_capability=(9, 0), trt_version=s.version,
                   onnx_sha256="a", engine_sha256="b", io={})
    data = settings_to_data(s)
    for row in SETTINGS:
        value = getattr(s, row.field)
        if row.polygraphy is not None:
            assert row.polygraphy in polygraphy_kwargs(s, row.loader), row.key
        rendered = row.trtexec(value, s, features(s.version))
        assert rendered and all(item.removeprefix("# ") in line for item in rendered), row.key
        if row.sidecar is not None:
            assert side[row.sidecar] == row.to_sidecar(value), row.key
        assert row.data_key in data and row.data_key in side["settings"], row.key
    kwargs = polygraphy_kwargs(s)
    assert kwargs["memory_pool_limits"] == {TrtEnum("MemoryPoolType", "WORKSPACE"): 4 << 30}
    assert kwargs["hardware_compatibility_level"] == TrtEnum("HardwareCompatibilityLevel",
                                                             "SAME_COMPUTE_CAPABILITY")
    assert kwargs["builder_optimization_level"] == 5 and kwargs["tf32"] is False
    assert polygraphy_kwargs(s, "network") == {"strongly_typed": True}
    assert polygraphy_kwargs(s, "plugins") == {"plugins": ("libmy.so",)}


def test_unset_settings_are_not_sent_to_polygraphy() -> None:
    # Every setting at its default: None means the backend's default (tactic_sources
    # 'default' here: 'auto' is trtc's own choice on 8.6, tested below).
    s = plan("8.6", tactic_sources="default")
    assert polygraphy_kwargs(s) == {"tf32": True,  # Polygraphy's default (off) is not TRT's
                                    "profiling_verbosity": TrtEnum("ProfilingVerbosity",
                                                                   "DETAILED")}
    assert polygraphy_kwargs(s, "network") == {} and polygraphy_kwargs(s, "plugins") == {}
    assert argv(trtexec_command(s, "m.onnx", "m.engine"))[6:] == ["--skipInference"]


def test_precision_flags_are_polygraphy_keywords_and_trtexec_flags() -> None:
    s = plan("10", precision="best", int8_calib="c.npz")
    kwargs = polygraphy_kwargs(s)
    assert kwargs["fp16"] is True and kwargs["int8"] is True and "bf16" not in kwargs
    assert {"--fp16", "--int8"} <= set(argv(trtexec_command(s, "m.onnx", "m.engine")))


def test_a_row_carries_its_version_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    # A setting's oldest TensorRT is one field of its row: no other edit gates it.
    from trtc.tensorrt import settings as module

    gated = tuple(dataclasses.replace(r, since=(10, 0)) if r.key == "sparsity" else r
                  for r in module.SETTINGS)
    monkeypatch.setattr(module, "SETTINGS", gated)
    with pytest.raises(UsageError, match=r"build.sparsity needs TensorRT 10.0 or newer "
                                         r"\(this is 8.6.0\)"):
        plan("8.6", sparsity=True)
    assert plan("10", sparsity=True).sparsity
    assert not plan("8.6").sparsity  # unset: nothing to refuse


def test_math_precision_names_tf32_for_verify() -> None:
    from trtc.tensorrt.settings import math_precision

    assert math_precision(plan("8.6")) == "tf32"
    assert math_precision(plan("8.6", tf32=False)) == "fp32"
    assert math_precision(plan("11")) == "fp32"  # strongly typed: TF32 off
    assert math_precision(plan("8.6", precision="fp16")) == "fp16"


# --------------------------------------------------------------------------- tactic sources


def test_tactic_sources_auto_drops_cublas_cudnn_on_86_only() -> None:
    s86 = plan("8.6")
    assert s86.tactic_sources == ("EDGE_MASK_CONVOLUTIONS", "JIT_CONVOLUTIONS")
    assert polygraphy_kwargs(s86)["tactic_sources"] == [
        TrtEnum("TacticSource", "EDGE_MASK_CONVOLUTIONS"),
        TrtEnum("TacticSource", "JIT_CONVOLUTIONS")]
    assert ("--tacticSources=-CUBLAS,-CUBLAS_LT,-CUDNN,+EDGE_MASK_CONVOLUTIONS,"
            "+JIT_CONVOLUTIONS") in trtexec_command(s86, "m.onnx", "m.engine")
    for version in ("10.16", "11.1"):
        s = plan(version)
        assert s.tactic_sources is None and "tactic_sources" not in polygraphy_kwargs(s)
        assert "--tacticSources" not in trtexec_command(s, "m.onnx", "m.engine")


def test_tactic_sources_default_and_lists() -> None:
    assert plan("8.6", tactic_sources="default").tactic_sources is None
    assert plan("10.16", tactic_sources="CUDNN, jit_convolutions").tactic_sources == (
        "CUDNN", "JIT_CONVOLUTIONS")
    with pytest.raises(UsageError, match="unknown tactic source 'CUDN'") as info:
        plan("8.6", tactic_sources="CUDN")
    assert "CUDNN" in (info.value.hint or "")
