"""A slow call runs in a child process: results, errors, crashes, deadlines, cleanup.

The child runs library functions by reference (``module:function``), so the
targets here are stdlib and trtc functions with known behaviour.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from trtc.backends.isolated import run_isolated
from trtc.errors import DataError, ModelError, TimeoutExpired


def test_returns_the_childs_result() -> None:
    assert run_isolated("operator:mul", (21, 2), what="x") == 42


def test_a_user_error_keeps_its_class_message_and_hint(tmp_path: Path) -> None:
    with pytest.raises(DataError) as direct:
        from trtc.data import load_arrays

        load_arrays(str(tmp_path / "missing.npz"))
    with pytest.raises(DataError) as info:
        run_isolated("trtc.data:load_arrays", (str(tmp_path / "missing.npz"),), what="x")
    assert info.value.message == direct.value.message and info.value.hint == direct.value.hint


def test_a_bug_in_the_child_is_a_bug_here_with_its_traceback() -> None:
    with pytest.raises(RuntimeError, match=r"(?s)JSONDecodeError.*Traceback"):
        run_isolated("json:loads", ("{not json",), what="the build")


def test_deadline_kills_the_child_and_removes_what_it_wrote(tmp_path: Path) -> None:
    tmp = tmp_path / ".m.engine.tmp"
    tmp.write_bytes(b"")  # what a build had started to write
    ticks: list[float] = []
    start = time.monotonic()
    with pytest.raises(TimeoutExpired) as info:
        run_isolated("time:sleep", (60.0,), what="the TensorRT build of m.onnx",
                     timeout_s=3, tick_s=0.5, on_tick=ticks.append, cleanup=[tmp],
                     timeout_hint="raise build.timeout_s")
    assert time.monotonic() - start < 20
    assert info.value.exit_code == 124 and "did not finish in 3 s" in info.value.message
    assert info.value.hint == "raise build.timeout_s"
    assert not tmp.exists()
    assert ticks and ticks == sorted(ticks)


def test_a_child_killed_by_a_signal_is_a_one_line_model_error(tmp_path: Path) -> None:
    leftover = tmp_path / "partial"
    leftover.write_bytes(b"x")
    with pytest.raises(ModelError, match="crashed .*SIGABRT"):
        run_isolated("os:abort", (), what="the build", cleanup=[leftover])
    assert not leftover.exists()


def test_phases_reach_the_parent_and_the_childs_path_is_the_parents(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "phasey.py").write_text(
        "from trtc.backends.isolated import phase\n"
        "def work(n):\n    phase('parsing')\n    phase('building')\n    return n + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[str] = []
    assert run_isolated("phasey:work", (41,), what="x", on_phase=seen.append) == 42
    assert seen == ["parsing", "building"]


def test_a_caller_script_without_a_main_guard_is_not_rerun(tmp_path: Path) -> None:
    # multiprocessing's spawn re-runs the caller's main script in the child; a user's
    # script calling trtc at top level must work (and run once).
    import subprocess
    import sys

    script = tmp_path / "user.py"
    script.write_text("from trtc.backends.isolated import run_isolated\n"
                      "print('ran', run_isolated('operator:mul', (6, 7), what='x'))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["ran 42"]
