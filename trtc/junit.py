"""JUnit XML for CI dashboards (GitLab, Jenkins, GitHub reporters) from trtc's results.

One ``<testsuite>`` per command inside ``<testsuites>``; ``verify`` has one test
case per output (and one for its task metric), ``bench`` one per batch size,
``run`` one per stage. A failed check is a ``<failure message=... type=...>``
whose text is the whole message; a stage that did not run is ``<skipped>``.
Functions take the plain data of reports and outcomes; nothing here runs a model.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    """One ``<testcase>``: passed, failed (``failure``) or skipped (``skipped``)."""

    name: str
    classname: str
    time_s: float = 0.0
    failure: str | None = None
    failure_type: str = "VerificationError"
    skipped: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class Suite:
    """One ``<testsuite>``."""

    name: str
    cases: tuple[Case, ...] = field(default_factory=tuple)

    @property
    def failures(self) -> int:
        return sum(c.failure is not None for c in self.cases)


def _safe(name: str) -> str:
    """A classname part: dots separate packages in the reporters' trees."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "model"


def verify_suite(report: Mapping[str, Any], label: str) -> Suite:
    """verify's report: one case per output (failing where its tolerance gated and
    missed), and one for the task metric when there is one."""
    classname = f"trtc.verify.{_safe(label)}"
    failures = list(report.get("failures") or [])
    gates = bool(report.get("elementwise_gates", True))
    cases: list[Case] = []
    for name, stats in (report.get("outputs") or {}).items():
        message = next((f for f in failures if f.startswith(f"output '{name}' differs")), None)
        if message is None and gates and not stats.get("passed", True):
            message = f"output '{name}' is outside its tolerance"
        summary = (f"max abs {stats.get('max_abs', 0):.3g}, max rel {stats.get('max_rel', 0):.3g}"
                   f", cosine {stats.get('cosine', 0):.6f} (atol {stats.get('atol', 0):g}, "
                   f"rtol {stats.get('rtol', 0):g}"
                   + ("" if gates else "; reported, not gating") + ")")
        cases.append(Case(f"output {name}", classname, failure=message, output=summary))
    metric = report.get("metric")
    if metric:
        named = {c.failure for c in cases}
        message = next((f for f in failures if f not in named), None) \
            if not metric.get("passed", True) else None
        if message is None and not metric.get("passed", True):
            message = f"metric {metric.get('name')} failed"
        cases.append(Case(f"metric {metric.get('name')}", classname, failure=message))
    return Suite(f"trtc verify {label}", tuple(cases))


def bench_suite(report: Mapping[str, Any], label: str) -> Suite:
    """bench's report: one case per batch size; with a baseline, a regression fails it."""
    classname = f"trtc.bench.{_safe(label)}"
    backend = str(report.get("backend"))
    from trtc.sweep import point_label

    gate = report.get("baseline_gate") or {}
    by_point = {point_label(b): b for b in gate.get("batches", []) if "batch" in b}
    messages = {m.split(":")[0]: m for m in gate.get("failures", []) if m.startswith("batch ")}
    cases = []
    for row in report.get("results") or []:
        label_ = point_label(row)
        stats = row.get(backend) or {}
        spent = sum(float(s.get("wall_s", 0.0)) for s in row.values()
                    if isinstance(s, dict) and "median_ms" in s)
        text = (f"{backend}: median {stats.get('median_ms', 0):.3f} ms, p99 "
                f"{stats.get('p99_ms', 0):.3f} ms, CoV {stats.get('cov', 0) * 100:.1f}%")
        compared = by_point.get(label_) or {}
        if compared.get("compared"):
            text += (f"; baseline {compared['old_median_ms']:.3f} ms "
                     f"({compared['regression'] * 100:+.1f}%, allowed "
                     f"{compared['allowed'] * 100:.1f}%)")
        cases.append(Case(label_, classname, spent, failure=messages.get(label_),
                          output=text))
    return Suite(f"trtc bench {label}", tuple(cases))


def run_suite(recipe: str, outcomes: Iterable[Any], error: Exception | None = None,
              failed_stage: str | None = None, stages: Sequence[str] = ()) -> Suite:
    """``trtc run``: one case per stage outcome; ``error`` fails ``failed_stage``, and the
    ``stages`` after it that never ran are skipped."""
    classname = f"trtc.run.{_safe(recipe)}"
    cases: list[Case] = []
    seen: set[str] = set()
    for outcome in outcomes:
        seen.add(outcome.stage)
        status = outcome.status
        failure = None
        if status == "failed":
            failure = getattr(outcome.error, "message", None) or outcome.reason
        skipped = f"{outcome.stage}.enabled is false" if status == "disabled" else None
        cases.append(Case(outcome.stage, classname, float(outcome.wall_time_s), failure,
                          skipped=skipped, output=f"{status} ({outcome.reason})"))
    if error is not None:
        stage = failed_stage or "run"
        kind = getattr(error, "kind", type(error).__name__)
        message = getattr(error, "message", str(error))
        hint = getattr(error, "hint", None)
        cases.append(Case(stage, classname, failure=message,
                          failure_type=str(kind).replace(" ", "_"),
                          output=f"hint: {hint}" if hint else None))
        seen.add(stage)
        after = list(stages)[list(stages).index(stage) + 1:] if stage in stages else []
        cases += [Case(s, classname, skipped="an earlier stage failed") for s in after
                  if s not in seen]
    return Suite(f"trtc run {recipe}", tuple(cases))


def to_xml(suites: Sequence[Suite]) -> str:
    """The JUnit XML document (``testsuites`` > ``testsuite`` > ``testcase``)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    root = ET.Element("testsuites", name="trtc")
    total = failures = skipped = 0
    spent = 0.0
    for suite in suites:
        node = ET.SubElement(root, "testsuite", name=suite.name)
        s_time = 0.0
        s_skipped = 0
        for case in suite.cases:
            item = ET.SubElement(node, "testcase", name=case.name, classname=case.classname,
                                 time=f"{case.time_s:.3f}")
            if case.failure is not None:
                fail = ET.SubElement(item, "failure", message=case.failure,
                                     type=case.failure_type)
                fail.text = case.failure
            elif case.skipped is not None:
                ET.SubElement(item, "skipped", message=case.skipped)
                s_skipped += 1
            if case.output:
                ET.SubElement(item, "system-out").text = case.output
            s_time += case.time_s
        node.set("tests", str(len(suite.cases)))
        node.set("failures", str(suite.failures))
        node.set("errors", "0")
        node.set("skipped", str(s_skipped))
        node.set("time", f"{s_time:.3f}")
        node.set("timestamp", stamp)
        total += len(suite.cases)
        failures += suite.failures
        skipped += s_skipped
        spent += s_time
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    root.set("time", f"{spent:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def write_junit(path: str | Path, suites: Sequence[Suite]) -> Path:
    """Write the JUnit XML to ``path`` atomically (its folder is made)."""
    from trtc.workspace import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(to_xml(suites), encoding="utf-8")
    return path
