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
