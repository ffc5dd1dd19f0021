"""Backends behind one small interface; heavy imports happen inside their functions."""

from __future__ import annotations

from trtc.backends.base import Backend, BuildRequest, PreparedBuild, ProfileHint, Timer
from trtc.backends.registry import backend_for_artifact, get_backend, resolve_backend

__all__ = ["Backend", "BuildRequest", "PreparedBuild", "ProfileHint", "Timer",
           "backend_for_artifact", "get_backend", "resolve_backend"]
