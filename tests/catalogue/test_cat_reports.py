"""report.md never shows a verify or bench of another build as current."""

from __future__ import annotations

from pathlib import Path

import yaml
from catalogue import Models, base_recipe, invoke, write_recipe

FAST = {"verify": {"data": {"iterations": 1}},
        "bench": {"duration_s": 0.02, "warmup_ms": 0, "min_iterations": 2}}


def _run(recipe: Path, ws: Path, *extra: str) -> str:
    result = invoke("run", recipe, "--workspace", ws, *extra)
    assert result.exit_code == 0, result.output
    return (ws / "tiny" / "report.md").read_text()


def test_a_rebuild_marks_the_old_verify_and_bench_stale(tmp_path: Path, models: Models) -> None:
    recipe = write_recipe(tmp_path, base_recipe(models, **FAST))
    ws = tmp_path / "ws"
    first = _run(recipe, ws)
    assert "## verify" in first and "## bench" in first and "stale" not in first
    data = yaml.safe_load(recipe.read_text())
    data["build"]["optimization_level"] = "basic"  # another artifact
    recipe.write_text(yaml.safe_dump(data))
    second = _run(recipe, ws, "--until", "build")
    assert "| y |" not in second, "the old verify table is shown next to the new build"
    assert "samples/s" not in second.split("## bench")[-1] or "stale" in second
    assert second.count("stale") == 2, second
    third = _run(recipe, ws)  # verify and bench run again on the new artifact
    assert "stale" not in third and "| y |" in third


def test_a_report_whose_manifest_is_missing_is_not_shown(tmp_path: Path, models: Models) -> None:
    recipe = write_recipe(tmp_path, base_recipe(models, **FAST))
    ws = tmp_path / "ws"
    _run(recipe, ws)
    (ws / "tiny" / "verify" / "manifest.json").unlink()  # an interrupted verify
    from trtc.pipeline import collect_reports
    from trtc.report import summary_markdown
    from trtc.workspace import Workspace

    collected = collect_reports(Workspace(ws, "tiny"))
    assert "verify_report" not in collected and "bench_report" in collected
    assert "manifest is missing" in summary_markdown(collected, "tiny")
