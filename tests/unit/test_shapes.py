"""Tests for trtc.shapes: trtexec-style shapes parsed and formatted in one place."""

from __future__ import annotations

import pytest

from trtc.errors import UsageError
from trtc.shapes import format_dims, format_shape, format_shapes, parse_shapes


def test_format_round_trips_parse() -> None:
    shapes = parse_shapes("x:1x3x224x224, mask:1x128")
    assert shapes == {"x": (1, 3, 224, 224), "mask": (1, 128)}
    assert format_shapes(shapes) == "x:1x3x224x224, mask:1x128"
    assert parse_shapes(",".join(f"{n}:{format_shape(s)}" for n, s in shapes.items())) == shapes


def test_named_dims_and_scalars() -> None:
    assert format_shape(("batch", 3, "h")) == "batchx3xh"
    assert format_shape(()) == ""
    assert format_dims(()) == "[]"
    assert format_dims((2, "n")) == "2xn"


@pytest.mark.parametrize("text", ["1x3", "x:1xa", "x:0x3"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_shapes(text)
