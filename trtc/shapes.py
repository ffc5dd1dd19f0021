"""trtexec-style shapes: ``x:1x3x224x224,mask:1x128`` parsed and formatted in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from trtc.errors import UsageError


def parse_shapes(text: str | None, flag: str = "--shapes") -> dict[str, tuple[int, ...]]:
    """Parse trtexec-style shapes: ``x:1x3x224x224,mask:1x128``.

    Raises:
        UsageError: a part has no ``name:`` or a dim is not a positive integer.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    if not text:
        return shapes
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, dims = part.rpartition(":")
        if not sep or not name:
            raise UsageError(f"{flag} {part!r}: expected NAME:DxDxD",
                             f"e.g. {flag} input:1x3x224x224")
        try:
            values = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            raise UsageError(f"{flag} {part!r}: dims must be integers separated by 'x'",
                             f"e.g. {flag} {name}:1x3x224x224") from None
        if any(v <= 0 for v in values):
            raise UsageError(f"{flag} {part!r}: dims must be positive")
        shapes[name.strip("'\"")] = values
    return shapes


def format_shape(shape: Sequence[int | str]) -> str:
    """``(1, 3, 'h', 224)`` -> ``1x3xhx224`` (trtexec's form; named dims as they are)."""
    return "x".join(str(d) for d in shape)


def format_dims(shape: Sequence[int | str]) -> str:
    """:func:`format_shape`, with a scalar (or unknown rank) shown as ``[]``."""
    return format_shape(shape) if len(shape) else "[]"


def format_shapes(shapes: Mapping[str, Sequence[int | str]]) -> str:
    """``{'x': (1, 3), 'm': (1,)}`` -> ``x:1x3, m:1`` (messages and descriptions)."""
    return ", ".join(f"{name}:{format_shape(shape)}" for name, shape in shapes.items())
