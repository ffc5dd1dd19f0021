"""Property-based fuzzing: the recipe loader and the shape / profile / input parsers either
return a value or raise one of trtc's errors; never anything else, and never slowly."""

from __future__ import annotations

import contextlib
import string
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from trtc.errors import TrtcError  # noqa: E402

FAST = settings(max_examples=150, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

#: Text made of the characters that matter to the parsers (dims, separators, names).
SHAPEISH = st.text(alphabet=string.digits + "x:,;-+ .'\"abXyz_\t\n\0", max_size=40)
YAMLISH = st.text(alphabet=string.printable + "\0\x85\ufeff&*!{}[]|>", max_size=300)


def _only_trtc_errors(fn: object, *args: object) -> None:
    with contextlib.suppress(TrtcError):
        fn(*args)  # type: ignore[operator]


@FAST
@given(SHAPEISH)
def test_parse_shapes(text: str) -> None:
    from trtc.shapes import parse_shapes

    try:
        shapes = parse_shapes(text)
    except TrtcError:
        return
    assert all(d > 0 for dims in shapes.values() for d in dims)


@FAST
@given(SHAPEISH)
def test_parse_profile(text: str) -> None:
    from trtc.tensorrt.profiles import parse_profile

    _only_trtc_errors(parse_profile, text)


@FAST
@given(SHAPEISH)
def test_parse_input(text: str) -> None:
    from trtc.recipe import parse_input

    _only_trtc_errors(parse_input, text)


@FAST
@given(st.binary(max_size=300) | YAMLISH.map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_recipe_loader_on_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    from trtc.recipe import load_recipe

    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    _only_trtc_errors(load_recipe, path)


_SCALARS = (st.none() | st.booleans() | st.integers(-10, 10**6) |
            st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) |
                       st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
_SECTIONS = st.sampled_from(["export", "prune", "quantize", "build", "verify", "bench"])
_KEYS = st.sampled_from(["enabled", "batch", "atol", "rtol", "opset", "duration_s", "warmup_ms",
                         "threads", "ratio", "method", "precision", "backend", "profiles",
                         "shapes", "data", "max_drop", "timeout_s", "calib_samples"])


@FAST
@given(_SECTIONS, _KEYS, _VALUES)
def test_recipe_values(section: str, key: str, value: object) -> None:
    """Any value under any key: a Recipe whose numbers are all finite, or a RecipeError."""
    import math

    from trtc.recipe import parse_recipe
    from trtc.recipe.validate import _walk

    raw = {"name": "fuzz", "model": {"source": "onnx:m.onnx"}, section: {key: value}}
    try:
        recipe = parse_recipe(raw)
    except TrtcError:
        return
    assert all(math.isfinite(v) for _, v in _walk(recipe, "") if isinstance(v, float))
