"""Why TensorRT could not parse or build a model, in one line, with the fix that applies.

TensorRT's ONNX parser reports an error code, a description and the index of the
node it failed on; the builder reports through its log. This module turns those
(plain data, collected by the adapter) into a message naming the node and op and
a hint with the real fix: "needs a plugin" only when the op has no importer.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ParserIssue:
    """One error of TensorRT's ONNX parser (``IParserError``), as plain data."""

    desc: str
    code: str = ""
    node: int = -1
    node_name: str = ""
    op_type: str = ""


@dataclass(frozen=True)
class Diagnosis:
    """What failed (one line) and what to do about it."""

    message: str
    hint: str
    cause: str  # a short key: reshape-wildcard, dim-names, no-importer, dtype, memory, other


_REEXPORT = ("re-export at the opset and exporter this TensorRT parses: export.opset: auto "
             "(trtc's default picks 17 and the TorchScript exporter for TensorRT 8.6), or "
             "export.opset: 17 with export.exporter: legacy")

#: (cause, pattern over the description, hint). The first match wins.
_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("no-tactic", re.compile(r"Could not find any implementation for node", re.I),
     "TensorRT has no kernel for this layer with these settings (seen for int8 layers of "
     "unusual shapes, e.g. 16x16-stride-16 or 1-D convolutions, and int8 Resize, at "
     "builder_optimization_level 0)"),
    ("reshape-wildcard", re.compile(r"wildcard|no integer solution|reshape.*-1", re.I),
     _REEXPORT + "; shape arithmetic from torch's dynamo exporter often folds into a "
     "Reshape TensorRT 8.6 cannot solve"),
    ("dim-names", re.compile(r"dimensions? with (this|the same) name|inconsistent.*name", re.I),
     "TensorRT treats input dims with the same name as one dimension: give unrelated dims "
     "distinct names in the ONNX model (trtc renames placeholder names such as '?'), or "
     "use the same size for them in the profile"),
    ("no-importer", re.compile(r"no importer registered|plugin.*not found|could not find "
                               r"plugin|getPluginCreator|unsupported operator", re.I),
     "the op has no TensorRT importer in this version: register a plugin for it "
     "(build.plugins: [libmyplugin.so]) or replace the op in the graph"),
    ("dtype", re.compile(r"data ?type|UINT8|DOUBLE|FLOAT64|INT64.*not supported|"
                         r"unsupported.*type", re.I),
     "cast the tensor to a type TensorRT supports (float32/float16/int32/bool) in the model, "
     "e.g. re-export with float32 inputs"),
    ("memory", re.compile(r"out of memory|insufficient memory|Requested amount of GPU "
                          r"memory|OutOfMemory", re.I),
     "lower the profile's max shapes or raise build.max_workspace; close other GPU users"),
)


def _node_label(issue: ParserIssue) -> str:
    parts = []
    if issue.node_name:
        parts.append(repr(issue.node_name))
    if issue.op_type:
        parts.append(f"({issue.op_type})")
    if issue.node >= 0:
        parts.append(f"#{issue.node}")
    return " ".join(parts)


def _first_sentence(text: str) -> str:
    line = " ".join(text.split())
    return line[:300]


def diagnose(issues: Sequence[ParserIssue], log_errors: Sequence[str], *, where: str,
             version: str, opset: int = 0, max_opset: int | None = None,
             phase: str = "parse", node_names: Collection[str] | None = None) -> Diagnosis:
    """Explain a failed parse or build.

    Args:
        issues: the parser's errors (empty when the parser succeeded).
        log_errors: TensorRT's error lines from the log (builder errors).
        where: the model file, for the message.
        version: the TensorRT version.
        opset: the model's default-domain opset (0: unknown).
        max_opset: the newest opset this TensorRT's parser documents.
        phase: "parse" or "build".
        node_names: the ONNX model's node names (None: unknown), to name the nodes of a
            fused TensorRT layer in a hint.
    """
    texts = [i.desc for i in issues] + list(log_errors)
    first = issues[0] if issues else None
    cause, hint = "other", ""
    for key, pattern, rule_hint in _RULES:
        if any(pattern.search(t) for t in texts):
            cause, hint = key, rule_hint
            break
    # The parser's "unsupported node" on an op that newer opsets changed is an opset problem.
    if cause in ("other", "no-importer") and max_opset and opset > max_opset:
        cause, hint = "opset", (f"the model is opset {opset}, newer than TensorRT {version}'s "
                                f"parser documents ({max_opset}): " + _REEXPORT)
    if cause == "no-tactic":
        hint += _no_tactic_fix(texts, node_names)
    if not hint:
        hint = ("rerun with --verbose for TensorRT's log; check the op in TensorRT's ONNX "
                "operator support list, or simplify the graph (export.cleanup: onnxslim)")
    if first is not None:
        label = _node_label(first)
        message = (f"{where}: TensorRT {version} cannot parse node {label}: "
                   f"{_first_sentence(first.desc)}")
        if len(issues) > 1:
            message += f" (+{len(issues) - 1} more parser error(s))"
    elif log_errors:
        message = (f"{where}: TensorRT {version} cannot {phase} the model: "
                   f"{_first_sentence(log_errors[0])}")
    else:
        message = f"{where}: TensorRT {version} cannot {phase} the model"
    return Diagnosis(message, hint, cause)


