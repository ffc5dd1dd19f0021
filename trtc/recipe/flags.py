"""Recipes from flags: a recipe for one model path, and flag values over a section."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from trtc.errors import UsageError, did_you_mean
from trtc.recipe.schema import InputSpec, ModelSpec, Recipe, to_data
from trtc.recipe.validate import check_semantics, convert, fail, join


def recipe_for_model(model: str | Path, name: str | None = None) -> Recipe:
    """Make a recipe for one-off flag use (``trtc bench model.onnx``): no YAML involved."""
    text = str(model)
    if ":" in text.split("/")[0] and not Path(text).exists():
        source = text  # torchvision:resnet18 / python:mod:fn / onnx:path
    else:
        source = f"onnx:{Path(text).resolve()}"
    stem = name or Path(text.split(":")[-1]).name.split(".")[0] or "model"
    return Recipe(name=stem, model=ModelSpec(source=source))


def override(recipe: Recipe, section: str, **changes: Any) -> Recipe:
    """Return ``recipe`` with flag values replacing keys of one section (None = keep).

    Raises:
        RecipeError: a key is not in the section (``precison=``), or a value does not fit
            the schema (``--optimization-level fast``).
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        check_semantics(recipe, "flags")  # flags that changed other sections (--input)
        return recipe
    current = getattr(recipe, section)
    # Flags arrive as free values: check and convert them as a recipe value would be.
    hints = typing.get_type_hints(type(current))
    for key in changes:
        if key not in hints:
            raise fail("flags", join(section, key), "unknown key",
                       did_you_mean(key, list(hints), f"valid keys: {', '.join(hints)}"))
    changes = {k: convert(to_data(v), hints[k], join(section, k), "flags")
               for k, v in changes.items()}
    updated = dataclasses.replace(current, **changes)
    recipe = dataclasses.replace(recipe, **{section: updated})
    check_semantics(recipe, "flags")
    return recipe



def parse_input(text: str) -> InputSpec:
    """Parse ``NAME:DIMS[:DTYPE]``, dims joined by 'x'; a non-numeric dim is a named dynamic dim.

    Raises:
        UsageError: not of that form.
    """
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise UsageError(f"--input {text!r}: expected NAME:DIMS[:DTYPE]",
                         "e.g. --input input:batchx3x224x224:float32")
    dims = tuple(int(d) if d.lstrip("+-").isdigit() else d for d in parts[1].split("x"))
    return InputSpec(name=parts[0], shape=dims, dtype=parts[2] if len(parts) == 3 else "float32")
