"""A Triton Inference Server model repository from a built artifact.

    REPOSITORY/NAME/config.pbtxt       Triton's ModelConfig, in protobuf text format
    REPOSITORY/NAME/1/model.plan       a TensorRT engine (platform tensorrt_plan), or
    REPOSITORY/NAME/1/model.onnx       an ONNX Runtime model (platform onnxruntime_onnx)

The config is built with the schema of Triton's own client package
(``tritonclient.grpc.model_config_pb2``) and written with protobuf's
``text_format``, so what Triton parses is what protobuf wrote, never a formatted
string. A TensorRT engine runs only on the GPU kind (compute capability) it was
built for: each engine is listed in ``cc_model_filenames``, and packaging an
engine built for another compute capability into the same model adds its plan
beside the first, so one repository serves several GPU kinds.

Nothing is written outside ``REPOSITORY``; each file is written under a
temporary name and renamed into place, the config last.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.errors import DependencyError, ModelError, UsageError

#: numpy dtype name -> Triton's DataType enum name.
TRITON_TYPES = {
    "bool": "TYPE_BOOL", "uint8": "TYPE_UINT8", "uint16": "TYPE_UINT16",
    "uint32": "TYPE_UINT32", "uint64": "TYPE_UINT64", "int8": "TYPE_INT8",
    "int16": "TYPE_INT16", "int32": "TYPE_INT32", "int64": "TYPE_INT64",
    "float16": "TYPE_FP16", "float32": "TYPE_FP32", "float64": "TYPE_FP64",
    "bfloat16": "TYPE_BF16", "string": "TYPE_STRING",
}
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
CONFIG = "config.pbtxt"
#: Triton's default max_batch_size for a model whose batch dim is dynamic.
DEFAULT_MAX_BATCH = 4


@dataclass(frozen=True)
class Tensor:
    """One input or output as Triton sees it: name, numpy dtype, full dims (-1 dynamic)."""

    name: str
    dtype: str
    dims: tuple[int, ...]


@dataclass(frozen=True)
class ServedModel:
    """What the config says about the artifact: platform, I/O, batching, GPU kind."""

    platform: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    #: Triton's max_batch_size: 0 = the model has no batch dim Triton may batch along.
    max_batch_size: int
    #: TensorRT: "9.0"; ONNX Runtime: None.
    compute_capability: str | None = None
    #: The largest batch the artifact itself accepts (TensorRT: the profile's), if known.
    batch_limit: int | None = None


@dataclass
class PackageResult:
    """What ``trtc package`` wrote."""

    repository: Path
    model_dir: Path
    config: Path
    model_file: Path
    platform: str
    max_batch_size: int
    cc_model_filenames: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"repository": str(self.repository), "model_dir": str(self.model_dir),
                "config": str(self.config), "model_file": str(self.model_file),
                "platform": self.platform, "max_batch_size": self.max_batch_size,
                "cc_model_filenames": dict(self.cc_model_filenames),
                "warnings": list(self.warnings)}


def model_config_pb2() -> Any:
    """Triton's ModelConfig schema (``tritonclient[grpc]``), or DependencyError."""
    try:
        from tritonclient.grpc import model_config_pb2 as pb2
    except (ImportError, RuntimeError) as exc:  # RuntimeError: tritonclient without grpc
        raise DependencyError(f"packaging for Triton needs Triton's client package "
                              f"(tritonclient[grpc]): {exc}",
                              "pip install 'trtc[triton]'") from None
    return pb2


def parse_config(text: str) -> Any:
    """A ``config.pbtxt``'s text as Triton's ModelConfig (UsageError when it does not parse)."""
    from google.protobuf import text_format

    try:
        return text_format.Parse(text, model_config_pb2().ModelConfig())
    except text_format.ParseError as exc:
        raise UsageError(f"cannot parse the existing {CONFIG}: {exc}",
                         "fix or remove it, or package under another --name") from None


def _dims(shape: Sequence[Any]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in shape)


def _batched(tensors: Sequence[Tensor]) -> bool:
    """Every input and output has a dynamic first dim: the batch Triton may batch along."""
    return bool(tensors) and all(t.dims and t.dims[0] == -1 for t in tensors)


