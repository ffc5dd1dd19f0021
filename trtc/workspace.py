"""Where artifacts live, their manifests, up-to-date checks, atomic writes and locks.

Layout: ``<root>/<recipe-name>/<stage>/`` holding the stage's artifacts and a
``manifest.json`` written last. A stage is up to date when the hashes of its
inputs, its resolved recipe section and the tool versions match the manifest
and every output listed there still exists with the recorded hash.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from trtc.errors import DiskError, UsageError, disk_error, is_disk_error

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_TOOLS = ("trtc", "numpy", "onnx", "onnxruntime", "onnxslim", "onnx-graphsurgeon",
          "polygraphy", "torch", "torchvision", "tensorrt")


def tool_versions() -> dict[str, str | None]:
    """Return installed versions from package metadata (imports nothing heavy)."""
    versions: dict[str, str | None] = {}
    for name in _TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if versions["trtc"] is None:
        from trtc import __version__
        versions["trtc"] = __version__
    return versions


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _read_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


#: Read once, at import (before any thread starts): os.umask briefly changes it process-wide.
_UMASK = _read_umask()


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_output_path(path: str | Path, what: str = "-o", *,
                      make_parents: bool = False) -> Path:
    """Refuse an output path that writing would damage or misplace; return it.

    A device node, FIFO or socket, a symbolic link (never replaced), a directory, or a
    path whose folder is missing (unless ``make_parents``: an output tree the caller
    creates) or is a file: each is a :class:`DiskError` naming it.
    """
    path = Path(path)
    if path.is_symlink():
        raise DiskError(f"{what} {path}: is a symbolic link; trtc does not replace links",
                        "write to a plain file path (the link's target, or a new name)")
    if path.exists():
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise DiskError(f"{what} {path}: is a directory", "name a file inside it")
        if not stat.S_ISREG(mode):
            raise DiskError(f"{what} {path}: is not a regular file (a device, FIFO or "
                            "socket); trtc replaces only regular files",
                            "write to a file path")
    parent = path.parent
    if make_parents:
        for folder in (parent, *parent.parents):
            if folder.is_symlink() or folder.exists():
                if not folder.is_dir():
                    raise DiskError(f"{what} {path}: {folder} is not a folder",
                                    "pick another path")
                return path
    if not parent.exists():
        raise DiskError(f"{what} {path}: folder {parent} does not exist",
                        f"create it first (mkdir -p {parent})")
    if not parent.is_dir():
        raise DiskError(f"{what} {path}: {parent} is not a folder", "pick another path")
    return path


def check_workspace_root(root: str | Path) -> Path:
    """Refuse a workspace root (or one of its folders) that is a file."""
    root = Path(root)
    for folder in (root, *root.parents):
        if folder.exists():
            if not folder.is_dir():
                raise DiskError(f"workspace {root}: {folder} is a file, not a folder",
                                "pass --workspace a folder (it is created if missing)")
            break
    return root


def _temp_name(final: Path) -> str:
    return f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")


def final_name(path: str | Path) -> str:
    """The file name ``path`` will have: an :func:`atomic_path` temp file's final name."""
    m = _TEMP.match(Path(path).name)
    return m.group("name") if m else Path(path).name


