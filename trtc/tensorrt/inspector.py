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
    return {"engine": str(engine_path), "bytes": engine_path.stat().st_size,
            "sidecar": side, "layer_summary": summary,
            "layers": (layers or {}).get("Layers", []) if isinstance(layers, dict) else [],
            "here": here, "notes": notes}
