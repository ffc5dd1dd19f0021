"""The filesystem: outputs that must not be replaced, missing folders, read-only and full
disks (a small tmpfs, where the runner is root and may mount), temp files, external data."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from catalogue import Models, base_recipe, check, invoke, is_root, tree, write_recipe

#: One flags-mode command per stage that writes -o (OUT is replaced by the target path).
WRITERS = {
    "build": "build {onnx} -o OUT --backend onnxruntime",
    "prune": "prune {onnx} -o OUT --method magnitude --ratio 0.5",
    "quantize": "quantize {onnx} -o OUT --calib-data random --calib-samples 2 "
                "--target onnxruntime-cpu",
    "export": "export {onnx} -o OUT",
}


def _args(models: Models, command: str, out: Path) -> list[str]:
    line = WRITERS[command].format(onnx=models.onnx)
    return [str(out) if a == "OUT" else a for a in line.split()]


def _target(kind: str, tmp_path: Path) -> tuple[Path, Callable[[], None]]:
    """Make the -o target of ``kind``; return it and a check that it is unharmed."""
    if kind == "directory":
        path = tmp_path / "outdir"
        path.mkdir()
        return path, lambda: path.is_dir() or pytest.fail("directory replaced")
    if kind == "symlink":
        real = tmp_path / "real.txt"
        real.write_text("keep me")
        path = tmp_path / "link.onnx"
        path.symlink_to(real)
        return path, lambda: (path.is_symlink() and real.read_text() == "keep me") or \
            pytest.fail("symlink or its target replaced")
    if kind == "dangling symlink":
        path = tmp_path / "dangling.onnx"
        path.symlink_to(tmp_path / "nowhere" / "x.onnx")
        return path, lambda: (path.is_symlink() and not (tmp_path / "nowhere").exists()) or \
            pytest.fail("dangling symlink followed")
    if kind == "fifo":
        path = tmp_path / "pipe.onnx"
        os.mkfifo(path)
        return path, lambda: stat.S_ISFIFO(path.lstat().st_mode) or pytest.fail("fifo replaced")
    if kind == "device":
        # A null device of the case's own (never the system's /dev/null: a regression
        # would replace it for every process on the machine).
        path = tmp_path / "null.onnx"
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except (PermissionError, AttributeError, OSError):
            pytest.skip("creating a device node needs root")
        return path, lambda: stat.S_ISCHR(path.stat().st_mode) or pytest.fail("device replaced")
    if kind == "missing folder":
        path = tmp_path / "no" / "such" / "dir" / "out.onnx"
        return path, lambda: (not (tmp_path / "no").exists()) or pytest.fail("folder created")
    if kind == "parent is a file":
        (tmp_path / "afile").write_text("x")
        path = tmp_path / "afile" / "out.onnx"
        return path, lambda: (tmp_path / "afile").read_text() == "x" or pytest.fail("file hurt")
    raise AssertionError(kind)


KINDS = ["directory", "symlink", "dangling symlink", "fifo", "device", "missing folder",
         "parent is a file"]
NAMED = {"directory": "is a directory", "symlink": "symbolic link",
         "dangling symlink": "symbolic link", "fifo": "not a regular file",
         "device": "not a regular file", "missing folder": "does not exist",
         "parent is a file": "is not a folder"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", list(WRITERS))
def test_outputs_that_must_not_be_replaced(tmp_path: Path, models: Models, command: str,
                                           kind: str) -> None:
    out, unharmed = _target(kind, tmp_path)
    before = tree(tmp_path)
    check(invoke(*_args(models, command, out)), 6, str(out), NAMED[kind], before=before)
    unharmed()


@pytest.mark.parametrize("command", ["verify", "bench"])
def test_a_report_path_that_is_a_directory(tmp_path: Path, models: Models,
                                           command: str) -> None:
    from trtc import api
    from trtc.errors import DiskError

    (tmp_path / "rep").mkdir()
    before = tree(tmp_path)
    with pytest.raises(DiskError, match="--report .*rep: is a directory"):
        if command == "verify":
            api.verify(models.artifact, reference=models.onnx, report=tmp_path / "rep")
        else:
            api.bench(models.artifact, duration_s=0.01, report=tmp_path / "rep")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("workspace", ["afile", "afile/sub"])
@pytest.mark.parametrize("command", ["run", "verify", "bench", "prune"])
def test_a_workspace_that_is_a_file(tmp_path: Path, models: Models, command: str,
                                    workspace: str) -> None:
    (tmp_path / "afile").write_text("not a folder")
    recipe = write_recipe(tmp_path, base_recipe(models, bench={"duration_s": 0.01}))
    before = tree(tmp_path)
    check(invoke(command, recipe, "--workspace", tmp_path / workspace), 6, "afile",
          before=before)
    assert (tmp_path / "afile").read_text() == "not a folder"


def test_flags_mode_quantize_writes_only_beside_its_output(tmp_path: Path,
                                                          models: Models) -> None:
    (tmp_path / "q").mkdir()
    out = tmp_path / "q" / "m.int8.onnx"
    result = invoke(*_args(models, "quantize", out))
    assert result.exit_code == 0, result.output
    assert sorted(p for p in tree(tmp_path) if "/" not in p) == ["q"]  # nothing else in cwd
    assert out.is_file() and not (tmp_path / "build").exists()


def test_a_failed_write_leaves_no_temp_and_no_final_file(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from trtc.workspace import atomic_path

    final = tmp_path / "model.onnx"
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_bytes(b"half")
        assert str(os.getpid()) in tmp.name
        raise RuntimeError("writer failed")
    assert tree(tmp_path) == set()


def test_stale_temps_of_dead_processes_are_swept(tmp_path: Path) -> None:
    from trtc.workspace import atomic_path

    dead = subprocess.run(["true"], check=True)
    del dead
    proc = subprocess.Popen(["true"])
    proc.wait()  # a PID that no longer runs
    stale = tmp_path / f".model.onnx.{proc.pid}.deadbeef.tmp"
    stale.write_bytes(b"")
    mine = tmp_path / f".model.onnx.{os.getpid()}.cafebabe.tmp"  # alive: kept
    mine.write_bytes(b"")
    with atomic_path(tmp_path / "model.onnx") as tmp:
        tmp.write_bytes(b"ok")
    assert not stale.exists() and mine.exists()
    assert (tmp_path / "model.onnx").read_bytes() == b"ok"


def test_large_models_reference_external_data_by_the_final_name(
        tmp_path: Path, models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx

    from trtc.graph import cleanup

    monkeypatch.setattr(cleanup, "_TWO_GIB", 1)  # every model is "over 2 GiB"
    out = tmp_path / "pruned.onnx"
    result = invoke(*_args(models, "prune", out))
    assert result.exit_code == 0, result.output
    model = onnx.load(str(out), load_external_data=False)
    locations = {e.value for t in model.graph.initializer for e in t.external_data
                 if e.key == "location"}
    assert locations == {"pruned.onnx.data"}, locations
    assert (tmp_path / "pruned.onnx.data").is_file()
    assert not [p for p in tree(tmp_path) if p.endswith(".tmp") or ".tmp." in p]


def test_inspect_never_follows_external_data_outside_the_models_folder(
        tmp_path: Path, models: Models) -> None:
    import onnx

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * 12345)
    model = onnx.load(str(models.onnx))
    tensor = model.graph.initializer[0]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../secret.bin"
    tensor.ClearField("raw_data")
    (tmp_path / "m").mkdir()
    onnx.save(model, str(tmp_path / "m" / "evil.onnx"))
    size = (tmp_path / "m" / "evil.onnx").stat().st_size
    result = invoke("inspect", tmp_path / "m" / "evil.onnx", "--json")
    assert "Traceback" not in result.output
    import json

    if result.exit_code == 0:
        assert json.loads(result.stdout)["size_bytes"] == size  # secret.bin never counted


# --------------------------------------------------------------------------- injected faults


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
@pytest.mark.parametrize("command", ["build", "prune", "export"])
def test_filesystem_errors_are_disk_errors_naming_the_file(
        tmp_path: Path, models: Models, monkeypatch: pytest.MonkeyPatch, command: str,
        code: int) -> None:
    import trtc.workspace

    def replace(src: object, dst: object) -> None:
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(trtc.workspace.os, "replace", replace)
    out = tmp_path / "out.onnx"
    before = tree(tmp_path)
    out_text = check(invoke(*_args(models, command, out)), 6, "out.onnx", "disk error",
                     before=before)
    assert "INVALID_PROTOBUF" not in out_text and "re-export" not in out_text


def test_a_stray_oserror_is_a_disk_error_not_a_bug(tmp_path: Path, models: Models,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from trtc import api

    def build(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.bin"))

    monkeypatch.setattr(api, "build", build)
    check(invoke("build", models.onnx, "-o", tmp_path / "o.ort.onnx"), 6, "x.bin",
          "disk is full")


# --------------------------------------------------------------------------- real tmpfs


@contextlib.contextmanager
def _tmpfs(where: Path, options: str) -> Iterator[Path]:
    if not is_root():
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                      capture_output=True).returncode != 0:
        pytest.skip("mount does not work here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize("command", list(WRITERS))
def test_a_read_only_disk(tmp_path: Path, models: Models, command: str) -> None:
    with _tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        check(invoke(*_args(models, command, ro / "out.onnx")), 6, str(ro), "read-only",
              root=ro)


@pytest.mark.parametrize("command", list(WRITERS))
def test_a_full_disk(tmp_path: Path, models: Models, command: str) -> None:
    with _tmpfs(tmp_path / "full", "size=64k") as full:
        filler = full / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as f:
            f.write(b"\0" * (60 << 10))
        before = tree(full)
        out = check(invoke(*_args(models, command, full / "out.onnx")), 6, str(full),
                    before=before, root=full)
        assert "full" in out or "space" in out, out
        assert "INVALID_PROTOBUF" not in out and "re-export" not in out
