"""Convert plain data into the schema's dataclasses, then check what types cannot say.

Every error names the key path (``verify.per_output.logits.atol``) and, for an
unknown key or choice, the closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from trtc.errors import RecipeError, did_you_mean
from trtc.recipe.schema import Recipe


def parse_recipe(raw: Mapping[str, Any], source: str = "<recipe>") -> Recipe:
    """Validate a mapping into a :class:`Recipe` (no path resolution).

    Raises:
        RecipeError: a key is unknown or missing, or a value does not fit the schema.
    """
    recipe = convert(raw, Recipe, "", source)
    check_semantics(recipe, source)
    return recipe


def join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"mapping of {_type_name(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


def fail(source: str, where: str, message: str, hint: str | None = None) -> RecipeError:
    return RecipeError(f"{source}: {where or '<top level>'}: {message}", hint)


def convert(value: Any, tp: Any, where: str, source: str) -> Any:  # noqa: C901
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise fail(source, where, f"expected a mapping, got {type(value).__name__} "
                        f"{value!r}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if not f.metadata.get("internal")}
        for key in value:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f"did you mean '{join(where, close[0])}'?" if close else \
                    f"valid keys: {', '.join(fields)}"
                raise fail(source, join(where, str(key)), "unknown key", hint)
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = convert(value[name], hints[name], join(where, name), source)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise fail(source, join(where, name), "required key is missing",
                            f"add '{name}:' ({_type_name(hints[name])})")
        return tp(**kwargs)  # type: ignore[operator]
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            choice_hint = f"did you mean '{close[0]}'?" if close else None
            if isinstance(value, int) and "2:4" in choices and value == 124:
                # YAML 1.1 reads an unquoted 2:4 as the base-60 number 124.
                choice_hint = "quote it: method: \"2:4\" (YAML reads a bare 2:4 as 124)"
            raise fail(source, where, f"must be one of {', '.join(map(str, choices))}; "
                        f"got {value!r}", choice_hint)
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg, where, source)
            except RecipeError:
                continue  # try the next member; the error below names them all
        raise fail(source, where, f"expected {_type_name(tp)}, got {type(value).__name__} "
                    f"{value!r}")
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and \
                item_tp is not str:
            value = [value]  # a scalar where a list is expected: `batch: 8`
        if isinstance(value, str) and item_tp is str:
            value = [value]
        if not isinstance(value, list):
            raise fail(source, where, f"expected a list, got {type(value).__name__} {value!r}")
        return tuple(convert(v, item_tp, f"{where}[{i}]", source) for i, v in enumerate(value))
    if origin is dict:
        _key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise fail(source, where, f"expected a mapping, got {type(value).__name__} "
                        f"{value!r}")
        if val_tp is Any:
            return dict(value)
        return {str(k): convert(v, val_tp, join(where, str(k)), source)
                for k, v in value.items()}
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise fail(source, where, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(source, where, f"expected an integer, got {type(value).__name__} "
                        f"{value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(source, where, f"expected a number, got {type(value).__name__} "
                        f"{value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail(source, where, f"expected a string, got {type(value).__name__} "
                        f"{value!r}")
        return value
    raise TypeError(f"schema type not handled: {tp!r}")  # a bug in the schema, not user input


def check_semantics(recipe: Recipe, source: str) -> None:
    src = recipe.model.source
    if not src.startswith(("torchvision:", "python:", "onnx:")):
        raise fail(source, "model.source", f"unknown model source {src!r}",
                    "use torchvision:<name>, python:<module>:<factory> or onnx:<path>")
    if src.startswith("python:") and src.count(":") < 2:
        raise fail(source, "model.source", f"{src!r} names no factory",
                    "write python:<module or file.py>:<factory function>")
    if recipe.is_pytorch and recipe.export.enabled and not recipe.model.inputs:
        raise fail(source, "model.inputs", "a PyTorch model needs its input specs to export",
                    "add inputs: [{name: input, shape: [batch, 3, 224, 224]}]")
    for i, spec in enumerate(recipe.model.inputs):
        where = f"model.inputs[{i}].shape"
        for d in spec.shape:
            if isinstance(d, int) and d <= 0:
                raise fail(source, where, f"dims must be positive or named, got {d}",
                            "write a name such as 'batch' for a dynamic dim")
        _check_dtype(spec.dtype, source, f"model.inputs[{i}].dtype")
    for b in recipe.bench.batch:
        if b <= 0:
            raise fail(source, "bench.batch", f"batch sizes must be positive, got {b}")
    if recipe.bench.duration_s <= 0 or recipe.bench.min_iterations <= 0:
        raise fail(source, "bench", "duration_s and min_iterations must be positive")
    if recipe.bench.streams <= 0:
        raise fail(source, "bench.streams", f"must be positive, got {recipe.bench.streams}")
    if recipe.prune.method != "2:4" and not 0.0 < recipe.prune.ratio < 1.0:
        raise fail(source, "prune.ratio", f"must be between 0 and 1 (exclusive) for method "
                    f"{recipe.prune.method}; got {recipe.prune.ratio:g}",
                    "e.g. ratio: 0.3 removes 30 % of the channels / weights")
    if recipe.prune.channel_multiple <= 0:
        raise fail(source, "prune.channel_multiple", "must be a positive integer")
    if recipe.verify.data.batch <= 0 or recipe.verify.data.iterations <= 0:
        raise fail(source, "verify.data", "batch and iterations must be positive")
    q = recipe.quantize
    if q.calib_samples <= 0 or q.calib_batch <= 0 or q.budget_step <= 0:
        raise fail(source, "quantize", "calib_samples, calib_batch and budget_step must be "
                    "positive")
    if q.max_drop is not None and not 0 <= q.max_drop <= 1:
        raise fail(source, "quantize.max_drop", f"must be between 0 and 1, got {q.max_drop}",
                    "0.01 allows a 1-point top-1 drop (or cosine >= 0.99)")
    if q.precision == "fp8" and q.target != "tensorrt":
        raise fail(source, "quantize.precision", "fp8 Q/DQ is for target tensorrt "
                    "(ONNX Runtime's CPU kernels have no float8 path)",
                    "use precision int8 with target onnxruntime-cpu")
    if not 0 < q.calib_percentile <= 100:
        raise fail(source, "quantize.calib_percentile", "must be in (0, 100]")
    for key, value in (("int8_fraction", recipe.build.expect.int8_fraction),
                       ("fp16_fraction", recipe.build.expect.fp16_fraction)):
        if value is not None and not 0 <= value <= 1:
            raise fail(source, f"build.expect.{key}", f"must be between 0 and 1, got {value}",
                       "0.8 asks for 80 % of the compute layers in that precision")
    if recipe.bench.max_regression < 0:
        raise fail(source, "bench.max_regression", "must be >= 0 (0.05 allows 5 % slower)")
    pk = recipe.package
    if (pk.max_batch_size is not None and pk.max_batch_size < 0) or pk.version <= 0:
        raise fail(source, "package", "max_batch_size must be >= 0 and version positive")
    if recipe.verify.reference == "pytorch" and not recipe.is_pytorch:
        raise fail(source, "verify.reference", "'pytorch' needs a PyTorch model source",
                    "use reference: export for an onnx: model")


_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8",
           "bool")


def _check_dtype(dtype: str, source: str, where: str) -> None:
    if dtype not in _DTYPES:
        raise fail(source, where, f"unknown dtype {dtype!r}",
                   did_you_mean(dtype, _DTYPES, f"use one of {_DTYPES}"))

