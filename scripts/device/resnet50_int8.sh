#!/bin/bash
# Issue 12 on the GPU: ResNet-50 int8 (Q/DQ) engine, its precision proof, a Triton package.
# Packaging needs tritonclient: carry its wheels (pip download tritonclient[grpc] here) and
# set WHEELS to their folder, else `trtc package` exits 3.
set -u; . scripts/device/common.sh
R=/tmp/r50; L=$OUT/r50; mkdir -p "$R" "$L"
[ -n "${WHEELS:-}" ] && python3 -m pip install -q --no-index --find-links "$WHEELS" 'tritonclient[grpc]'
el export;   python3 -m trtc export torchvision:resnet50 --input input:batchx3x224x224 -o $R/model.onnx > $L/export.log 2>&1; el "rc=$?"
el quantize; python3 -m trtc quantize $R/model.onnx -o $R/model.int8.onnx --precision int8 --target tensorrt \
  --calib-data random --calib-samples 16 --shapes input:1x3x224x224 > $L/quantize.log 2>&1; el "rc=$?"
el build;    timeout 330 python3 -m trtc build $R/model.int8.onnx -o $R/model.int8.engine --backend tensorrt \
  --precision best --profile input:1x3x224x224,32x3x224x224,32x3x224x224 --expect-int8 0.8 > $L/build-int8.log 2>&1
el "rc=$?"; tail -3 $L/build-int8.log
python3 -m trtc inspect $R/model.int8.engine > $L/inspect-int8.txt 2>&1
python3 -m trtc package $R/model.int8.engine --triton $R/triton --name resnet50 --json > $L/package.json 2>&1; el "package rc=$?"
python3 scripts/precision_table.py $R/model.int8.engine > $L/precision-resnet50-int8.md
cp $R/triton/resnet50/config.pbtxt $L/ 2>/dev/null; cp $R/model.int8.engine.json $L/
