"""What a quantize did, typed: ``to_dict()`` is the metrics JSON the manifest and --json show."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtc.optimize.sensitivity import BudgetResult, Evaluation


@dataclass(frozen=True)
class CalibrationInfo:
    """Where the calibration data came from and whether the cached pass was reused."""

    source: str
    samples: int
    batches: int
    fingerprint: str
    method: str
    cache: str                     # "hit" | "miss"
    calibration_runs: int
    cache_file: str | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class QdqSummary:
    """How many Q/DQ nodes the model got and which nodes read a DequantizeLinear."""

    quantize_linear: int
    dequantize_linear: int
    quantized_nodes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class QuantizeReport:
    """One quantize: the settings that applied, calibration, accuracy, budget, and the result.

    ``ranges`` is the content of ``calibration.json`` (int8/fp8 only): the
    per-tensor ranges of every QuantizeLinear input, with the method and data.
    """

    output: Path
    precision: str
    target: str | None
    excluded_nodes: list[str]
    excluded_ops: list[str]
    calibration: CalibrationInfo | None = None
    accuracy: Evaluation | None = None
    budget: BudgetResult | None = None
    qdq: QdqSummary | None = None
    kept_fp32: list[Any] | None = None
    #: fp16 with calibration data: {"tensors_measured", "top": the calibrated peaks nearest
    #: fp16's max, each with its node, op and headroom} (trtc.optimize.fp16.measured_peaks).
    fp16_peaks: dict[str, Any] | None = None
    ranges: dict[str, Any] | None = None
    #: ``float_precision: fp16``: {"precision", "fp16_nodes", "casts", "kept_fp32"}.
    float_regions: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The metrics JSON (keys as the manifest and ``trtc quantize --json`` show them)."""
        out: dict[str, Any] = {"precision": self.precision, "target": self.target}
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_dict()
        if self.budget is not None:
            out["budget"] = self.budget.to_dict()
            out["float_nodes"] = self.budget.excluded
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy.to_dict()
        out["excluded_nodes"] = list(self.excluded_nodes)
        out["excluded_ops"] = list(self.excluded_ops)
        if self.qdq is not None:
            out["qdq"] = self.qdq.to_dict()
        if self.kept_fp32 is not None:
            out["kept_fp32"] = [kept_dict(k) for k in self.kept_fp32]
        if self.fp16_peaks is not None:
            out["fp16_peaks"] = self.fp16_peaks
        if self.float_regions is not None:
            out["float_regions"] = self.float_regions
        return out


def kept_dict(kept: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(kept) and not isinstance(kept, type):
        return dataclasses.asdict(kept)
    return {"name": str(kept)}
