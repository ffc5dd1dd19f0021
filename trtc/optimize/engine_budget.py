"""``quantize.budget_on: engine``: the budget search measures built artifacts, not Q/DQ graphs.

ONNX Runtime running the fake-quantized graph and TensorRT running the engine built
from it disagree (issue 14), so with ``budget_on: engine`` every candidate the
search tries is built by a trtc backend (TensorRT: the same planning and Polygraphy
build path as ``trtc build``, the recipe's build section, one timing cache for all
candidates) and run on the evaluation data: its metric goes into the manifest with its
build time and its latency, timed the way ``trtc bench`` times it (TensorRT: GPU compute
time, CUDA graph) at the recipe's largest bench batch.

Without TensorRT (or a GPU) the search runs on ONNX Runtime as with
``budget_on: onnxruntime`` and a warning says so.

Each measured candidate is recorded beside the calibration cache (``memo``), keyed by the
candidate ONNX, the build and bench sections and the evaluation data: a search cut short
(a device call's time limit) measures only what it had not measured when run again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.backends.base import close_infer
from trtc.errors import DependencyError, UsageError
from trtc.optimize.sensitivity import Evaluation, Evaluator, OrtEvaluator, score
from trtc.recipe import BenchSpec, BuildSpec, QuantizeSpec

#: The record of measured candidates, in the folder of the calibration cache.
MEMO_FILE = "engine-evaluations.json"

if TYPE_CHECKING:
    from trtc.backends.base import Backend


@dataclass(frozen=True)
class EngineBudget:
    """How ``budget_on: engine`` builds candidates: the build section and the timing cache.

    ``timing_cache_dir``: where ``build.timing_cache: auto`` keeps its caches (the
    workspace's, shared with ``trtc build``); None = the search's own folder, shared
    by its candidates. ``bench``: how candidates are timed (the backend's ``trtc bench``
    timer, at the largest of its batches, which the engine's profile then covers); None =
    the host wall time of the evaluation runs (copies and launches included).
    """

    build: BuildSpec = field(default_factory=BuildSpec)
    timing_cache_dir: Path | None = None
    backend: str = "tensorrt"
    bench: BenchSpec | None = None

    @property
    def time_batch(self) -> int | None:
        """The batch candidates are timed at (None: the evaluation batch, host-timed)."""
        return max(self.bench.batch) if self.bench is not None else None


class BackendEvaluator:
    """Build each candidate with a trtc backend; score the artifact's outputs, time its runs.

    ``work_dir`` holds one candidate at a time (its ONNX and artifact are removed after
    it is measured). Latency: with ``engine.bench``, the backend's bench timer at
    ``engine.time_batch`` (the first evaluation sample repeated); else the median wall time
    of one synchronous inference per evaluation batch after one warm-up run (host-side,
    copies included).
    """

    name = "engine"

    def __init__(self, backend: Backend, engine: EngineBudget, reference: OrtEvaluator,
                 output_names: Sequence[str], work_dir: Path, memo: Path | None = None
                 ) -> None:
        self.backend, self.engine, self.reference = backend, engine, reference
        self.output_names, self.work_dir, self.memo = list(output_names), work_dir, memo
        # Read once: one search writes the record, this evaluator is its only writer.
        self._known = _read_memo(memo) if memo is not None else {}
        self._data_key = _data_key(reference) if memo is not None else ""

    def __call__(self, model: Any, /) -> Evaluation:
        return dataclasses.replace(self._measure(model, self.engine.build),
                                   onnxruntime=self._on_onnxruntime(model))

    def _measure(self, model: Any, build: BuildSpec) -> Evaluation:
        """Build ``model`` with ``build``, run it on the evaluation data, score and time it
        (or read what an earlier run measured of the same candidate from ``memo``)."""
        if self.memo is None:
            return self._build_and_run(model, build)
        key = self._memo_key(model, build)
        known = self._known.get(key)
        if known is not None:
            return Evaluation(**{**known, "reused": True})
        evaluation = self._build_and_run(model, build)
        from trtc.workspace import write_json

        self._known[key] = dataclasses.asdict(evaluation)
        write_json(self.memo, self._known)
        return evaluation

    def _memo_key(self, model: Any, build: BuildSpec) -> str:
        digest = hashlib.sha256(model.SerializeToString())
        digest.update(repr((self.backend.name, build, self.engine.bench,
                            self._data_key)).encode())
        return digest.hexdigest()

    def _build_and_run(self, model: Any, build: BuildSpec) -> Evaluation:
        from trtc.graph.cleanup import save_onnx

        onnx_path = self.work_dir / "candidate.onnx"
        artifact = self.work_dir / ("candidate" + Path(self.backend.artifact_name).suffix)
        save_onnx(model, onnx_path)
        try:
            build_s = self._build(onnx_path, artifact, build)
            outputs, latency_ms = self._run(artifact, build)
            if self.engine.bench is not None:
                latency_ms = self._time(artifact, self.engine.bench)
        finally:
            for path in (onnx_path, Path(f"{onnx_path}.data"), artifact):
                path.unlink(missing_ok=True)
        evaluation = score(outputs, self.reference.reference, self.reference.labels)
        return dataclasses.replace(evaluation, latency_ms=latency_ms, build_s=build_s,
                                   latency_batch=self.engine.time_batch or _batch(
                                       self.reference.feeds[0]))

    def _on_onnxruntime(self, model: Any) -> dict[str, float] | None:
        """What ONNX Runtime (CPU) says of the same model: the verdict ``budget_on:
        onnxruntime`` would have given it, kept beside the engine's (issue 14's table).
        None where ONNX Runtime's CPU kernels cannot run it (fp16 regions)."""
        try:
            evaluation = self.reference(model)
        except Exception:  # noqa: BLE001 - ORT raises its own Fail / NotImplemented classes
            return None
        return {"value": evaluation.value, "drop": evaluation.drop}

    def baseline(self, model: Any, warnings: list[str], /) -> dict[str, Any] | None:
        """The float model built and measured the same way: as an fp16 engine on TensorRT
        (the reference the int8 engine's speed-up is against), as the build section says
        on other backends; None with a warning where fp16 is not a builder flag (strongly
        typed networks: TensorRT 11)."""
        from trtc.errors import TrtcError

        precision = "fp16" if self.engine.backend == "tensorrt" else self.engine.build.precision
        try:
            evaluation = self._measure(model, dataclasses.replace(self.engine.build,
                                                                  precision=precision))
        except TrtcError as exc:
            warnings.append(f"quantize.budget_on engine: the fp16 reference engine was not "
                            f"measured: {exc.message}")
            return None
        return {"precision": precision, **evaluation.to_dict()}

    def _build(self, onnx_path: Path, artifact: Path, build: BuildSpec) -> float:
        from trtc.backends.base import BuildRequest, ProfileHint
        from trtc.graph.io import read_model_io

        first = self.reference.feeds[0]
        batches = sorted({_batch(first), self.engine.time_batch or _batch(first)})
        # The evaluation sample's shape at every batch: given shapes win over batches in
        # the default profile, so the sample alone fixed ppocr_cls's (batch, 3, h, w) at
        # batch 1 and the engine refused the time batch 32.
        hint = ProfileHint(batches=tuple(batches),
                           shapes=tuple({k: _repeated_shape(v, b) for k, v in first.items()}
                                        for b in batches))
        request = BuildRequest(onnx_path, artifact, build, read_model_io(onnx_path),
                               why="quantize.budget_on engine", hint=hint,
                               timing_cache_dir=self.engine.timing_cache_dir
                               or self.work_dir / "timing-cache")
        plan = self.backend.prepare_build(request)
        started = time.perf_counter()
        self.backend.build(onnx_path, artifact, build, plan=plan)
        return time.perf_counter() - started

    def _run(self, artifact: Path, build: BuildSpec) -> tuple[list[list[Any]], float]:
        infer = self.backend.infer_fn(artifact, build.threads)
        feeds = self.reference.feeds
        outputs, seconds = [], []
        try:
            infer(feeds[0])  # warm-up: lazy allocation and the first kernel launches
            for feed in feeds:
                started = time.perf_counter()
                got = infer(feed)
                seconds.append(time.perf_counter() - started)
                outputs.append(_in_order(got, self.output_names))
        finally:
            close_infer(infer)
        return outputs, statistics.median(seconds) * 1000.0

    def _time(self, artifact: Path, bench: BenchSpec) -> float:
        """The artifact's median latency (ms) by the backend's bench timer at the time
        batch: the first evaluation sample repeated to it."""
        batch = self.engine.time_batch
        assert batch is not None
        feed = {k: _repeat(v, batch) for k, v in self.reference.feeds[0].items()}
        stats, _ = self.backend.timer(artifact, bench).time(feed, batch)
        return float(stats["median_ms"])


def _repeat(value: Any, batch: int) -> Any:
    """A batch-1 array repeated along its first axis to ``batch`` (scalars as they are)."""
    import numpy as np

    array = np.asarray(value)
    if array.ndim == 0 or array.shape[0] == batch:
        return array
    return np.repeat(array[:1], batch, axis=0)


def _read_memo(path: Path) -> dict[str, Any]:
    """The measured candidates recorded at ``path`` ({} where there is no readable record:
    one cut mid-write is measured again)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _data_key(reference: OrtEvaluator) -> str:
    """A digest of the evaluation data and its reference outputs (what a score depends on)."""
    import numpy as np

    digest = hashlib.sha256()
    arrays = [v for feed in reference.feeds for _, v in sorted(feed.items())]
    arrays += [o for outs in reference.reference for o in outs]
    arrays += list(reference.labels or [])
    for array in arrays:
        a = np.ascontiguousarray(array)
        digest.update(f"{a.dtype}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _repeated_shape(value: Any, batch: int) -> tuple[int, ...]:
    """The shape :func:`_repeat` gives ``value`` at ``batch``."""
    import numpy as np

    shape = tuple(int(d) for d in np.shape(value))
    return (batch, *shape[1:]) if shape else shape


def _batch(feed: Mapping[str, Any]) -> int:
    shapes = [v.shape for v in feed.values() if getattr(v, "ndim", 0) > 0]
    return int(shapes[0][0]) if shapes else 1


def _in_order(outputs: Any, names: Sequence[str]) -> list[Any]:
    """A backend's outputs (a list in graph order, or a name -> array mapping) as a list."""
    if isinstance(outputs, Mapping):
        return [outputs[name] for name in names]
    return list(outputs)


def budget_evaluator(spec: QuantizeSpec, engine: EngineBudget | None,
                     reference: OrtEvaluator, output_names: Sequence[str], work_dir: Path,
                     warnings: list[str], memo: Path | None = None) -> Evaluator:
    """The evaluator ``quantize.budget_on`` asks for, or ONNX Runtime's with a warning.

    ``budget_on: engine`` without a usable TensorRT (or GPU) falls back to ONNX Runtime
    and appends one warning saying so.

    Raises:
        UsageError: ``budget_on: engine`` for a model quantized for ONNX Runtime's CPU kernels.
    """
    if spec.budget_on != "engine":
        return reference
    from trtc.backends import get_backend

    engine = engine or EngineBudget()
    backend = get_backend(engine.backend)
    try:
        backend.check_available(engine.build)
    except DependencyError as exc:
        warnings.append(f"quantize.budget_on engine: {exc.message}; the budget search runs "
                        "on ONNX Runtime (CPU) instead, as with budget_on onnxruntime")
        return reference
    if engine.backend == "tensorrt" and spec.target != "tensorrt":
        raise UsageError(f"quantize.budget_on engine builds TensorRT engines, but the model "
                         f"is quantized for {spec.target}",
                         "set quantize.target: tensorrt (--target tensorrt), or "
                         "budget_on: onnxruntime")
    return BackendEvaluator(backend, engine, reference, output_names, work_dir, memo)

