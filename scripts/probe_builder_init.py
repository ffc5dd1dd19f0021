#!/usr/bin/env python3
"""How long TensorRT's builder takes to start, per process and per builder (GPU machine).

TensorRT 8.6 logs "Init builder kernel library: CPU +2955, GPU +3348 (MiB)" when a
builder starts; a stamped build log spent 12.6 s there before parsing
(docs/device/2026-12-03/diag/). This creates ``--builders`` builders one after another in
this process and prints each one's seconds, so that running it twice tells apart the
first-process cost (disk, driver) from the per-process and the per-builder cost, which
decides whether one long-lived build process (the engine budget's candidates) would
save it.

    python3 scripts/probe_builder_init.py --builders 3; python3 scripts/probe_builder_init.py
    python3 scripts/probe_builder_init.py --builders 3 --keep

2026-12-03e (H200, 8.6.0): 9.3, 6.6, 6.3 s and 7.3, 6.6 s: each builder made after the
last one was deleted pays the start again. ``--keep`` holds every builder alive: if the
second one is then cheap, a build worker that keeps one builder alive saves it.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builders", type=int, default=2)
    parser.add_argument("--keep", action="store_true",
                        help="hold every builder alive (the default deletes each first)")
    args = parser.parse_args()
    started = time.perf_counter()
    import tensorrt as trt

    imported = time.perf_counter() - started
    logger = trt.Logger(trt.Logger.WARNING)
    seconds, kept = [], []
    for _ in range(args.builders):
        t = time.perf_counter()
        builder = trt.Builder(logger)
        seconds.append(round(time.perf_counter() - t, 3))
        if args.keep:
            kept.append(builder)
        del builder
    print(json.dumps({"tensorrt": trt.__version__, "import_s": round(imported, 3),
                      "keep": args.keep, "builder_s": seconds}))


if __name__ == "__main__":
    main()
