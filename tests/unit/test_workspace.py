"""Tests for trtc.workspace: atomic writes, manifests and up-to-date checks, locks, hashing."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import trtc.workspace as workspace
from trtc.errors import UsageError
from trtc.workspace import (
    MANIFEST_VERSION,
    StageRecord,
    Workspace,
    atomic_path,
    read_json,
    sha256_file,
    write_json,
)

# sha256 of b"abc" and of b"" (FIPS 180-2 test vectors), written out by hand.
SHA_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
SHA_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _bump_mtime(path: Path) -> None:
    """Move a file's mtime one second on, as an edit made later would."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


# --------------------------------------------------------------------------- hashing


def test_sha256_file_known_vectors(tmp_path: Path) -> None:
    (tmp_path / "abc").write_bytes(b"abc")
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "abc") == SHA_ABC
    assert sha256_file(tmp_path / "empty") == SHA_EMPTY


def test_sha256_file_chunked_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 41 + b"tail"  # 10500 bytes, not a multiple of the chunk
    (tmp_path / "blob").write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(tmp_path / "blob", chunk=7) == expected
    assert sha256_file(str(tmp_path / "blob"), chunk=4096) == expected


# --------------------------------------------------------------------------- atomic_path


def test_atomic_path_gives_new_file_permissions_not_private_ones(tmp_path: Path) -> None:
    # An -o OUT.onnx written in place of mkstemp's file must be readable like any output.
    final = tmp_path / "out.onnx"
    with atomic_path(final) as tmp:
        tmp.write_bytes(b"x")
    reference = tmp_path / "plain"
    reference.write_bytes(b"x")
    assert final.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_atomic_path_failure_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "out" / "model.onnx"
    with pytest.raises(RuntimeError, match="interrupted"), atomic_path(final) as tmp:
        assert tmp.parent == final.parent
        assert tmp != final
        tmp.write_bytes(b"half written")
        raise RuntimeError("interrupted")
    assert not final.exists()
    assert list(final.parent.iterdir()) == []  # no temp file left either


def test_atomic_path_failure_keeps_previous_file(tmp_path: Path) -> None:
    final = tmp_path / "model.onnx"
    final.write_bytes(b"old complete")
    with pytest.raises(KeyboardInterrupt), atomic_path(final) as tmp:
        tmp.write_bytes(b"new partial")
        raise KeyboardInterrupt
    assert final.read_bytes() == b"old complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_atomic_path_success_replaces(tmp_path: Path) -> None:
    final = tmp_path / "report.json"
    final.write_text("old")
    old_inode = final.stat().st_ino
    with atomic_path(final) as tmp:
        tmp.write_text("new")
        assert final.read_text() == "old"  # not visible until the block ends
    assert final.read_text() == "new"
    assert final.stat().st_ino != old_inode  # renamed into place, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_atomic_path_creates_parent_dirs(tmp_path: Path) -> None:
    final = tmp_path / "a" / "b" / "c.txt"
    with atomic_path(final) as tmp:
        tmp.write_text("x")
    assert final.read_text() == "x"


def test_write_and_read_json(tmp_path: Path) -> None:
    path = tmp_path / "d" / "x.json"
    write_json(path, {"a": [1, 2], "p": Path("/z")})
    assert json.loads(path.read_text()) == {"a": [1, 2], "p": "/z"}
    assert read_json(path) == {"a": [1, 2], "p": "/z"}
    assert read_json(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert read_json(tmp_path / "bad.json") is None


# --------------------------------------------------------------------------- manifests


SPEC = {"backend": "onnxruntime", "batch": [1, 4], "threads": None}


@pytest.fixture
def fixed_versions(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"trtc": "0.1.0", "onnx": "1.16.0", "tensorrt": None}
    monkeypatch.setattr(workspace, "tool_versions", lambda: dict(versions))
    return versions


@pytest.fixture
def ran(tmp_path: Path, fixed_versions: dict[str, str | None]
        ) -> tuple[Workspace, Path, Path]:
    """A workspace whose build stage ran once: one input file, one output file."""
    ws = Workspace(tmp_path / "build", "tiny")
    src = tmp_path / "model.onnx"
    src.write_bytes(b"onnx bytes v1")
    out = ws.stage_dir("build") / "model.ort.onnx"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"optimised v1")
    ws.write_manifest(StageRecord("build", SPEC, inputs={"model": str(src)},
                                  outputs={"artifact": str(out)}, metrics={"nodes": 4},
                                  wall_time_s=1.234567))
    return ws, src, out


