"""The trtexec line that builds the same engine as trtc, in the flags of one version.

Generated from the settings table (trtc.tensorrt.settings.SETTINGS) after the
profiles, the precision flags and the calibration cache.
"""

from __future__ import annotations

import shlex

from trtc.shapes import format_shape
from trtc.tensorrt.settings import SETTINGS, TrtBuildSettings
from trtc.tensorrt.versions import features


def trtexec_command(settings: TrtBuildSettings, onnx_path: str, engine_path: str) -> str:
    """Return the trtexec line that builds the same engine, in settings.version's flags.

    Multiple profiles need ``--profile=N`` (TensorRT >= 9); for 8.6 only
    profile 0 is rendered and a trailing shell comment says so. An int8
    calibration is rendered as ``--calib=CACHE`` (trtexec reads a calibration
    cache, it cannot calibrate from data). What trtexec cannot take as a flag is
    a trailing shell comment.
    """
    feats = features(settings.version)
    args = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={engine_path}"]
    comments: list[str] = []
    profiles = list(settings.profiles)
    if len(profiles) > 1 and not feats.trtexec_multi_profile:
        comments.append(f"trtexec {feats.major}.{feats.minor} builds one profile: "
                        f"{len(profiles) - 1} more are not shown")
        profiles = profiles[:1]
    for i, prof in enumerate(profiles):
        if len(profiles) > 1:
            args.append(f"--profile={i}")
        for k, flag in enumerate(("--minShapes", "--optShapes", "--maxShapes")):
            spec = ",".join(f"{_trtexec_name(n)}:{format_shape(rng[k])}"
                            for n, rng in prof.shapes.items())
            args.append(f"{flag}={spec}")
    args += [f"--{flag}" for flag in settings.precision_flags]
    if settings.int8_mode == "calibration" and settings.calibration:
        cache = settings.calibration.get("cache")
        if cache:
            args.append(f"--calib={cache}")
        else:
            comments.append("int8 calibration: trtexec needs the calibration cache that "
                            "trtc build writes (--calib=CACHE)")
    for row in SETTINGS:
        for item in row.trtexec(getattr(settings, row.field), settings, feats):
            if item.startswith("# "):
                comments.append(item[2:])
            else:
                args.append(item)
    if settings.io_scales:  # int8 I/O: trtc.tensorrt.int8_io rewrites the model first
        comments.append("trtc parses a copy of the ONNX without the QuantizeLinear reading "
                        "an int8 input / the DequantizeLinear writing an int8 output "
                        "(trtc.tensorrt.int8_io): TensorRT 8.6 refuses them on this file")
    args.append("--skipInference")
    line = " ".join(shlex.quote(a) for a in args)
    return line + "".join(f"  # {c}" for c in comments)


def _trtexec_name(name: str) -> str:
    # trtexec splits a shape spec at ':' and ','; names holding them are quoted.
    return f"'{name}'" if any(c in name for c in ":,") else name
