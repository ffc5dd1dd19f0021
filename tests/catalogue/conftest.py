"""Fixtures of the bad-input and fault catalogue (issue 11); helpers in catalogue.py."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from catalogue import TORCH_NET, Models, onnx_models


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    from trtc import api

    root = tmp_path_factory.mktemp("catalogue-models")
    paths = onnx_models(root)
    api.build(paths["onnx"], output=root / "tiny.ort.onnx", backend="onnxruntime")
    rng = np.random.default_rng(0)
    np.savez(root / "good.npz", x=rng.standard_normal((4, 3, 8, 8)).astype(np.float32),
             labels=np.arange(4))
    (root / "tinynet.py").write_text(TORCH_NET)
    for p in root.iterdir():
        os.chmod(p, 0o444)  # cases only read these
    return Models(root=root, artifact=root / "tiny.ort.onnx", good_npz=root / "good.npz",
                  factory=root / "tinynet.py", **paths)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case runs from its own empty folder: stray relative writes land there."""
    monkeypatch.chdir(tmp_path)


