#!/bin/bash
# Issue 13 in one call: scripts/bench_trt.py --only sweep (Q/DQ int8 ResNet-50 over batch x
# streams in one engine, batch 1 on a profile of its own, a second build on the warm
# timing cache). docs/bench-trt.{json,md} and the log come back under $OUT.
#   STREAMS=1,2 BATCHES=1,8,32,128,256,512 LIMIT=560 bash scripts/device/sweep.sh
#   INPUT_FORMAT=int8:chw4 FORCE=1 bash scripts/device/sweep.sh   # int8 input (chw32 pads 3 channels to 32)
#   SPARSE=1 INPUT_FORMAT=int8:chw4 bash scripts/device/sweep.sh   # 2:4-pruned weights, sparse kernels
#   OPT_LEVEL=5 ...                                                 # builder level (default 3)
set -u; . scripts/device/common.sh
el "sweep batches=${BATCHES:-1,8,32,128,256,512} streams=${STREAMS:-1,2}"
timeout "${LIMIT:-560}" python3 scripts/bench_trt.py --only sweep --max-latency-ms 5 \
  --sweep-batches "${BATCHES:-1,8,32,128,256,512}" --sweep-streams "${STREAMS:-1,2}" \
  --duration "${DURATION:-1}" --eval-samples 16 --calib-samples 64 \
  ${INPUT_FORMAT:+--sweep-input-format "$INPUT_FORMAT"} ${SPARSE:+--sweep-sparse} \
  ${OPT_LEVEL:+--sweep-opt-level "$OPT_LEVEL"} ${FORCE:+--force} > "$OUT/sweep.log" 2>&1
el "sweep rc=$?"
cp docs/bench-trt.json docs/bench-trt.md "$OUT/" 2>/dev/null
tail -25 "$OUT/sweep.log"
