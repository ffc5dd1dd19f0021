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

_SOURCES = {"format": "the layer's input/output tensor format",
            "weights": "the type of the layer's weights: the inspector gave no tensor formats, "
                       "as TensorRT 8.6 does for a dynamic-shape engine",
            "tactic": "the kernel's name", "none": "nothing said"}


def markdown(engine: Path, title: str | None = None) -> str:
    side = read_sidecar(engine) or {}
    layers = layers_path(engine)
    # Without ENGINE.layers.json, the report the build wrote into the sidecar.
    report = (precision_report(json.loads(layers.read_text())) if layers.is_file()
              else side.get("layer_precision"))
    if not report:
        raise SystemExit(f"{engine}: neither {layers.name} nor a layer_precision in the sidecar")
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
    sources = sorted({r.get("from", "format") for r in report["compute"]})
    lines += ["", "Read from: " + ", ".join(f"{s} ({_SOURCES.get(s, s)})" for s in sources)]
    lines += ["", "| layer | kind | precision | read from |", "|---|---|---|---|"]
    lines += [f"| `{r['name']}` | {r['kind']} | {r['precision']} | {r.get('from', 'format')} |"
              for r in report["compute"]]
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
