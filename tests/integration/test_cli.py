"""The command line: help, lazy imports, and each subcommand in flags mode (no recipe)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from integration_helpers import FAST_BENCH_FLAGS, ok_json, run_trtc

import trtc

SUBCOMMANDS = ("export", "build", "verify", "bench", "run", "inspect", "package")
HEAVY_MODULES = ("torch", "onnxruntime", "tensorrt", "polygraphy", "onnx")


def test_root_help(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0, result.output
    for name in SUBCOMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(cli, name: str) -> None:
    result = cli(name, "-h")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout and name in result.stdout


def test_help_imports_no_heavy_module() -> None:
    # A fresh interpreter: the test process itself has long imported all of them.
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from trtc.cli.app import app\n"
        "runner = CliRunner()\n"
        f"for args in [['--help'], *[[c, '--help'] for c in {SUBCOMMANDS!r}]]:\n"
        "    assert runner.invoke(app, args).exit_code == 0, args\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def test_python_m_trtc_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "trtc", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == f"trtc {trtc.__version__}"
    assert [line.split()[0] for line in lines[1:]] == [
        "onnx", "onnxruntime", "polygraphy", "tensorrt", "torch"]
    from importlib import metadata

    assert f"onnx {metadata.version('onnx')}" in lines
    assert any(line.startswith("tensorrt ") for line in lines)  # a version or not installed


def test_version_imports_no_heavy_module() -> None:
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom trtc.cli.app import app\n"
            "assert CliRunner().invoke(app, ['--version']).exit_code == 0\n"
            f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def test_shell_completion_is_typers_own(cli) -> None:
    result = cli("--help")
    assert "--install-completion" in result.output and "--show-completion" in result.output


def test_no_arguments_prints_help(cli) -> None:
    result = cli()
    assert result.exit_code in (0, 2)  # click's no_args_is_help exits 2 on recent versions
    assert "Usage:" in result.output


# --------------------------------------------------------------------------- inspect


def test_inspect_json(cli, conv_onnx: Path) -> None:
    summary = ok_json(cli("inspect", conv_onnx, "--json"))
    assert summary["opset"] == 17
    assert summary["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 3, 8, 8],
                                  "dynamic_dims": [0]}]
    assert summary["outputs"][0]["name"] == "y"
    assert summary["outputs"][0]["shape"] == ["batch", 10]
    assert summary["op_histogram"] == {"Conv": 1, "Flatten": 1, "Gemm": 1, "Relu": 1}
    # Batch 1: Conv 4x8x8 outputs x 27 MACs, Gemm 256 x 10 MACs; 2 FLOPs per MAC.
    assert summary["flops_by_op"] == {"Conv": 2 * 4 * 8 * 8 * 27, "Gemm": 2 * 256 * 10}
    assert summary["flops"] == 18944
    assert summary["parameter_count"] == 4 * 27 + 4 + 10 * 256 + 10


def test_inspect_json_with_shapes_scales_flops(cli, conv_onnx: Path) -> None:
    one = ok_json(cli("inspect", conv_onnx, "--json"))
    four = ok_json(cli("inspect", conv_onnx, "--shapes", "x:4x3x8x8", "--json"))
    assert four["flops"] == 4 * one["flops"]


def test_inspect_in_a_real_process(conv_onnx: Path, tmp_path: Path) -> None:
    proc = run_trtc("inspect", conv_onnx, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inputs"][0]["dynamic_dims"] == [0]
    human = run_trtc("inspect", conv_onnx, cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    assert "Conv" in human.stdout and "batch" in human.stdout


# --------------------------------------------------------------------------- bench


def _check_latency(stats: dict[str, float]) -> None:
    assert stats["iterations"] >= 3
    assert 0 < stats["min_ms"] <= stats["median_ms"] <= stats["p90_ms"] <= stats["p95_ms"] \
        <= stats["p99_ms"] <= stats["max_ms"]
    assert stats["throughput_qps"] > 0


def test_bench_json(cli, conv_onnx: Path, ws: Path) -> None:
    report = ok_json(cli("bench", conv_onnx, "--batch", "1", *FAST_BENCH_FLAGS,
                         "--workspace", ws, "--json"))
    assert report["backend"] == "onnxruntime"
    assert report["method"]["duration_s"] == 0.05
    assert report["method"]["min_iterations"] == 3
    (row,) = report["results"]
    assert row["batch"] == 1
    assert row["shapes"] == {"x": "1x3x8x8"}
    assert "pytorch" not in row  # no PyTorch model behind a bare .onnx file
    _check_latency(row["onnxruntime"])
    assert not ws.exists()  # flags mode writes no workspace


def test_bench_json_with_shapes(cli, conv_onnx: Path, ws: Path) -> None:
    report = ok_json(cli("bench", conv_onnx, "--batch", "1", "--shapes", "x:2x3x8x8",
                         *FAST_BENCH_FLAGS, "--workspace", ws, "--json"))
    (row,) = report["results"]
    assert row["shapes"] == {"x": "2x3x8x8"}
    _check_latency(row["onnxruntime"])


def test_bench_several_batches(cli, conv_onnx: Path, ws: Path) -> None:
    report = ok_json(cli("bench", conv_onnx, "--batch", "1,4", *FAST_BENCH_FLAGS,
                         "--workspace", ws, "--json"))
    assert [r["shapes"]["x"] for r in report["results"]] == ["1x3x8x8", "4x3x8x8"]
    for row in report["results"]:
        stats = row["onnxruntime"]
        assert stats["throughput_samples_s"] == pytest.approx(
            stats["throughput_qps"] * row["batch"])


def test_bench_shapes_batch_is_counted_in_throughput(cli, conv_onnx: Path, ws: Path) -> None:
    report = ok_json(cli("bench", conv_onnx, "--shapes", "x:2x3x8x8", *FAST_BENCH_FLAGS,
                         "--workspace", ws, "--json"))
    (row,) = report["results"]
    stats = row["onnxruntime"]
    assert stats["throughput_samples_s"] == pytest.approx(2 * stats["throughput_qps"])


# --------------------------------------------------------------------------- verify / build


def test_verify_model_against_itself(cli, conv_onnx: Path, ws: Path) -> None:
    report = ok_json(cli("verify", conv_onnx, "--reference", conv_onnx, "--batch", "2",
                         "--iterations", "2", "--workspace", ws, "--json"))
    assert report["passed"] is True
    assert report["failures"] == []
    assert report["samples"] == 4
    y = report["outputs"]["y"]
    assert y["passed"] is True
    assert y["max_abs"] <= 1e-6
    assert y["cosine"] == pytest.approx(1.0)


def test_build_then_verify_against_the_source(cli, conv_onnx: Path, tmp_path: Path,
                                              ws: Path) -> None:
    out = tmp_path / "out.ort.onnx"
    built = ok_json(cli("build", conv_onnx, "-o", out, "--workspace", ws, "--json"))
    assert out.is_file()
    assert built["output"] == str(out)
    assert built["metrics"]["backend"] == "onnxruntime"
    assert built["metrics"]["artifact_bytes"] == out.stat().st_size
    report = ok_json(cli("verify", out, "--reference", conv_onnx, "--workspace", ws, "--json"))
    assert report["passed"] is True
    assert report["candidate_backend"] == "onnxruntime"
    # The built artifact keeps the dynamic batch dim.
    summary = ok_json(cli("inspect", out, "--json"))
    assert summary["inputs"][0]["shape"] == ["batch", 3, 8, 8]
    assert not ws.exists()


def test_build_dry_run_writes_nothing(cli, conv_onnx: Path, tmp_path: Path, ws: Path) -> None:
    out = tmp_path / "out.ort.onnx"
    settings = ok_json(cli("build", conv_onnx, "-o", out, "--dry-run", "--workspace", ws,
                           "--json"))
    assert settings["settings"]["backend"] == "auto"
    assert settings["backend"] == "onnxruntime"  # auto, with no TensorRT here
    assert settings["output"] == str(out)
    assert not out.exists()


@pytest.mark.without_tensorrt
def test_build_dry_run_for_tensorrt_works_without_it(cli, conv_onnx: Path, tmp_path: Path,
                                                     ws: Path) -> None:
    out = tmp_path / "out.engine"
    plan = ok_json(cli("build", conv_onnx, "-o", out, "--backend", "tensorrt", "--dry-run",
                       "--workspace", ws, "--json"))
    assert plan["backend"] == "tensorrt" and plan["available_here"] is False
    assert "TensorRT is not installed" in plan["backend_choice"]
    assert not out.exists() and not ws.exists()


# --------------------------------------------------------------------------- export


def test_export_flags_mode(cli, torch_factory: Path, tmp_path: Path, ws: Path) -> None:
    out = tmp_path / "out.onnx"
    result = ok_json(cli("export", f"python:{torch_factory}:build", "--input",
                         "x:batchx3x8x8", "-o", out, "--exporter", "legacy", "--opset", "17",
                         "--workspace", ws, "--json"))
    assert out.is_file()
    assert result["output"] == str(out)
    metrics = result["metrics"]
    assert metrics["export"]["exporter"] == "legacy"
    assert metrics["inputs"] == {"x": ["batch", 3, 8, 8]}
    assert metrics["parity"]["outputs"]["output"]["within_tolerance"] is True
    summary = ok_json(cli("inspect", out, "--json"))
    assert summary["opset"] == 17
    assert [i["name"] for i in summary["inputs"]] == ["x"]
    assert summary["inputs"][0]["dynamic_dims"] == [0]
    assert summary["op_histogram"]["Conv"] == 1
    assert not ws.exists()


def test_export_torch_source_needs_input(cli, torch_factory: Path, tmp_path: Path,
                                         ws: Path) -> None:
    result = cli("export", f"python:{torch_factory}:build", "-o", tmp_path / "out.onnx",
                 "--workspace", ws)
    assert result.exit_code == 2
    assert "--input" in result.stderr
    assert not (tmp_path / "out.onnx").exists()


def test_completion_completes_subcommands_and_flags() -> None:
    from integration_helpers import trtc_command

    env = {**os.environ, "_TRTC_COMPLETE": "complete_bash", "COMP_WORDS": "trtc pa",
           "COMP_CWORD": "1"}
    proc = subprocess.run([*trtc_command()], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.split() == ["package"], proc.stderr


def test_bench_sweep_times_every_batch_and_picks_the_best_under_the_bound(
        cli, conv_onnx: Path, ws: Path) -> None:
    report = ok_json(cli("bench", conv_onnx, "--sweep", "batch=1,2,4 streams=1,2",
                         "--max-latency-ms", "10000", *FAST_BENCH_FLAGS, "--workspace", ws,
                         "--json"))
    # ONNX Runtime has no streams: the batch axis alone, with a warning saying so.
    assert [(r["batch"], r["streams"]) for r in report["results"]] == [(1, 1), (2, 1), (4, 1)]
    assert [r["shapes"]["x"] for r in report["results"]] == ["1x3x8x8", "2x3x8x8", "4x3x8x8"]
    assert any("streams apply to TensorRT engines only" in w for w in report["warnings"])
    sweep = report["sweep"]
    assert sweep["max_latency_ms"] == 10000 and len(sweep["points"]) == 3
    best = max(sweep["points"], key=lambda p: p["samples_per_s"])
    assert sweep["best"] == best == sweep["fastest"]
    # A bound nothing meets: no best, and a warning.
    tight = ok_json(cli("bench", conv_onnx, "--sweep", "batch=1,2", "--max-latency-ms",
                        "0.000001", *FAST_BENCH_FLAGS, "--json"))
    assert tight["sweep"]["best"] is None
    assert any("no sweep point has a latency within" in w for w in tight["warnings"])


def test_bench_sweep_typos_are_usage_errors(cli, conv_onnx: Path) -> None:
    result = cli("bench", conv_onnx, "--sweep", "batches=1,8")
    assert result.exit_code == 2
    assert "bench.sweep: 'batches=1,8': unknown axis 'batches'" in result.stderr
    assert "AXIS one of batch, streams" in result.stderr and not result.stdout


def test_verify_counts_the_feeds_of_a_time_major_output(cli, tmp_path: Path, ws: Path) -> None:
    """A CRNN's output is [seq, batch, classes] (ddddocr's OCR model): the cosine metric
    compares each image whole, so 3 feeds of batch 1 are 3 samples, not 3 x seq."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0, 2])], "crnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [6, "batch", 4])])
    model = tmp_path / "time_major.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    report = ok_json(cli("verify", model, "--reference", model, "--iterations", "3",
                         "--metric", "cosine", "--workspace", ws, "--json"))
    assert report["metric"]["samples"] == 3 == report["samples"]
    assert report["metric"]["mean"] == pytest.approx(1.0)


