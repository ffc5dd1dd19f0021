"""The recipe schema: typed, frozen specs with defaults, and loading with clear errors.

A recipe is YAML read with ``yaml.safe_load`` and validated into the frozen
dataclasses below. The dataclasses are the schema: defaults live here and
nowhere else, ``json_schema()`` is generated from them, and every validation
error names the key path (``verify.per_output.logits.atol``) and, for unknown
keys, the closest valid key.

Paths in a recipe are relative to the recipe file; ``${VAR}`` expands from the
environment. ``python:module:function`` references run user code, as a
Makefile does.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trtc.errors import RecipeError

Dim = int | str
Shape = tuple[Dim, ...]

STAGES = ("export", "prune", "quantize", "build", "verify", "bench")


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, shape (named strings for dynamic dims) and dtype."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelSpec:
    """Where the model comes from.

    ``source`` is one of ``torchvision:<name>``, ``python:<module or file.py>:<factory>``
    or ``onnx:<path>``. ``weights`` is a state dict loaded with
    ``torch.load(weights_only=True)``.
    """

    source: str
    weights: str | None = None
    factory_args: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[InputSpec, ...] = ()
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportSpec:
    """PyTorch -> ONNX export, cleanup and the PyTorch/ONNX Runtime parity check."""

    enabled: bool = True
    opset: int = 18
    exporter: Literal["dynamo", "legacy"] = "dynamo"
    # Sizes used for named dynamic dims while tracing; 1 is avoided because
    # torch.export specialises dims of size 0 and 1.
    example_dims: dict[str, int] = field(default_factory=dict)
    cleanup: Literal["onnxslim", "graphsurgeon", "none"] = "onnxslim"
    parity_atol: float = 1e-4
    parity_rtol: float = 1e-3
    parity_samples: int = 2
    seed: int = 0


@dataclass(frozen=True)
class PruneSpec:
    """Sparsify the exported ONNX: 2:4 structured, unstructured magnitude or whole channels.

    Off by default; ``trtc prune`` and ``prune.enabled: true`` turn it on.
    ``2:4`` zeroes 2 of every 4 weights along the input channels (a speedup only on
    TensorRT sparse tensor cores); ``magnitude`` zeroes the smallest ``ratio`` of each
    layer's weights (smaller compressed size, no speedup); ``channel`` removes
    ``ratio`` of the output channels of Conv->...->Conv/Gemm chains (fewer FLOPs
    everywhere). ``ratio`` is ignored by ``2:4``. ``exclude`` names layers (ONNX node
    names) to leave dense; ``channel_multiple`` rounds kept channel counts up.
    """

    enabled: bool = False
    method: Literal["2:4", "magnitude", "channel"] = "2:4"
    ratio: float = 0.5
    exclude: tuple[str, ...] = ()
    channel_multiple: int = 1


@dataclass(frozen=True)
class CalibPreprocessSpec:
    """How an image folder becomes calibration input (resize, center-crop, normalize)."""

    resize: int = 256
    crop: int = 224
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    scale: float = 1 / 255
    color: Literal["RGB", "L"] = "RGB"


@dataclass(frozen=True)
class QuantizeSpec:
    """Write reduced precision into the ONNX graph (Q/DQ for int8/fp8, casts for fp16/bf16).

    Off by default; ``trtc quantize`` and ``quantize.enabled: true`` turn it on.
    ``target`` picks the Q/DQ placement: ``tensorrt`` (symmetric int8, Q/DQ only
    where TensorRT fuses them), ``onnxruntime-cpu`` (uint8 activations), or ``auto``:
    the backend ``build.backend`` resolves to on this machine.
    ``calib_data``: ``random`` (seeded; a warning), an ``.npz``, an image folder
    or ``python:<module or file.py>:<function>``; null = none (int8/fp8 need it).
    ``max_drop``: accuracy budget (top-1 points as a fraction with labelled
    ``verify.data``, else 1 - cosine vs FP32); null = no budget.
    """

    enabled: bool = False
    precision: Literal["int8", "fp8", "fp16", "bf16"] = "int8"
    target: Literal["tensorrt", "onnxruntime-cpu", "auto"] = "tensorrt"
    calib_data: str | None = None
    calib_samples: int = 64
    calib_batch: int = 1
    calib_method: Literal["minmax", "entropy", "percentile"] = "minmax"
    calib_percentile: float = 99.999
    calib_seed: int = 0
    calib_preprocess: CalibPreprocessSpec = field(default_factory=CalibPreprocessSpec)
    exclude_nodes: tuple[str, ...] = ()
    exclude_ops: tuple[str, ...] = ()
    max_drop: float | None = None
    budget_step: int = 1
    # fp16/bf16: keep the graph's inputs and outputs float32 (casts at the boundary).
    keep_io_types: bool = True


@dataclass(frozen=True)
class ShapeRangeSpec:
    """One input's shapes in an optimization profile: min <= opt <= max, dim by dim."""

    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]


