"""Flags, command by command: bad values get exit 2 naming the flag's key, and write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue import Models, check, invoke, tree

# (command line with {onnx}/{art}/{factory}/{out} placeholders, exit code, what is named)
CASES: list[tuple[str, int, str]] = [
    # verify
    ("verify {art} --reference {onnx} --atol nan", 2, "verify.atol"),
    ("verify {art} --reference {onnx} --atol inf", 2, "verify.atol"),
    ("verify {art} --reference {onnx} --atol -1", 2, "verify.atol"),
    ("verify {art} --reference {onnx} --rtol nan", 2, "verify.rtol"),
    ("verify {art} --reference {onnx} --rtol -0.1", 2, "verify.rtol"),
    ("verify {art} --reference {onnx} --atol nan --rtol nan", 2, "verify.atol"),
    ("verify {art} --reference {onnx} --max-drop nan", 2, "verify.max_drop"),
    ("verify {art} --reference {onnx} --max-drop 2", 2, "verify.max_drop"),
    ("verify {art} --reference {onnx} --min-cosine nan", 2, "verify.min_cosine"),
    ("verify {art} --reference {onnx} --min-cosine 5", 2, "verify.min_cosine"),
    ("verify {art} --reference {onnx} --batch 0", 2, "verify.data"),
    ("verify {art} --reference {onnx} --batch -1", 2, "verify.data"),
    ("verify {art} --reference {onnx} --iterations 0", 2, "verify.data"),
    ("verify {art} --reference {onnx} --iterations -3", 2, "verify.data"),
    ("verify {art} --reference {onnx} --shapes x:0x3x8x8", 2, "--shapes"),
    ("verify {art} --reference {onnx} --shapes x:ax3", 2, "--shapes"),
    ("verify {art} --reference {onnx} --shapes 1x3", 2, "--shapes"),
    ("verify {art} --reference {onnx} --metric acc", 2, "verify.metric"),
    ("verify {art} --reference {onnx} --elementwise maybe", 2, "verify.elementwise"),
    ("verify {art}", 2, "--reference"),
    ("verify {art} --reference {onnx} --data nosuch.npz", 5, "nosuch.npz"),
    ("verify {art} --reference nosuch.onnx", 4, "nosuch.onnx"),
    ("verify nosuch.ort.onnx --reference {onnx}", 4, "nosuch.ort.onnx"),
    # bench
    ("bench {art} --duration inf", 2, "bench.duration_s"),
    ("bench {art} --duration nan", 2, "bench.duration_s"),
    ("bench {art} --duration 0", 2, "bench"),
    ("bench {art} --duration -1", 2, "bench"),
    ("bench {art} --warmup -1", 2, "bench.warmup_ms"),
    ("bench {art} --warmup nan", 2, "bench.warmup_ms"),
    ("bench {art} --warmup inf", 2, "bench.warmup_ms"),
    ("bench {art} --threads 0", 2, "bench.threads"),
    ("bench {art} --threads -1", 2, "bench.threads"),
    ("bench {art} --batch 0", 2, "--batch"),
    ("bench {art} --batch -2", 2, "--batch"),
    ("bench {art} --iterations 0", 2, "bench"),
    ("bench {art} --streams 0", 2, "bench.streams"),
    ("bench {art} --shapes x:0x3x8x8", 2, "--shapes"),
    ("bench {art} --baseline pytorch", 2, "--baseline"),
    ("bench {art} --baseline sometimes", 2, "bench.baseline"),
    ("bench nosuch.ort.onnx", 4, "nosuch.ort.onnx"),
    # build
    ("build {onnx} -o {out}.ort.onnx --threads 0", 2, "build.threads"),
    ("build {onnx} -o {out}.ort.onnx --threads -1", 2, "build.threads"),
    ("build {onnx} -o {out}.ort.onnx --profile x:8x3x8x8,4x3x8x8,2x3x8x8", 2,
     "build.profiles[0].x"),
    ("build {onnx} -o {out}.ort.onnx --backend auto --profile x:4x3x8x8,2x3x8x8,8x3x8x8", 2,
     "min <= opt <= max"),
    ("build {onnx} -o {out}.ort.onnx --profile x:0x3x8x8", 2, "--profile x"),
    ("build {onnx} -o {out}.ort.onnx --profile garbage", 2, "--profile"),
    ("build {onnx} -o {out}.ort.onnx --profile x:1x3,2x3", 2, "--profile x"),
    ("build {onnx} -o {out}.ort.onnx --optimization-level 3", 2, "--opt-level"),
    ("build {onnx} -o {out}.ort.onnx --timeout-s 0", 2, "build.timeout_s"),
    ("build {onnx} -o {out}.ort.onnx --timeout-s nan", 2, "build.timeout_s"),
    ("build {onnx} -o {out}.ort.onnx --timeout-s inf", 2, "build.timeout_s"),
    ("build {onnx} -o {out}.ort.onnx --shapes x:0x3x8x8", 2, "--shapes"),
    ("build {onnx} -o {out}.ort.onnx --backend gpu", 2, "build.backend"),
    ("build {onnx} -o {out}.ort.onnx --precision int4", 2, "build.precision"),
    ("build {onnx} -o {out}.ort.onnx --int8-calib-samples 0", 2, "build.int8_calib_samples"),
    ("build {onnx}", 2, "-o"),
    ("build nosuch.onnx -o {out}.ort.onnx --backend onnxruntime", 4, "nosuch.onnx"),
    # export
    ("export {onnx} -o {out}.onnx --opset 3", 2, "export.opset"),
    ("export {onnx} -o {out}.onnx --opset 0", 2, "export.opset"),
    ("export {onnx} -o {out}.onnx --opset -1", 2, "export.opset"),
    ("export python:{factory}:build --input input:0x1x8x8", 2, "model.inputs[0].shape"),
    ("export python:{factory}:build --input input:-1x3x8x8", 2, "model.inputs[0].shape"),
    ("export python:{factory}:build --input x:1x3x8x8:float99", 2, "float99"),
    ("export python:{factory}:build --input x", 2, "--input"),
    ("export python:{factory}:build --input :1x3", 2, "--input"),
    ("export python:{factory}:build --input x:1x3x8x8 --opset 3", 2, "export.opset"),
    ("export python:{factory}:build --input x:1x3x8x8 --exporter jit", 2, "export.exporter"),
    ("export {onnx} -o {out}.onnx --cleanup weird", 2, "export.cleanup"),
    ("export {onnx}", 2, "-o"),
    ("export python:{factory}:build", 2, "--input"),
    ("export nosuch.onnx -o {out}.onnx", 4, "nosuch.onnx"),
    # prune
    ("prune {onnx} -o {out}.onnx --method magnitude --ratio 0", 2, "ratio"),
    ("prune {onnx} -o {out}.onnx --method magnitude --ratio 1", 2, "ratio"),
    ("prune {onnx} -o {out}.onnx --method magnitude --ratio nan", 2, "ratio"),
    ("prune {onnx} -o {out}.onnx --method magnitude --ratio -0.5", 2, "ratio"),
    ("prune {onnx} -o {out}.onnx --method foo", 2, "--method"),
    ("prune {onnx} -o {out}.onnx --method channel --ratio 0.5 --channel-multiple 0", 2,
     "prune.channel_multiple"),
    ("prune {onnx}", 2, "-o"),
    ("prune nosuch.onnx -o {out}.onnx --method magnitude --ratio 0.5", 4, "nosuch.onnx"),
    # quantize
    ("quantize {onnx} -o {out}.onnx --calib-data random --calib-samples 0", 2, "quantize"),
    ("quantize {onnx} -o {out}.onnx --calib-data random --calib-batch 0", 2, "quantize"),
    ("quantize {onnx} -o {out}.onnx --calib-data random --max-drop nan", 2,
     "quantize.max_drop"),
    ("quantize {onnx} -o {out}.onnx --calib-data random --max-drop 2", 2, "quantize.max_drop"),
    ("quantize {onnx} -o {out}.onnx --calib-data random --budget-step 0", 2, "quantize"),
    ("quantize {onnx} -o {out}.onnx --calib-data random --calib-resize 0", 2,
     "quantize.calib_preprocess.resize"),
    ("quantize {onnx} -o {out}.onnx --calib-data random --calib-crop 0", 2,
     "quantize.calib_preprocess.crop"),
    ("quantize {onnx} -o {out}.onnx --precision int4", 2, "quantize.precision"),
    ("quantize {onnx} -o {out}.onnx --target gpu", 2, "quantize.target"),
    ("quantize {onnx} -o {out}.onnx --calib-data random --shapes x:0x3x8x8", 2, "--shapes"),
    ("quantize {onnx} --calib-data random", 2, "-o"),
    ("quantize {onnx} -o {out}.onnx --calib-data nosuch.npz", 5, "nosuch.npz"),
    # inspect, run
    ("inspect {onnx} --shapes x:0x3x8x8", 2, "--shapes"),
    ("inspect nosuch.onnx", 4, "nosuch.onnx"),
    ("run nosuch.yaml", 2, "nosuch.yaml"),
]


@pytest.mark.parametrize(("line", "code", "named"), CASES,
                         ids=[c[0].replace("{", "").replace("}", "") for c in CASES])
def test_bad_flags(tmp_path: Path, models: Models, line: str, code: int, named: str) -> None:
    args = line.format(onnx=models.onnx, art=models.artifact, factory=models.factory,
                       out=tmp_path / "out").split()
    before = tree(tmp_path)
    check(invoke(*args), code, named, before=before)
    assert not (tmp_path / "build").exists(), "flags mode wrote a workspace in the cwd"
