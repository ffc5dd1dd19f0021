"""Read a YAML recipe: ``${VAR}`` from the environment, paths relative to the recipe file.

``python:module:function`` references run user code, as a Makefile does.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from trtc.errors import RecipeError
from trtc.recipe.schema import BuildSpec, Recipe
from trtc.recipe.validate import join, parse_recipe


def load_recipe(path: str | Path) -> Recipe:
    """Read a YAML recipe, validate it and resolve its paths.

    Raises:
        RecipeError: the file is missing, is not YAML, or does not match the schema.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}",
                          "check the path; recipes live in configs/ (e.g. configs/digits.yaml)")
    try:
        raw = safe_load_bounded(read_text(path), str(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(f"{path}{where}: malformed YAML: {problem}",
                          "fix the YAML syntax at that position") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: the recipe must be a mapping of sections, got "
                          f"{type(raw).__name__}", "start the file with 'name:' and 'model:'")
    raw = _expand_env(raw, path, "")
    raw.setdefault("name", path.stem)
    recipe = parse_recipe(raw, source=str(path))
    return resolve_paths(dataclasses.replace(recipe, path=path.resolve()))



#: Bounds on what a recipe may be: a recipe is a few hundred lines; these refuse alias
#: bombs ("billion laughs") and deep nesting in milliseconds, before any key is read.
MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 100_000


def read_text(path: Path) -> str:
    """The recipe's text: UTF-8 (a BOM allowed), no NUL bytes, at most :data:`MAX_BYTES`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read the recipe: {exc.strerror}",
                          "check the path and its permissions") from None
    if len(data) > MAX_BYTES:
        raise RecipeError(f"{path}: {len(data)} bytes is too large for a recipe "
                          f"(limit {MAX_BYTES})", "is this the right file?")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\0" in data:
        raise RecipeError(f"{path}: not a text recipe (binary, or UTF-16: it holds NUL bytes)",
                          "save the recipe as UTF-8 YAML")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{path}: not UTF-8 text (byte {exc.start}: "
                          f"{data[exc.start:exc.start + 1]!r})",
                          "save the recipe as UTF-8 YAML") from None


def safe_load_bounded(text: str, source: str = "<recipe>") -> Any:
    """``yaml.safe_load`` that refuses deep nesting and alias expansion past the bounds.

    The events are read first (PyYAML's parser is not recursive), so nesting is
    counted before the composer recurses; the composed node graph is then sized with
    every alias expanded (memoised, so a bomb is measured without being built).
    """
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else 0
                raise RecipeError(f"{source}:{line}: nested more than "
                                  f"{MAX_DEPTH} levels deep", "a recipe is a few levels deep; "
                                  "is this the right file?")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        sizes: dict[int, int] = {}
        visiting: set[int] = set()

        def size(n: yaml.Node) -> int:
            if id(n) in sizes:
                return sizes[id(n)]
            if id(n) in visiting:
                raise RecipeError(f"{source}:{n.start_mark.line + 1}: an alias refers to "
                                  "itself (a recursive '*name')", "remove the alias")
            visiting.add(id(n))
            total = 1
            if isinstance(n, yaml.SequenceNode):
                total += sum(size(c) for c in n.value)
            elif isinstance(n, yaml.MappingNode):
                total += sum(size(k) + size(v) for k, v in n.value)
            visiting.discard(id(n))
            sizes[id(n)] = total
            return total

        try:
            total = size(node)
        except RecursionError:  # aliases of aliases nest deeper than the text shows
            raise RecipeError(f"{source}: aliases nest more than Python can follow",
                              "use fewer nested aliases") from None
        if total > MAX_NODES:
            raise RecipeError(f"{source}: the recipe expands to more than {MAX_NODES} values "
                              "(YAML aliases: '*name')", "use fewer nested aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def base_dir(recipe: Recipe) -> Path:
    return recipe.path.parent if recipe.path else Path.cwd()


def resolve_paths(recipe: Recipe) -> Recipe:
    """Make every file path in the recipe absolute, relative to the recipe file."""
    root = base_dir(recipe)
    model = recipe.model
    model = dataclasses.replace(
        model,
        source=resolve_ref(model.source, root),
        weights=str((root / model.weights).resolve()) if model.weights else None,
    )
    verify = dataclasses.replace(
        recipe.verify,
        data=dataclasses.replace(recipe.verify.data,
                                 source=resolve_ref(recipe.verify.data.source, root)))
    quantize = recipe.quantize
    if quantize.calib_data:
        quantize = dataclasses.replace(quantize, calib_data=resolve_data_path(
            quantize.calib_data, root))
    bench = recipe.bench
    if bench.baseline_file:
        bench = dataclasses.replace(bench, baseline_file=str((root / bench.baseline_file)
                                                             .resolve()))
    package = recipe.package
    if package.repository:
        package = dataclasses.replace(package, repository=str((root / package.repository)
                                                              .resolve()))
    return dataclasses.replace(recipe, model=model, verify=verify, quantize=quantize,
                               build=resolve_build_paths(recipe.build, root), bench=bench,
                               package=package)


def resolve_data_path(ref: str, root: Path) -> str:
    """Resolve a calibration source: ``random``, ``python:...``, or a file/folder path."""
    if ref == "random" or ref.startswith("python:"):
        return resolve_ref(ref, root)
    if ref.startswith("npz:"):
        ref = ref[len("npz:"):]
    return str((root / ref).resolve())


def resolve_ref(ref: str, root: Path) -> str:
    """Resolve the file in ``onnx:PATH``, ``npz:PATH``, ``PATH.npz``, ``python:FILE.py:fn``."""
    if ref in ("random",) or ref.startswith("torchvision:"):
        return ref
    if ref.startswith(("onnx:", "npz:")):
        kind, _, rest = ref.partition(":")
        return f"{kind}:{(root / rest).resolve()}"
    if ref.startswith("python:"):
        target, _, func = ref[len("python:"):].rpartition(":")
        if target.endswith(".py"):
            target = str((root / target).resolve())
        return f"python:{target}:{func}"
    if ref.endswith(".npz"):
        return f"npz:{(root / ref).resolve()}"
    return ref



def resolve_build_paths(spec: BuildSpec, root: Path) -> BuildSpec:
    """Make the build section's file paths absolute, relative to ``root`` (the recipe's dir)."""
    def path(value: str | None) -> str | None:
        if value is None or value in ("auto", "none", "off", "random"):
            return value
        if value.startswith("python:"):
            return resolve_ref(value, root)
        return str((root / value).resolve())

    return dataclasses.replace(
        spec, int8_calib=path(spec.int8_calib), int8_calib_cache=path(spec.int8_calib_cache),
        timing_cache=path(spec.timing_cache),
        plugins=tuple(str((root / p).resolve()) for p in spec.plugins))


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: Any, path: Path, where: str) -> Any:
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in os.environ:
                raise RecipeError(f"{path}: {where or 'value'}: environment variable "
                                  f"${{{m.group(1)}}} is not set",
                                  f"export {m.group(1)}=... or write the value in the recipe")
            return os.environ[m.group(1)]
        return _ENV.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, path, join(where, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, path, f"{where}[{i}]") for i, v in enumerate(value)]
    return value

