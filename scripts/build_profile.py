#!/usr/bin/env python3
"""Where a TensorRT build spends its time: `trtc build -v`, timestamped, per layer and kernel.

TensorRT 8.6 prints no progress of its own while it builds; its verbose log does say which
layer it is timing ("Computing costs for ...", "Timing Runner: NAME (TYPE)", one "Tactic:
... Time:" line per kernel tried). This script runs the build with that log on, stamps every
line with the seconds since the start (so a build killed at its timeout still tells where it
was), prints a heartbeat every 15 s naming the layer being timed, and then sums the time by
layer and by runner type (CaskConvolution, CaskDepthwiseConvolution, PointWiseV2, Myelin...).

    python scripts/build_profile.py run MODEL.onnx -o /tmp/m.engine --log /tmp/m.log \
        --timeout-s 300 -- --precision fp16 --profile x:1x3x48x192,32x3x48x192,32x3x48x192
    python scripts/build_profile.py summarize /tmp/m.log [--json] [--top 15]
    python scripts/build_profile.py run recipe.yaml --log /tmp/r.log -- --workspace W --force

Everything after ``--`` goes to `trtc build` unchanged (with ``--tool polygraphy``, to
`polygraphy convert`: the same build without trtc, for a side-by-side).
No TensorRT is needed to summarize.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Polygraphy's letters for its verbose levels; TensorRT's VERBOSE lines arrive as [X].
_VERBOSE = re.compile(r"^\[[XVISU]\] ")
_STAMP = re.compile(r"^\s*(\d+(?:\.\d+)?) (.*)$")
_COSTS = re.compile(r"=+ Computing (reformatting )?costs(?: for ?(.*))?$")
_RUNNER = re.compile(r"-+ Timing Runner: (.*) \(([A-Za-z0-9_]+)(?:\[[^\]]*\])?\)\s*$")
_TACTIC = re.compile(r"\bTactic(?: Name)?:.*\bTime: ")
_FORMATS = re.compile(r"\*+ Autotuning format combination")
_SUMMARY = re.compile(r"(Formats and tactics selection completed in|Engine generation completed"
                      r" in|Graph optimization time:|Total Activation Memory|Total Host "
                      r"Persistent Memory|Deleting timing cache|Loaded engine size)")


def stamped(lines: Iterable[str]) -> list[tuple[float, str]]:
    """``(seconds, text)`` from a log written by ``run`` (unstamped lines get the last time)."""
    out: list[tuple[float, str]] = []
    last = 0.0
    for raw in lines:
        m = _STAMP.match(raw.rstrip("\n"))
        if m:
            last = float(m.group(1))
            out.append((last, m.group(2)))
        elif raw.strip():
            out.append((last, raw.rstrip("\n")))
    return out


def profile(lines: list[tuple[float, str]]) -> dict[str, Any]:
    """The build's time by phase, by layer (one "Computing costs" block) and by runner type.

    A block lasts until the next block starts (or the log ends); a runner until the next
    runner or block. A block without a name ("Computing costs for " in 8.6) takes the name
    of its first runner.
    """
    if not lines:
        return {"lines": 0, "seconds": 0.0, "blocks": [], "runners": [], "phases": {},
                "summary_lines": []}
    end = lines[-1][0]
    blocks: list[dict[str, Any]] = []
    runners: dict[str, dict[str, Any]] = {}
    current_runner: tuple[str, float] | None = None
    summary = []
    end_tactics: float | None = None

    def close_runner(at: float) -> None:
        nonlocal current_runner
        if current_runner is not None:
            kind, since = current_runner
            row = runners.setdefault(kind, {"runner": kind, "seconds": 0.0, "timed": 0,
                                            "tactics": 0})
            row["seconds"] += at - since
            row["timed"] += 1
        current_runner = None

    for t, text in lines:
        costs = _COSTS.search(text)
        if costs:
            close_runner(t)
            if blocks:
                blocks[-1]["seconds"] = t - blocks[-1]["start"]
            name = (costs.group(2) or "").strip()
            blocks.append({"name": name or ("(reformat)" if costs.group(1) else ""),
                           "start": t, "seconds": 0.0, "tactics": 0, "formats": 0,
                           "runners": []})
            continue
        runner = _RUNNER.search(text)
        if runner:
            close_runner(t)
            current_runner = (runner.group(2), t)
            if blocks:
                if not blocks[-1]["name"]:
                    blocks[-1]["name"] = runner.group(1)
                if runner.group(2) not in blocks[-1]["runners"]:
                    blocks[-1]["runners"].append(runner.group(2))
            continue
        if _TACTIC.search(text):
            if blocks:
                blocks[-1]["tactics"] += 1
            if current_runner is not None:
                runners.setdefault(current_runner[0], {"runner": current_runner[0],
                                                       "seconds": 0.0, "timed": 0,
                                                       "tactics": 0})["tactics"] += 1
            continue
        if _FORMATS.search(text) and blocks:
            blocks[-1]["formats"] += 1
            continue
        if _SUMMARY.search(text):
            summary.append(f"{t:.1f} s: {text.strip()}")
            if "tactics selection completed" in text and blocks:
                blocks[-1]["seconds"] = t - blocks[-1]["start"]
                close_runner(t)
                end_tactics = t
    close_runner(end)
    if blocks and not blocks[-1]["seconds"]:
        blocks[-1]["seconds"] = end - blocks[-1]["start"]
    first = blocks[0]["start"] if blocks else end
    last = end_tactics if end_tactics is not None else (
        blocks[-1]["start"] + blocks[-1]["seconds"] if blocks else end)
    phases = {"before_tactics_s": round(first - lines[0][0], 1),
              "tactics_s": round(last - first, 1), "after_tactics_s": round(end - last, 1)}
    for row in blocks:
        row["seconds"] = round(row["seconds"], 2)
    return {"lines": len(lines), "seconds": round(end - lines[0][0], 1), "phases": phases,
            "blocks": blocks, "summary_lines": summary,
            "runners": sorted(({**r, "seconds": round(r["seconds"], 2)}
                               for r in runners.values()), key=lambda r: -r["seconds"])}


def markdown(prof: dict[str, Any], top: int = 15, title: str = "build") -> str:
    ph = prof["phases"]
    lines = [f"# Where the {title} spent its time", "",
             f"{prof['seconds']} s over {prof['lines']} log lines: before the tactic search "
             f"{ph.get('before_tactics_s')} s (parse, graph optimisation), tactic search "
             f"{ph.get('tactics_s')} s over {len(prof['blocks'])} layers, after "
             f"{ph.get('after_tactics_s')} s (engine generation, serialisation).", "",
             "| runner type | seconds | share | runs | tactics timed |", "|---|---|---|---|---|"]
    total = sum(r["seconds"] for r in prof["runners"]) or 1.0
    for r in prof["runners"][:top]:
        lines.append(f"| {r['runner']} | {r['seconds']:.1f} | {r['seconds'] / total:.0%} | "
                     f"{r['timed']} | {r['tactics']} |")
    lines += ["", f"Slowest {min(top, len(prof['blocks']))} layers:", "",
              "| layer | seconds | format combinations | tactics timed | runners |",
              "|---|---|---|---|---|"]
    for b in sorted(prof["blocks"], key=lambda b: -b["seconds"])[:top]:
        name = b["name"] if len(b["name"]) <= 90 else b["name"][:87] + "..."
        lines.append(f"| `{name}` | {b['seconds']:.1f} | {b['formats']} | {b['tactics']} | "
                     f"{', '.join(b['runners'])} |")
    if prof["summary_lines"]:
        lines += ["", "TensorRT's own figures:", ""] + [f"- {s}" for s in prof["summary_lines"]]
    return "\n".join(lines) + "\n"


def build_command(tool: str, onnx: Path, output: Path, extra: list[str],
                  timeout_s: float | None) -> list[str]:
    """The build to profile: `trtc build -v`, or `polygraphy convert` with TensorRT's log on.

    Polygraphy gets TensorRT's VERBOSE lines at its EXTRA_VERBOSE (``-vv``); its own
    ``-vvv`` would add lines the profile does not read. Polygraphy has no timeout of its
    own: ``run`` kills it at ``timeout_s``.
    """
    if tool == "polygraphy":
        # Polygraphy has no __main__, and its script is not on PATH everywhere.
        return [sys.executable, "-c", "import sys; from polygraphy.tools import main; "
                "sys.argv[0] = 'polygraphy'; sys.exit(main())", "convert", str(onnx), "-o",
                str(output), "-vv", *extra]
    # A recipe builds into its workspace (--workspace among the extra flags): no -o.
    out = [] if str(onnx).endswith((".yaml", ".yml")) else ["-o", str(output)]
    cmd = [sys.executable, "-m", "trtc", "build", str(onnx), *out,
           "--backend", "tensorrt", "-v", *extra]
    return cmd + (["--timeout-s", str(timeout_s)] if timeout_s else [])


def run(args: argparse.Namespace, extra: list[str]) -> int:
    """The build, every line stamped into --log, a heartbeat every 15 s."""
    cmd = build_command(args.tool, args.onnx, args.output, extra, args.timeout_s)
    start = time.monotonic()
    state = {"block": "", "runner": "", "tactics": 0, "blocks": 0}
    log = open(args.log, "w", buffering=1)  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, errors="replace")
    done = threading.Event()

    def beat() -> None:
        while not done.wait(15):
            print(f"[{time.monotonic() - start:6.0f} s] layer {state['blocks']}: "
                  f"{state['block'][:80]} ({state['runner']}), {state['tactics']} tactics "
                  "timed so far", flush=True)

    threading.Thread(target=beat, daemon=True).start()
    if args.tool == "polygraphy" and args.timeout_s:
        killer = threading.Timer(args.timeout_s, proc.kill)
        killer.daemon = True
        killer.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        t = time.monotonic() - start
        log.write(f"{t:9.3f} {line}")
        text = line.rstrip("\n")
        if (costs := _COSTS.search(text)) is not None:
            state["blocks"] += 1
            state["block"] = (costs.group(2) or "").strip()
        elif (runner := _RUNNER.search(text)) is not None:
            state["runner"] = runner.group(2)
            state["block"] = state["block"] or runner.group(1)
        elif _TACTIC.search(text):
            state["tactics"] += 1
        elif not _VERBOSE.match(text):
            print(f"[{t:6.0f} s] {text}", flush=True)
    rc = proc.wait()
    done.set()
    log.close()
    print(f"{args.tool} build exit {rc} after {time.monotonic() - start:.1f} s; log: {args.log}")
    prof = profile(stamped(Path(args.log).read_text(errors="replace").splitlines()))
    sys.stdout.write(markdown(prof, args.top, title=f"build of {Path(args.onnx).name}"))
    if args.json:
        Path(args.json).write_text(json.dumps(prof, indent=1) + "\n")
    return rc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="build with the verbose log on, stamped")
    r.add_argument("onnx", type=Path, help="the ONNX model, or a recipe (built into the "
                   "--workspace given after --)")
    r.add_argument("-o", "--output", type=Path, default=Path("model.engine"),
                   help="the engine (an ONNX source only)")
    r.add_argument("--log", type=Path, required=True)
    r.add_argument("--timeout-s", type=float, default=None)
    r.add_argument("--json", type=Path, default=None, help="also write the profile as JSON")
    r.add_argument("--top", type=int, default=15)
    r.add_argument("--tool", choices=("trtc", "polygraphy"), default="trtc",
                   help="profile `trtc build` (default) or `polygraphy convert` (the flags "
                   "after -- are then Polygraphy's: --fp16 --trt-min-shapes ...)")
    s = sub.add_parser("summarize", help="profile a log written by run")
    s.add_argument("log", type=Path)
    s.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    s.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    if args.cmd == "run":
        return run(args, extra)
    prof = profile(stamped(args.log.read_text(errors="replace").splitlines()))
    if args.json:
        print(json.dumps(prof, indent=1))
    else:
        sys.stdout.write(markdown(prof, args.top, title=f"build ({args.log.name})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
