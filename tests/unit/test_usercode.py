"""Tests for trtc.usercode: python:<module or file.py>:<function> references."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtc.errors import DataError, ModelError, UsageError
from trtc.usercode import call_user_function, load_callable, ref_file, split_ref

USER = '''
def make():
    return {"x": 1}

def explode():
    raise RuntimeError("kaput")

not_callable = 3
'''


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "user_mod.py"
    path.write_text(USER)
    return path


def test_split_and_ref_file(user_file: Path) -> None:
    assert split_ref(f"python:{user_file}:make") == (str(user_file), "make")
    assert split_ref("python:pkg.mod:fn") == ("pkg.mod", "fn")
    assert ref_file(f"python:{user_file}:make") == str(user_file)
    assert ref_file("python:pkg.mod:fn") is None  # a module, not a file
    assert ref_file("npz:data.npz") is None


def test_load_and_call_a_file_function(user_file: Path) -> None:
    assert load_callable(f"python:{user_file}:make", "model.source")() == {"x": 1}
    assert call_user_function(f"python:{user_file}:make", "data", DataError, "fix") == {"x": 1}


def test_load_a_module_function_from_the_working_directory(
        user_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(user_file.parent)
    monkeypatch.syspath_prepend(str(user_file.parent))
    assert load_callable("python:user_mod:make", "data")() == {"x": 1}


def test_errors_carry_the_callers_class(user_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="file not found"):
        load_callable(f"python:{tmp_path / 'none.py'}:make", "model.source", ModelError)
    with pytest.raises(UsageError, match="has no function 'missing'"):
        load_callable(f"python:{user_file}:missing", "x")
    with pytest.raises(DataError, match="has no function 'not_callable'"):
        load_callable(f"python:{user_file}:not_callable", "x", DataError)
    with pytest.raises(DataError, match="importing no_such_module_xyz failed"):
        load_callable("python:no_such_module_xyz:f", "x", DataError)
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('half installed')\n")
    with pytest.raises(ModelError, match="ImportError: half installed"):
        load_callable(f"python:{broken}:f", "model.source", ModelError)


def test_a_raising_function_names_the_exception(user_file: Path) -> None:
    with pytest.raises(DataError) as info:
        call_user_function(f"python:{user_file}:explode", "data source", DataError, "fix it")
    assert info.value.message.endswith("raised RuntimeError: kaput")
    assert info.value.hint == "fix it"
