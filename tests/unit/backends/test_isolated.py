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


def test_calls_in_reuse_worker_share_one_child_and_what_it_keeps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine budget's candidate builds run in one worker, so a TensorRT builder kept
    alive there spares each later build 8.6's kernel-library start (6-10 s)."""
    from trtc.backends.isolated import reuse_worker

    (tmp_path / "kept.py").write_text(
        "import os\nfrom trtc.backends.isolated import keep\n"
        "made = []\n"
        "def work(n):\n"
        "    keep('thing', lambda: made.append(1) or object())\n"
        "    return os.getpid(), len(made), n\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    alone = [run_isolated("kept:work", (i,), what="x") for i in range(2)]
    assert alone[0][0] != alone[1][0] and [a[1] for a in alone] == [1, 1]
    with reuse_worker():
        shared = [run_isolated("kept:work", (i,), what="x") for i in range(3)]
        with pytest.raises(DataError):  # a user error comes back; the worker stays
            run_isolated("trtc.data:load_arrays", (str(tmp_path / "no.npz"),), what="x")
        after = run_isolated("kept:work", (3,), what="x")
    assert len({pid for pid, _, _ in shared + [after]}) == 1
    assert [n for _, n, _ in shared + [after]] == [1, 1, 1, 1]  # made once, kept
    assert [i for _, _, i in shared + [after]] == [0, 1, 2, 3]
    assert run_isolated("kept:work", (4,), what="x")[0] != after[0]  # one-call children again


def test_a_worker_killed_at_its_deadline_or_dead_is_replaced(tmp_path: Path) -> None:
    import os

    from trtc.backends.isolated import reuse_worker

    with reuse_worker():
        first = run_isolated("os:getpid", (), what="x")
        with pytest.raises(TimeoutExpired):
            run_isolated("time:sleep", (60.0,), what="x", timeout_s=1)
        second = run_isolated("os:getpid", (), what="x")
        with pytest.raises(ModelError, match="crashed"):
            run_isolated("os:_exit", (3,), what="the build")
        third = run_isolated("os:getpid", (), what="x")
    assert len({first, second, third}) == 3
    for pid in (first, second, third):  # none left running
        with pytest.raises(ProcessLookupError):
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
