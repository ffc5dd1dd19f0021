#!/bin/bash
# Where a slow build's time goes: scripts/build_profile.py on one ONNX (TensorRT's verbose
# log, stamped), killed at LIMIT seconds if it runs that long; the log comes back xz'd.
#   ONNX=build/zoo/models/ppocr_cls.onnx PROFILE=x:1x3x48x192,32x3x48x192,32x3x48x192 \
#   LIMIT=300 bash scripts/device/profile_build.sh [more trtc build flags]
set -u; . scripts/device/common.sh
name=$(basename "$ONNX" .onnx)
el "profile build $name"
python3 scripts/build_profile.py run "$ONNX" -o "/tmp/$name.engine" --log "/tmp/$name.build.log" \
  --timeout-s "${LIMIT:-300}" --json "$OUT/$name.build-profile.json" -- --precision fp16 \
  --profile "$PROFILE" --timing-cache none "$@" | tee "$OUT/$name.build-profile.md" | tail -40
xz -c "/tmp/$name.build.log" > "$OUT/$name.build.log.xz"
el done