@dataclass(frozen=True)
class BuildSpec:
    """Build the artifact a runtime executes.

    ``backend: auto`` picks TensorRT when it imports and a GPU is present, else
    ONNX Runtime. ``optimization_level`` and ``threads`` are ONNX Runtime's;
    the keys after them are TensorRT's (flag = key with dashes, e.g.
    ``--builder-optimization-level``). Unset (None) fields are not sent to the
    backend, so its own defaults apply.
    """

    enabled: bool = True
    backend: Literal["auto", "onnxruntime", "tensorrt"] = "auto"
    device: Literal["cpu", "cuda"] = "cpu"
    #: ONNX Runtime graph optimisation (TensorRT's own level is builder_optimization_level).
    optimization_level: Literal["disable", "basic", "extended", "all"] = "all"
    threads: int | None = None
    #: TensorRT builder precision. fp32 keeps the ONNX types (TF32 per ``tf32``);
    #: best = fp16 + int8. TensorRT 11 has no precision flags: use ``trtc quantize``.
    precision: Literal["fp32", "fp16", "bf16", "int8", "fp8", "best"] = "fp32"
    #: TF32 math for fp32 layers (TensorRT's default; trtexec --noTF32 turns it off).
    tf32: bool = True
    #: Strongly typed network (TensorRT >= 9); null = the version's default (on for 11).
    strongly_typed: bool | None = None
    #: int8 calibration data: .npz, python:module:function or random (an image folder:
    #: ``trtc quantize --target tensorrt --calib-data FOLDER`` first).
    int8_calib: str | None = None
    int8_calib_samples: int = 512
    #: Calibration cache file (read if present, else written); null = written fresh next
    #: to the engine (ENGINE.calib.cache).
    int8_calib_cache: str | None = None
    #: Optimization profiles: [{input: {min: [..], opt: [..], max: [..]}}, ...]; empty =
    #: one profile from the recipe's inputs and the verify/bench shapes.
    profiles: tuple[dict[str, ShapeRangeSpec], ...] = ()
    #: Workspace memory-pool limit: bytes or a size such as 4GiB / 512MiB.
    workspace: int | str | None = None
    #: TensorRT builder optimization level 0-5 (TensorRT's default is 3).
    builder_optimization_level: int | None = None
    #: TensorRT tactic sources: auto (8.x: no cuBLAS/cuDNN tactics, as TensorRT 10
    #: defaults to; 10/11: their default), default (TensorRT's own), or a list such as
    #: "JIT_CONVOLUTIONS,EDGE_MASK_CONVOLUTIONS" (trtexec --tacticSources).
    tactic_sources: str = "auto"
    #: Stop a TensorRT build after this many seconds (exit 124); null = no limit.
    timeout_s: float | None = None
    #: Timing cache file (loaded and saved); auto = in the workspace, keyed by GPU and
    #: TensorRT version; null = none.
    timing_cache: str | None = "auto"
    #: Let the builder use 2:4 sparse kernels where the weights have that pattern.
    sparsity: bool = False
    refit: bool = False
    #: Engine loads on newer TensorRT versions too (TensorRT >= 8.6, lean runtime).
    version_compatible: bool = False
    hardware_compatibility: Literal["none", "ampere+", "same-compute-capability"] = "none"
    #: Plugin libraries (.so) to load for the build.
    plugins: tuple[str, ...] = ()
    #: Before a TensorRT build, run ONNX Runtime (CPU) at every profile corner.
    preflight: bool = True


