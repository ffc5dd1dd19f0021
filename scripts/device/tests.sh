#!/bin/bash
# pytest tests/trt tests/cuda on the GPU machine; the log comes back as $OUT/pytest-trt-cuda.log.
set -u; . scripts/device/common.sh
el pytest
timeout "${LIMIT:-240}" python3 -m pytest -v -rf -p no:cacheprovider tests/trt tests/cuda \
  > "$OUT/pytest-trt-cuda.log" 2>&1
el "pytest rc=$?"; tail -5 "$OUT/pytest-trt-cuda.log"
