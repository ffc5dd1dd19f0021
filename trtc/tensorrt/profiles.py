"""Optimization profiles: parsed from text, defaulted from the recipe, checked against
the model, and matched to the shapes an engine is run with.

A profile is ``{input name: (min, opt, max)}``. Only dynamic inputs are in a
resolved profile: TensorRT needs none for static ones.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trtc.errors import UsageError
from trtc.shapes import format_shape

if TYPE_CHECKING:
    from trtc.recipe import BuildSpec

Dims = tuple[int, ...]
ShapeRange = tuple[Dims, Dims, Dims]          # (min, opt, max)
OnnxInputs = Mapping[str, tuple[str, tuple[int | str, ...]]]
#: Profiles as an engine reports them: [{input: [min, opt, max]}] (lists, from JSON).
EngineProfiles = Sequence[Mapping[str, Sequence[Sequence[int]]]]


@dataclass(frozen=True)
class ProfileSpec:
    """One optimization profile: input name -> (min, opt, max) shapes."""

    shapes: dict[str, ShapeRange]


def recipe_profiles(spec: BuildSpec) -> list[dict[str, ShapeRange]]:
    """The recipe's ``build.profiles`` as {input: (min, opt, max)} (not yet checked)."""
    return [{name: (tuple(r.min), tuple(r.opt), tuple(r.max)) for name, r in prof.items()}
            for prof in spec.profiles]


def _parse_dims(text: str, where: str) -> Dims:
    try:
        dims = tuple(int(d) for d in text.strip().lower().split("x"))
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not a shape",
                         "write dims as integers joined by 'x', e.g. 8x3x224x224") from None
    if any(d <= 0 for d in dims):
        raise UsageError(f"{where}: dims must be positive, got {text!r}")
    return dims


def parse_profile(text: str, flag: str = "--profile") -> ProfileSpec:
    """Parse one profile: 'input:1x3x224x224,8x3x224x224,32x3x224x224'.

    Several inputs of the same profile are separated by ';'
    ('ids:1x16,8x128,32x512;mask:1x16,8x128,32x512'). One shape instead of three
    means min = opt = max. Only the text is checked here; resolve_profiles()
    checks it against the model.

    Raises:
        UsageError: malformed text.
    """
    shapes: dict[str, ShapeRange] = {}
    example = f"{flag} 'input:1x3x224x224,8x3x224x224,32x3x224x224'"
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if not parts:
        raise UsageError(f"{flag}: empty profile", f"e.g. {example}")
    for part in parts:
        name, sep, rest = part.rpartition(":")
        name = name.strip().strip("'\"")
        if not sep or not name:
            raise UsageError(f"{flag} {part!r}: expected NAME:MIN,OPT,MAX", f"e.g. {example}")
        where = f"{flag} {name}"
        dims = [_parse_dims(s, where) for s in rest.split(",")]
        if len(dims) == 1:
            dims = dims * 3
        if len(dims) != 3:
            raise UsageError(f"{where}: expected 3 shapes (min,opt,max) or 1, got {len(dims)}",
                             f"e.g. {example}")
        if name in shapes:
            raise UsageError(f"{where}: input given twice in one profile",
                             "repeat --profile for another profile")
        shapes[name] = (dims[0], dims[1], dims[2])
    return ProfileSpec(shapes)


def format_profile(profile: ProfileSpec) -> str:
    """Return the parse_profile() text of a profile (round-trips)."""
    return ";".join(f"{name}:{','.join(format_shape(s) for s in rng)}"
                    for name, rng in profile.shapes.items())


def profile_to_data(profile: ProfileSpec) -> dict[str, dict[str, list[int]]]:
    """Return a profile as recipe data ({input: {min: [..], opt: [..], max: [..]}})."""
    return {name: {"min": list(mn), "opt": list(opt), "max": list(mx)}
            for name, (mn, opt, mx) in profile.shapes.items()}


def _is_dynamic(shape: tuple[int | str, ...]) -> bool:
    return any(not isinstance(d, int) or d < 0 for d in shape)


def _fmt(shape: Sequence[int | str]) -> str:
    # As trtc.shapes.format_shape, but a rank-0 input reads 'scalar' in profile errors.
    return "x".join(str(d) for d in shape) if shape else "scalar"


