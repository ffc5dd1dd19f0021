"""Run one slow call (a TensorRT engine build) in a child process with a deadline.

A TensorRT build cannot be interrupted from Python: the builder holds the thread
until it is done, for minutes on some detectors. In a child process it can: the
parent waits, reports the elapsed time every ``tick_s`` seconds, and on
``timeout_s`` (or Ctrl-C / SIGTERM) kills the child's whole process group and
removes what the build had started to write. A crash of the child (a segfault in
a plugin) becomes a one-line error instead of taking trtc down.

The child is a fresh ``python -c`` (not multiprocessing): it never re-runs the
caller's main script, never inherits a CUDA context, and imports only what the
called function needs. Arguments and results travel pickled between the two
processes of one trtc run (never from a file a user gave).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trtc import errors
from trtc.errors import ModelError, TimeoutExpired, TrtcError

#: The pipe to the parent, in the child process (None elsewhere).
_OUT: int | None = None

_BOOT = ("import json, sys; head = json.loads(sys.stdin.buffer.readline()); "
         "sys.path[:] = head['path']; from trtc.backends.isolated import _child_main; "
         "_child_main(head['fd'])")


def _send(message: Any) -> None:
    assert _OUT is not None
    data = pickle.dumps(message)
    os.write(_OUT, struct.pack("<Q", len(data)) + data)


def phase(name: str) -> None:
    """Tell the parent which phase the child is in (a no-op outside a child)."""
    if _OUT is not None:
        _send(("phase", name))


def _child_main(fd: int) -> None:
    """The child's side: read the call from stdin, run it, send what happened."""
    global _OUT
    _OUT = fd
    os.dup2(2, 1)  # the child's prints (Polygraphy logs to stdout) must not corrupt --json
    try:
        target, args = pickle.loads(sys.stdin.buffer.read())
        module, _, name = target.partition(":")
        _send(("ok", getattr(importlib.import_module(module), name)(*args)))
    except TrtcError as exc:
        _send(("trtc", type(exc).__name__, exc.message, exc.hint))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        _send(("crash", f"{type(exc).__name__}: {exc}", traceback.format_exc()))


class _Reader:
    """Length-prefixed pickled messages from the child's pipe."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf, self.eof = fd, b"", False

    def read(self, timeout: float) -> list[Any]:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            chunk = os.read(self.fd, 1 << 16)
            if chunk:
                self.buf += chunk
            else:
                self.eof = True
        out = []
        while len(self.buf) >= 8:
            (size,) = struct.unpack("<Q", self.buf[:8])
            if len(self.buf) < 8 + size:
                break
            out.append(pickle.loads(self.buf[8:8 + size]))
            self.buf = self.buf[8 + size:]
        return out


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            import shutil

            shutil.rmtree(path, ignore_errors=True)


def _start(target: str, args: tuple[Any, ...]) -> tuple[subprocess.Popen[bytes], int]:
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=2,
            pass_fds=(write_fd,), start_new_session=True)  # its own group: killpg reaches all
    finally:
        os.close(write_fd)
    assert process.stdin is not None
    head = json.dumps({"path": [p for p in sys.path if p], "fd": write_fd})
    process.stdin.write(head.encode() + b"\n" + pickle.dumps((target, args)))
    process.stdin.close()
    return process, read_fd


def run_isolated(target: str, args: tuple[Any, ...], *, what: str,
                 timeout_s: float | None = None, tick_s: float = 15.0,
                 on_tick: Callable[[float], None] | None = None,
                 on_phase: Callable[[str], None] | None = None,
                 cleanup: Sequence[Path] = (), timeout_hint: str = "") -> Any:
    """Call ``module:function(*args)`` in a child process and return its result.

    Args:
        target: ``"package.module:function"``.
        args: picklable arguments.
        what: what is running, for messages ("the TensorRT build of m.onnx").
        timeout_s: kill the child after this many seconds (None: no limit).
        tick_s: how often ``on_tick(elapsed_s)`` is called while waiting.
        on_phase: called with each :func:`phase` the child reports.
        cleanup: files or folders removed when the child is killed or dies.
        timeout_hint: what to do when the deadline passes.

    Raises:
        TimeoutExpired: the deadline passed (the child was killed).
        TrtcError: the child raised one (same class, message and hint).
        ModelError: the child crashed or died from a signal.
        RuntimeError: a bug in the child (its traceback in the message).
        KeyboardInterrupt: Ctrl-C while waiting (the child was killed).
    """
    start = time.monotonic()
    process, read_fd = _start(target, args)
    reader = _Reader(read_fd)
    message: Any = None
    next_tick = tick_s
    try:
        while message is None and not reader.eof:
            elapsed = time.monotonic() - start
            if timeout_s is not None and elapsed >= timeout_s:
                _kill(process)
                _remove(cleanup)
                raise TimeoutExpired(f"{what} did not finish in {timeout_s:g} s (killed)",
                                     timeout_hint or "raise the timeout, or make the job "
                                     "smaller")
            if on_tick is not None and elapsed >= next_tick:
                on_tick(elapsed)
                next_tick += tick_s
            wait = min(0.5, tick_s) if timeout_s is None else \
                max(0.0, min(0.5, tick_s, timeout_s - elapsed))
            for item in reader.read(wait):
                if item[0] == "phase":
                    if on_phase is not None:
                        on_phase(item[1])
                else:
                    message = item
    except BaseException:
        _kill(process)
        _remove(cleanup)
        raise
    finally:
        os.close(read_fd)
    code = process.wait()
    if message is None:
        _remove(cleanup)
        how = (f"killed by signal {signal.Signals(-code).name}" if code < 0
               else f"exited with code {code}")
        raise ModelError(f"{what} crashed ({how})",
                         "rerun with --verbose for TensorRT's log; a crash in a plugin or the "
                         "builder is a TensorRT bug or a GPU out of memory")
    kind = message[0]
    if kind == "ok":
        return message[1]
    _remove(cleanup)
    if kind == "trtc":
        cls = getattr(errors, message[1], None)
        if not (isinstance(cls, type) and issubclass(cls, TrtcError)):
            cls = ModelError
        raise cls(message[2], message[3])
    # Not a user error: a bug, shown with the child's traceback (exit 70).
    raise RuntimeError(f"{what} failed in its child process: {message[1]}\n{message[2]}")
