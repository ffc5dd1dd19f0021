"""The engine inspector's JSON, read leniently, its per-layer summary, and ``trtc inspect``.

TensorRT 8.6 writes raw control characters inside the inspector's JSON strings,
hence ``strict=False``; a layer that still does not parse is kept as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trtc.errors import DependencyError, ModelError, TrtcError
from trtc.tensorrt.engine_file import (
    compatibility_verdict,
    layers_path,
    read_sidecar,
    sidecar_path,
)

#: (TensorRT version, GPU name, compute capability) of this machine.
Machine = tuple[str, str, tuple[int, int]]


def parse_engine_information(text: str) -> dict[str, Any]:
    """The inspector's whole-engine JSON as a dict ({} when it does not parse)."""
    try:
        parsed = json.loads(text, strict=False)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def parse_layer_information(text: str) -> Any:
    """One layer's inspector JSON, or the text itself when it does not parse."""
    try:
        return json.loads(text, strict=False)
    except ValueError:
        return text


def layers_info(engine_text: str, layer_texts: Callable[[], Sequence[str]]
                ) -> dict[str, Any]:
    """layers.json's content: the engine's JSON, else layer by layer; with a summary.

    ``layer_texts`` is only called when the whole-engine JSON has no layer list.
    """
    info = parse_engine_information(engine_text)
    if not isinstance(info.get("Layers"), list):
        info["Layers"] = [parse_layer_information(t) for t in layer_texts()]
    info["summary"] = summarize_layers(info)
    return info


_PRECISION = re.compile(r"\b(FP32|FP16|BF16|FP8|Int8|INT8|Int32|INT32|Half|Float|Int64|Bool)\b")
_PRECISION_NAMES = {"Half": "FP16", "Float": "FP32", "Int8": "INT8", "Int32": "INT32"}


def summarize_layers(info: Mapping[str, Any]) -> dict[str, Any]:
    """Count the inspector's layers by type and by output precision (for reports)."""
    layers = info.get("Layers", [])
    by_type: dict[str, int] = {}
    by_precision: dict[str, int] = {}
    for layer in layers:
        if not isinstance(layer, dict):  # names only (profiling verbosity LAYER_NAMES_ONLY)
            continue
        kind = str(layer.get("LayerType", "unknown"))
        by_type[kind] = by_type.get(kind, 0) + 1
        outputs = layer.get("Outputs") or []
        fmt = str(outputs[0].get("Format/Datatype", "")) if outputs else ""
        m = _PRECISION.search(fmt)
        precision = _PRECISION_NAMES.get(m.group(1), m.group(1).upper()) if m else "unknown"
        by_precision[precision] = by_precision.get(precision, 0) + 1
    return {"layers": len(layers), "by_type": dict(sorted(by_type.items())),
            "by_output_precision": dict(sorted(by_precision.items()))}


# --------------------------------------------------------------------------- precision

#: The compute layers whose precision is the point of int8/fp16: TensorRT's names of
#: convolutions, GEMMs and matrix multiplies (ParameterType in 8.6, else LayerType).
_COMPUTE = re.compile(r"conv|gemm|matrixmultiply|matmul|fullyconnected", re.IGNORECASE)
#: Precisions "at most 16 bits" for ``fp16_fraction`` (int8/fp8 layers count as well).
_AT_MOST_16 = ("FP16", "BF16", "INT8", "FP8")


def layer_kind(layer: Mapping[str, Any]) -> str:
    """The layer's operation: ``ParameterType`` (8.6: ``Convolution``), else ``LayerType``."""
    return str(layer.get("ParameterType") or layer.get("LayerType") or "unknown")


def _format_precision(tensors: Any) -> str | None:
    if not isinstance(tensors, list) or not tensors or not isinstance(tensors[0], dict):
        return None
    m = _PRECISION.search(str(tensors[0].get("Format/Datatype", "")))
    return _PRECISION_NAMES.get(m.group(1), m.group(1).upper()) if m else None


#: Tactic-name fragments of TensorRT's kernels by the precision they compute in (xmma /
#: cask names: ``i8i8_i8i32``, ``i8f32_i8i32``, ``f16f16_f16f32``; cuDNN-style ``h884``,
#: ``h1688``, ``h16816``).
_TACTIC_PRECISION = ((re.compile(r"_i8(i8|f16|f32)_|_int8_|imma", re.IGNORECASE), "INT8"),
                     (re.compile(r"f16f16|h884|h1688|h16816|_fp16_|hmma", re.IGNORECASE),
                      "FP16"),
                     (re.compile(r"bf16bf16", re.IGNORECASE), "BF16"),
                     (re.compile(r"f32f32|tf32|s1688|sgemm|_fp32_", re.IGNORECASE), "FP32"))