def resolve_profiles(profiles: Sequence[Mapping[str, ShapeRange]], onnx_inputs: OnnxInputs, *,
                     default_profile: Mapping[str, ShapeRange] | None = None,
                     notes: list[str] | None = None,
                     batch_profiles: Sequence[int] = ()) -> tuple[ProfileSpec, ...]:
    """Check profiles against the model's inputs; fill in the default when none is given
    (once: bench's extra streams run on copies of the engine, as trtexec's). Then, for each of
    ``batch_profiles`` (``build.batch_profiles``), one more profile: the first one with
    the batch (dim 0 of every input whose dim 0 is dynamic) pinned there, min = opt = max,
    and the other dims at its opt (a batch-1 profile tuned for latency beside the
    throughput one; bench and verify run each shape on the profile whose opt is nearest).

    Each profile must name existing inputs, match their rank and static dims,
    keep min <= opt <= max, agree on dims two inputs share by name, and cover
    every dynamic input (left-out inputs are taken from ``default_profile``).
    Static inputs are checked, then left out: TensorRT needs no profile for them.

    Raises:
        UsageError: naming the profile, the input and the shape that does not fit.
    """
    dynamic = [n for n, (_, shape) in onnx_inputs.items() if _is_dynamic(shape)]
    given = [dict(p) for p in profiles]
    if not given:
        if not dynamic:
            return ()
        given = [{}]
        where_of = ["the default profile"]
    else:
        where_of = [f"build.profiles[{i}]" for i in range(len(given))]
    resolved: list[ProfileSpec] = []
    for where, prof in zip(where_of, given, strict=True):
        for name in prof:
            if name not in onnx_inputs:
                close = difflib.get_close_matches(name, list(onnx_inputs), n=1)
                raise UsageError(
                    f"{where}: {name!r} is not an input of the model (inputs: "
                    f"{', '.join(onnx_inputs) or 'none'})",
                    f"did you mean '{close[0]}'?" if close else "check the input name "
                    "with: trtc inspect MODEL.onnx")
        shapes: dict[str, ShapeRange] = {}
        for name in onnx_inputs:
            _, model_shape = onnx_inputs[name]
            if name in prof:
                rng = prof[name]
            elif name in dynamic and default_profile and name in default_profile:
                rng = default_profile[name]
            elif name in dynamic:
                raise UsageError(
                    f"{where}: no shapes for dynamic input {name!r} "
                    f"({_fmt(model_shape)})",
                    f"give min,opt,max: --profile '{name}:{_example(model_shape)}' "
                    "(TensorRT needs every dynamic input in every profile)")
            else:
                continue
            _check_range(where, name, model_shape, rng)
            if name in dynamic:
                shapes[name] = (tuple(rng[0]), tuple(rng[1]), tuple(rng[2]))
            elif notes is not None and name in prof:
                notes.append(f"{where}: {name!r} is static ({_fmt(model_shape)}); its "
                             "shapes are checked and left out of the profile")
        _check_shared_dims(where, shapes, onnx_inputs)
        resolved.append(ProfileSpec(shapes))
    if not dynamic:
        return ()
    for batch in batch_profiles:
        if batch < 1:
            raise UsageError(f"build.batch_profiles: {batch} is not a batch size",
                             "list positive batch sizes, e.g. [1]")
        pinned: dict[str, ShapeRange] = {}
        for name, (lo, opt, hi) in resolved[0].shapes.items():
            model_dim0 = onnx_inputs[name][1][0] if onnx_inputs[name][1] else 1
            shape = tuple(opt)
            if not (isinstance(model_dim0, int) and model_dim0 > 0):
                if not int(lo[0]) <= batch <= int(hi[0]) and notes is not None:
                    notes.append(f"build.batch_profiles: batch {batch} is outside profile 0's "
                                 f"{lo[0]}..{hi[0]} for {name!r}; its profile holds it anyway")
                shape = (batch, *shape[1:])
            pinned[name] = (shape, shape, shape)
        _check_shared_dims(f"build.batch_profiles ({batch})", pinned, onnx_inputs)
        resolved.append(ProfileSpec(pinned))
    if batch_profiles and notes is not None:
        first = len(resolved) - len(batch_profiles)
        which = (f"profile {first}" if len(batch_profiles) == 1 else
                 f"profiles {first}..{len(resolved) - 1}")
        notes.append(f"build.batch_profiles: {which} pinned to batch "
                     f"{', '.join(map(str, batch_profiles))} (min = opt = max), beside "
                     f"profile{'s' if first > 1 else ''} 0{f'..{first - 1}' if first > 1 else ''}")
    if not profiles and notes is not None:
        notes.append("no build.profiles given: one profile from the recipe's shapes "
                     f"({format_profile(resolved[0])}); pass --profile for other shapes")
    return tuple(resolved)


def _example(shape: tuple[int | str, ...]) -> str:
    lo = [d if isinstance(d, int) and d > 0 else 1 for d in shape]
    hi = [d if isinstance(d, int) and d > 0 else 8 for d in shape]
    return f"{_fmt(lo)},{_fmt(hi)},{_fmt(hi)}"