def test_manifest_contents(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, out = ran
    assert ws.manifest_path("build") == ws.root / "build" / "manifest.json"
    assert ws.root.name == "tiny"
    m = ws.read_manifest("build")
    assert m is not None
    assert m["manifest_version"] == MANIFEST_VERSION
    assert m["stage"] == "build"
    assert m["recipe"] == "tiny"
    assert m["spec"] == {"backend": "onnxruntime", "batch": [1, 4], "threads": None}
    assert m["inputs"] == {"model": {"path": str(src),
                                     "sha256": hashlib.sha256(b"onnx bytes v1").hexdigest()}}
    assert m["outputs"]["artifact"]["sha256"] == hashlib.sha256(b"optimised v1").hexdigest()
    assert m["outputs"]["artifact"]["bytes"] == len(b"optimised v1")
    assert m["versions"] == {"trtc": "0.1.0", "onnx": "1.16.0", "tensorrt": None}
    assert m["metrics"] == {"nodes": 4}
    assert m["wall_time_s"] == 1.2346


def test_unchanged_stage_is_up_to_date(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    assert ws.staleness("build", SPEC, {"model": str(src)}) is None
    assert ws.staleness("build", SPEC, {"model": src}) is None  # Path or str alike


def test_spec_given_with_tuples_matches_manifest(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    spec = {"backend": "onnxruntime", "batch": (1, 4), "threads": None}
    assert ws.staleness("build", spec, {"model": src}) is None


def test_no_manifest(tmp_path: Path, fixed_versions: dict[str, str | None]) -> None:
    ws = Workspace(tmp_path, "tiny")
    reason = ws.staleness("build", SPEC, {})
    assert reason is not None
    assert "no manifest" in reason


def test_invalidate_removes_manifest(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    ws.invalidate("build")
    assert not ws.manifest_path("build").exists()
    assert "no manifest" in (ws.staleness("build", SPEC, {"model": src}) or "")
    ws.invalidate("build")  # twice is fine


def test_corrupt_manifest_is_no_manifest(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    ws.manifest_path("build").write_text("{truncated")
    assert "no manifest" in (ws.staleness("build", SPEC, {"model": src}) or "")


def test_other_manifest_version(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    path = ws.manifest_path("build")
    data = json.loads(path.read_text())
    data["manifest_version"] = MANIFEST_VERSION + 1
    path.write_text(json.dumps(data))
    assert "another trtc version" in (ws.staleness("build", SPEC, {"model": src}) or "")


def test_spec_change(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    reason = ws.staleness("build", {**SPEC, "threads": 2}, {"model": src})
    assert reason == "recipe section changed"


def test_input_content_change(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    src.write_bytes(b"onnx bytes v2")  # same size, different content
    _bump_mtime(src)
    assert ws.staleness("build", SPEC, {"model": src}) == f"input model changed: {src}"


def test_input_path_change(ran: tuple[Workspace, Path, Path], tmp_path: Path) -> None:
    ws, src, _ = ran
    other = tmp_path / "copy.onnx"
    other.write_bytes(src.read_bytes())  # same bytes, other file
    assert ws.staleness("build", SPEC, {"model": other}) == f"input model changed: {other}"


def test_input_missing(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    src.unlink()
    assert ws.staleness("build", SPEC, {"model": src}) == f"input model missing: {src}"


def test_input_roles_change(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, _ = ran
    assert ws.staleness("build", SPEC, {}) == "inputs changed"
    assert ws.staleness("build", SPEC, {"model": src, "calib": src}) == "inputs changed"


def test_output_deleted(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, out = ran
    out.unlink()
    assert ws.staleness("build", SPEC, {"model": src}) == f"output artifact missing: {out}"


def test_output_modified(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, out = ran
    out.write_bytes(b"tampered!!!!")  # same size as b"optimised v1"
    _bump_mtime(out)
    assert ws.staleness("build", SPEC, {"model": src}) == f"output artifact modified: {out}"


def test_output_modified_with_new_size(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, out = ran
    out.write_bytes(b"x")
    assert ws.staleness("build", SPEC, {"model": src}) == f"output artifact modified: {out}"


def test_tool_versions_change(ran: tuple[Workspace, Path, Path],
                              fixed_versions: dict[str, str | None]) -> None:
    ws, src, _ = ran
    fixed_versions["onnx"] = "1.17.0"
    assert ws.staleness("build", SPEC, {"model": src}) == "tool versions changed"


def test_tool_appears(ran: tuple[Workspace, Path, Path],
                      fixed_versions: dict[str, str | None]) -> None:
    ws, src, _ = ran
    fixed_versions["tensorrt"] = "8.6.0"
    assert ws.staleness("build", SPEC, {"model": src}) == "tool versions changed"


def test_rewritten_manifest_is_up_to_date_again(ran: tuple[Workspace, Path, Path]) -> None:
    ws, src, out = ran
    src.write_bytes(b"onnx bytes v2, longer")
    assert ws.staleness("build", SPEC, {"model": src}) is not None
    ws.write_manifest(StageRecord("build", SPEC, inputs={"model": str(src)},
                                  outputs={"artifact": str(out)}))
    assert ws.staleness("build", SPEC, {"model": src}) is None


def test_real_tool_versions_shape() -> None:
    versions = workspace.tool_versions()
    assert set(versions) == set(workspace._TOOLS)
    assert isinstance(versions["trtc"], str) and versions["trtc"]
    assert versions["numpy"] is not None  # a hard dependency


# --------------------------------------------------------------------------- lock


def test_lock_creates_lock_file_and_releases(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, "tiny")
    with ws.lock():
        assert (tmp_path / "tiny" / ".lock").is_file()
    with ws.lock():  # released: can be taken again
        pass


def test_lock_held_twice_raises_usage_error(tmp_path: Path) -> None:
    # flock locks belong to an open file description: a second open() of the
    # lock file, even in the same process, does not get the lock (LOCK_NB fails).
    ws = Workspace(tmp_path, "tiny")
    with ws.lock():
        with pytest.raises(UsageError) as info, Workspace(tmp_path, "tiny").lock():
            pass
        assert "is locked by another trtc run" in info.value.message
        assert info.value.exit_code == 2
        with pytest.raises(UsageError), ws.lock():  # the same object nested: also refused
            pass
    with ws.lock():  # the outer lock was released on exit despite the failed inner tries
        pass


def test_lock_released_when_body_raises(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, "tiny")
    with pytest.raises(ValueError), ws.lock():
        raise ValueError("stage failed")
    with ws.lock():
        pass


def test_locks_of_different_recipes_are_independent(tmp_path: Path) -> None:
    with Workspace(tmp_path, "a").lock(), Workspace(tmp_path, "b").lock():
        pass


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    ws = Workspace(tmp_path, "tiny")
    script = ("import sys\nfrom trtc.workspace import Workspace\nfrom trtc.errors import "
              "UsageError\ntry:\n    with Workspace(sys.argv[1], 'tiny').lock():\n        "
              "print('got')\nexcept UsageError:\n    print('locked')\n")
    with ws.lock():
        held = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                              capture_output=True, text=True, timeout=60)
    free = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert held.stdout.strip() == "locked"
    assert free.stdout.strip() == "got"


def test_manifest_beside_reads_the_stage_folder_of_an_artifact(tmp_path: Path) -> None:
    from trtc.workspace import manifest_beside

    artifact = tmp_path / "build" / "model.ort.onnx"
    artifact.parent.mkdir()
    assert manifest_beside(artifact) is None
    (artifact.parent / "manifest.json").write_text('{"metrics": {"precision": "fp16"}}')
    assert manifest_beside(artifact) == {"metrics": {"precision": "fp16"}}
    (artifact.parent / "manifest.json").write_text("[1, 2]")
    assert manifest_beside(artifact) is None  # not a manifest
    (artifact.parent / "manifest.json").write_text("{truncated")
    assert manifest_beside(artifact) is None


def test_stage_paths_and_the_shared_timing_cache(tmp_path: Path) -> None:
    from trtc.stages.build import workspace_timing_cache_dir

    ws = workspace.Workspace(tmp_path / "build", "resnet")
    assert ws.stage_dir("quantize") == tmp_path / "build" / "resnet" / "quantize"
    assert ws.manifest_path("bench") == tmp_path / "build" / "resnet" / "bench" / "manifest.json"
    # every recipe of a workspace shares one timing cache folder
    assert workspace_timing_cache_dir(ws.stage_dir("build")) == tmp_path / "build" / ".timing-cache"
