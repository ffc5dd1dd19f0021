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
        if isinstance(value, str) and val_tp == tuple[int, ...]:
            # A shapes key written as trtexec's --shapes: `shapes: "x:1x3x224x224"`.
            from trtc.errors import UsageError
            from trtc.shapes import parse_shapes

            try:
                return parse_shapes(value, where)
            except UsageError as exc:
                raise fail(source, where, exc.message.removeprefix(f"{where} "),
                           f"{where}: {{x: [1, 3, 224, 224]}} or \"x:1x3x224x224\"") from None
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
    check_name(recipe.name, source)
    check_numbers(recipe, source)
    src = recipe.model.source
    if not src.startswith(("torchvision:", "python:", "onnx:")):
        raise fail(source, "model.source", f"unknown model source {src!r}",
                    f"write onnx:{src}" if src.lower().endswith(".onnx") else
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
    if recipe.bench.sweep is not None:
        from trtc.sweep import SweepError

        try:
            recipe.bench.swept()
        except SweepError as exc:
            raise fail(source, "bench.sweep", f"{recipe.bench.sweep!r}: {exc}",
                       "write e.g. 'batch=1,8,32 streams=1,2'") from None
    if recipe.bench.max_latency_ms is not None and recipe.bench.max_latency_ms <= 0:
        raise fail(source, "bench.max_latency_ms",
                   f"must be positive, got {recipe.bench.max_latency_ms:g}")
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
    if q.budget_on == "engine" and q.target == "onnxruntime-cpu":
        raise fail(source, "quantize.budget_on", "'engine' builds TensorRT engines, but "
                    "quantize.target onnxruntime-cpu places Q/DQ for ONNX Runtime's CPU kernels",
                    "use target tensorrt (or auto), or budget_on: onnxruntime")
    if q.float_precision == "fp16" and (q.target == "onnxruntime-cpu"
                                        or q.precision not in ("int8", "fp8")):
        raise fail(source, "quantize.float_precision", "fp16 float regions are for int8 / "
                    "fp8 Q/DQ models for TensorRT (ONNX Runtime's CPU kernels have few fp16 "
                    "ops; precision fp16 converts the whole model already)",
                    "use target tensorrt with precision int8, or float_precision: fp32")
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


# --------------------------------------------------------------------------- numbers

#: The lowest ONNX opset torch.onnx exports (a lower one would be silently ignored).
MIN_OPSET = 7

#: Range rules for numeric keys, shared by recipes and flags (flags go through
#: ``override``, which calls :func:`check_semantics`): key path -> (low, high,
#: low inclusive, what a valid value is). ``*`` matches one key (an output name).
#: Every float anywhere in a recipe must also be finite.
_RANGES: dict[str, tuple[float | None, float | None, bool, str]] = {
    "export.opset": (MIN_OPSET, None, True, f"an ONNX opset >= {MIN_OPSET}"),
    "export.parity_atol": (0, None, True, "a tolerance >= 0"),
    "export.parity_rtol": (0, None, True, "a tolerance >= 0"),
    "export.parity_samples": (0, None, True, "a count >= 0"),
    "export.example_dims.*": (0, None, False, "a positive size"),
    "quantize.calib_preprocess.resize": (0, None, False, "a positive pixel count"),
    "quantize.calib_preprocess.crop": (0, None, False, "a positive pixel count"),
    "quantize.calib_preprocess.scale": (0, None, False, "a positive number"),
    "build.threads": (0, None, False, "a positive thread count"),
    "build.int8_calib_samples": (0, None, False, "a positive count"),
    "build.timeout_s": (0, None, False, "a positive number of seconds"),
    "verify.atol": (0, None, True, "a tolerance >= 0"),
    "verify.rtol": (0, None, True, "a tolerance >= 0"),
    "verify.per_output.*.atol": (0, None, True, "a tolerance >= 0"),
    "verify.per_output.*.rtol": (0, None, True, "a tolerance >= 0"),
    "verify.max_drop": (0, 1, True, "a fraction from 0 to 1"),
    "verify.min_cosine": (-1, 1, True, "a cosine from -1 to 1"),
    "bench.warmup_ms": (0, None, True, "milliseconds >= 0"),
    "bench.threads": (0, None, False, "a positive thread count"),
    "bench.cov_warn": (0, None, True, "a fraction >= 0"),
}


def _walk(value: Any, where: str) -> Any:
    """Yield (key path, value) for every leaf of a spec tree."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if not f.metadata.get("internal"):
                yield from _walk(getattr(value, f.name), join(where, f.name))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, join(where, str(k)))
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{where}[{i}]")
    else:
        yield where, value


def _rule_for(where: str) -> tuple[float | None, float | None, bool, str] | None:
    if where in _RANGES:
        return _RANGES[where]
    parts = where.split(".")
    for pattern, rule in _RANGES.items():
        pp = pattern.split(".")
        if len(pp) == len(parts) and all(a == "*" or a == b for a, b in zip(pp, parts)):
            return rule
    return None


def check_numbers(recipe: Recipe, source: str) -> None:
    """Refuse NaN/inf anywhere, and numbers outside their key's range (:data:`_RANGES`)."""
    import math

    for where, value in _walk(recipe, ""):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise fail(source, where, f"must be a finite number, got {value}",
                       "NaN and infinity are never valid here")
        rule = _rule_for(where)
        if rule is None:
            continue
        low, high, inclusive, what = rule
        too_low = low is not None and (value < low if inclusive else value <= low)
        if too_low or (high is not None and value > high):
            raise fail(source, where, f"must be {what}, got {value:g}")
    shape_maps = {"quantize.shapes": recipe.quantize.shapes, "build.shapes": recipe.build.shapes,
                  "verify.data.shapes": recipe.verify.data.shapes,
                  "bench.shapes": recipe.bench.shapes}
    for key, shapes in shape_maps.items():
        for name, dims in shapes.items():
            if not dims or any(d <= 0 for d in dims):
                raise fail(source, join(key, name), f"dims must be positive integers, got "
                           f"{list(dims)}", "e.g. [1, 3, 224, 224]")
    for i, profile in enumerate(recipe.build.profiles):
        for name, r in profile.items():
            where = f"build.profiles[{i}].{name}"
            if not (len(r.min) == len(r.opt) == len(r.max)) or not r.min:
                raise fail(source, where, "min, opt and max must have the same rank")
            if any(d <= 0 for d in (*r.min, *r.opt, *r.max)):
                raise fail(source, where, "dims must be positive")
            if any(not lo <= mid <= hi for lo, mid, hi in zip(r.min, r.opt, r.max)):
                raise fail(source, where, f"needs min <= opt <= max in every dim; got min "
                           f"{list(r.min)}, opt {list(r.opt)}, max {list(r.max)}",
                           "e.g. min [1, 3, 224, 224], opt [8, 3, 224, 224], "
                           "max [32, 3, 224, 224]")


def check_name(name: str, source: str) -> None:
    """A recipe name is one plain path component: ``build/<name>/`` stays in ``build/``."""
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or name != name.strip() or any(ord(c) < 32 for c in name))
    if bad:
        raise fail(source, "name", f"must be a plain folder name (no '/', '..', NUL or "
                   f"control characters, not empty); got {name!r}",
                   "e.g. name: resnet18-int8 (artifacts go to build/<name>/)")


_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8",
           "bool")


def _check_dtype(dtype: str, source: str, where: str) -> None:
    if dtype not in _DTYPES:
        raise fail(source, where, f"unknown dtype {dtype!r}",
                   did_you_mean(dtype, _DTYPES, f"use one of {_DTYPES}"))