def served_model(artifact: Path, *, max_batch: int | None = None,
                 batches: Sequence[int] = (), gpu_onnx: bool = False) -> ServedModel:
    """Read what the config needs from the artifact: the sidecar of an engine, or the ONNX.

    ``max_batch``: Triton's max_batch_size (None: the engine profile's largest batch;
    ONNX: the largest of ``batches``, at least 4; 0: no batching). ``batches``: the batch sizes the
    recipe runs, for a dynamic-batch ONNX model.
    """
    if artifact.suffix.lower() in ENGINE_SUFFIXES:
        return _served_engine(artifact, max_batch)
    from trtc.graph.io import read_model_io

    io = read_model_io(artifact)
    inputs = tuple(Tensor(t.name, t.dtype, _dims(t.shape)) for t in io.inputs)
    outputs = tuple(Tensor(t.name, t.dtype, _dims(t.shape)) for t in io.outputs)
    # ONNX Runtime takes any batch: the largest the recipe runs, at least Triton's own
    # default (4, its --backend-config default-max-batch-size).
    return _with_batch(ServedModel("onnxruntime_onnx", inputs, outputs, 0), max_batch,
                       max((DEFAULT_MAX_BATCH, *batches)))


def _served_engine(engine: Path, max_batch: int | None) -> ServedModel:
    from trtc.tensorrt.engine_file import read_sidecar, sidecar_path

    side = read_sidecar(engine)
    if side is None or not isinstance(side.get("io"), dict):
        raise ModelError(f"{engine}: no sidecar ({sidecar_path(engine).name}) with its I/O",
                         "package an engine built by trtc build (it writes the sidecar)")
    io = side["io"]
    # Triton binds the engine's own I/O types (io_dtype: build.input_formats set them).
    inputs = tuple(Tensor(n, str(t.get("io_dtype", t["dtype"])), _dims(t["shape"]))
                   for n, t in (io.get("inputs") or {}).items())
    outputs = tuple(Tensor(n, str(t.get("io_dtype", t["dtype"])), _dims(t["shape"]))
                    for n, t in (io.get("outputs") or {}).items())
    limits = [int(ranges[2][0]) for prof in io.get("profiles") or []
              for ranges in prof.values() if ranges and ranges[2]]
    cc = (side.get("gpu") or {}).get("compute_capability")
    model = ServedModel("tensorrt_plan", inputs, outputs, 0,
                        str(cc) if cc is not None else None,
                        batch_limit=min(limits) if limits else None)
    return _with_batch(model, max_batch, model.batch_limit)


def _with_batch(model: ServedModel, max_batch: int | None, default: int | None
                ) -> ServedModel:
    import dataclasses

    batched = _batched(model.inputs + model.outputs)
    if max_batch is None:
        max_batch = (default or 1) if batched else 0
    if max_batch and not batched:
        raise UsageError(f"--max-batch {max_batch}: the model's inputs and outputs do not "
                         "all have a dynamic first (batch) dim",
                         "leave --max-batch unset (or 0): Triton then passes full shapes")
    if max_batch and model.batch_limit is not None and max_batch > model.batch_limit:
        raise UsageError(f"--max-batch {max_batch} is more than the engine's profile allows "
                         f"({model.batch_limit})",
                         "rebuild with a larger profile, or lower --max-batch")
    return dataclasses.replace(model, max_batch_size=int(max_batch))


def model_config(model: ServedModel, name: str, *, dynamic_batching: bool = True,
                 model_file: str, existing: Any = None) -> Any:
    """Triton's ModelConfig for ``model``; ``existing`` (a parsed config) gains its GPU kind."""
    pb2 = model_config_pb2()
    config = pb2.ModelConfig()
    if existing is not None:
        config.CopyFrom(existing)
        del config.input[:]
        del config.output[:]
    config.name = name
    config.platform = model.platform
    config.max_batch_size = model.max_batch_size
    skip = 1 if model.max_batch_size > 0 else 0  # Triton's dims leave out the batch dim
    for tensors, field_ in ((model.inputs, config.input), (model.outputs, config.output)):
        for t in tensors:
            entry = field_.add()
            entry.name = t.name
            entry.data_type = pb2.DataType.Value(_triton_type(t))
            entry.dims.extend(t.dims[skip:])
    if model.max_batch_size > 0 and dynamic_batching:
        config.dynamic_batching.SetInParent()
    elif not dynamic_batching:
        config.ClearField("dynamic_batching")
    if not config.instance_group:
        group = config.instance_group.add()
        group.kind = (pb2.ModelInstanceGroup.KIND_GPU if model.platform == "tensorrt_plan"
                      else pb2.ModelInstanceGroup.KIND_CPU)
        group.count = 1
    if model.compute_capability is not None:
        config.cc_model_filenames[model.compute_capability] = model_file
    if not config.default_model_filename:
        config.default_model_filename = model_file
    return config


