"""Helpers of the bad-input and fault catalogue (issue 11): models, the CLI, the checks.

Every case asserts four things (:func:`check`): the exit code, no traceback, a message
naming the culprit (file, recipe key or tensor), and the disk state (nothing written
outside the allowed paths, no temp files, nothing complete-looking that is not).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from typer.testing import CliRunner, Result


def _root_conftest() -> Any:
    """tests/conftest.py loaded by path (its tiny-model builder), under a private name."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("trtc_catalogue_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_conv_model = _root_conftest().make_conv_model

TORCH_NET = '''
import torch.nn as nn

def build():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 8 * 8, 10))
'''


@dataclass(frozen=True)
class Models:
    """Files every case may read (never write): built once per session."""

    root: Path
    onnx: Path          # x[batch,3,8,8] -> y[batch,10]
    static: Path        # the same with batch 1
    artifact: Path      # tiny.ort.onnx, built from onnx
    no_inputs: Path     # a Constant: no inputs
    other_shape: Path   # x[batch,3,8,8] -> y[batch,192]
    nan_weight: Path    # tiny.onnx with one NaN weight
    corrupt: Path       # random bytes named .onnx
    empty: Path         # 0 bytes named .onnx
    truncated: Path     # the first half of tiny.onnx
    huge: Path          # x[1,3,100000,100000]: 112 GiB per input
    good_npz: Path      # x[4,3,8,8] + labels[4]
    factory: Path       # tinynet.py (a PyTorch factory)


def onnx_models(root: Path) -> dict[str, Path]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    tiny = make_conv_model(root / "tiny.onnx")
    static = make_conv_model(root / "static.onnx", batch=1)
    const = helper.make_node("Constant", [], ["y"], value=numpy_helper.from_array(
        np.ones((1, 10), np.float32)))
    graph = helper.make_graph([const], "noin", [], [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              root / "noinputs.onnx")
    flat = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["y"], axis=1)], "flat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 192])])
    onnx.save(helper.make_model(flat, opset_imports=[helper.make_opsetid("", 17)]),
              root / "othershape.onnx")
    huge = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 100000, 100000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 100000, 100000])])
    onnx.save(helper.make_model(huge, opset_imports=[helper.make_opsetid("", 17)]),
              root / "huge.onnx")
    model = onnx.load(str(tiny))
    for t in model.graph.initializer:
        if t.name == "fc":
            a = numpy_helper.to_array(t).copy()
            a[0, 0] = np.nan
            t.CopyFrom(numpy_helper.from_array(a, "fc"))
    onnx.save(model, root / "nanweight.onnx")
    (root / "corrupt.onnx").write_bytes(np.random.default_rng(0).bytes(2048))
    (root / "empty.onnx").write_bytes(b"")
    data = tiny.read_bytes()
    (root / "truncated.onnx").write_bytes(data[: len(data) // 2])
    return {"onnx": tiny, "static": static, "no_inputs": root / "noinputs.onnx",
            "other_shape": root / "othershape.onnx", "nan_weight": root / "nanweight.onnx",
            "corrupt": root / "corrupt.onnx", "empty": root / "empty.onnx",
            "truncated": root / "truncated.onnx", "huge": root / "huge.onnx"}


def invoke(*args: Any) -> Result:
    """``trtc ARGS`` in-process (typer's CliRunner: stdout and stderr together)."""
    from trtc.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args])


def tree(root: Path) -> set[str]:
    """Every path under ``root``, relative (the disk state a case compares)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def check(result: Result, code: int, *names: str, before: Iterable[str] = (),
          root: Path | None = None, allowed: Callable[[str], bool] | None = None) -> str:
    """Assert exit code, no traceback, the message naming each of ``names``, the disk.

    Args:
        before: the paths under ``root`` before the command.
        root: the folder whose state is checked (default: the current folder).
        allowed: which new relative paths may appear (default: none).

    Returns:
        The output, for further checks.
    """
    out = result.output
    assert result.exit_code == code, f"exit {result.exit_code}, wanted {code}:\n{out}"
    assert "Traceback" not in out, out
    assert "internal error" not in out, out
    for name in names:
        assert name in out, f"{name!r} not named in:\n{out}"
    root = root or Path.cwd()
    new = tree(root) - set(before)
    stray = sorted(p for p in new if not (allowed and allowed(p)))
    assert not stray, f"written although the command failed: {stray}"
    temps = sorted(p for p in tree(root) if p.endswith(".tmp") or "/.tmp" in p)
    assert not temps, f"temp files left: {temps}"
    return out


def write_recipe(folder: Path, data: dict[str, Any] | str | bytes,
                 name: str = "recipe.yaml") -> Path:
    path = folder / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data)
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def base_recipe(models: Models, **sections: Any) -> dict[str, Any]:
    """A valid recipe for tiny.onnx on ONNX Runtime; ``sections`` merge into it."""
    recipe: dict[str, Any] = {"name": "tiny", "model": {"source": f"onnx:{models.onnx}"},
                              "build": {"backend": "onnxruntime"}}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(recipe.get(key), dict):
            recipe[key] = {**recipe[key], **value}
        else:
            recipe[key] = value
    return recipe


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
