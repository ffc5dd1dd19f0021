#!/bin/bash
# Why do small mobile/OCR models take minutes to build on TensorRT 8.6 here? Several
# variants of one build side by side (one CPU thread each; the GPU is shared, so the
# times are upper bounds), each with TensorRT's verbose log stamped and summed by
# scripts/build_profile.py; killed at LIMIT seconds. Everything comes back in diag.tar.xz.
#   LIMIT=300 bash scripts/device/diag_build.sh
# Needs the exported ONNX of ppocr_cls, silero_vad and nudenet_320n under build/zoo/ws
# (carry build/zoo/ws/<name>/export).
set -u; . scripts/device/common.sh
LIMIT=${LIMIT:-300}
D=/tmp/diag; rm -rf $D; mkdir -p $D
ws() { echo "build/zoo/ws/$1/export/model.onnx"; }
CLS=$(ws ppocr_cls)
P='x:1x3x48x192,32x3x48x192,32x3x48x192'
variant() {  # name tool onnx flags...; VENV=NAME=VALUE sets an environment variable
  local name=$1 tool=$2 onnx=$3; shift 3
  ( env ${VENV:-} python3 scripts/build_profile.py run "$onnx" -o "$D/$name.engine" --log "$D/$name.log" \
      --tool "$tool" --timeout-s "$LIMIT" --json "$D/$name.json" -- "$@" \
      > "$D/$name.md" 2>&1; echo "rc=$?" >> "$D/$name.md" ) &
}
el "variants start (limit $LIMIT s)"
variant cls-trtc-fp16 trtc "$CLS" --precision fp16 --profile "$P" --timing-cache none
variant cls-poly-fp16 polygraphy "$CLS" --fp16 --trt-min-shapes 'x:[1,3,48,192]' \
  --trt-opt-shapes 'x:[32,3,48,192]' --trt-max-shapes 'x:[32,3,48,192]'
# Polygraphy clears TF32 unless asked; trtc keeps TensorRT's default (on): the same build
# with --tf32 tells whether the TF32 tactics are the difference.
variant cls-poly-fp16-tf32 polygraphy "$CLS" --fp16 --tf32 --trt-min-shapes 'x:[1,3,48,192]' \
  --trt-opt-shapes 'x:[32,3,48,192]' --trt-max-shapes 'x:[32,3,48,192]'
variant cls-trtc-fp16-static trtc "$CLS" --precision fp16 \
  --profile 'x:32x3x48x192,32x3x48x192,32x3x48x192' --timing-cache none
variant cls-trtc-fp32 trtc "$CLS" --precision fp32 --profile "$P" --timing-cache none
VENV=CUDA_MODULE_LOADING=EAGER variant cls-trtc-fp16-eager trtc "$CLS" --precision fp16 \
  --profile "$P" --timing-cache none
VENV=
variant cls-trtc-fp16-level0 trtc "$CLS" --precision fp16 --profile "$P" --timing-cache none \
  --builder-optimization-level 0
variant silero-trtc-fp16 trtc "$(ws silero_vad)" --precision fp16 --timing-cache none \
  --profile 'input:1x512,32x512,32x512;state:2x1x128,2x32x128,2x32x128'
variant nudenet-trtc-fp16 trtc "$(ws nudenet_320n)" --precision fp16 --timing-cache none \
  --profile 'images:1x3x320x320,32x3x320x320,32x3x320x320'
sleep 20; top -b -n 1 -H | head -25 > $D/top-20s.txt
nvidia-smi > $D/nvidia-smi.txt 2>&1
wait
el "variants done"
for f in $D/*.md; do
  echo "== $(basename $f)"; grep -E "exit|^[0-9.]+ s over|rc=" "$f" | head -4
  sed -n '/^| runner type/,/^$/p' "$f" | sed -n 3,6p
done
rm -f $D/*.engine
tar cJf "$OUT/diag.tar.xz" -C $D .
el done
