"""Tests for trtc.backends.base: picking a backend, the scoped Polygraphy log."""

from __future__ import annotations

import pytest

from trtc.backends.base import polygraphy_severity
from trtc.backends.registry import backend_for_artifact, get_backend
from trtc.errors import UsageError


def test_backends_by_name_and_by_artifact() -> None:
    assert get_backend("onnxruntime").name == "onnxruntime"
    assert get_backend("tensorrt").artifact_name == "model.engine"  # no TensorRT import needed
    assert backend_for_artifact("m.ort.onnx").name == "onnxruntime"
    assert backend_for_artifact("m.PLAN").name == "tensorrt"
    with pytest.raises(UsageError, match="unknown backend"):
        get_backend("openvino")
    with pytest.raises(UsageError, match="cannot tell which backend"):
        backend_for_artifact("m.pt")


def test_polygraphy_severity_is_restored() -> None:
    from polygraphy.logger import G_LOGGER

    before = G_LOGGER.module_severity
    with polygraphy_severity("CRITICAL"):
        assert G_LOGGER.module_severity != before
    assert G_LOGGER.module_severity == before
    with pytest.raises(RuntimeError), polygraphy_severity("CRITICAL"):
        raise RuntimeError("boom")
    assert G_LOGGER.module_severity == before
