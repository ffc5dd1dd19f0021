"""trtc.recipe.jsonschema: the JSON Schema generated from the dataclasses.

Every expected value below is written out by hand from the recipe text; none is
computed by the code under test.
"""

from __future__ import annotations

import json

import pytest

from trtc.recipe import (
    json_schema,
)

# --------------------------------------------------------------------------- JSON Schema


def test_json_schema_top_level() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "model"]
    assert set(schema["properties"]) == {"name", "model", "export", "prune", "quantize",
                                         "build", "verify", "bench", "package"}
    json.dumps(schema)  # plain JSON


@pytest.mark.parametrize("section", ["model", "export", "build", "verify", "bench"])
def test_json_schema_sections_forbid_unknown_keys(section: str) -> None:
    sub = json_schema()["properties"][section]
    assert sub["type"] == "object"
    assert sub["additionalProperties"] is False


def test_json_schema_nested_objects_forbid_unknown_keys() -> None:
    props = json_schema()["properties"]
    data = props["verify"]["properties"]["data"]
    assert data["additionalProperties"] is False
    tol = props["verify"]["properties"]["per_output"]["additionalProperties"]
    assert tol["additionalProperties"] is False
    assert set(tol["properties"]) == {"atol", "rtol"}
    item = props["model"]["properties"]["inputs"]["items"]
    assert item["additionalProperties"] is False
    assert item["required"] == ["name", "shape"]


def test_json_schema_required_and_enums_and_defaults() -> None:
    props = json_schema()["properties"]
    assert props["model"]["required"] == ["source"]
    assert "required" not in props["bench"]
    build = props["build"]["properties"]
    assert build["backend"]["enum"] == ["auto", "onnxruntime", "tensorrt"]
    assert build["backend"]["default"] == "auto"
    assert build["device"]["enum"] == ["cpu", "cuda"]
    assert props["export"]["properties"]["exporter"]["enum"] == ["auto", "dynamo", "legacy"]
    assert props["export"]["properties"]["opset"]["default"] == "auto"
    assert props["verify"]["properties"]["metric"]["enum"] == ["none", "top1", "cosine"]
    bench = props["bench"]["properties"]
    assert bench["duration_s"] == {"type": "number", "default": 3.0}
    assert bench["batch"]["type"] == "array"
    assert bench["batch"]["items"] == {"type": "integer"}
    assert bench["batch"]["default"] == [1]
    assert {"type": "null"} in bench["threads"]["anyOf"]
    assert {"type": "integer"} in bench["threads"]["anyOf"]


def test_json_schema_omits_internal_fields() -> None:
    assert "path" not in json_schema()["properties"]


def test_json_schema_shapes_take_a_mapping_or_trtexecs_string() -> None:
    import re

    shapes = json_schema()["properties"]["quantize"]["properties"]["shapes"]
    mapping, text = shapes["anyOf"]
    assert mapping == {"type": "object", "additionalProperties":
                       {"type": "array", "items": {"type": "integer"}}}
    assert text["type"] == "string"
    for ok in ("x:1x3x224x224", "x:1x3x224x224, mask:1x128", "input.1:8X3X32X32"):
        assert re.match(text["pattern"], ok), ok
    for bad in ("x", "x:1x3xNx224", "x:1x3,,y:2", ":"):
        assert not re.match(text["pattern"], bad), bad