_NO_TACTIC = re.compile(r"Could not find any implementation for node (.+?)\.?\s*$", re.I)


def fused_node_names(fused: str) -> list[str]:
    """The ONNX node names in a TensorRT layer name ("a.weight + a.weight_QuantizeLinear +
    (Unnamed Layer* 70) [Shuffle] + /a/Conv + PWN(/a/Relu)"): weights, Q/DQ and unnamed
    layers left out, PWN(...) opened."""
    names = []
    for part in re.split(r"\s*[+,]\s*", fused.replace("PWN(", "").replace(")", " ")):
        part = part.strip().strip("{}").strip()
        if not part or "Unnamed Layer" in part or part.endswith((".weight", ".bias")) \
                or re.search(r"_(Quantize|Dequantize)Linear\b", part) \
                or part.startswith(("[", "ForeignNode")):
            continue
        names.append(part.split(" ")[0])
    return list(dict.fromkeys(names))


def _no_tactic_fix(texts: Sequence[str], node_names: Collection[str] | None) -> str:
    """The fix for "Could not find any implementation for node X": name X's ONNX nodes
    (only names of ``node_names`` when given: a weight's name is no node's)."""
    for text in texts:
        found = _NO_TACTIC.search(text)
        if found:
            names = [n for n in fused_node_names(found.group(1))
                     if node_names is None or n in node_names]
            if names:
                return (f": keep {', '.join(names)} out of int8 (trtc quantize "
                        f"--exclude-nodes {','.join(names)}; an excluded Resize keeps the nodes "
                        "reading it in float too), or set build.builder_optimization_level higher")
    return ": keep that layer out of int8 (trtc quantize --exclude-nodes), or set " \
        "build.builder_optimization_level higher"


_CACHE_REFUSED = re.compile(r"timing cache will not be used", re.I)


def timing_cache_refusal(log: str) -> str | None:
    """Why TensorRT refused to load the timing cache, from a build's log; None: it did not.

    TensorRT 8.6 logs "The timing cache will not be used!" after an error reading it back
    (for models with Myelin regions: "myelinCache.h::deserializeFromBuffer ... Myelin error
    from unknown graph", every candidate of an engine budget search on the H200): the
    build then times every tactic, as a cold one. Returns the error line before it.
    """
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if _CACHE_REFUSED.search(line):
            before = error_lines("\n".join(lines[max(0, i - 3):i]))
            return before[-1] if before else _without_prefix(line)
    return None


_LOG_ERROR = re.compile(r"\[(?:E|ERROR)\]|\bERROR\b|\berror\b:")


def error_lines(log: str) -> list[str]:
    """TensorRT's error lines from a captured log, without the logger's prefix."""
    out = []
    for line in log.splitlines():
        if _LOG_ERROR.search(line):
            text = _without_prefix(line)
            if text:
                out.append(text)
    return out


def _without_prefix(line: str) -> str:
    """A log line without the logger's ``[time] [TRT] [E]`` prefix."""
    return re.sub(r"^\s*\[[^\]]*\]\s*(\[[^\]]*\]\s*)*", "", line).strip()


def explain(issues: Sequence[ParserIssue], log_text: str, fallback: str, *, where: str,
            version: str, opset: int = 0,
            node_names: Collection[str] | None = None) -> Diagnosis:
    """Diagnose a failed TensorRT build from the parser's errors and the captured log.

    ``fallback`` (the exception's first line) stands in when the log holds no error.
    """
    from trtc.tensorrt.versions import MAX_OPSET, parse_version

    return diagnose(issues, error_lines(log_text) or [fallback], where=where, version=version,
                    opset=opset, max_opset=MAX_OPSET.get(parse_version(version)[0]),
                    phase="parse" if issues else "build", node_names=node_names)
