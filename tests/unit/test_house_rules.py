"""The layout rules of STYLE.md, checked on the source: who may import what."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "trtc"
STDLIB_OK = {"__future__", "dataclasses", "pathlib", "typing", "json", "sys", "traceback",
             "collections", "os", "time", "importlib"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Return (module, at_top_level) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def _modules(sub: str = "") -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("cli"), ids=lambda p: p.name)
def test_cli_imports_only_typer_rich_stdlib_and_trtc(path: Path) -> None:
    for module, _ in _imports(path):
        root = module.split(".")[0]
        assert root in {"typer", "rich", "trtc"} | STDLIB_OK, f"{path.name} imports {module}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_heavy_runtimes_are_imported_only_inside_backend_functions(path: Path) -> None:
    rel = path.relative_to(PKG)
    for module, at_top in _imports(path):
        root = module.split(".")[0]
        if root in {"tensorrt", "onnxruntime", "torch", "torchvision", "cuda"}:
            # trtc/optimize rewrites ONNX graphs with onnxruntime's quantization/float16 tools.
            allowed = {"backends", "optimize"} if root == "onnxruntime" else {"backends"}
            assert rel.parts[0] in allowed, f"{rel} imports {module} outside trtc/backends"
            assert not at_top, f"{rel} imports {module} at module level"
        if root == "tensorrt":
            assert rel == Path("backends/tensorrt.py"), f"{rel} imports tensorrt"
        if root == "onnx_graphsurgeon":
            assert rel.parts[0] in ("graph", "optimize") and not at_top, \
                f"{rel} imports onnx_graphsurgeon"


@pytest.mark.parametrize("path", [p for p in _modules() if "cli" not in p.parts],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_library_code_never_exits(path: Path) -> None:
    source = path.read_text()
    assert "sys.exit" not in source and "typer.Exit" not in source, path


def test_committed_recipe_schema_is_current() -> None:
    import json

    from trtc.recipe import json_schema

    committed = json.loads((PKG.parent / "docs" / "recipe.schema.json").read_text())
    assert committed == json_schema(), "regenerate docs/recipe.schema.json (see README)"


BLOCK_OPTIONAL = '''
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "torchvision", "tensorrt", "cuda", "onnxscript"}:
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None
sys.meta_path.insert(0, Block())
'''


def _run_blocked(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK_OPTIONAL + code], capture_output=True,
                          text=True, cwd=PKG.parent, timeout=120)


def test_every_module_imports_and_every_help_runs_without_optional_packages() -> None:
    # As Polygraphy does: with torch/tensorrt/cuda missing, every submodule imports and
    # every subcommand's -h works.
    proc = _run_blocked('''
import pkgutil, importlib, trtc
from typer.testing import CliRunner
for mod in pkgutil.walk_packages(trtc.__path__, "trtc."):
    importlib.import_module(mod.name)
from trtc.cli.app import app
runner = CliRunner()
for cmd in ([], ["export"], ["build"], ["verify"], ["bench"], ["run"], ["inspect"]):
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0, (cmd, result.output)
print("OK")
''')
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stderr


def test_pytorch_source_without_torch_is_a_missing_dependency(tmp_path: Path) -> None:
    proc = _run_blocked(f'''
from typer.testing import CliRunner
from trtc.cli.app import app
result = CliRunner().invoke(app, ["export", "torchvision:resnet18", "--input",
                                  "input:1x3x224x224", "-o", "{tmp_path / 'r.onnx'}"])
print("EXIT", result.exit_code)
print(result.output)
''')
    assert "EXIT 3" in proc.stdout, proc.stdout + proc.stderr
    assert "PyTorch is needed" in proc.stdout and "pip install 'trtc[torch]'" in proc.stdout
    assert not (tmp_path / "r.onnx").exists()