def _weights_precision(layer: Mapping[str, Any]) -> str | None:
    """The type of the layer's weights (``Weights``, ``ConvWeights``, ... ``{"Type": "Int8"}``)."""
    keys = sorted(k for k in layer if k.endswith("Weights"))
    for key in keys:  # "Weights" before "ConvWeights" is irrelevant: a layer has one
        value = layer[key]
        if isinstance(value, dict) and value.get("Type") and int(value.get("Count", 1)):
            m = _PRECISION.search(str(value["Type"]))
            if m:
                return _PRECISION_NAMES.get(m.group(1), m.group(1).upper())
    return None


def _tactic_precision(layer: Mapping[str, Any]) -> str | None:
    name = str(layer.get("TacticName", ""))
    for pattern, precision in _TACTIC_PRECISION:
        if pattern.search(name):
            return precision
    return None


def precision_evidence(layer: Mapping[str, Any]) -> tuple[str, str]:
    """(precision, where it was read) for a layer.

    Its first input's type (TensorRT Engine Explorer's rule: an int8 convolution may
    write float), else its first output's ("format"). A dynamic-shape engine inspected
    without an execution context has no formats (8.6: ``"N/A due to dynamic shapes"``);
    then the type of its weights ("weights"), then its kernel's name ("tactic").
    """
    found = _format_precision(layer.get("Inputs")) or _format_precision(layer.get("Outputs"))
    if found:
        return found, "format"
    found = _weights_precision(layer)
    if found:
        return found, "weights"
    found = _tactic_precision(layer)
    if found:
        return found, "tactic"
    return "unknown", "none"


def layer_precision(layer: Mapping[str, Any]) -> str:
    """The precision a layer computes in (see :func:`precision_evidence`)."""
    return precision_evidence(layer)[0]


def is_compute_layer(layer: Mapping[str, Any]) -> bool:
    return bool(_COMPUTE.search(layer_kind(layer))) and "reformat" not in \
        layer_kind(layer).lower()


def _qdq_hazard(layer: Mapping[str, Any]) -> str | None:
    """Why a layer is Q/DQ that TensorRT left unfused (a cost of its own), or None."""
    kind = layer_kind(layer)
    name = str(layer.get("Name", ""))
    inp = _format_precision(layer.get("Inputs"))
    out = _format_precision(layer.get("Outputs"))
    if kind in ("Quantize", "Dequantize", "QuantizeLinear", "DequantizeLinear"):
        return f"unfused {kind} layer"
    # 8.6: a Q/DQ pair that fused into nothing runs as a Scale layer converting to/from int8.
    if kind == "Scale" and inp != out and "INT8" in (inp, out):
        return f"unfused {'Dequantize' if inp == 'INT8' else 'Quantize'} ({inp} -> {out})"
    if " + " not in name and re.search(r"_(de)?quantize_scale_node$", name):
        return "unfused Q/DQ node"
    if layer.get("Origin") == "QDQ" and inp is None and out is None:
        # 8.6, dynamic shapes inspected without a context: no formats, but the origin says
        # the layer is nothing but a Q/DQ node run on its own.
        return f"Q/DQ node run as its own {kind} layer"
    reformat = kind == "Reformat" or "reformat" in name.lower()
    if reformat and inp != out and "INT8" in (inp, out):
        return f"reformat {inp} -> {out} around an int8 region"
    return None


