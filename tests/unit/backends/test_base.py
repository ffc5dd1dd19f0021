"""Tests for trtc.backends.base: picking a backend, the scoped Polygraphy log."""

from __future__ import annotations

import pytest

from trtc.backends.base import (
    polygraphy_build_severity,
    polygraphy_echo,
    polygraphy_severity,
    polygraphy_to_stderr,
)
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


def test_verbose_build_streams_tensorrt_verbose_lines_to_stderr(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`trtc build -v` shows TensorRT's own VERBOSE lines (Polygraphy's EXTRA_VERBOSE),
    which Python's logging would drop below WARNING without a handler."""
    pytest.importorskip("polygraphy")
    from polygraphy.logger import G_LOGGER

    polygraphy_to_stderr()
    for verbose in (False, True):
        with polygraphy_severity(polygraphy_build_severity(verbose)), polygraphy_echo(verbose):
            G_LOGGER.extra_verbose(f"[V] tactic timing, verbose={verbose}")
            G_LOGGER.verbose(f"[I] builder info, verbose={verbose}")
    err = capsys.readouterr().err
    assert "tactic timing, verbose=True" in err and "builder info, verbose=True" in err
    assert "verbose=False" not in err
    # The handler is gone afterwards: a later quiet build prints nothing.
    with polygraphy_severity("EXTRA_VERBOSE"), polygraphy_echo(False):
        G_LOGGER.extra_verbose("after")
    assert "after" not in capsys.readouterr().err