def resolve_build_paths(spec: BuildSpec, root: Path) -> BuildSpec:
    """Make the build section's file paths absolute, relative to ``root`` (the recipe's dir)."""
    def path(value: str | None) -> str | None:
        if value is None or value in ("auto", "none", "off", "random"):
            return value
        if value.startswith("python:"):
            return resolve_ref(value, root)
        return str((root / value).resolve())

    return dataclasses.replace(
        spec, int8_calib=path(spec.int8_calib), int8_calib_cache=path(spec.int8_calib_cache),
        timing_cache=path(spec.timing_cache),
        plugins=tuple(str((root / p).resolve()) for p in spec.plugins))


@dataclass(frozen=True)
class ToleranceSpec:
    """Absolute / relative tolerance for one output."""

    atol: float | None = None
    rtol: float | None = None


@dataclass(frozen=True)
class DataSpec:
    """Input data for verify and bench.

    ``source``: ``random`` (seeded, honours dynamic dims), a ``.npz`` path
    (arrays keyed by input name, plus ``labels_key`` for labels), or
    ``python:<module or file.py>:<function>`` returning such a mapping.
    """

    source: str = "random"
    batch: int = 1
    iterations: int = 4
    seed: int = 0
    labels_key: str = "labels"
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifySpec:
    """Compare the built artifact with a reference on the same inputs."""

    enabled: bool = True
    reference: Literal["export", "pytorch"] = "export"
    data: DataSpec = field(default_factory=DataSpec)
    atol: float | None = None
    rtol: float | None = None
    per_output: dict[str, ToleranceSpec] = field(default_factory=dict)
    metric: Literal["none", "top1", "cosine"] = "none"
    max_drop: float = 0.01
    # cosine: the mean per-sample cosine similarity of the first output must reach this.
    min_cosine: float = 0.99
    # Element-wise tolerances gate the result (on), are only reported (off), or gate unless
    # the model was changed on purpose by prune/quantize (auto: then the metric gates, and
    # with metric none a cosine check with min_cosine).
    elementwise: Literal["auto", "on", "off"] = "auto"


@dataclass(frozen=True)
class BenchSpec:
    """trtexec-style latency and throughput measurement."""

    enabled: bool = True
    batch: tuple[int, ...] = (1,)
    warmup_ms: float = 200.0
    duration_s: float = 3.0
    min_iterations: int = 10
    threads: int | None = None
    baseline: Literal["auto", "pytorch", "none"] = "auto"
    cov_warn: float = 0.025
    seed: int = 0
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: TensorRT engines: replay the enqueue as a CUDA graph (trtexec --useCudaGraph).
    cuda_graph: bool = True
    #: TensorRT engines: streams kept busy at once, each with its own context (throughput).
    streams: int = 1


