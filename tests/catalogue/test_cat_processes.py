"""Real processes: signals, concurrent runs of one recipe, and import shadowing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from catalogue import Models, base_recipe, check, invoke, write_recipe

import trtc

#: The trtc under test (the child processes import the same one).
REPO = Path(trtc.__file__).resolve().parents[1]


def _trtc(*args: object, cwd: Path, tmpdir: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    if tmpdir is not None:  # the child's temp folders go here, to be checked afterwards
        tmpdir.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmpdir)
    return subprocess.Popen([sys.executable, "-m", "trtc", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"trtc ended early ({proc.returncode}): {proc.stdout.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{path} never appeared")
        time.sleep(0.1)


def _long_recipe(tmp_path: Path, models: Models) -> Path:
    return write_recipe(tmp_path, base_recipe(models, verify={"data": {"iterations": 1}},
                                              bench={"duration_s": 60, "warmup_ms": 0}))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_stage_exits_cleanly(tmp_path: Path, models: Models, sig: int,
                                              code: int) -> None:
    recipe = _long_recipe(tmp_path, models)
    ws = tmp_path / "ws"
    private_tmp = tmp_path / "tmpdir"
    proc = _trtc("run", recipe, "--workspace", ws, cwd=tmp_path, tmpdir=private_tmp)
    _wait_for(ws / "tiny" / "verify" / "manifest.json", proc)  # bench is running now
    time.sleep(1.0)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == code, out
    assert "interrupted" in out and "Traceback" not in out, out
    bench = ws / "tiny" / "bench"
    assert not (bench / "manifest.json").exists() and not (bench / "report.json").exists()
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers
    assert (ws / "tiny" / ".lock").read_text() == "", "the lock still names a dead holder"
    left = [p for p in private_tmp.iterdir() if p.is_dir() or p.name.startswith("trtc")]
    assert left == [], f"temp folders left behind: {left}"  # (a library's .ses file is kept)


def test_a_second_run_of_a_locked_recipe_names_the_live_holder(tmp_path: Path,
                                                              models: Models) -> None:
    recipe = _long_recipe(tmp_path, models)
    ws = tmp_path / "ws"
    first = _trtc("run", recipe, "--workspace", ws, cwd=tmp_path)
    try:
        _wait_for(ws / "tiny" / "export" / "manifest.json", first)
        second = _trtc("run", recipe, "--workspace", ws, cwd=tmp_path)
        out, _ = second.communicate(timeout=180)
        assert second.returncode == 2, out
        assert f"PID {first.pid} (running)" in out and "ps -p" in out, out
        assert "Traceback" not in out
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)


def test_a_lock_held_in_process_is_named_too(tmp_path: Path, models: Models) -> None:
    from trtc.workspace import Workspace

    recipe = write_recipe(tmp_path, base_recipe(models))
    with Workspace(tmp_path / "ws", "tiny").lock():
        out = check(invoke("run", recipe, "--workspace", tmp_path / "ws"), 2, "locked",
                    f"PID {os.getpid()}", allowed=lambda p: True)
    assert "remove the .lock" not in out


def test_a_stray_module_in_the_cwd_never_shadows_the_toolchain(tmp_path: Path,
                                                              models: Models) -> None:
    for name in ("onnxruntime", "numpy", "onnx", "polygraphy"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('shadowed {name}')\n")
    (tmp_path / "myloader.py").write_text(
        "import numpy as np\n\ndef load():\n"
        "    return {'x': np.zeros((2, 3, 8, 8), np.float32)}\n")
    proc = _trtc("verify", models.artifact, "--reference", models.onnx, "--data",
                 "python:myloader:load", cwd=tmp_path)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "shadowed" not in out and "Traceback" not in out


def test_an_interrupt_wrapped_by_a_library_is_an_interrupt(tmp_path: Path, models: Models,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """torch.onnx turns Ctrl-C into its own error: never 'try export.exporter: legacy'."""
    from trtc.backends import onnxruntime as ort_backend

    def session(*args: object, **kwargs: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("export failed") from exc

    monkeypatch.setattr(ort_backend, "make_session", session)
    (tmp_path / "o").mkdir()
    out = check(invoke("build", models.onnx, "-o", tmp_path / "o" / "m.ort.onnx", "--backend",
                       "onnxruntime"), 130, "interrupted", before={"o"})
    assert "exporter" not in out and "model error" not in out


def test_ctrl_c_during_export_is_an_interrupt_not_an_export_failure(
        tmp_path: Path, models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")

    def export(*args: object, **kwargs: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:  # as torch.onnx's dynamo path wraps it
            raise RuntimeError("Failed to export the model") from exc

    monkeypatch.setattr(torch.onnx, "export", export)
    out = check(invoke("export", f"python:{models.factory}:build", "--input", "x:1x3x8x8",
                       "-o", tmp_path / "m.onnx"), 130, "interrupted")
    assert "exporter" not in out and "legacy" not in out


def test_sigterm_in_flags_mode_leaves_no_temp_folder(tmp_path: Path, models: Models) -> None:
    private_tmp = tmp_path / "tmpdir"
    proc = _trtc("bench", models.artifact, "--duration", "60", "--warmup", "0", cwd=tmp_path,
                 tmpdir=private_tmp)
    deadline = time.monotonic() + 180
    while not any(p.is_dir() for p in private_tmp.iterdir()):  # the report's temp folder
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"bench never started: {proc.communicate()[0]}")
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "interrupted" in out and "Traceback" not in out, out
    left = [p for p in private_tmp.iterdir() if p.is_dir()]
    assert left == [], f"temp folders left behind: {left}"
