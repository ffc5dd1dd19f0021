"""Optimization profiles (trtc.tensorrt.profiles): text, defaults, checks against the model."""

from __future__ import annotations

from typing import Any

import pytest
from tensorrt_plan_helpers import IMG, STATIC

from trtc.errors import UsageError
from trtc.tensorrt.profiles import (
    ProfileSpec,
    choose_profile,
    context_profiles,
    default_profile,
    format_profile,
    named_shape,
    parse_profile,
    profile_corners,
    resolve_profiles,
)


def test_parse_profile_issue_form() -> None:
    prof = parse_profile("input:1x3x224x224,8x3x224x224,32x3x224x224")
    assert prof.shapes == {"input": ((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224))}


def test_parse_profile_several_inputs_and_single_shape() -> None:
    prof = parse_profile("ids:1x16,8x128,32x512; mask:4x64")
    assert prof.shapes["ids"] == ((1, 16), (8, 128), (32, 512))
    assert prof.shapes["mask"] == ((4, 64),) * 3
    assert parse_profile(format_profile(prof)) == prof


def test_parse_profile_keeps_names_with_colons() -> None:
    assert "input:0" in parse_profile("input:0:1x3,2x3,4x3").shapes


@pytest.mark.parametrize("text, needle", [
    ("1x3x224x224", "NAME:MIN,OPT,MAX"),
    ("input:1x3,8x3", "expected 3 shapes"),
    ("input:1xAx3", "not a shape"),
    ("input:0x3,1x3,2x3", "positive"),
    ("a:1x2;a:1x2", "twice"),
    ("", "empty"),
])
def test_parse_profile_rejects(text: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        parse_profile(text)


def rng(lo: tuple[int, ...], opt: tuple[int, ...], hi: tuple[int, ...]) -> Any:
    return (lo, opt, hi)


def test_profile_resolves_and_keeps_min_opt_max() -> None:
    (prof,) = resolve_profiles([{"input": rng((1, 3, 224, 224), (8, 3, 224, 224),
                                              (32, 3, 224, 224))}], IMG)
    assert prof.shapes["input"][2] == (32, 3, 224, 224)


def test_the_default_profile_is_made_once_whatever_bench_streams() -> None:
    """More streams than profiles run on copies of the engine (context_profiles), so the
    build makes the default profile once: every profile more is tactic time."""
    default = {"input": rng((1, 3, 224, 224), (8, 3, 224, 224), (8, 3, 224, 224))}
    notes: list[str] = []
    (prof,) = resolve_profiles([], IMG, default_profile=default, notes=notes)
    assert prof.shapes["input"][2] == (8, 3, 224, 224)
    assert any("no build.profiles given: one profile from the recipe's shapes" in n
               for n in notes), notes
    assert resolve_profiles([], STATIC, default_profile=default) == ()  # static: no profile


@pytest.mark.parametrize("shapes, needle", [
    (rng((8, 3, 224, 224), (1, 3, 224, 224), (32, 3, 224, 224)), "min <= opt <= max"),
    (rng((1, 3, 224, 224), (8, 3, 224, 224), (4, 3, 224, 224)), "min <= opt <= max"),
    (rng((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 256, 256)), "dim 2 is fixed to 224"),
    (rng((1, 3, 224), (8, 3, 224), (32, 3, 224)), "rank 4"),
    (rng((1, 3, 224, 224), (8, 3, 224), (32, 3, 224, 224)), "different ranks"),
])
def test_bad_profiles_are_refused_naming_the_input(shapes: Any, needle: str) -> None:
    with pytest.raises(UsageError, match=needle) as info:
        resolve_profiles([{"input": shapes}], IMG)
    assert "build.profiles[0]: input" in info.value.message


def test_unknown_input_name_suggests_the_closest() -> None:
    with pytest.raises(UsageError, match="'inptu' is not an input") as info:
        resolve_profiles([{"inptu": ((1, 3, 224, 224),) * 3}], IMG)
    assert info.value.hint == "did you mean 'input'?"


def test_every_dynamic_input_must_be_covered_in_every_profile() -> None:
    inputs = {"ids": ("int64", ("batch", "seq")), "mask": ("int64", ("batch", "seq"))}
    ids = rng((1, 16), (8, 128), (8, 512))
    with pytest.raises(UsageError, match="profiles\\[1\\]: no shapes for dynamic input 'mask'"):
        resolve_profiles([{"ids": ids, "mask": ids}, {"ids": ids}], inputs)
    # ... unless the default profile fills the left-out input in.
    profs = resolve_profiles([{"ids": ids}], inputs, default_profile={"mask": ids})
    assert set(profs[0].shapes) == {"ids", "mask"}


def test_inputs_sharing_a_named_dim_need_the_same_range() -> None:
    inputs = {"ids": ("int64", ("batch", "seq")), "mask": ("int64", ("batch", "seq"))}
    with pytest.raises(UsageError, match="dim 'seq'"):
        resolve_profiles([{"ids": rng((1, 16), (8, 128), (8, 512)),
                           "mask": rng((1, 16), (8, 64), (8, 512))}], inputs)
    # Placeholder names for unnamed dims ('?', 'dimN') are not a shared name.
    unnamed = {"a": ("float32", ("dim0", 4)), "b": ("float32", ("dim0", 4))}
    resolve_profiles([{"a": rng((1, 4), (2, 4), (4, 4)), "b": rng((2, 4), (2, 4), (2, 4))}],
                     unnamed)


def test_static_models_need_no_profile_and_static_inputs_are_checked_then_dropped() -> None:
    assert resolve_profiles([], STATIC) == ()
    notes: list[str] = []
    both = {"x": ("float32", ("batch", 4)), "s": ("float32", (2, 2))}
    (prof,) = resolve_profiles([{"x": rng((1, 4), (2, 4), (4, 4)),
                                 "s": rng((2, 2), (2, 2), (2, 2))}], both, notes=notes)
    assert set(prof.shapes) == {"x"} and "'s' is static" in notes[0]
    with pytest.raises(UsageError, match="fixed to 2"):
        resolve_profiles([{"x": rng((1, 4), (2, 4), (4, 4)),
                           "s": rng((2, 2), (2, 3), (2, 3))}], both)


def test_no_profile_and_no_default_names_the_dynamic_input() -> None:
    with pytest.raises(UsageError, match="dynamic input 'input' \\(batchx3x224x224\\)") as info:
        resolve_profiles([], IMG)
    assert "--profile 'input:1x3x224x224,8x3x224x224,8x3x224x224'" in (info.value.hint or "")


def test_default_profile_from_batches_dims_and_shapes() -> None:
    assert default_profile(IMG, batches=[1, 8]) == {
        "input": ((1, 3, 224, 224), (8, 3, 224, 224), (8, 3, 224, 224))}
    seq = {"ids": ("int64", ("batch", "seq"))}
    assert default_profile(seq, batches=[2], dims={"seq": 128}) == {
        "ids": ((2, 128), (2, 128), (2, 128))}
    assert default_profile(seq, batches=[2]) == {}  # 'seq' unknown: the plan asks for it
    assert default_profile(seq, shapes=[{"ids": (4, 64)}, {"ids": (1, 256)}]) == {
        "ids": ((1, 64), (4, 256), (4, 256))}
    assert default_profile(STATIC) == {}


def test_profile_corners_are_distinct_per_profile() -> None:
    a = ProfileSpec({"x": ((1, 4), (8, 4), (8, 4))})
    b = ProfileSpec({"x": ((16, 4), (16, 4), (16, 4))})
    assert profile_corners([a, b]) == [("profile 0 min", {"x": (1, 4)}),
                                       ("profile 0 opt", {"x": (8, 4)}),
                                       ("profile 1 min", {"x": (16, 4)})]


PROFILES = [{"x": [[1, 3, 8, 8], [4, 3, 8, 8], [8, 3, 8, 8]]},
            {"x": [[8, 3, 8, 8], [16, 3, 8, 8], [32, 3, 8, 8]]}]


def test_named_shape_keeps_the_onnx_names_of_dynamic_dims() -> None:
    assert named_shape([-1, 3, 8, 8], ["batch", 3, 8, 8]) == ("batch", 3, 8, 8)
    assert named_shape([-1, 3, -1], None) == ("dim0", 3, "dim2")
    assert named_shape([2, 3], ["batch", 3]) == (2, 3)  # static in the engine: the number


def test_choose_profile_picks_one_that_fits_the_first_of_equals() -> None:
    assert choose_profile(PROFILES, {"x": (4, 3, 8, 8)}) == 0
    assert choose_profile(PROFILES, {"x": (8, 3, 8, 8)}) == 0
    assert choose_profile(PROFILES, {"x": (20, 3, 8, 8)}) == 1
    assert choose_profile([], {"x": (20, 3, 8, 8)}) == 0
    with pytest.raises(UsageError, match=r"'x' shape 64x3x8x8 is outside every .*1x3x8x8\.\."
                                         r"8x3x8x8; 8x3x8x8\.\.32x3x8x8"):
        choose_profile(PROFILES, {"x": (64, 3, 8, 8)})
    with pytest.raises(UsageError, match="outside"):
        choose_profile(PROFILES, {"x": (4, 3, 9, 8)})  # another dim out of range


def test_batch_profiles_pin_the_batch_beside_the_throughput_profile() -> None:
    default = {"input": rng((1, 3, 224, 224), (256, 3, 224, 224), (256, 3, 224, 224))}
    notes: list[str] = []
    profs = resolve_profiles([], IMG, default_profile=default, batch_profiles=(1, 8),
                             notes=notes)
    assert [p.shapes["input"] for p in profs] == [
        default["input"], ((1, 3, 224, 224),) * 3, ((8, 3, 224, 224),) * 3]
    assert any("profiles 1..2 pinned to batch 1, 8 (min = opt = max), beside profile 0"
               in n for n in notes), notes
    # The batch is dim 0 of the dynamic inputs only; a static input keeps its shape, and
    # a dim shared by name with another input stays consistent.
    inputs = {"ids": ("int64", ("batch", "seq")), "mask": ("int64", ("batch", "seq")),
              "table": ("float32", ("rows", 16))}
    given = [{"ids": rng((1, 16), (32, 128), (32, 128)), "mask": rng((1, 16), (32, 128),
                                                                      (32, 128)),
              "table": rng((4, 16), (4, 16), (4, 16))}]
    (_, pinned) = resolve_profiles(given, inputs, batch_profiles=(1,))
    assert pinned.shapes["ids"] == pinned.shapes["mask"] == ((1, 128),) * 3
    assert pinned.shapes["table"] == ((1, 16),) * 3  # 'rows' is its dim 0: dynamic, pinned
    with pytest.raises(UsageError, match="build.batch_profiles: 0 is not a batch size"):
        resolve_profiles([], IMG, default_profile=default, batch_profiles=(0,))


def test_the_profile_whose_opt_is_nearest_runs_the_shapes() -> None:
    """An engine that serves batch 256 with a batch-1 profile of its own (issue 13): batch 1
    runs on the profile tuned for it, wherever it sits in the engine."""
    big = {"x": [[1, 3, 8, 8], [256, 3, 8, 8], [256, 3, 8, 8]]}
    one = {"x": [[1, 3, 8, 8], [1, 3, 8, 8], [1, 3, 8, 8]]}
    mid = {"x": [[1, 3, 8, 8], [32, 3, 8, 8], [256, 3, 8, 8]]}
    assert choose_profile([big, one], {"x": (1, 3, 8, 8)}) == 1
    assert choose_profile([big, one], {"x": (2, 3, 8, 8)}) == 0  # only the big one holds 2
    assert choose_profile([big, mid, one], {"x": (64, 3, 8, 8)}) == 1  # |log 2| < |log 4|
    assert choose_profile([big, mid, one], {"x": (200, 3, 8, 8)}) == 0
    # Streams take the nearest profiles first.
    assert context_profiles([big, mid, one], {"x": (1, 3, 8, 8)}, 2) == [(0, 2), (0, 1)]


def test_streams_beyond_the_fitting_profiles_run_on_copies_of_the_engine() -> None:
    """A profile serves one execution context at a time: trtexec's --streams N makes N
    engines; trtc uses every profile that holds the shapes first, then copies."""
    assert context_profiles([], {"x": (4, 3, 8, 8)}, 3) == [(0, None)] * 3  # static: one
    assert context_profiles(PROFILES, {"x": (8, 3, 8, 8)}, 2) == [(0, 0), (0, 1)]
    assert context_profiles(PROFILES, {"x": (16, 3, 8, 8)}, 1) == [(0, 1)]
    # Only profile 0 holds batch 4: each stream more is one copy more, on profile 0.
    assert context_profiles(PROFILES, {"x": (4, 3, 8, 8)}, 3) == [(0, 0), (1, 0), (2, 0)]
    # Two profiles hold batch 8: streams fill both before a copy is made.
    assert context_profiles(PROFILES, {"x": (8, 3, 8, 8)}, 3) == [(0, 0), (0, 1), (1, 0)]
    with pytest.raises(UsageError, match="outside every optimization profile"):
        context_profiles(PROFILES, {"x": (64, 3, 8, 8)}, 2)
