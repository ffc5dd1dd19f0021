"""The one reader of an ONNX model's interface: inputs, outputs, opset, metadata, Q/DQ.

Every stage, backend and report that needs to know what a model takes and gives
reads it here, so a named dynamic dim, an initializer listed as a graph input or
an unset dtype means the same thing everywhere. Pure ``onnx``: weights are not
loaded (``load_external_data=False``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.errors import ModelError

Dim = int | str
#: The default ONNX domain's names.
DEFAULT_DOMAINS = ("", "ai.onnx")
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
IoSpecs = tuple[dict[str, tuple[str, tuple[Dim, ...]]], list[str]]


@dataclass(frozen=True)
class TensorInfo:
    """Name, element type and shape of one graph input or output."""

    name: str
    dtype: str  # numpy dtype name, e.g. "float32"; "unknown" if unset
    # ints for static dims, the dim_param for named dynamic dims, "?" for unnamed
    # dynamic dims; () when the rank itself is unknown (or for scalars)
    shape: tuple[Dim, ...]

    @property
    def dynamic_dims(self) -> tuple[int, ...]:
        """Return the indices of dims that are not fixed integers."""
        return tuple(i for i, d in enumerate(self.shape) if not isinstance(d, int))

    def named_shape(self) -> tuple[Dim, ...]:
        """The shape with every dynamic dim named: unnamed ones become ``dim<axis>``.

        TensorRT profiles and the build plan refer to dims by name; a positive
        int is static, anything else (0, ``?``) dynamic.
        """
        return tuple(d if isinstance(d, int) and d > 0 else
                     (d if isinstance(d, str) and d != "?" else f"dim{axis}")
                     for axis, d in enumerate(self.shape))

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-serialisable dict."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "dynamic_dims": list(self.dynamic_dims),
        }


@dataclass(frozen=True)
class ModelIO:
    """What a model takes and gives, and what trtc wrote into it."""

    path: str
    inputs: tuple[TensorInfo, ...]  # graph inputs that are not initializers
    outputs: tuple[TensorInfo, ...]
    opset: int  # default ("" or "ai.onnx") domain opset, 0 if not imported
    metadata: dict[str, str] = field(default_factory=dict)  # metadata_props
    has_qdq: bool = False  # QuantizeLinear / DequantizeLinear in the main graph
    producer: str = ""  # producer_name + version

    def input_specs(self, *, named: bool = False) -> dict[str, tuple[str, tuple[Dim, ...]]]:
        """``{input name: (dtype, shape)}``; ``named``: unnamed dynamic dims as ``dim<axis>``."""
        return {t.name: (t.dtype, t.named_shape() if named else t.shape) for t in self.inputs}

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def io_specs(self) -> IoSpecs:
        """(input specs, output names): what :meth:`Backend.io_specs` returns for an ONNX."""
        return self.input_specs(), self.output_names


def load_proto(path: str | Path) -> Any:
    """Load the model proto without external weights, turning failures into ModelError."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"ONNX model '{path}' not found or not a file",
            hint="check the model path",
        )
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, RuntimeError, ValueError...
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(
            f"cannot parse ONNX model '{path}': {reason}",
            hint="the file may be truncated or not an ONNX protobuf; re-export or re-download it",
        ) from exc
    # Arbitrary bytes sometimes decode as a proto made only of unknown fields.
    if not model.HasField("graph"):
        raise ModelError(
            f"'{path}' does not contain an ONNX graph",
            hint="pass an .onnx file exported by torch.onnx, tf2onnx or similar",
        )
    return model


def read_model_io(path: str | Path) -> ModelIO:
    """Read a model file's inputs, outputs, opset, metadata and whether it holds Q/DQ.

    Raises:
        ModelError: the file is missing or not an ONNX model.
    """
    return model_io(load_proto(path), str(path))


def model_io(model: Any, path: str = "") -> ModelIO:
    """:func:`read_model_io` for a model already in memory."""
    graph = model.graph
    return ModelIO(
        path=path,
        inputs=tuple(tensor_info(vi) for vi in real_inputs(graph)),
        outputs=tuple(tensor_info(vi) for vi in graph.output),
        opset=default_opset(model),
        metadata={p.key: p.value for p in model.metadata_props},
        has_qdq=any(n.op_type in QDQ_OPS for n in graph.node),
        producer=f"{model.producer_name} {model.producer_version}".strip(),
    )


def read_opset(path: str | Path) -> int:
    """The default-domain opset of a model file; 0 when it cannot be read (callers report)."""
    try:
        return default_opset(load_proto(path))
    except ModelError:
        return 0


def default_opset(model: Any) -> int:
    """Return the opset version imported for the default ONNX domain (0 if none)."""
    versions = [op.version for op in model.opset_import if op.domain in DEFAULT_DOMAINS]
    return max(versions, default=0)


def real_inputs(graph: Any) -> list[Any]:
    """Return graph inputs that are fed at run time (old exporters list weights too)."""
    weights = {t.name for t in graph.initializer} | {
        t.values.name for t in graph.sparse_initializer
    }
    return [vi for vi in graph.input if vi.name not in weights]


def has_rank(vi: Any) -> bool:
    """Tell whether the value info declares a shape (a rank), even one with dynamic dims."""
    return bool(vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"))


def tensor_info(vi: Any) -> TensorInfo:
    """Convert a ValueInfoProto into a TensorInfo."""
    if not vi.type.HasField("tensor_type"):
        return TensorInfo(vi.name, "unknown", ())
    tensor_type = vi.type.tensor_type
    shape = tuple(_dim(d) for d in tensor_type.shape.dim) if has_rank(vi) else ()
    return TensorInfo(vi.name, dtype_name(tensor_type.elem_type), shape)


def _dim(dim: Any) -> Dim:
    """Return the dim as int, its symbolic name, or "?"."""
    if dim.HasField("dim_value") and dim.dim_value >= 0:
        return int(dim.dim_value)
    return str(dim.dim_param) or "?"


def dtype_name(elem_type: int) -> str:
    """Return the numpy dtype name for an ONNX element type."""
    import onnx
    from onnx import TensorProto

    if elem_type == TensorProto.UNDEFINED:
        return "unknown"
    if elem_type == TensorProto.STRING:
        return "string"  # numpy would say "object", which tells the user nothing
    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type).name)
    except (KeyError, ValueError, TypeError):
        return str(TensorProto.DataType.Name(elem_type).lower())
