"""One exception hierarchy for trtc; the CLI root maps each class to an exit code.

User errors (bad recipe, missing file, wrong input, failed verification) derive
from :class:`TrtcError` and print one line of what went wrong and one of what to
do. Anything else is a bug and shows its traceback (exit code 70).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path


def did_you_mean(name: str, choices: Sequence[str], otherwise: str) -> str:
    """A hint for an unknown ``name``: the closest of ``choices``, else ``otherwise``."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean '{close[0]}'?" if close else otherwise


class TrtcError(Exception):
    """A user-facing error: a one-line message and an optional hint."""

    exit_code = 70
    kind = "error"
    #: The pipeline stage that raised it, set by ``trtc run`` (its JUnit names it).
    stage: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        return {"error": self.kind, "message": self.message, "hint": self.hint,
                "exit_code": self.exit_code}


class VerificationError(TrtcError):
    """Outputs or accuracy are outside the allowed tolerance (exit 1).

    Also export parity (PyTorch vs ONNX Runtime) and a missed quantize budget.
    """

    exit_code = 1
    kind = "verification failed"


class UsageError(TrtcError):
    """Bad flags or a bad recipe (exit 2): a value out of range, a flag for the other
    mode, a profile that does not fit the model, a setting the TensorRT version lacks."""

    exit_code = 2
    kind = "usage error"


class RecipeError(UsageError):
    """A recipe that cannot be read or does not match the schema."""

    kind = "recipe error"


class DependencyError(TrtcError):
    """A missing optional dependency or missing hardware (exit 3).

    TensorRT, cuda-python or a GPU for ``backend: tensorrt``; torch for a PyTorch
    source. The hint says what to install.
    """

    exit_code = 3
    kind = "missing dependency"


class ModelError(TrtcError):
    """An invalid, unsupported or mismatching model (exit 4): missing or corrupt ONNX,
    weights that do not fit, an op TensorRT cannot parse, an engine from another GPU."""

    exit_code = 4
    kind = "model error"


class DataError(TrtcError):
    """Input, calibration or evaluation data that cannot be used (exit 5).

    A missing file, arrays whose names, shapes or dtypes do not match the model's
    inputs, NaN/Inf values, a data loader that raises.
    """

    exit_code = 5
    kind = "data error"


class TimeoutExpired(TrtcError):
    """A step ran past its deadline (``build.timeout_s``) and was stopped."""

    exit_code = 124  # as timeout(1)
    kind = "timeout"


class DiskError(TrtcError):
    """A file that could not be written (exit 6): a read-only or full disk, an output
    path that is a directory, a device or a symlink, a workspace that is a file.

    The message names the file; for a full disk, how much space was needed when known.
    """

    exit_code = 6
    kind = "disk error"


class Interrupted(TrtcError):
    """Ctrl-C (exit 130) or SIGTERM (exit 143): stopped, nothing half-written kept."""

    exit_code = 130  # 128 + SIGINT, as a shell reports it
    kind = "interrupted"


#: errno values that mean "this file cannot be written here", not "the model is bad".
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                         errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.EFBIG})


def disk_error(exc: OSError, path: str | Path | None = None) -> DiskError:
    """The one mapping of a filesystem error to a :class:`DiskError` naming the file."""
    where = exc.filename or path or "?"
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
           errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
           errno.EPERM: "permission denied", errno.EISDIR: "it is a directory",
           errno.ENOTDIR: "a folder on its path is a file",
           errno.EEXIST: "a file is in the way of a folder",
           errno.EFBIG: "the file is too large for the file system"
           }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    hint = "free space, or write somewhere else (-o / --workspace)"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        free = _free_bytes(os.path.dirname(os.path.abspath(where)))
        hint = (f"{free} bytes free there; free space or write elsewhere" if free is not None
                else hint)
    return DiskError(f"cannot write {where}: {why}", hint)


def is_disk_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def _free_bytes(folder: str) -> int | None:
    import shutil

    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


EXIT_CODES: dict[str, int] = {
    "ok": 0,
    "verification failed": VerificationError.exit_code,
    "usage or recipe error": UsageError.exit_code,
    "missing dependency or hardware": DependencyError.exit_code,
    "model error": ModelError.exit_code,
    "data error": DataError.exit_code,
    "disk error": DiskError.exit_code,
    "timeout": TimeoutExpired.exit_code,
    "interrupted (Ctrl-C)": Interrupted.exit_code,
    "terminated (SIGTERM)": 143,
    "internal bug": 70,
}
