"""Backends behind one small interface; heavy imports happen inside their functions."""

from __future__ import annotations

from trtc.backends.base import Backend, backend_for_artifact, get_backend, resolve_backend

__all__ = ["Backend", "backend_for_artifact", "get_backend", "resolve_backend"]
