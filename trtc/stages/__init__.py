"""One module per stage, each with one public ``run(recipe, inputs, out_dir)``.

Stages return data (a :class:`StageResult`); they never print and never exit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StageResult:
    """What a stage produced: artifacts by role, metrics for the manifest, warnings."""

    stage: str
    outputs: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
