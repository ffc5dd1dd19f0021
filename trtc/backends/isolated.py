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

Inside :func:`reuse_worker` the calls go to one long-lived child instead, one after
another: what a call keeps alive in it (:func:`keep`) the next finds. TensorRT 8.6 loads
its builder kernel library with the first live builder and unloads it with the last,
6-10 s each time on the H200 (``scripts/probe_builder_init.py``); the engine budget's
candidate builds share one worker that holds a builder. A worker killed at a deadline,
or one that died, is replaced by a fresh one at the next call.
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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from trtc import errors
from trtc.errors import ModelError, TimeoutExpired, TrtcError

#: The pipe to the parent, in the child process (None elsewhere).
_OUT: int | None = None

#: The worker of the innermost :func:`reuse_worker` (``[]`` before its first call), None
#: outside one.
_POOL: list[_Child] | None = None
#: What calls in this child keep for the next (:func:`keep`).
_KEPT: dict[str, Any] = {}

_BOOT = ("import json, sys; head = json.loads(sys.stdin.buffer.readline()); "
         "sys.path[:] = head['path']; from trtc.backends.isolated import _child_main; "
         "_child_main(head['fd'], head['worker'])")


def _send(message: Any) -> None:
    assert _OUT is not None
    data = pickle.dumps(message)
    os.write(_OUT, struct.pack("<Q", len(data)) + data)


def phase(name: str) -> None:
    """Tell the parent which phase the child is in (a no-op outside a child)."""
    if _OUT is not None:
        _send(("phase", name))


def keep(key: str, make: Callable[[], Any]) -> Any:
    """``make()``'s result, made once in this process and kept alive for later calls (a
    worker's next call finds it; a one-call child lets it go at exit)."""
    if key not in _KEPT:
        _KEPT[key] = make()
    return _KEPT[key]


def _child_main(fd: int, worker: bool = False) -> None:
    """The child's side: read the call from stdin (a worker: one call after another,
    each length-prefixed, until stdin closes), run it, send what happened."""
    global _OUT
    _OUT = fd
    os.dup2(2, 1)  # the child's prints (Polygraphy logs to stdout) must not corrupt --json
    stdin = sys.stdin.buffer
    if not worker:
        _answer(stdin.read())
        return
    while len(size := stdin.read(8)) == 8:
        _answer(stdin.read(struct.unpack("<Q", size)[0]))


def _answer(call: bytes) -> None:
    try:
        target, args = pickle.loads(call)
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


class _Child:
    """One child process and the pipe it answers on (a worker takes one call after
    another)."""

    def __init__(self, worker: bool) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=2,
                pass_fds=(write_fd,), start_new_session=True)  # its own group: killpg
        finally:
            os.close(write_fd)
        self.worker, self.read_fd, self.reader = worker, read_fd, _Reader(read_fd)
        head = json.dumps({"path": [p for p in sys.path if p], "fd": write_fd,
                           "worker": worker})
        assert self.process.stdin is not None
        self.process.stdin.write(head.encode() + b"\n")

    def send(self, target: str, args: tuple[Any, ...]) -> None:
        call = pickle.dumps((target, args))
        stdin = self.process.stdin
        assert stdin is not None
        if self.worker:
            stdin.write(struct.pack("<Q", len(call)) + call)
            stdin.flush()
        else:
            stdin.write(call)
            stdin.close()

    def alive(self) -> bool:
        return self.process.poll() is None and not self.reader.eof

    def close(self) -> None:
        """End a worker (its stdin closes: it returns), else kill it."""
        stdin = self.process.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            _kill(self.process)
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:  # a reaped pid may be another process's by now
            _kill(self.process)
        with contextlib.suppress(OSError):
            os.close(self.read_fd)


@contextlib.contextmanager
def reuse_worker() -> Iterator[None]:
    """Run the :func:`run_isolated` calls made inside in one long-lived child (started
    at the first call, ended on leaving)."""
    global _POOL
    outer, _POOL = _POOL, []
    try:
        yield
    finally:
        for child in _POOL:
            child.close()
        _POOL = outer


def _child_for_call() -> _Child:
    if _POOL is None:
        return _Child(worker=False)
    if _POOL and not _POOL[0].alive():
        _POOL.pop().kill()
    if not _POOL:
        _POOL.append(_Child(worker=True))
    return _POOL[0]


def _drop(child: _Child) -> None:
    """Kill ``child``; a pool's worker is replaced at the next call."""
    child.kill()
    if _POOL is not None and child in _POOL:
        _POOL.remove(child)


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
    child = _child_for_call()
    reader = child.reader
    message: Any = None
    next_tick = tick_s
    try:
        child.send(target, args)
        while message is None and not reader.eof:
            elapsed = time.monotonic() - start
            if timeout_s is not None and elapsed >= timeout_s:
                _drop(child)
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
        _drop(child)
        _remove(cleanup)
        raise
    if message is None or not child.worker:
        code = child.process.wait()
        _drop(child)
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
