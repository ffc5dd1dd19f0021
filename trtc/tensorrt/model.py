"""What a TensorRT build reads from the ONNX model: inputs, Q/DQ nodes, trtc's metadata.

``trtc quantize`` records the backend its Q/DQ placement was made for and the
precision in the model's metadata_props; a build refuses a Q/DQ model made for
another backend (u8/s8 ONNX Runtime CPU placement on TensorRT, and back).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from trtc.errors import ModelError, UsageError

if TYPE_CHECKING:
    from trtc.recipe import BuildSpec
    from trtc.tensorrt.settings import TrtBuildSettings

#: {input name: (numpy dtype name, shape with named dynamic dims)}.
InputSpecs = dict[str, tuple[str, tuple[int | str, ...]]]

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
#: ONNX metadata_props written by ``trtc quantize`` (issue 4).
QDQ_TARGET_KEY = "trtc.quantize.target"
QDQ_PRECISION_KEY = "trtc.quantize.precision"
QDQ_TARGETS = ("tensorrt", "onnxruntime-cpu")
#: The float part of a Q/DQ model written in fp16 (``quantize.float_precision``).
FLOAT_PRECISION_KEY = "trtc.quantize.float_precision"
#: Which Q/DQ target each trtc backend executes well.
BACKEND_QDQ_TARGET = {"tensorrt": "tensorrt", "onnxruntime": "onnxruntime-cpu"}


def onnx_io(onnx_path: Path) -> tuple[InputSpecs, bool]:
    """Graph inputs ({name: (dtype, shape with named dynamic dims)}) and whether it has Q/DQ."""
    inputs, has_qdq, _ = onnx_facts(onnx_path)
    return inputs, has_qdq


def onnx_facts(onnx_path: Path) -> tuple[InputSpecs, bool, dict[str, str]]:
    """Graph inputs, whether the graph has Q/DQ nodes, and its metadata_props."""
    import onnx
    from onnx import helper

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{onnx_path}: cannot read the ONNX model: {exc}",
                         "check that the file is a complete ONNX model") from None
    initializers = {i.name for i in model.graph.initializer}
    inputs: InputSpecs = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        ttype = value.type.tensor_type
        dtype = str(helper.tensor_dtype_to_np_dtype(ttype.elem_type))
        dims: list[int | str] = []
        for axis, d in enumerate(ttype.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or f"dim{axis}")
        inputs[value.name] = (dtype, tuple(dims))
    has_qdq = any(n.op_type in QDQ_OPS for n in model.graph.node)
    return inputs, has_qdq, {p.key: p.value for p in model.metadata_props}


def qdq_target(onnx_model_metadata: Mapping[str, str]) -> str | None:
    """Return the backend a ``trtc quantize`` Q/DQ model was made for, or None.

    None when the model carries no trtc quantize metadata (a float model, or a
    Q/DQ model from another tool: trtc cannot tell and lets it through).
    """
    value = onnx_model_metadata.get(QDQ_TARGET_KEY)
    return value.strip() if isinstance(value, str) and value.strip() else None


def qdq_precision(onnx_model_metadata: Mapping[str, str]) -> str | None:
    """Return the precision ``trtc quantize`` recorded ("int8", "fp8", "fp16", ...), or None."""
    value = onnx_model_metadata.get(QDQ_PRECISION_KEY)
    return value.strip() if isinstance(value, str) and value.strip() else None


def float_precision(onnx_model_metadata: Mapping[str, str]) -> str | None:
    """What ``trtc quantize`` wrote a Q/DQ model's float part in ("fp16"), or None (fp32)."""
    value = onnx_model_metadata.get(FLOAT_PRECISION_KEY)
    return value.strip() if isinstance(value, str) and value.strip() else None


def check_qdq_target(onnx_model_metadata: Mapping[str, str], backend: str,
                     model: str = "the model") -> None:
    """Refuse a Q/DQ model quantized for another backend than the one building it.

    Raises:
        UsageError: e.g. an onnxruntime-cpu (u8/s8) model given to a TensorRT build.
    """
    target = qdq_target(onnx_model_metadata)
    wanted = BACKEND_QDQ_TARGET.get(backend)
    if target is None or wanted is None or target == wanted:
        return
    raise UsageError(f"{model} was quantized for {target} ({QDQ_TARGET_KEY}), but the build "
                     f"backend is {backend}",
                     f"re-quantize the float model with trtc quantize --target {wanted}, "
                     f"or build with --backend {_backend_for_target(target)}")


def _backend_for_target(target: str) -> str:
    for backend, t in BACKEND_QDQ_TARGET.items():
        if t == target:
            return backend
    return "the matching backend"


def plan_from_onnx(onnx_path: Path, spec: BuildSpec, version: str,
                   out_path: Path | None = None) -> TrtBuildSettings:
    """Plan a build of ``onnx_path`` from a bare build section (no recipe around it).

    The build stage plans itself (it knows the recipe's batches for the default
    profile and the workspace's timing-cache directory); this is what a backend
    given only a BuildSpec does: no default profile, the timing cache beside
    ``out_path``.

    Raises:
        UsageError: a Q/DQ model made for another backend, or what plan_trt_build refuses.
    """
    from trtc.tensorrt.engine_file import default_timing_cache_dir
    from trtc.tensorrt.settings import plan_trt_build

    inputs, has_qdq, meta = onnx_facts(onnx_path)
    check_qdq_target(meta, "tensorrt", str(onnx_path))
    cache_dir = default_timing_cache_dir(out_path) if out_path is not None else None
    outputs, scales = onnx_outputs(onnx_path, has_qdq and bool(spec.input_formats
                                                                or spec.output_formats))
    return plan_trt_build(spec, inputs, version, model_has_qdq=has_qdq,
                          qdq_precision=qdq_precision(meta),
                          float_precision=float_precision(meta),
                          timing_cache_dir=str(cache_dir) if cache_dir else None,
                          onnx_outputs=outputs, io_scales=scales)


def onnx_outputs(onnx_path: Path, with_scales: bool = False
                 ) -> tuple[InputSpecs, dict[str, float]]:
    """The graph's outputs ({name: (dtype, shape)}) and, when asked, its Q/DQ I/O scales."""
    from trtc.graph.io import load_proto, model_io
    from trtc.tensorrt.io_formats import qdq_io_scales

    proto = load_proto(onnx_path)
    outputs = {t.name: (t.dtype, t.shape) for t in model_io(proto).outputs}
    return outputs, qdq_io_scales(proto) if with_scales else {}
