"""trtc quantize: placeholder until the optimisation stage lands (issue 4)."""

from __future__ import annotations

from typing import Annotated

import typer

from trtc.errors import UsageError


def quantize(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or an ONNX model.")],
) -> None:
    """Not implemented yet."""
    raise UsageError("trtc quantize is not implemented yet")
