"""The backend interface and how a recipe's ``backend:`` becomes one.

A backend carries everything that differs between runtimes, so the stages have
no ``if backend.name == ...`` branches:

- build: :meth:`Backend.prepare_build` (checks and plans, fast), :meth:`Backend.build`
  (slow, into a staged file), :meth:`Backend.finish_build` (files beside the final
  artifact), :meth:`Backend.preview_build` (``build --dry-run``);
- run: :meth:`Backend.runner` (Polygraphy, for verify), :meth:`Backend.infer_fn`;
- time: :meth:`Backend.timer` (bench);
- io: :meth:`Backend.io_specs`, :meth:`Backend.precision_of`,
  :meth:`Backend.source_metadata`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    from polygraphy.backend.base import BaseRunner

    from trtc.graph.io import ModelIO
    from trtc.recipe import BenchSpec, BuildSpec

Feed = Mapping[str, "np.ndarray"]
IoSpecs = tuple[dict[str, tuple[str, tuple[int | str, ...]]], list[str]]
BACKENDS = ("onnxruntime", "tensorrt")


@dataclass(frozen=True)
class ProfileHint:
    """What the rest of the recipe says about the shapes the artifact will run.

    The default TensorRT profile covers the batches verify and bench run, and a dry
    run without an exported model reads the inputs the recipe declares.
    """

    batches: tuple[int, ...] = ()
    dims: dict[str, int] = field(default_factory=dict)
    shapes: tuple[dict[str, Any], ...] = ()
    declared_inputs: dict[str, tuple[str, tuple[int | str, ...]]] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildRequest:
    """One build, as the stage resolved it: the model, the section and where things go."""

    onnx_path: Path
    out_path: Path
    spec: BuildSpec
    model: ModelIO
    #: Why this backend was chosen (``onnxruntime (auto: ...)``), for the auto-fallback note.
    why: str = ""
    hint: ProfileHint | None = None
    #: Where TensorRT's ``timing_cache: auto`` keeps its caches (None: beside the artifact).
    timing_cache_dir: Path | None = None
    verbose: bool = False


@dataclass(frozen=True)
class PreparedBuild:
    """A backend's checked plan for one build, made before anything slow runs."""

    precision: str
    #: Backend-specific settings handed to :meth:`Backend.build` (TensorRT: TrtBuildSettings).
    settings: Any = None
    warnings: tuple[str, ...] = ()