def test_a_wrong_declared_output_shape_is_one_warning_in_a_run(cli, crnn_tail_onnx: Path,
                                                              ws: Path, write_recipe) -> None:
    """verify warns when an output breaks its declared shape (ddddocr's CRNN: 1 x seqlen
    declared, 32 x 1 x 8210 given); `trtc run` shows it once, in verify's report."""
    recipe = write_recipe({"name": "crnn", "model": {"source": f"onnx:{crnn_tail_onnx.name}"},
                           "build": {"backend": "onnxruntime"},
                           "verify": {"data": {"iterations": 2, "shapes": {"x": [1, 6, 4]}}},
                           "bench": {"batch": [1], "warmup_ms": 5, "duration_s": 0.05,
                                     "min_iterations": 3, "baseline": "none",
                                     "shapes": {"x": [1, 6, 4]}}})
    result = cli("run", recipe, "--workspace", ws)
    assert result.exit_code == 0, result.stderr
    shown = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert shown.count("the model declares 1xseqlen and gives 6x1x4") == 1, shown
    report = json.loads((ws / "crnn" / "verify" / "report.json").read_text())
    assert report["warnings"][0].startswith("output 'y': the model declares 1xseqlen")


def test_export_of_a_recipe_prints_its_warnings(cli, onnx_recipe: Path, ws: Path) -> None:
    """`trtc export recipe.yaml` said nothing of what export warned (build, quantize and
    run did): a cleanup it replaced, or a source with no PyTorch to check parity with."""
    result = cli("export", onnx_recipe, "--workspace", ws)
    assert result.exit_code == 0, result.stderr
    assert "warning: onnx: source: no PyTorch model, so no parity check" in result.stderr