def _check_range(where: str, name: str, model_shape: tuple[int | str, ...],
                 rng: ShapeRange) -> None:
    labels = ("min", "opt", "max")
    if len(rng) != 3:
        raise UsageError(f"{where}: {name}: expected min, opt and max shapes")
    ranks = {len(s) for s in rng}
    if len(ranks) != 1:
        raise UsageError(f"{where}: {name}: min/opt/max have different ranks "
                         f"({', '.join(_fmt(s) for s in rng)})",
                         "give the same number of dims for min, opt and max")
    rank = ranks.pop()
    # An ONNX rank of 0 with dims given means "rank unknown": nothing to compare.
    if model_shape and rank != len(model_shape):
        raise UsageError(f"{where}: {name}: the model's input has rank {len(model_shape)} "
                         f"({_fmt(model_shape)}), the profile gives rank {rank} "
                         f"({_fmt(rng[0])})",
                         f"give {len(model_shape)} dims, e.g. {_example(model_shape)}")
    for label, shape in zip(labels, rng, strict=True):
        if any(d <= 0 for d in shape):
            raise UsageError(f"{where}: {name}: {label} shape {_fmt(shape)} has a dim <= 0")
    for i in range(rank):
        lo, opt, hi = rng[0][i], rng[1][i], rng[2][i]
        if not lo <= opt <= hi:
            raise UsageError(f"{where}: {name}: dim {i} must satisfy min <= opt <= max, got "
                             f"{lo}, {opt}, {hi} ({', '.join(_fmt(s) for s in rng)})",
                             "order the shapes min,opt,max")
        if model_shape:
            d = model_shape[i]
            if isinstance(d, int) and d >= 0 and not lo == opt == hi == d:
                raise UsageError(f"{where}: {name}: dim {i} is fixed to {d} in the model "
                                 f"({_fmt(model_shape)}), the profile gives {lo}, {opt}, {hi}",
                                 f"use {d} for dim {i} (only named/'?' dims can vary)")


def _check_shared_dims(where: str, shapes: Mapping[str, ShapeRange],
                       onnx_inputs: OnnxInputs) -> None:
    """Dims two inputs share by name (e.g. 'batch') must have the same range."""
    seen: dict[str, tuple[str, tuple[int, int, int]]] = {}
    for name, rng in shapes.items():
        model_shape = onnx_inputs[name][1]
        for i, d in enumerate(model_shape):
            # '?' and 'dimN' are placeholders for unnamed dims, not a shared name.
            if not isinstance(d, str) or d in ("?", "") or re.fullmatch(r"dim\d+", d) \
                    or i >= len(rng[0]):
                continue
            values = (rng[0][i], rng[1][i], rng[2][i])
            if d in seen and seen[d][1] != values:
                other, ovals = seen[d]
                raise UsageError(f"{where}: dim {d!r} is {ovals} (min,opt,max) for {other!r} "
                                 f"but {values} for {name!r}",
                                 f"inputs that share the dim {d!r} need the same range")
            seen.setdefault(d, (name, values))


def default_profile(onnx_inputs: OnnxInputs, *, batches: Sequence[int] = (1,),
                    dims: Mapping[str, int] | None = None,
                    shapes: Sequence[Mapping[str, Sequence[int]]] = ()
                    ) -> dict[str, ShapeRange]:
    """Return min/opt/max for each dynamic input from the shapes the pipeline will run.

    Concrete shapes (``shapes``: verify/bench ``shapes:``) are used where given.
    Otherwise the first dynamic dim is the batch (``batches``: min = smallest,
    opt = max = largest) and other named dims come from ``dims`` (export's
    ``example_dims``). Inputs with a dim none of these fixes are left out, so
    plan_trt_build() asks for a --profile naming that dim.
    """
    dims = dims or {}
    out: dict[str, ShapeRange] = {}
    for name, (_, shape) in onnx_inputs.items():
        if not _is_dynamic(shape):
            continue
        candidates = [tuple(int(v) for v in s[name]) for s in shapes
                      if name in s and (not shape or len(s[name]) == len(shape))]
        if not candidates and shape:
            base: list[int | None] = []
            ok = True
            for i, d in enumerate(shape):
                if isinstance(d, int) and d >= 0:
                    base.append(d)
                elif i == 0:
                    base.append(None)
                elif isinstance(d, str) and d in dims:
                    base.append(int(dims[d]))
                else:
                    ok = False
            if not ok:
                continue
            candidates = [tuple(b if b is not None else int(n) for b in base)
                          for n in (batches or (1,))]
        if not candidates:
            continue
        lo = tuple(min(c[i] for c in candidates) for i in range(len(candidates[0])))
        hi = tuple(max(c[i] for c in candidates) for i in range(len(candidates[0])))
        out[name] = (lo, hi, hi)
    return out


