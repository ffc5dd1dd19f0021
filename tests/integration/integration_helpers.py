"""Helpers shared by the integration tests (plain functions; the fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from typer.testing import Result

#: What `--duration/--warmup/--iterations` get in every bench call of these tests.
FAST_BENCH_FLAGS = ["--duration", "0.05", "--warmup", "5", "--iterations", "3"]
STAGES = ("export", "build", "verify", "bench")



def trtc_command() -> list[str]:
    """The installed ``trtc`` entry point (falls back to ``python -m trtc``)."""
    exe = shutil.which("trtc") or shutil.which("trtc", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "trtc"]


def run_trtc(*args: Any, cwd: Path | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real ``trtc`` entry point in a fresh process."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*trtc_command(), *(str(a) for a in args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def ok_json(result: Result) -> Any:
    """Assert exit 0 and return stdout parsed as exactly one JSON document."""
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\n" \
        f"stderr:\n{result.stderr}\n{result.exception!r}"
    return json.loads(result.stdout)


def statuses(run_json: dict[str, Any]) -> dict[str, str]:
    return {s["stage"]: s["status"] for s in run_json["stages"]}


def reasons(run_json: dict[str, Any]) -> dict[str, str]:
    return {s["stage"]: s["reason"] for s in run_json["stages"]}


#: The first word(s) of the error line, one per class in trtc.errors.
ERROR_KINDS = ("verification failed", "usage error", "recipe error", "missing dependency",
               "model error", "data error")


def assert_user_error(result: Result, code: int, *needles: str) -> str:
    """Assert a user error: the exit code, one message line naming ``needles``, no traceback.

    Progress lines of stages that ran before the failure may come first; the error is
    the last one or two lines: ``<kind>: <message>`` and an optional ``hint: ...``.
    Returns the message line.
    """
    err = result.stderr
    assert result.exit_code == code, f"exit {result.exit_code}, wanted {code}\n" \
        f"stdout:\n{result.stdout}\nstderr:\n{err}\n{result.exception!r}"
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith(ERROR_KINDS)]
    assert len(starts) == 1, err
    message, rest = lines[starts[0]], lines[starts[0] + 1:]
    assert rest == [] or (len(rest) == 1 and rest[0].startswith("hint: ")), err
    for needle in needles:
        assert needle in message, f"{needle!r} not in message {message!r}"
    return message


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def edit_recipe(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Load a YAML recipe, apply ``change`` to the dict in place and write it back."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def stage_files(ws_root: Path, name: str, stage: str) -> list[str]:
    """Names of the files in one stage directory ([] if it does not exist)."""
    d = ws_root / name / stage
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def tiny_predictions(torch_factory: Path, weights: Path, x: np.ndarray) -> np.ndarray:
    """Top-1 class of the tiny model with ``weights`` for every sample of ``x``."""
    import torch

    model = runpy.run_path(str(torch_factory))["build"]()
    model.load_state_dict(torch.load(weights, weights_only=True))
    with torch.inference_mode():
        return model.eval()(torch.from_numpy(x)).argmax(-1).numpy()
