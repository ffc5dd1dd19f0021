"""Where artifacts live, their manifests, up-to-date checks, atomic writes and locks.

Layout: ``<root>/<recipe-name>/<stage>/`` holding the stage's artifacts and a
``manifest.json`` written last. A stage is up to date when the hashes of its
inputs, its resolved recipe section and the tool versions match the manifest
and every output listed there still exists with the recorded hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from trtc.errors import UsageError

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


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it into place only on success.

    An interrupted or failed write leaves no file under the final name. The file gets
    the permissions of any new file (0666 less the umask), not mkstemp's private 0600.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
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
        """Hold an exclusive lock on this workspace (two runs of one recipe would race)."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"workspace {self.root} is locked by another trtc run",
                                 "wait for it to finish, or remove the .lock file if it "
                                 "crashed") from None
            try:
                yield
            finally:
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
