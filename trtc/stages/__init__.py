"""One module per stage, each with one public ``run(job, ctx)``.

The contract every stage follows (the pipeline and the Python API call it the
same way in recipe mode and flags mode):

- ``job`` is a frozen, fully resolved spec for that stage (``ExportJob``,
  ``QuantizeJob``, ...), made by ``trtc.pipeline.plan`` from a recipe: the
  backend, quantize target and precision are fixed there once; a stage never
  reads the whole recipe and never resolves ``auto`` itself.
- ``ctx`` is a :class:`StageContext`: the files the stage reads (by role), where
  each output goes (by role; workspace mode: the stage folder, flags mode: the
  ``-o`` path and its folder), the reporter for progress, and a scratch/cache
  folder the caller owns.

Stages return data (a :class:`StageResult` subclass); they never print and never
exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class Reporter(Protocol):
    """Where a stage reports progress; the CLI renders it, the API may ignore it."""

    def phase(self, name: str) -> None:
        """A new phase of a long step started (e.g. 'parsing', 'building')."""

    def progress(self, description: str, total: int) -> Any:
        """A context manager yielding ``update(done, total)`` for one counted loop."""


class NullReporter:
    """The default reporter: shows nothing."""

    def phase(self, name: str) -> None:
        return None

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[int, int], None]]:
        yield lambda done, n: None


@dataclass(frozen=True)
class StageContext:
    """Where a stage reads and writes, and how it reports.

    Attributes:
        inputs: files the stage reads, by role (``model``, ``candidate``, ...).
        outputs: where each artifact goes, by role (``model``, ``artifact``,
            ``report``, ``calibration``...). A stage writes only these paths and
            files inside ``work_dir``.
        work_dir: a folder the stage may keep caches in (calibration cache,
            timing cache); in workspace mode the stage folder, in flags mode the
            ``-o`` path's folder.
        reporter: progress and phases.
    """

    inputs: dict[str, Path]
    outputs: dict[str, Path]
    work_dir: Path
    reporter: Reporter = field(default_factory=NullReporter)


@dataclass
class StageResult:
    """What a stage produced: artifacts by role, metrics for the manifest, warnings."""

    stage: str
    outputs: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
