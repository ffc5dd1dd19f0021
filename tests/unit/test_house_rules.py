"""The layout rules of STYLE.md, checked on the source: who may import what."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "trtc"
STDLIB_OK = {"__future__", "dataclasses", "pathlib", "typing", "json", "sys", "traceback",
             "collections", "os", "time", "importlib", "contextlib", "functools", "inspect",
             "signal", "types"}

#: The layers, top to bottom: a module may import its own unit, any unit of a lower
#: layer, and within its layer only the units SIDEWAYS names. A unit is a subpackage
#: or top-level module of trtc ("trtc" itself is the package root: __version__).
LAYERS: list[tuple[str, ...]] = [
    ("__main__",),
    ("cli",),
    ("api",),
    ("pipeline",),
    ("stages",),
    ("optimize", "backends", "tensorrt", "serving"),
    ("graph", "data"),
    ("recipe", "workspace", "metrics", "shapes", "usercode", "report", "report_html", "junit",
     "sweep", "errors", "trtc"),
]
#: Imports allowed inside one layer (importer -> imported); all others go down only.
SIDEWAYS: dict[str, set[str]] = {
    "optimize": {"backends", "tensorrt"},   # the calibration session; build settings
    "backends": {"tensorrt"},               # the TensorRT adapter runs the planned settings
    "serving": {"tensorrt"},                # an engine's sidecar says its I/O and GPU kind
    "data": {"graph"},
    "recipe": {"errors", "sweep", "shapes"}, "workspace": {"errors", "trtc"}, "shapes": {"errors"},
    "usercode": {"errors"}, "metrics": {"errors"}, "junit": {"workspace", "sweep"},
}
#: Units that may import only these units (besides themselves).
ONLY: dict[str, set[str]] = {
    "cli": {"api", "recipe", "errors", "report", "junit", "trtc"},
    # Pure planning: the model's inputs, calibration feeds and sidecar files, no tensorrt.
    "tensorrt": {"recipe", "shapes", "errors", "graph", "data", "workspace", "metrics"},
}


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


def module_name(rel: Path) -> str:
    """``stages/build.py`` -> ``trtc.stages.build``; ``recipe/__init__.py`` -> ``trtc.recipe``."""
    parts = ["trtc", *rel.with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return inside


def trtc_imports(name: str, source: str, known: set[str], *, typing_too: bool = True
                 ) -> set[str]:
    """The trtc modules ``name`` imports (module level and inside functions alike).

    ``typing_too=False`` leaves out imports under ``if TYPE_CHECKING:``, which never run
    (they cannot make a cycle, but they still must point down the layers).
    """
    found: set[str] = set()
    package = name if f"{name}.__init__" in known else name.rpartition(".")[0]
    tree = ast.parse(source)
    skip = set() if typing_too else _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "trtc"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "trtc":
                continue
            # `from trtc import api` / `from trtc.cli import app`: the submodule when it is one.
            subs = {f"{base}.{a.name}" for a in node.names} & known
            found |= subs or {base}
    return found


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "trtc"


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes up, or sideways where SIDEWAYS / ONLY do not allow it."""
    rank = {u: i for i, layer in enumerate(LAYERS) for u in layer}
    problems = []
    for module, targets in sorted(graph.items()):
        src = unit_of(module)
        for target in sorted(targets):
            dst = unit_of(target)
            if dst == src:
                continue
            if src not in rank or dst not in rank:
                problems.append(f"{module} -> {target}: {src if src not in rank else dst} "
                                "is in no layer (add it to LAYERS)")
            elif src in ONLY and dst not in ONLY[src]:
                problems.append(f"{module} -> {target}: {src} may import only "
                                f"{', '.join(sorted(ONLY[src]))}")
            elif rank[dst] < rank[src]:
                problems.append(f"{module} -> {target}: {src} is below {dst} (upward import)")
            elif rank[dst] == rank[src] and dst not in SIDEWAYS.get(src, set()):
                problems.append(f"{module} -> {target}: sideways {src} -> {dst} not allowed")
    return problems


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles between modules (each as the path around it), via a DFS."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def import_graph(sources: dict[str, str], *, typing_too: bool = True) -> dict[str, set[str]]:
    """{module: trtc modules it imports} for ``sources`` ({module name: source text})."""
    known = set(sources) | {f"{m}.__init__" for m in sources
                            if any(o.startswith(m + ".") for o in sources)}
    return {m: trtc_imports(m, text, known, typing_too=typing_too)
            for m, text in sources.items()}


def _package_sources() -> dict[str, str]:
    return {module_name(p.relative_to(PKG)): p.read_text() for p in _modules()}


def test_every_import_points_down_the_layers() -> None:
    problems = layer_violations(import_graph(_package_sources()))
    assert not problems, "\n".join(problems)


def test_there_is_no_import_cycle() -> None:
    cycles = import_cycles(import_graph(_package_sources(), typing_too=False))
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


SYNTHETIC = {
    "trtc": "__version__ = '0'",
    "trtc.errors": "class TrtcError(Exception): ...",
    "trtc.metrics": "from trtc.errors import TrtcError",
    "trtc.stages": "",
    "trtc.stages.bench": "from trtc.metrics import x\nfrom trtc.backends import b",
    "trtc.backends": "def f():\n    from trtc.tensorrt import plan",
    "trtc.tensorrt": "from trtc.errors import TrtcError",
    "trtc.cli": "",
    "trtc.cli.app": "from trtc import api",
    "trtc.api": "from trtc.pipeline import Plan",
    "trtc.pipeline": "from trtc.stages import bench",
}


def test_layer_check_passes_a_clean_module_set() -> None:
    graph = import_graph(SYNTHETIC)
    assert graph["trtc.cli.app"] == {"trtc.api"}
    assert graph["trtc.backends"] == {"trtc.tensorrt"}  # inside a function counts too
    assert layer_violations(graph) == [] and import_cycles(graph) == []


@pytest.mark.parametrize(("module", "line", "expected"), [
    # an upward import at module level, and one hidden inside a function
    ("trtc.metrics", "from trtc.cli import app", "metrics is below cli (upward import)"),
    ("trtc.metrics", "def f():\n    from trtc.stages.bench import x",
     "metrics is below stages (upward import)"),
    ("trtc.backends", "import trtc.stages.bench", "backends is below stages"),
    ("trtc.tensorrt", "from trtc.backends import b", "tensorrt may import only"),
    ("trtc.cli.app", "from trtc.pipeline import Plan", "cli may import only"),
    ("trtc.stages.bench", "from trtc.unheard import x", "unheard is in no layer"),
])
def test_layer_check_fails_on_a_bad_import(module: str, line: str, expected: str) -> None:
    sources = {**SYNTHETIC, module: SYNTHETIC[module] + "\n" + line}
    sources.setdefault("trtc.unheard", "")
    problems = layer_violations(import_graph(sources))
    assert any(expected in p for p in problems), problems


def test_cycle_check_finds_a_cycle() -> None:
    sources = {**SYNTHETIC, "trtc.errors": "def f():\n    import trtc.metrics"}
    assert import_cycles(import_graph(sources)) == [
        ["trtc.errors", "trtc.metrics", "trtc.errors"]]
    typing_only = {**SYNTHETIC, "trtc.errors": "if TYPE_CHECKING:\n    import trtc.metrics"}
    assert import_cycles(import_graph(typing_only, typing_too=False)) == []


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
for cmd in ([], ["export"], ["prune"], ["quantize"], ["build"], ["verify"], ["bench"],
            ["run"], ["inspect"]):
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