class Timer(Protocol):
    """How one backend times its artifact, and the PyTorch baseline beside it (bench)."""

    #: Threads the runtime (and the CPU baseline) use; None where it is not a CPU thread pool.
    threads: int | None
    #: The end of the "latency varies run to run" warning.
    noise_hint: str

    def method(self) -> dict[str, Any]:
        """The report's ``method`` keys that describe this timer (``timer``, ...)."""

    def context(self) -> dict[str, Any]:
        """Report keys beyond ``threads`` (TensorRT: ``device``, ``engine``); may be empty."""

    def time(self, feed: Feed, batch: int) -> tuple[dict[str, Any], list[str]]:
        """Time the artifact on ``feed``: (latency statistics, notes for the warnings)."""

    def baseline(self, model: Any, feed: Feed, input_names: Sequence[str], batch: int,
                 main: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Time the PyTorch model on ``feed``: (timed runs by name, derived row keys).

        ``main`` is the artifact's statistics; the derived keys hold the speed-ups
        (and aliases such as ``pytorch``), which the noise check leaves out.
        """


class Backend(Protocol):
    """What the stages need from a runtime: build an artifact, run it, time it, read it."""

    name: str
    #: File name of the built artifact inside build/<recipe>/build/.
    artifact_name: str

    def check_available(self, spec: BuildSpec) -> None:
        """Raise DependencyError (with an install hint) when this backend cannot run here."""

    def prepare_build(self, request: BuildRequest) -> PreparedBuild:
        """Check and plan the build (settings, files, shapes); raise before anything slow."""

    def build(self, onnx_path: Path, out_path: Path, spec: BuildSpec, *,
              plan: PreparedBuild | None = None, verbose: bool = False,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Build ``out_path`` from ``onnx_path``; return the settings used and metrics.

        ``progress`` hears what a long build is doing (phase, elapsed time).
        """

    def finish_build(self, artifact: Path, plan: PreparedBuild,
                     info: Mapping[str, Any]) -> dict[str, Path]:
        """Write what goes beside the final artifact; return those files by role."""

    def preview_build(self, spec: BuildSpec, *, onnx_path: Path | None,
                      hint: ProfileHint | None, version: str | None, output: str | None,
                      timing_cache_dir: Path | None) -> dict[str, Any]:
        """The resolved settings a build would use (``--dry-run``); {} when nothing to add."""

    def runner(self, artifact: Path, name: str) -> BaseRunner:
        """Return a Polygraphy runner for the artifact (for the comparator)."""

    def infer_fn(self, artifact: Path, threads: int | None) -> Callable[[Feed], Any]:
        """Return a function running one inference on a feed dict; its outputs belong to
        the caller (a later call must not overwrite them). One with a ``close`` method holds
        device resources: the caller calls it when done (:func:`close_infer`)."""

    def timer(self, artifact: Path, spec: BenchSpec) -> Timer:
        """Return the timer bench measures the artifact with."""

    def io_specs(self, artifact: Path) -> IoSpecs:
        """Return ({input name: (dtype, shape with named dynamic dims)}, output names)."""

    def precision_of(self, artifact: Path) -> str:
        """The precision the artifact computes in, read from the artifact (verify's tolerances)."""

    def source_metadata(self, artifact: Path) -> dict[str, str]:
        """The metadata_props of the ONNX the artifact is (or was built from)."""


@contextmanager
def polygraphy_severity(level: str) -> Iterator[None]:
    """Set Polygraphy's log severity (``CRITICAL``, ``ERROR``...) for the block, then restore it.

    Polygraphy prints its log to stdout, where it would corrupt ``--json``.
    """
    from polygraphy.logger import G_LOGGER

    before = G_LOGGER.module_severity
    G_LOGGER.module_severity = getattr(G_LOGGER, level)
    try:
        yield
    finally:
        G_LOGGER.module_severity = before


def polygraphy_build_severity(verbose: bool) -> str:
    """Polygraphy's severity for a TensorRT build: TensorRT's own VERBOSE messages arrive
    as Polygraphy's EXTRA_VERBOSE (its INFO as VERBOSE), so ``--verbose`` asks for that,
    as ``trtexec --verbose`` shows TensorRT's whole log; else errors only."""
    return "EXTRA_VERBOSE" if verbose else "ERROR"


@contextmanager
def polygraphy_echo(enabled: bool) -> Iterator[None]:
    """Print every line Polygraphy (and TensorRT through it) logs on stderr, for the block.

    With :func:`polygraphy_to_stderr` the lines go through Python's logging, which drops
    those below WARNING unless a handler asks for them: that is what this adds.
    """
    if not enabled:
        yield
        return
    import logging
    import sys

    logger = logging.getLogger("Polygraphy")
    handler = logging.StreamHandler(sys.stderr)
    before = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(1)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before[0])
        logger.propagate = before[1]


def polygraphy_to_stderr() -> None:
    """Send Polygraphy's log (and TensorRT's, which goes through it) to stderr.

    Polygraphy prints to stdout, where it would corrupt ``--json``; through Python's
    logging system, warnings and errors reach stderr instead.
    """
    from polygraphy.logger import G_LOGGER

    G_LOGGER.colors = False  # else Polygraphy prints a note about the 'colored' module
    G_LOGGER.use_python_logging_system = True


@contextmanager
def polygraphy_log_file(path: Path) -> Iterator[None]:
    """Also write Polygraphy's (and TensorRT's) log lines to ``path``, for the diagnosis."""
    from polygraphy.logger import G_LOGGER

    G_LOGGER.log_file = str(path)
    try:
        yield
    finally:
        G_LOGGER.log_file = None


def close_infer(infer: Callable[[Feed], Any]) -> None:
    """Release what an :meth:`Backend.infer_fn` callable holds (a TensorRT runner's engine,
    context and buffers); a plain function holds nothing."""
    close = getattr(infer, "close", None)
    if callable(close):
        close()
