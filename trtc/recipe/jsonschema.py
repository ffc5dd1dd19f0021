"""The recipe's JSON Schema (draft 2020-12), generated from the schema's dataclasses."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from trtc.recipe.schema import Recipe, to_data

#: trtexec's --shapes text (``x:1x3x224x224,mask:1x128``), as the recipe also takes it.
SHAPES_PATTERN = r"^\s*[^,]+:\d+([xX]\d+)*\s*(,\s*[^,]+:\d+([xX]\d+)*\s*)*$"


def json_schema() -> dict[str, Any]:
    """Return a JSON Schema (draft 2020-12) for recipes, generated from the dataclasses."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "trtc recipe", **_schema_of(Recipe)}


def _schema_of(tp: Any) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        props, required = {}, []
        for f in dataclasses.fields(tp):
            if f.metadata.get("internal"):
                continue
            props[f.name] = _schema_of(hints[f.name])
            if f.default is not dataclasses.MISSING:
                props[f.name]["default"] = to_data(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
                if not dataclasses.is_dataclass(default):
                    props[f.name]["default"] = to_data(default)
            else:
                required.append(f.name)
        out: dict[str, Any] = {"type": "object", "properties": props,
                               "additionalProperties": False}
        if tp.__doc__:
            out["description"] = " ".join(tp.__doc__.split())
        if required:
            out["required"] = required
        return out
    if origin is Literal:
        return {"enum": list(typing.get_args(tp))}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema_of(a) for a in typing.get_args(tp)]}
    if origin is tuple:
        return {"type": "array", "items": _schema_of(typing.get_args(tp)[0])}
    if origin is dict:
        value_tp = typing.get_args(tp)[1]
        mapping = {"type": "object", "additionalProperties": _schema_of(value_tp)}
        if value_tp == tuple[int, ...]:  # shapes: also trtexec's string
            return {"anyOf": [mapping, {"type": "string", "pattern": SHAPES_PATTERN}]}
        return mapping
    simple = {bool: "boolean", int: "integer", float: "number", str: "string",
              type(None): "null"}
    if tp in simple:
        return {"type": simple[tp]}
    return {}
