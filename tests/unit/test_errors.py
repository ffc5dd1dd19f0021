"""Tests for trtc.errors: one exit code per category, as DESIGN.md lists them."""

from __future__ import annotations

import pytest

from trtc.errors import (
    EXIT_CODES,
    DataError,
    DependencyError,
    ModelError,
    RecipeError,
    TrtcError,
    UsageError,
    VerificationError,
)


@pytest.mark.parametrize(("cls", "code"), [
    (VerificationError, 1),
    (UsageError, 2),
    (RecipeError, 2),
    (DependencyError, 3),
    (ModelError, 4),
    (DataError, 5),
    (TrtcError, 70),
])
def test_exit_code_per_class(cls: type[TrtcError], code: int) -> None:
    assert cls.exit_code == code
    assert cls("boom").exit_code == code


def test_categories_have_distinct_codes() -> None:
    # RecipeError is a UsageError (same category, same code); every other category differs.
    categories = [VerificationError, UsageError, DependencyError, ModelError, DataError, TrtcError]
    codes = [c.exit_code for c in categories]
    assert len(set(codes)) == len(codes)
    assert issubclass(RecipeError, UsageError)
    assert 0 not in codes


def test_every_class_is_a_trtc_error_and_an_exception() -> None:
    for cls in (VerificationError, UsageError, RecipeError, DependencyError, ModelError,
                DataError):
        assert issubclass(cls, TrtcError)
        assert issubclass(cls, Exception)


def test_exit_code_table() -> None:
    assert EXIT_CODES == {
        "ok": 0,
        "verification failed": 1,
        "usage or recipe error": 2,
        "missing dependency or hardware": 3,
        "model error": 4,
        "data error": 5,
        "disk error": 6,
        "timeout": 124,
        "interrupted (Ctrl-C)": 130,
        "terminated (SIGTERM)": 143,
        "internal bug": 70,
    }


def test_message_and_hint_are_kept() -> None:
    err = DataError("input 'x' is int64", "convert it")
    assert err.message == "input 'x' is int64"
    assert err.hint == "convert it"
    assert str(err) == "input 'x' is int64"
    assert UsageError("no hint").hint is None


def test_to_dict() -> None:
    assert ModelError("bad graph", "re-export it").to_dict() == {
        "error": "model error", "message": "bad graph", "hint": "re-export it", "exit_code": 4}
    assert RecipeError("unknown key").to_dict() == {
        "error": "recipe error", "message": "unknown key", "hint": None, "exit_code": 2}
    assert VerificationError("drift").to_dict()["exit_code"] == 1
    assert DependencyError("no TensorRT").to_dict()["error"] == "missing dependency"
    assert DataError("x").to_dict()["error"] == "data error"
    assert UsageError("x").to_dict()["error"] == "usage error"


def test_errors_can_be_raised_and_caught_by_category() -> None:
    with pytest.raises(UsageError) as info:
        raise RecipeError("bench.durations_s: unknown key")
    assert info.value.exit_code == 2