def sweep_stale_temps(final: str | Path) -> list[Path]:
    """Remove temp files of ``final`` left by trtc processes that are no longer alive."""
    final = Path(final)
    removed: list[Path] = []
    try:
        siblings = list(final.parent.iterdir())
    except OSError:
        return removed
    for sibling in siblings:
        m = _TEMP.match(sibling.name)
        if m and m.group("name") == final.name and not pid_alive(int(m.group("pid"))):
            with contextlib.suppress(OSError):
                if sibling.is_dir() and not sibling.is_symlink():
                    shutil.rmtree(sibling)
                else:
                    sibling.unlink()
                removed.append(sibling)
    return removed


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (ours counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it into place only on success.

    An interrupted or failed write leaves no file under the final name, and its temp
    file (``.NAME.PID.XXXX.tmp``) is removed; one left by a killed process is swept on
    the next write of ``final``. The file gets the permissions of any new file (0666
    less the umask). ``final`` must be a regular file path (:func:`check_output_path`).
    A filesystem error (full or read-only disk) is a :class:`DiskError` naming the file.
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise disk_error(exc, final) from None
    check_output_path(final, "output")
    sweep_stale_temps(final)
    tmp_path = final.parent / _temp_name(final)
    try:
        tmp_path.touch(exist_ok=False)
    except OSError as exc:
        raise disk_error(exc, final) from None
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, final)
    except OSError as exc:
        if is_disk_error(exc):
            raise disk_error(exc, final) from None
        raise
    except Exception as exc:
        # A writer (ONNX Runtime, protobuf) that reports a full disk as its own error
        # ("INVALID_PROTOBUF: serialization failed", then a ModelError): blame the disk.
        if not isinstance(exc, DiskError) and (_free_bytes(final.parent) or 0) < 64 << 10:
            raise disk_error(OSError(errno.ENOSPC, "No space left on device", str(final)),
                             final) from exc
        raise
    finally:
        with contextlib.suppress(OSError):
            if tmp_path.is_dir() and not tmp_path.is_symlink():
                shutil.rmtree(tmp_path)
            else:
                tmp_path.unlink()


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: str | Path) -> Any | None:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def manifest_beside(artifact: str | Path) -> dict[str, Any] | None:
    """The manifest of the stage folder holding ``artifact``, or None (none, or unreadable).

    An artifact built by a recipe sits beside its build manifest, which records how
    it was built (e.g. its precision); a file from elsewhere has none.
    """
    try:
        data = json.loads((Path(artifact).parent / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class StageRecord:
    """What a stage consumed and produced; becomes its manifest."""

    stage: str
    spec: dict[str, Any]
    inputs: dict[str, str] = field(default_factory=dict)     # role -> path
    outputs: dict[str, str] = field(default_factory=dict)    # role -> path
    metrics: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0


class Workspace:
    """The artifact tree of one recipe: ``<root>/<name>/<stage>/``."""

    def __init__(self, root: str | Path, name: str) -> None:
        self.root = Path(root) / name
        self.name = name

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def manifest_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / MANIFEST

    def read_manifest(self, stage: str) -> dict[str, Any] | None:
        data = read_json(self.manifest_path(stage))
        return data if isinstance(data, dict) else None

    def staleness(self, stage: str, spec: Mapping[str, Any],
                  inputs: Mapping[str, str | Path]) -> str | None:
        """Return why ``stage`` must run, or None when it is up to date."""
        manifest = self.read_manifest(stage)
        if manifest is None:
            return "no manifest (never ran, or did not finish)"
        if manifest.get("manifest_version") != MANIFEST_VERSION:
            return "manifest from another trtc version"
        if manifest.get("spec") != json.loads(json.dumps(spec, default=str)):
            return "recipe section changed"
        if manifest.get("versions") != tool_versions():
            return "tool versions changed"
        recorded = manifest.get("inputs", {})
        if set(recorded) != {str(k) for k in inputs}:
            return "inputs changed"
        for role, path in inputs.items():
            entry = recorded.get(role, {})
            if not Path(path).is_file():
                return f"input {role} missing: {path}"
            if entry.get("path") != str(path) or entry.get("sha256") != _cached_hash(path):
                return f"input {role} changed: {path}"
        for role, entry in manifest.get("outputs", {}).items():
            path = Path(entry["path"])
            if not path.is_file():
                return f"output {role} missing: {path}"
            if entry.get("sha256") != _cached_hash(path):
                return f"output {role} modified: {path}"
        return None

    def write_manifest(self, record: StageRecord) -> dict[str, Any]:
        """Write the stage's manifest, last and atomically; return what was written."""
        data = {
            "manifest_version": MANIFEST_VERSION,
            "stage": record.stage,
            "recipe": self.name,
            "spec": json.loads(json.dumps(record.spec, default=str)),
            "inputs": {r: {"path": str(p), "sha256": _cached_hash(p)}
                       for r, p in record.inputs.items()},
            "outputs": {r: {"path": str(p), "sha256": _cached_hash(p),
                            "bytes": Path(p).stat().st_size}
                        for r, p in record.outputs.items()},
            "versions": tool_versions(),
            "host": {"python": platform.python_version(), "machine": platform.machine(),
                     "system": platform.system()},
            "device": record.device,
            "wall_time_s": round(record.wall_time_s, 4),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "metrics": record.metrics,
        }
        write_json(self.manifest_path(record.stage), data)
        return data

    def invalidate(self, stage: str) -> None:
        """Remove a stage's manifest so a half-finished run is never taken as complete."""
        with contextlib.suppress(FileNotFoundError):
            self.manifest_path(stage).unlink()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on this workspace (two runs of one recipe would race).

        The lock file records the holder's PID, so a refused run can say who holds it.
        """
        import fcntl

        check_workspace_root(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / ".lock", "a+")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise disk_error(exc, self.root) from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip()
                pid = int(holder) if holder.isdigit() else None
                who = (f"PID {pid} ({'running' if pid_alive(pid) else 'no longer running'})"
                       if pid is not None else "another process")
                raise UsageError(f"workspace {self.root} is locked by another trtc run: {who}",
                                 f"wait for it to finish (check with: ps -p {pid or 'PID'}); "
                                 "the lock is released when that process exits, so never "
                                 "delete the .lock file of a running one") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    handle.seek(0)
                    handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)


# Hashing large artifacts twice per run (check, then manifest) is the bulk of a
# skipped run's time; key by (path, size, mtime) so an edited file re-hashes.
_HASHES: dict[tuple[str, int, int], str] = {}


def _cached_hash(path: str | Path) -> str:
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]
