#!/bin/bash
# The next device session's calls, one PART per call (docs/device/README.md, "Ready for the
# next session"); after the kit, from the repo root. Everything a part writes under $OUT is
# packed into one $OUT/PART.tar.xz at the end (only 8 files come back from a call) and the
# lines that matter are printed.
#   PART=0 bash scripts/device/session.sh   # kit setup and the builder probe (~100 s)
#   PART=A bash scripts/device/session.sh   # ppocr_det, ppocr_rec and ppocr_cls int8 side by side
#   PART=B bash scripts/device/session.sh   # the chw4 sweep (dense)
#   PART=C bash scripts/device/session.sh   # the chw4 sweep, 2:4 sparse
#   PART=D bash scripts/device/session.sh   # budget.sh on mobilenet_v3_large and ppocr_cls
#   PART=E bash scripts/device/session.sh   # the sparse sweep, then ppocr_det int8 (carry as for A)
#   PART=F bash scripts/device/session.sh   # ppocr_det int8, DistilBERT's seq profile and budget.sh
#                                           # side by side (carry as for A)
#   PART=G bash scripts/device/session.sh   # the sparse sweep, then the dense one on 2-4 streams
#   PART=H bash scripts/device/session.sh   # the sparse sweep, then ppocr_det int8 beside budget.sh
#                                           # (ppocr_cls; carry as for A)
#   PART=I bash scripts/device/session.sh   # the sparse sweep alone, in all of LIMIT
#   PART=J bash scripts/device/session.sh   # ppocr_det int8 beside budget.sh (ppocr_cls; carry as for A)
#   PART=K bash scripts/device/session.sh   # the dense chw4 sweep on 2-4 streams
#   PART=L bash scripts/device/session.sh   # the engine-copies bench test, then the dense chw4
#                                           # sweep on 1-4 streams (OPT_LEVEL=5 SKIP_TESTS=1 too)
# Carry (64 MiB a call), for 0: build/zoo/ws/ppocr_rec build/zoo/gpu/ppocr_rec/int8.onnx
#   build/zoo/gpu/ppocr_rec/int8.stamp.json; for A: build/zoo/models build/zoo/results
#   build/zoo/ws/ppocr_det build/zoo/gpu/ppocr_det/int8.onnx build/zoo/gpu/ppocr_det/int8.stamp.json
# The Q/DQ models come from `python scripts/zoo.py prequantize --models ppocr_det,ppocr_rec`
# here; the stamps match only with the exported ONNX carried beside them. --retry-failed
# redoes the three int8 rows that are there (all failed).
set -u; . scripts/device/common.sh
# ppocr_det's int8 (zoo_part.sh) beside budget.sh (BUDGET_MODELS, default ppocr_cls), both
# inside $1 seconds.
det_beside_budget() {
  MODELS=ppocr_det PREC=int8 BUDGET=$(($1 - 50)) \
    EXTRA='--gpus 0 --build-timeout 240 --retry-failed' \
    bash scripts/device/zoo_part.sh > "$OUT/det.out" 2>&1 &
  MODELS=${BUDGET_MODELS:-ppocr_cls} LIMIT=$(($1 - 15)) \
    bash scripts/device/budget.sh > "$OUT/budget.out" 2>&1 &
  wait
  tail -n 12 "$OUT/det.out"; tail -n 30 "$OUT/budget.out"
  (cd build/zoo && tar cJf "$OUT/zoo-logs.tar.xz" logs)
}
case "${PART:?PART=0|A|B|C|D|E|F|G|H|I|J|K|L}" in
  0)
    el "builder probe"
    { python3 scripts/probe_builder_init.py --builders 3 --keep; python3 scripts/probe_builder_init.py; } \
      > "$OUT/probe-builder.txt" 2>&1
    cat "$OUT/probe-builder.txt" ;;
  A)
    MODELS=ppocr_det PREC=int8 BUDGET=${BUDGET:-480} \
      EXTRA='--gpus 0 --build-timeout 300 --retry-failed' \
      bash scripts/device/zoo_part.sh > "$OUT/det.out" 2>&1 &
    TAG=rec MODELS=ppocr_rec PREC=int8 BUDGET=${BUDGET:-480} \
      EXTRA='--gpus 0 --build-timeout 300 --retry-failed' \
      bash scripts/device/zoo_part.sh > "$OUT/rec.out" 2>&1 &
    TAG=cls MODELS=ppocr_cls PREC=int8 BUDGET=${BUDGET:-480} \
      EXTRA='--gpus 0 --build-timeout 240 --int8-budget-on engine --retry-failed' \
      bash scripts/device/zoo_part.sh > "$OUT/cls.out" 2>&1 &
    wait
    tail -n 15 "$OUT/det.out" "$OUT/rec.out" "$OUT/cls.out"
    (cd build/zoo && tar cJf "$OUT/zoo-logs.tar.xz" logs) ;;
  B) FORCE=1 INPUT_FORMAT=int8:chw4 STREAMS=1,2 LIMIT=${LIMIT:-540} bash scripts/device/sweep.sh ;;
  C) SPARSE=1 INPUT_FORMAT=int8:chw4 STREAMS=1,2 LIMIT=${LIMIT:-540} bash scripts/device/sweep.sh ;;
  E)  # the 2:4 sparse sweep alone on the GPU, then ppocr_det's int8 from its prequantized
      # retry model (Resizes and their readers in float, G14), in what is left of LIMIT
    SPARSE=1 INPUT_FORMAT=int8:chw4 STREAMS=${STREAMS:-1,2,4} BATCHES=${BATCHES:-1,32,256,512} \
      LIMIT=${SWEEP_LIMIT:-300} bash scripts/device/sweep.sh
    MODELS=ppocr_det PREC=int8 BUDGET=$(( ${LIMIT:-450} - $(date +%s) + T0 )) \
      EXTRA='--gpus 0 --build-timeout 240 --retry-failed' \
      bash scripts/device/zoo_part.sh > "$OUT/det.out" 2>&1
    tail -n 12 "$OUT/det.out"
    (cd build/zoo && tar cJf "$OUT/zoo-logs.tar.xz" logs) ;;
  D) MODELS=${MODELS:-mobilenet_v3_large,ppocr_cls} LIMIT=${LIMIT:-520} bash scripts/device/budget.sh ;;
  F)  # issue 10's last two rows beside issue 14's table: ppocr_det int8 from its retry model,
      # DistilBERT fp16 and int8 rebuilt with the seq 16-256 profile, and budget.sh
    L=${LIMIT:-540}
    MODELS=ppocr_det PREC=int8 BUDGET=$((L - 60)) \
      EXTRA='--gpus 0 --build-timeout 280 --retry-failed' \
      bash scripts/device/zoo_part.sh > "$OUT/det.out" 2>&1 &
    TAG=bert MODELS=distilbert PREC=fp16,int8 BUDGET=$((L - 60)) \
      EXTRA='--gpus 0 --build-timeout 280 --force' \
      bash scripts/device/zoo_part.sh > "$OUT/bert.out" 2>&1 &
    MODELS=${BUDGET_MODELS:-mobilenet_v3_large,ppocr_cls} LIMIT=$((L - 20)) \
      bash scripts/device/budget.sh > "$OUT/budget.out" 2>&1 &
    wait
    tail -n 12 "$OUT/det.out" "$OUT/bert.out"; tail -n 30 "$OUT/budget.out"
    (cd build/zoo && tar cJf "$OUT/zoo-logs.tar.xz" logs) ;;
  G)  # issue 13 alone on the GPU: the 2:4-sparse chw4 sweep, then the dense chw4 engine on
      # 2-4 streams (the copies hidden behind more streams)
    SPARSE=1 INPUT_FORMAT=int8:chw4 STREAMS=${STREAMS:-1,2,4} BATCHES=${BATCHES:-1,32,256,512} \
      LIMIT=${SWEEP_LIMIT:-300} bash scripts/device/sweep.sh
    mkdir -p "$OUT/sparse" && mv "$OUT/sweep.log" "$OUT/bench-trt.json" "$OUT/bench-trt.md" \
      "$OUT/sparse/" 2>/dev/null
    FORCE=1 INPUT_FORMAT=int8:chw4 STREAMS=2,3,4 BATCHES=1,256,512 \
      LIMIT=$(( ${LIMIT:-560} - $(date +%s) + T0 )) bash scripts/device/sweep.sh ;;
  H)  # the sparse sweep alone on the GPU, then ppocr_det's int8 beside issue 14's search
      # (ppocr_cls) in what is left of LIMIT; the search's memo stays in /tmp/trtc-budget, so
      # PART=D on the same machine goes on where it was cut
    SPARSE=1 INPUT_FORMAT=int8:chw4 STREAMS=${STREAMS:-1,2,4} BATCHES=${BATCHES:-1,32,256,512} \
      LIMIT=${SWEEP_LIMIT:-300} bash scripts/device/sweep.sh
    mkdir -p "$OUT/sparse" && mv "$OUT/sweep.log" "$OUT/bench-trt.json" "$OUT/bench-trt.md" \
      "$OUT/sparse/" 2>/dev/null
    det_beside_budget $(( ${LIMIT:-540} - $(date +%s) + T0 )) ;;
  I)  # issue 13's one chance at 85,000 img/s on 8.6: the 2:4-sparse chw4 engine, alone on the
      # GPU (the cut of 2026-12-03f: 300 s was too short for prune, calibrate, two builds)
    SPARSE=1 INPUT_FORMAT=int8:chw4 STREAMS=${STREAMS:-1,2} BATCHES=${BATCHES:-1,256,512} \
      LIMIT=$(( ${LIMIT:-560} - $(date +%s) + T0 )) bash scripts/device/sweep.sh ;;
  J)  # ppocr_det int8 from its retry model beside issue 14's engine-side search (ppocr_cls)
    det_beside_budget $(( ${LIMIT:-560} - $(date +%s) + T0 )) ;;
  K)  # the dense chw4 engine with the copies hidden behind more streams
    FORCE=1 INPUT_FORMAT=int8:chw4 STREAMS=${STREAMS:-2,3,4} BATCHES=${BATCHES:-256,512} \
      LIMIT=$(( ${LIMIT:-560} - $(date +%s) + T0 )) bash scripts/device/sweep.sh ;;
  L)  # tests/trt/test_engine_bench.py (streams on engine copies), then the dense chw4 sweep
      # on 1-4 streams from one bulk profile + batch 1's (OPT_LEVEL=5: row sweep-o5)
    if [ -z "${SKIP_TESTS:-}" ]; then
      el "tests/trt/test_engine_bench.py"
      timeout 150 python3 -m pytest -q -p no:cacheprovider tests/trt/test_engine_bench.py -rs \
        > "$OUT/pytest-bench.log" 2>&1
      el "pytest rc=$?"; tail -4 "$OUT/pytest-bench.log"
    fi
    FORCE=1 INPUT_FORMAT=int8:chw4 STREAMS=${STREAMS:-1,2,3,4} BATCHES=${BATCHES:-1,256,512} \
      LIMIT=$(( ${LIMIT:-560} - $(date +%s) + T0 )) bash scripts/device/sweep.sh ;;
  *) echo "PART=$PART: 0, A, B, C, D, E, F, G, H, I, J, K or L"; exit 2 ;;
esac
el "packing $OUT"
(cd "$OUT" && files=$(ls -A | grep -v "^$PART.tar.xz$") && [ -n "$files" ] && \
  tar cJf "$PART.tar.xz" $files && rm -rf $files)
ls -la "$OUT"
