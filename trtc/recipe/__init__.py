"""Recipes: the schema (frozen dataclasses), YAML loading, validation and flag overrides.

A recipe is YAML read with ``yaml.safe_load`` and validated into the frozen
dataclasses of :mod:`trtc.recipe.schema`. Every validation error names the key
path (``verify.per_output.logits.atol``) and, for unknown keys, the closest
valid key. Paths in a recipe are relative to the recipe file; ``${VAR}``
expands from the environment.

Modules: ``schema`` (the dataclasses, defaults, choice types), ``load`` (YAML,
environment, paths), ``validate`` (conversion and semantic checks), ``flags``
(``recipe_for_model``, ``override``), ``jsonschema`` (``json_schema``).
"""

from trtc.recipe.flags import override, parse_input, recipe_for_model
from trtc.recipe.jsonschema import json_schema
from trtc.recipe.load import (
    base_dir,
    load_recipe,
    resolve_build_paths,
    resolve_data_path,
    resolve_paths,
    resolve_ref,
)
from trtc.recipe.schema import (
    DEFAULT_TOLERANCES,
    STAGES,
    Backend,
    Baseline,
    BenchSpec,
    BudgetOn,
    BuildPrecision,
    BuildSpec,
    CalibMethod,
    CalibPreprocessSpec,
    Cleanup,
    DataSpec,
    Device,
    Elementwise,
    ExpectSpec,
    Exporter,
    ExportSpec,
    FloatPrecision,
    HardwareCompatibility,
    InputSpec,
    ModelSpec,
    OrtOptimizationLevel,
    PackageSpec,
    PruneMethod,
    PruneSpec,
    QuantizePrecision,
    QuantizeSpec,
    QuantizeTarget,
    Recipe,
    ShapeRangeSpec,
    ToleranceSpec,
    VerifyMetric,
    VerifyReference,
    VerifySpec,
    to_data,
)
from trtc.recipe.validate import parse_recipe

__all__ = [
    "DEFAULT_TOLERANCES", "STAGES", "Backend", "Baseline", "BenchSpec", "BudgetOn",
    "BuildPrecision", "BuildSpec", "CalibMethod", "CalibPreprocessSpec", "Cleanup", "DataSpec",
    "Device", "Elementwise", "ExpectSpec", "ExportSpec", "Exporter", "FloatPrecision",
    "HardwareCompatibility",
    "InputSpec", "ModelSpec", "OrtOptimizationLevel", "PackageSpec", "PruneMethod", "PruneSpec",
    "QuantizePrecision", "QuantizeSpec",
    "QuantizeTarget", "Recipe", "ShapeRangeSpec", "ToleranceSpec", "VerifyMetric",
    "VerifyReference", "VerifySpec", "base_dir", "json_schema", "load_recipe", "override",
    "parse_input",
    "parse_recipe", "recipe_for_model", "resolve_build_paths", "resolve_data_path",
    "resolve_paths", "resolve_ref", "to_data",
]
