#!/bin/bash
# One resumable part of `scripts/zoo.py gpu`: MODELS, PREC (fp16 / int8 / fp16,int8), BUDGET
# seconds, EXTRA (more zoo flags, e.g. --build-verbose or --compare-polygraphy), TAG (names
# this part's log and tarball, for two parts side by side with other EXTRA). Results
# accumulate in build/zoo/results on the warm machine; every part returns all of them.
#   MODELS=ppocr_rec,nudenet_320n PREC=fp16 BUDGET=500 EXTRA=--build-verbose bash scripts/device/zoo_part.sh
# An engine-budget search (--int8-budget-on engine) cut at BUDGET resumes on a fresh machine:
# copy the part's zoo-memo.tar.xz to build/ and carry it.
set -u; . scripts/device/common.sh
TAG=${TAG:+-$TAG}
[ -f build/zoo-memo.tar.xz ] && tar xJf build/zoo-memo.tar.xz -C build/zoo/gpu
el "zoo$TAG $MODELS $PREC $BUDGET ${EXTRA:-}"
timeout $((BUDGET + 45)) python3 scripts/zoo.py gpu --models "$MODELS" --precisions "$PREC" \
  --budget-s "$BUDGET" ${EXTRA:-} > "$OUT/zoo$TAG.log" 2>&1
el "zoo$TAG rc=$?"
(cd build/zoo/results && tar cJf "$OUT/results$TAG.tar.xz" ./*.gpu.json)
(cd build/zoo/gpu && ls ./*/calibration-cache/engine-evaluations.json >/dev/null 2>&1 && \
  tar cJf "$OUT/zoo-memo$TAG.tar.xz" ./*/calibration-cache/engine-evaluations.json)
grep -v '^    |' "$OUT/zoo$TAG.log" | tail -30
