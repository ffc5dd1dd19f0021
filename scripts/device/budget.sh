#!/bin/bash
# Issue 14 in one call: scripts/budget_engine.py (the accuracy budget searched on TensorRT
# engines beside the same budget on ONNX Runtime) for zoo models whose all-int8 misses it,
# one process per model side by side (builds are one CPU thread each), merged at the end.
# Carry build/zoo/models (the PyPI ONNX files and wheels) on a fresh machine.
#   MODELS=mobilenet_v3_large,ppocr_cls LIMIT=540 bash scripts/device/budget.sh
# A later call (same or fresh machine) resumes the searches: copy the last call's
# budget-memo.tar.xz to build/ and carry it.
set -u; . scripts/device/common.sh
MODELS=${MODELS:-mobilenet_v3_large,efficientnet_b0,ppocr_rec,ppocr_cls}
el "budget $MODELS"
python3 scripts/zoo.py fetch --models "$MODELS" > "$OUT/fetch.log" 2>&1  # exports what is missing
mkdir -p /tmp/be /tmp/trtc-budget
# What an earlier call measured (budget-memo.tar.xz from its $OUT, carried as build/): a
# search cut by the call's limit goes on where it stopped.
[ -f build/budget-memo.tar.xz ] && tar xJf build/budget-memo.tar.xz -C /tmp/trtc-budget
# LIMIT counts from this script's start (the fetch included), so the packing below still
# runs inside the device call's own limit; each model's record and memo are packed as soon
# as its search ends (2026-12-04: a call cut at 600 s lost a finished search).
left=$(( ${LIMIT:-540} - $(date +%s) + T0 ))
for m in ${MODELS//,/ }; do
  { timeout "$left" python3 scripts/budget_engine.py --models "$m" --out "/tmp/be/$m" \
      --max-drop "${MAX_DROP:-0.01}" ${FLOATS:+--float-precision "$FLOATS"} \
      > "$OUT/be-$m.log" 2>&1   # streamed: a cut run still tells
    el "budget $m rc=$?"
    cp /tmp/be/"$m".json /tmp/be/"$m".md "$OUT/" 2>/dev/null && cat "$OUT/$m.md"
    (cd /tmp/trtc-budget && tar cJf "$OUT/budget-memo-$m.tar.xz" ./*/cache/engine-evaluations.json \
      2>/dev/null); } &
done
wait
el "budget done"
if ls /tmp/be/*.json >/dev/null 2>&1; then
  python3 scripts/budget_engine.py --report-only --out docs/budget-engine --merge /tmp/be/*.json
  (cd /tmp/be && tar cJf "$OUT/budget-parts.tar.xz" ./*.json)
fi
(cd /tmp/trtc-budget && tar cJf "$OUT/budget-memo.tar.xz" ./*/cache/engine-evaluations.json \
  2>/dev/null) && rm -f "$OUT"/budget-memo-*.tar.xz
cp docs/budget-engine.json docs/budget-engine.md "$OUT/" 2>/dev/null
for m in ${MODELS//,/ }; do grep -v '^\[E\]' "$OUT/be-$m.log" | tail -4; done
cat docs/budget-engine.md
