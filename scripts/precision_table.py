"""Write an engine's precision proof as Markdown: compute layers by precision, each layer,
and the Q/DQ TensorRT left unfused. Reads ENGINE.layers.json (and the sidecar); no TensorRT.

    python scripts/precision_table.py build/r50/model.int8.engine > docs/precision-resnet50-int8.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trtc.tensorrt.engine_file import layers_path, read_sidecar
from trtc.tensorrt.inspector import precision_report


def markdown(engine: Path, title: str | None = None) -> str:
    side = read_sidecar(engine) or {}
    report = precision_report(json.loads(layers_path(engine).read_text()))
    n = report["compute_layers"]
    gpu = side.get("gpu") or {}
    lines = [f"# {title or engine.name}: layer precision", "",
             f"TensorRT {side.get('tensorrt_version', '?')} on {gpu.get('name', '?')} (compute "
             f"capability {gpu.get('compute_capability', '?')}), builder precision "
             f"{side.get('precision', '?')}, flags {', '.join(side.get('precision_flags') or [])}"
             f"; {report['layers']} engine layers, {n} compute layers "
             "(convolution / fully connected / matrix multiply).", "",
             "| precision | compute layers | share |", "|---|---|---|"]
    for precision, count in sorted(report["by_precision"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {precision} | {count} / {n} | {count / n * 100:.1f}% |")
    lines += ["", "| layer | kind | precision |", "|---|---|---|"]
    lines += [f"| `{r['name']}` | {r['kind']} | {r['precision']} |" for r in report["compute"]]
    unfused = report["unfused_qdq"]
    lines += ["", f"Unfused Q/DQ and int8 reformat layers: {len(unfused)}", ""]
    if unfused:
        lines += ["| layer | kind | why |", "|---|---|---|"]
        lines += [f"| `{r['name']}` | {r['kind']} | {r['why']} |" for r in unfused]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", type=Path)
    parser.add_argument("--title")
    args = parser.parse_args()
    sys.stdout.write(markdown(args.engine, args.title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
