"""Run user code named by ``python:<module or file.py>:<function>`` references."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trtc.errors import TrtcError, UsageError


def split_ref(ref: str) -> tuple[str, str]:
    """Split ``python:<module or file.py>:<function>`` into (target, function)."""
    target, _, func_name = ref[len("python:"):].rpartition(":")
    return target, func_name


def ref_file(ref: str) -> str | None:
    """The file a ``python:file.py:fn`` reference runs, or None (not python:, or a module)."""
    if not ref.startswith("python:"):
        return None
    target, _ = split_ref(ref)
    return target if target.endswith(".py") else None


def load_callable(ref: str, what: str,
                  error: type[TrtcError] = UsageError) -> Callable[..., Any]:
    """Import ``python:<module or /path/file.py>:<function>`` (runs user code).

    A ``file.py`` is loaded by its path (``spec_from_file_location``) under a private
    module name; a module name is imported with the current folder searched last, so
    user code never shadows an installed package.

    Args:
        ref: the reference, file paths already resolved against the recipe.
        what: the recipe key it came from, for messages.
        error: the error class (exit code) for a missing file, failing import or
            missing function: ModelError for model factories, DataError for loaders.
    """
    target, func_name = split_ref(ref)
    try:
        if target.endswith(".py"):
            if not Path(target).is_file():
                raise error(f"{what} {ref}: file not found: {target}",
                            "paths are relative to the recipe file")
            mod_name = f"trtc_user_{Path(target).stem}"
            spec = importlib.util.spec_from_file_location(mod_name, target)
            if spec is None or spec.loader is None:
                raise error(f"{what} {ref}: cannot import {target}", "check the file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        else:
            # The current folder goes last, never first: installed packages (onnxruntime,
            # numpy, torch...) always win over a same-named file lying there.
            cwd = str(Path.cwd())
            if cwd not in sys.path and "" not in sys.path:
                sys.path.append(cwd)
            module = importlib.import_module(target)
    except TrtcError:
        raise
    except Exception as exc:
        raise error(f"{what} {ref}: importing {target} failed: {type(exc).__name__}: {exc}",
                    "fix the module, or check the python:<module>:<function> reference"
                    ) from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise error(f"{what} {ref}: {target} has no function {func_name!r}",
                    "check the name after the last ':'")
    return func


def call_user_function(ref: str, what: str, error: type[TrtcError], hint: str) -> Any:
    """Import ``ref`` with :func:`load_callable` and call it with no arguments.

    Raises:
        error: the import fails, or the function raises (named with the exception).
    """
    func = load_callable(ref, what, error)
    try:
        return func()
    except Exception as exc:
        raise error(f"{what} {ref} raised {type(exc).__name__}: {exc}", hint) from None
