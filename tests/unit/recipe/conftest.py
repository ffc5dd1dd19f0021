"""Fixtures of the trtc.recipe tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def recipe_dir(tmp_path: Path) -> Path:
    d = tmp_path / "configs"
    d.mkdir()
    return d.resolve()
