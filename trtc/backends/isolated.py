"""Run one slow call (a TensorRT engine build) in a child process with a deadline.

A TensorRT build cannot be interrupted from Python: the builder holds the GIL-free
C++ thread until it is done, for minutes on some detectors. In a child process it
can: the parent waits, reports the elapsed time every ``tick_s`` seconds, and on
``timeout_s`` (or Ctrl-C / SIGTERM) kills the child's whole process group and
removes what the build had started to write. A crash of the child (a segfault in
a plugin) becomes a one-line error instead of taking trtc down.

The child is started with ``spawn``: it imports only what the called function
needs, never inherits a CUDA context, and its result must pickle.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trtc import errors
from trtc.errors import ModelError, TimeoutExpired, TrtcError

#: The pipe to the parent, in the child process (None elsewhere).
_CONN: Any = None


def phase(name: str) -> None:
    """Tell the parent which phase the child is in (a no-op outside a child)."""
    if _CONN is not None:
        _CONN.send(("phase", name))


def _child(target: str, args: tuple[Any, ...], conn: Any) -> None:
    global _CONN
    os.setpgid(0, 0)  # its own process group: the parent kills helpers it forks too
    os.dup2(2, 1)  # the child's prints (Polygraphy logs to stdout) must not corrupt --json
    _CONN = conn
    try:
        module, _, name = target.partition(":")
        result = getattr(importlib.import_module(module), name)(*args)
        conn.send(("ok", result))
    except TrtcError as exc:
        conn.send(("trtc", type(exc).__name__, exc.message, exc.hint))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        conn.send(("crash", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        conn.close()


def _kill(process: Any) -> None:
    if process.pid is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    process.join(5)


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            import shutil

            shutil.rmtree(path, ignore_errors=True)


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
        KeyboardInterrupt: Ctrl-C / SIGTERM while waiting (the child was killed).
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(target, args, child), daemon=True)
    start = time.monotonic()
    process.start()
    child.close()
    try:
        while True:
            elapsed = time.monotonic() - start
            wait = tick_s if timeout_s is None else max(0.0, min(tick_s, timeout_s - elapsed))
            if parent.poll(wait):
                try:
                    message = parent.recv()
                except EOFError:
                    message = None
                if message is not None and message[0] == "phase":
                    if on_phase is not None:
                        on_phase(message[1])
                    continue
                break
            if not process.is_alive() and not parent.poll(0):
                message = None
                break
            elapsed = time.monotonic() - start
            if timeout_s is not None and elapsed >= timeout_s:
                _kill(process)
                _remove(cleanup)
                raise TimeoutExpired(f"{what} did not finish in {timeout_s:g} s (killed)",
                                     timeout_hint or "raise the timeout, or make the job "
                                     "smaller")
            if on_tick is not None:
                on_tick(elapsed)
    except BaseException:
        if process.is_alive():
            _kill(process)
        _remove(cleanup)
        raise
    process.join(10)
    if message is None:
        _remove(cleanup)
        code = process.exitcode
        how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
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