@dataclass(frozen=True)
class Recipe:
    """One model's pipeline: where the model comes from and what each stage does."""

    name: str
    model: ModelSpec
    export: ExportSpec = field(default_factory=ExportSpec)
    prune: PruneSpec = field(default_factory=PruneSpec)
    quantize: QuantizeSpec = field(default_factory=QuantizeSpec)
    build: BuildSpec = field(default_factory=BuildSpec)
    verify: VerifySpec = field(default_factory=VerifySpec)
    bench: BenchSpec = field(default_factory=BenchSpec)
    # Not part of the YAML: where the recipe came from (paths resolve against it).
    path: Path | None = field(default=None, metadata={"internal": True}, compare=False)

    @property
    def is_pytorch(self) -> bool:
        return not self.model.source.startswith("onnx:")

    def enabled_stages(self) -> tuple[str, ...]:
        # An onnx: source still goes through export: it is checked and cleaned up there.
        return tuple(s for s in STAGES if getattr(self, s).enabled)

    def section(self, stage: str) -> dict[str, Any]:
        """Return the resolved section of one stage as plain data (for manifests)."""
        return to_data(getattr(self, stage))


# --------------------------------------------------------------------------- loading


def load_recipe(path: str | Path) -> Recipe:
    """Read a YAML recipe, validate it and resolve its paths.

    Raises:
        RecipeError: the file is missing, is not YAML, or does not match the schema.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}",
                          "check the path; recipes live in configs/ (e.g. configs/digits.yaml)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(f"{path}{where}: malformed YAML: {problem}",
                          "fix the YAML syntax at that position") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: the recipe must be a mapping of sections, got "
                          f"{type(raw).__name__}", "start the file with 'name:' and 'model:'")
    raw = _expand_env(raw, path, "")
    raw.setdefault("name", path.stem)
    recipe = parse_recipe(raw, source=str(path))
    return resolve_paths(dataclasses.replace(recipe, path=path.resolve()))


def parse_recipe(raw: Mapping[str, Any], source: str = "<recipe>") -> Recipe:
    """Validate a mapping into a :class:`Recipe` (no path resolution)."""
    recipe = _convert(raw, Recipe, "", source)
    _check_semantics(recipe, source)
    return recipe


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
        RecipeError: a value does not fit the schema (``--optimization-level fast``).
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return recipe
    current = getattr(recipe, section)
    # Flags arrive as free values: check and convert them as a recipe value would be.
    hints = typing.get_type_hints(type(current))
    changes = {k: _convert(to_data(v), hints[k], _join(section, k), "flags") if k in hints
               else v for k, v in changes.items()}
    updated = dataclasses.replace(current, **changes)
    recipe = dataclasses.replace(recipe, **{section: updated})
    _check_semantics(recipe, "flags")
    return recipe


def base_dir(recipe: Recipe) -> Path:
    return recipe.path.parent if recipe.path else Path.cwd()


def resolve_paths(recipe: Recipe) -> Recipe:
    """Make every file path in the recipe absolute, relative to the recipe file."""
    root = base_dir(recipe)
    model = recipe.model
    model = dataclasses.replace(
        model,
        source=resolve_ref(model.source, root),
        weights=str((root / model.weights).resolve()) if model.weights else None,
    )
    verify = dataclasses.replace(
        recipe.verify,
        data=dataclasses.replace(recipe.verify.data,
                                 source=resolve_ref(recipe.verify.data.source, root)))
    quantize = recipe.quantize
    if quantize.calib_data:
        quantize = dataclasses.replace(quantize, calib_data=resolve_data_path(
            quantize.calib_data, root))
    return dataclasses.replace(recipe, model=model, verify=verify, quantize=quantize,
                               build=resolve_build_paths(recipe.build, root))


def resolve_data_path(ref: str, root: Path) -> str:
    """Resolve a calibration source: ``random``, ``python:...``, or a file/folder path."""
    if ref == "random" or ref.startswith("python:"):
        return resolve_ref(ref, root)
    if ref.startswith("npz:"):
        ref = ref[len("npz:"):]
    return str((root / ref).resolve())


def resolve_ref(ref: str, root: Path) -> str:
    """Resolve the file in ``onnx:PATH``, ``npz:PATH``, ``PATH.npz``, ``python:FILE.py:fn``."""
    if ref in ("random",) or ref.startswith("torchvision:"):
        return ref
    if ref.startswith(("onnx:", "npz:")):
        kind, _, rest = ref.partition(":")
        return f"{kind}:{(root / rest).resolve()}"
    if ref.startswith("python:"):
        target, _, func = ref[len("python:"):].rpartition(":")
        if target.endswith(".py"):
            target = str((root / target).resolve())
        return f"python:{target}:{func}"
    if ref.endswith(".npz"):
        return f"npz:{(root / ref).resolve()}"
    return ref


# --------------------------------------------------------------------------- validation

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: Any, path: Path, where: str) -> Any:
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in os.environ:
                raise RecipeError(f"{path}: {where or 'value'}: environment variable "
                                  f"${{{m.group(1)}}} is not set",
                                  f"export {m.group(1)}=... or write the value in the recipe")
            return os.environ[m.group(1)]
        return _ENV.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, path, _join(where, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, path, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _join(prefix: str, key: str) -> str:
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


def _fail(source: str, where: str, message: str, hint: str | None = None) -> RecipeError:
    return RecipeError(f"{source}: {where or '<top level>'}: {message}", hint)


def _convert(value: Any, tp: Any, where: str, source: str) -> Any:  # noqa: C901
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise _fail(source, where, f"expected a mapping, got {type(value).__name__} "
                        f"{value!r}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if not f.metadata.get("internal")}
        for key in value:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f"did you mean '{_join(where, close[0])}'?" if close else \
                    f"valid keys: {', '.join(fields)}"
                raise _fail(source, _join(where, str(key)), "unknown key", hint)
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = _convert(value[name], hints[name], _join(where, name), source)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _fail(source, _join(where, name), "required key is missing",
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
            raise _fail(source, where, f"must be one of {', '.join(map(str, choices))}; "
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
                return _convert(value, arg, where, source)
            except RecipeError:
                continue  # try the next member; the error below names them all
        raise _fail(source, where, f"expected {_type_name(tp)}, got {type(value).__name__} "
                    f"{value!r}")
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and \
                item_tp is not str:
            value = [value]  # a scalar where a list is expected: `batch: 8`
        if isinstance(value, str) and item_tp is str:
            value = [value]
        if not isinstance(value, list):
            raise _fail(source, where, f"expected a list, got {type(value).__name__} {value!r}")
        return tuple(_convert(v, item_tp, f"{where}[{i}]", source) for i, v in enumerate(value))
    if origin is dict:
        _key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise _fail(source, where, f"expected a mapping, got {type(value).__name__} "
                        f"{value!r}")
        if val_tp is Any:
            return dict(value)
        return {str(k): _convert(v, val_tp, _join(where, str(k)), source)
                for k, v in value.items()}
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(source, where, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(source, where, f"expected an integer, got {type(value).__name__} "
                        f"{value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(source, where, f"expected a number, got {type(value).__name__} "
                        f"{value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(source, where, f"expected a string, got {type(value).__name__} "
                        f"{value!r}")
        return value
    raise TypeError(f"schema type not handled: {tp!r}")  # a bug in the schema, not user input


def _check_semantics(recipe: Recipe, source: str) -> None:
    src = recipe.model.source
    if not src.startswith(("torchvision:", "python:", "onnx:")):
        raise _fail(source, "model.source", f"unknown model source {src!r}",
                    "use torchvision:<name>, python:<module>:<factory> or onnx:<path>")
    if src.startswith("python:") and src.count(":") < 2:
        raise _fail(source, "model.source", f"{src!r} names no factory",
                    "write python:<module or file.py>:<factory function>")
    if recipe.is_pytorch and recipe.export.enabled and not recipe.model.inputs:
        raise _fail(source, "model.inputs", "a PyTorch model needs its input specs to export",
                    "add inputs: [{name: input, shape: [batch, 3, 224, 224]}]")
    for i, spec in enumerate(recipe.model.inputs):
        where = f"model.inputs[{i}].shape"
        for d in spec.shape:
            if isinstance(d, int) and d <= 0:
                raise _fail(source, where, f"dims must be positive or named, got {d}",
                            "write a name such as 'batch' for a dynamic dim")
        _check_dtype(spec.dtype, source, f"model.inputs[{i}].dtype")
    for b in recipe.bench.batch:
        if b <= 0:
            raise _fail(source, "bench.batch", f"batch sizes must be positive, got {b}")
    if recipe.bench.duration_s <= 0 or recipe.bench.min_iterations <= 0:
        raise _fail(source, "bench", "duration_s and min_iterations must be positive")
    if recipe.bench.streams <= 0:
        raise _fail(source, "bench.streams", f"must be positive, got {recipe.bench.streams}")
    if recipe.prune.method != "2:4" and not 0.0 < recipe.prune.ratio < 1.0:
        raise _fail(source, "prune.ratio", f"must be between 0 and 1 (exclusive) for method "
                    f"{recipe.prune.method}; got {recipe.prune.ratio:g}",
                    "e.g. ratio: 0.3 removes 30 % of the channels / weights")
    if recipe.prune.channel_multiple <= 0:
        raise _fail(source, "prune.channel_multiple", "must be a positive integer")
    if recipe.verify.data.batch <= 0 or recipe.verify.data.iterations <= 0:
        raise _fail(source, "verify.data", "batch and iterations must be positive")
    q = recipe.quantize
    if q.calib_samples <= 0 or q.calib_batch <= 0 or q.budget_step <= 0:
        raise _fail(source, "quantize", "calib_samples, calib_batch and budget_step must be "
                    "positive")
    if q.max_drop is not None and not 0 <= q.max_drop <= 1:
        raise _fail(source, "quantize.max_drop", f"must be between 0 and 1, got {q.max_drop}",
                    "0.01 allows a 1-point top-1 drop (or cosine >= 0.99)")
    if q.precision == "fp8" and q.target != "tensorrt":
        raise _fail(source, "quantize.precision", "fp8 Q/DQ is for target tensorrt "
                    "(ONNX Runtime's CPU kernels have no float8 path)",
                    "use precision int8 with target onnxruntime-cpu")
    if not 0 < q.calib_percentile <= 100:
        raise _fail(source, "quantize.calib_percentile", "must be in (0, 100]")
    if recipe.verify.reference == "pytorch" and not recipe.is_pytorch:
        raise _fail(source, "verify.reference", "'pytorch' needs a PyTorch model source",
                    "use reference: export for an onnx: model")


_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8",
           "bool")


def _check_dtype(dtype: str, source: str, where: str) -> None:
    if dtype not in _DTYPES:
        close = difflib.get_close_matches(dtype, _DTYPES, n=1)
        raise _fail(source, where, f"unknown dtype {dtype!r}",
                    f"did you mean '{close[0]}'?" if close else f"use one of {_DTYPES}")


# --------------------------------------------------------------------------- data out


def to_data(obj: Any) -> Any:
    """Return a spec as plain JSON-able data (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.metadata.get("internal")}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


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
        return {"type": "object", "additionalProperties": _schema_of(typing.get_args(tp)[1])}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string",
              type(None): "null"}
    if tp in simple:
        return {"type": simple[tp]}
    return {}


#: verify's default tolerances by the artifact's precision (overridable per output).
#: fp32 ONNX Runtime vs ONNX Runtime differs by float reassociation only; TF32 and
#: reduced precisions need room (TensorRT's TF32 fp32 engine differed by 0.076 on
#: logits of magnitude 38 on an H100).
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "fp32": (1e-4, 1e-3),
    "tf32": (5e-2, 1e-2),
    "fp16": (5e-2, 2e-2),
    "bf16": (1e-1, 5e-2),
    "int8": (2e-1, 1e-1),
    "fp8": (2e-1, 1e-1),
    # TensorRT's "best" lets every layer pick fp32, fp16 or int8: as loose as int8.
    "best": (2e-1, 1e-1),
}