def _triton_type(t: Tensor) -> str:
    try:
        return TRITON_TYPES[t.dtype]
    except KeyError:
        raise ModelError(f"tensor '{t.name}': dtype {t.dtype} has no Triton type",
                         f"Triton types: {', '.join(TRITON_TYPES)}") from None


def _check_same_interface(existing: Any, model: ServedModel, where: Path) -> None:
    """An engine for another GPU kind must serve the same model: same platform and I/O."""
    if existing.platform != model.platform:
        raise UsageError(f"{where} is a {existing.platform} model; this artifact is "
                         f"{model.platform}", "package it under another --name")
    pb2 = model_config_pb2()
    skip = 1 if existing.max_batch_size > 0 else 0
    have = {(t.name, t.data_type, tuple(t.dims)) for t in (*existing.input, *existing.output)}
    want = {(t.name, pb2.DataType.Value(_triton_type(t)), t.dims[skip:])
            for t in (*model.inputs, *model.outputs)}
    if have != want:
        names = sorted({n for n, _, _ in have ^ want})
        raise UsageError(f"{where}: the artifact's inputs/outputs differ from the packaged "
                         f"model's ({', '.join(names)})",
                         "package it under another --name, or into a new repository")


def package_artifact(artifact: Path, repository: Path, name: str, *,
                     max_batch: int | None = None, batches: Sequence[int] = (),
                     dynamic_batching: bool = True, version: int = 1) -> PackageResult:
    """Write (or extend) ``repository/name`` for ``artifact``; return what was written.

    Raises:
        UsageError: a name that is not one folder, an existing model that differs, a
            --max-batch the artifact cannot take.
        ModelError: the artifact is missing, or an engine without its sidecar.
        DependencyError: tritonclient is not installed.
    """
    from google.protobuf import text_format

    from trtc.workspace import atomic_path

    if not _NAME.match(name) or name in (".", ".."):
        raise UsageError(f"--name {name!r}: a Triton model name is one folder name",
                         "use letters, digits, '_', '-' and '.'")
    if not artifact.is_file():
        raise ModelError(f"artifact not found: {artifact}", "build it first: trtc build")
    model_config_pb2()  # fail before reading anything when tritonclient is missing
    model = served_model(artifact, max_batch=max_batch, batches=batches)
    model_dir = repository / name
    config_path = model_dir / CONFIG
    existing = parse_config(config_path.read_text()) if config_path.is_file() else None
    warnings: list[str] = []
    if existing is not None:
        _check_same_interface(existing, model, config_path)
        if existing.max_batch_size != model.max_batch_size:
            smaller = min(existing.max_batch_size, model.max_batch_size)
            warnings.append(f"max_batch_size {existing.max_batch_size} (packaged) and "
                            f"{model.max_batch_size} (this artifact): using {smaller}")
            model = _replace_batch(model, smaller)
    model_file = _model_file(model, existing)
    config = model_config(model, name, dynamic_batching=dynamic_batching,
                          model_file=model_file, existing=existing)
    target = model_dir / str(version) / model_file
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(artifact, tmp)
    with atomic_path(config_path) as tmp:
        tmp.write_text(text_format.MessageToString(config))
    return PackageResult(repository, model_dir, config_path, target, model.platform,
                         model.max_batch_size, dict(config.cc_model_filenames), warnings)


def _replace_batch(model: ServedModel, max_batch: int) -> ServedModel:
    import dataclasses

    return dataclasses.replace(model, max_batch_size=max_batch)


def _model_file(model: ServedModel, existing: Any) -> str:
    """``model.plan`` / ``model.onnx``; another GPU kind's plan: ``model_sm<cc>.plan``."""
    if model.platform != "tensorrt_plan":
        return "model.onnx"
    cc = model.compute_capability
    if cc is None:
        raise ModelError("the engine's sidecar names no compute capability",
                         "rebuild it with trtc build")
    if existing is None:
        return "model.plan"
    if cc in existing.cc_model_filenames:
        return str(existing.cc_model_filenames[cc])  # the same GPU kind: replaced
    if not existing.cc_model_filenames and existing.default_model_filename:
        raise UsageError(f"the packaged model has {existing.default_model_filename} but no "
                         "cc_model_filenames: its GPU kind is unknown",
                         "package into a new repository or under another --name")
    return f"model_sm{cc.replace('.', '')}.plan"