def profile_corners(profiles: Sequence[ProfileSpec]) -> list[tuple[str, dict[str, Dims]]]:
    """Return each distinct (label, {input: shape}) at min / opt / max of every profile."""
    corners: list[tuple[str, dict[str, Dims]]] = []
    seen: set[tuple[tuple[str, Dims], ...]] = set()
    for i, prof in enumerate(profiles):
        for k, label in enumerate(("min", "opt", "max")):
            feed = {name: rng[k] for name, rng in prof.shapes.items()}
            key = tuple(sorted(feed.items()))
            if key in seen:
                continue
            seen.add(key)
            corners.append((f"profile {i} {label}", feed))
    return corners


# --------------------------------------------------------------------------- running an engine


def named_shape(engine_shape: Sequence[int], onnx_shape: Sequence[int | str] | None
                ) -> tuple[int | str, ...]:
    """The engine's shape with -1 dims named as in the ONNX model (``dimN`` otherwise)."""
    out: list[int | str] = []
    for axis, d in enumerate(engine_shape):
        if int(d) >= 0:
            out.append(int(d))
        elif onnx_shape is not None and axis < len(onnx_shape) and \
                isinstance(onnx_shape[axis], str):
            out.append(onnx_shape[axis])
        else:
            out.append(f"dim{axis}")
    return tuple(out)


def choose_profile(profiles: EngineProfiles, shapes: Mapping[str, Sequence[int]]) -> int:
    """Index of the optimization profile to run ``shapes`` with: of those whose min..max
    holds every shape, the one whose opt is nearest (TensorRT tuned its kernels for opt:
    an engine with a batch-1 profile beside a batch-256 one runs batch 1 on the first);
    the first of equals.

    ``profiles[i][name]`` is ``(min, opt, max)``. An engine without dynamic
    inputs has no ranges to check, so profile 0.

    Raises:
        UsageError: no profile covers the shapes (names the input and the ranges).
    """
    if not profiles:
        return 0
    fitting = _by_opt_distance(profiles, shapes)
    if fitting:
        return fitting[0]
    name = next(n for n in shapes if n in profiles[0])
    ranges = "; ".join(f"{_ints(p[name][0])}..{_ints(p[name][2])}" for p in profiles
                       if name in p)
    raise UsageError(f"input '{name}' shape {_ints(shapes[name])} is outside every "
                     f"optimization profile of the engine ({ranges})",
                     "run with a batch/shape inside a profile, or rebuild with a wider --profile")


def context_profiles(profiles: EngineProfiles, shapes: Mapping[str, Sequence[int]],
                     streams: int) -> list[tuple[int, int | None]]:
    """(engine copy, optimization profile) of each stream's execution context.

    A profile serves one execution context at a time, so the streams take the profiles
    that hold ``shapes``, nearest opt first, and when there are fewer of those than
    streams the next ones run on another copy of the engine (trtexec's ``--streams``:
    "instantiate N engines"). A static engine (no profiles) serves every context itself:
    ``(0, None)`` each.

    Raises:
        UsageError: no profile holds the shapes.
    """
    if not profiles:
        return [(0, None)] * streams
    choose_profile(profiles, shapes)  # names the input and the ranges when none fits
    fitting = _by_opt_distance(profiles, shapes)
    return [(i // len(fitting), fitting[i % len(fitting)]) for i in range(streams)]


def _by_opt_distance(profiles: EngineProfiles, shapes: Mapping[str, Sequence[int]]
                     ) -> list[int]:
    """The profiles that hold ``shapes``, nearest opt first (sum over dims of |log(d/opt)|;
    a stable sort, so equal profiles keep their order)."""
    def distance(profile: Mapping[str, Sequence[Sequence[int]]]) -> float:
        return sum(abs(math.log(max(int(d), 1) / max(int(o), 1)))
                   for name, rng in profile.items() if name in shapes
                   for d, o in zip(shapes[name], rng[1]))

    fitting = [i for i, p in enumerate(profiles) if _fits(p, shapes)]
    return sorted(fitting, key=lambda i: distance(profiles[i]))


def _fits(profile: Mapping[str, Sequence[Sequence[int]]],
          shapes: Mapping[str, Sequence[int]]) -> bool:
    return all(_within(shapes[name], rng) for name, rng in profile.items() if name in shapes)


def _within(shape: Sequence[int], rng: Sequence[Sequence[int]]) -> bool:
    lo, _, hi = rng
    return len(shape) == len(lo) and all(a <= s <= b for s, a, b in zip(shape, lo, hi))


def _ints(shape: Sequence[int]) -> str:
    return format_shape([int(d) for d in shape])