def precision_report(info: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's compute layers by precision, and the Q/DQ that was left unfused.

    Returns ``compute_layers`` (count), ``by_precision`` and ``fractions`` (of the
    compute layers), ``layers`` (name, kind, precision of each compute layer) and
    ``unfused_qdq`` (name, kind, why) — the usual reason int8 runs slower than fp16.
    """
    layers = [x for x in info.get("Layers", []) if isinstance(x, dict)]
    compute = [{"name": str(x.get("Name", "")), "kind": layer_kind(x),
                "precision": p, "from": source}
               for x in layers if is_compute_layer(x)
               for p, source in [precision_evidence(x)]]
    by_precision: dict[str, int] = {}
    for row in compute:
        by_precision[row["precision"]] = by_precision.get(row["precision"], 0) + 1
    n = len(compute)
    fractions = {k: round(v / n, 4) for k, v in sorted(by_precision.items())} if n else {}
    unfused = [{"name": str(x.get("Name", "")), "kind": layer_kind(x), "why": why}
               for x in layers if (why := _qdq_hazard(x)) is not None]
    return {"layers": len(layers), "compute_layers": n,
            "by_precision": dict(sorted(by_precision.items())), "fractions": fractions,
            "compute": compute, "unfused_qdq": unfused}


def precision_failures(report: Mapping[str, Any], *, int8_fraction: float | None = None,
                       fp16_fraction: float | None = None, limit: int = 8) -> list[str]:
    """What an engine fails of ``build.expect``: one message per fraction not reached,
    naming the compute layers that run in another precision (the first ``limit``)."""
    failures: list[str] = []
    compute = report.get("compute") or []
    for label, wanted, ok in (("int8", int8_fraction, ("INT8",)),
                              ("fp16", fp16_fraction, _AT_MOST_16)):
        if wanted is None:
            continue
        if not compute:
            failures.append(f"expect.{label}_fraction {wanted:g}: the engine inspector listed "
                            "no convolution/GEMM/matmul layer, so the precision cannot be "
                            "proven")
            continue
        missing = [row for row in compute if row["precision"] not in ok]
        share = 1 - len(missing) / len(compute)
        if share + 1e-9 < wanted:
            named = ", ".join(f"{r['name']} ({r['precision']})" for r in missing[:limit])
            more = f" and {len(missing) - limit} more" if len(missing) > limit else ""
            failures.append(f"{share * 100:.1f}% of {len(compute)} compute layers run in "
                            f"{label} (expect.{label}_fraction {wanted:g}); not {label}: "
                            f"{named}{more}")
    return failures


def engine_summary(engine_path: Path, *,
                   read_engine: Callable[[Path], tuple[dict[str, Any], dict[str, Any]]],
                   machine: Callable[[], Machine]) -> dict[str, Any]:
    """What ``trtc inspect ENGINE`` shows: the sidecar, the layer summary, the file.

    Works without TensorRT when the sidecar and layers.json exist; otherwise
    ``read_engine`` (the adapter: needs TensorRT and a GPU) returns the engine's
    (io, layers info). ``machine`` says what this machine has, for the verdict
    whether the engine loads here (skipped when it raises a TrtcError).
    """
    if not engine_path.is_file():
        raise ModelError(f"engine not found: {engine_path}", "check the path")
    side = read_sidecar(engine_path)
    try:
        layers = json.loads(layers_path(engine_path).read_text())
    except (OSError, ValueError):
        layers = None
    notes: list[str] = []
    if side is None or layers is None:
        try:
            io, engine_layers = read_engine(engine_path)
        except (DependencyError, ModelError) as exc:
            if side is None:
                raise ModelError(f"{engine_path}: no sidecar ({sidecar_path(engine_path).name}) "
                                 f"and the engine cannot be read here: {exc.message}",
                                 exc.hint) from None
            notes.append(f"no {layers_path(engine_path).name}, and the engine cannot be "
                         f"inspected here: {exc.message}")
        else:
            if side is None:
                side = {"io": io, "note": "no sidecar: read from the engine"}
            if layers is None:
                layers = engine_layers
    summary = (layers or {}).get("summary") if isinstance(layers, dict) else None
    if layers is not None and summary is None and isinstance(layers, dict):
        summary = summarize_layers(layers)
    here: dict[str, Any] = {}
    try:
        version, gpu_name, cc = machine()
    except TrtcError:
        pass
    else:
        if side is not None and "gpu" in side:
            ok, why = compatibility_verdict(side, gpu_name=gpu_name, compute_capability=cc,
                                            trt_version=version)
            here = {"loadable_here": ok, "reason": why}
    precision = (precision_report(layers) if isinstance(layers, dict) else None)
    if precision and precision["unfused_qdq"]:
        notes.append(f"{len(precision['unfused_qdq'])} Q/DQ or int8 reformat layer(s) left "
                     "unfused (each costs a memory pass; the usual reason int8 is slower "
                     "than fp16): " + ", ".join(r["name"] for r in precision["unfused_qdq"][:5])
                     + (" ..." if len(precision["unfused_qdq"]) > 5 else ""))
    return {"engine": str(engine_path), "bytes": engine_path.stat().st_size,
            "sidecar": side, "layer_summary": summary, "precision": precision,
            "layers": (layers or {}).get("Layers", []) if isinstance(layers, dict) else [],
            "here": here, "notes": notes}
