"""scripts/zoo.py's retry after an int8 build TensorRT has no kernel for: it does what trtc's
hint says (tests/unit/tensorrt/test_diagnose.py writes the hint)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

from trtc.tensorrt.diagnose import diagnose

ROOT = Path(__file__).resolve().parents[2]


def _zoo() -> Any:
    spec = importlib.util.spec_from_file_location("zoo_script", ROOT / "scripts" / "zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["zoo_script"] = module
    spec.loader.exec_module(module)
    return module


def _resize_model(path: Path) -> Path:
    """x -> conv0 -> up (Resize) -> conv1 and add (both read the Resize); add2 reads up2, a
    Resize of the same mode; up3 (linear) reads add2, Mul reads up3; up4 (cubic) reads
    the Mul, a Concat reads up4 and conv4 the Concat."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], [1.0] * 4)
    w4 = helper.make_tensor("w4", TensorProto.FLOAT, [2, 4, 1, 1], [1.0] * 8)
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    nodes = [helper.make_node("Conv", ["x", "w"], ["c0"], name="conv0"),
             helper.make_node("Resize", ["c0", "", "scales"], ["u"], name="up"),
             helper.make_node("Conv", ["u", "w"], ["c1"], name="conv1"),
             helper.make_node("Add", ["u", "c1"], ["a"], name="add"),
             helper.make_node("Resize", ["x", "", "scales"], ["u2"], name="up2"),
             helper.make_node("Add", ["a", "u2"], ["a2"], name="add2"),
             helper.make_node("Resize", ["a2", "", "scales"], ["u3"], name="up3",
                              mode="linear"),
             helper.make_node("Mul", ["u3", "u3"], ["m"], name="mul"),
             helper.make_node("Resize", ["m", "", "scales"], ["u4"], name="up4",
                              mode="cubic"),
             helper.make_node("Concat", ["u4", "u4"], ["cat"], name="cat", axis=1),
             helper.make_node("Conv", ["cat", "w4"], ["y"], name="conv4")]
    graph = helper.make_graph(nodes, "r", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 2, 4, 4])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 2, 32, 32])], [w, w4, scales])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _hint(node: str, names: set[str]) -> str:
    return diagnose([], [f"10: Could not find any implementation for node {node}."],
                    where="m.onnx", version="8.6.0", phase="build", node_names=names).hint


def test_the_retry_excludes_the_named_conv_or_the_alike_resizes(tmp_path: Path) -> None:
    zoo = _zoo()
    model = _resize_model(tmp_path / "m.onnx")
    names = {"conv0", "up", "conv1", "add", "up2", "add2", "up3", "mul"}
    assert zoo.hinted_exclusions(_hint("w + w_QuantizeLinear + conv0", names), model) == \
        ["conv0"]
    assert zoo.hinted_exclusions(_hint("up", names), model) == ["up", "up2"]
    assert zoo.hinted_exclusions(_hint("up3", names), model) == ["up3"]
    assert zoo.hinted_exclusions("rerun with --verbose", model) == []


def test_a_prequantized_model_is_reused_only_with_the_same_key(tmp_path: Path) -> None:
    """zoo.py prequantize runs the gpu phase's int8 quantize on the CPU machine; the gpu
    phase reuses the Q/DQ model only when the source, data and flags are the same."""
    import argparse

    zoo = _zoo()
    m = zoo.BY_NAME["ppocr_det"]
    source = _resize_model(tmp_path / "m.onnx")
    q = tmp_path / "int8.onnx"
    args = argparse.Namespace(calib_samples=16, int8_budget_on="onnxruntime", force=False)
    assert zoo.reused_quantize(m, source, q, args) is None          # nothing made yet
    q.write_bytes(b"qdq")
    zoo.write_quantize_stamp(m, source, q, args, {"calib": "ocr_page", "attempts": [{"rc": 0}]})
    got = zoo.reused_quantize(m, source, q, args)
    assert got is not None and got["ok"] and got["calib"] == "ocr_page" and got["reused"]
    assert got["attempts"] == [{"rc": 0}]
    for changed in (argparse.Namespace(calib_samples=64, int8_budget_on="onnxruntime",
                                       force=False),
                    argparse.Namespace(calib_samples=16, int8_budget_on="engine", force=False),
                    argparse.Namespace(calib_samples=16, int8_budget_on="onnxruntime",
                                       force=True)):
        assert zoo.reused_quantize(m, source, q, changed) is None
    # A stamp from before the budget's held-out set grew (16 -> 64 samples, G9).
    stamp = q.with_suffix(".stamp.json")
    old = json.loads(stamp.read_text())
    stamp.write_text(json.dumps({k: v for k, v in old.items() if k != "eval_samples"}))
    assert zoo.reused_quantize(m, source, q, args) is None
    stamp.write_text(json.dumps(old))
    assert zoo.reused_quantize(m, source, q, args) is not None
    source.write_bytes(source.read_bytes() + b" ")                   # another source model
    assert zoo.reused_quantize(m, source, q, args) is None


def test_a_rerun_quantizes_with_the_earlier_runs_retry_exclusions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ppocr_det's int8 build fails until its Resizes are float (G14): the row records the
    retry; prequantize and a rerun quantize with those nodes at once, and the stamp keys
    them, so the first (failing) model is never taken for the retry's."""
    import argparse

    zoo = _zoo()
    monkeypatch.setattr(zoo, "RESULTS", tmp_path)
    m = zoo.BY_NAME["ppocr_det"]
    assert zoo.earlier_retry(m) == {}
    row = {"gpu": {"int8": {"built": False, "done": True,
                            "retry": {"exclude_nodes": ["up", "up2"], "first_error": "e"}}}}
    (tmp_path / "ppocr_det.gpu.json").write_text(json.dumps(row))
    assert zoo.earlier_retry(m)["exclude_nodes"] == ["up", "up2"]
    source = _resize_model(tmp_path / "m.onnx")
    q = tmp_path / "int8.onnx"
    q.write_bytes(b"qdq")
    args = argparse.Namespace(calib_samples=16, int8_budget_on="onnxruntime", force=False)
    zoo.write_quantize_stamp(m, source, q, args, {"calib": "c", "attempts": []}, ["up2", "up"])
    assert zoo.reused_quantize(m, source, q, args) is None           # the all-int8 model
    assert zoo.reused_quantize(m, source, q, args, ["up"]) is None
    assert zoo.reused_quantize(m, source, q, args, ["up", "up2"]) is not None
    zoo.write_quantize_stamp(m, source, q, args, {"calib": "c", "attempts": []})
    assert zoo.reused_quantize(m, source, q, args) is not None
    assert zoo.reused_quantize(m, source, q, args, ["up", "up2"]) is None


def test_a_worker_gets_every_flag_that_changes_what_it_measures() -> None:
    import argparse

    zoo = _zoo()
    args = argparse.Namespace(
        precisions=["int8"], duration=1.0, calib_samples=64, step_timeout=60.0,
        export_timeout=60.0, quantize_timeout=900.0, build_timeout=240.0, min_build_s=120.0,
        force=False, compare_polygraphy=False, retry_failed=True, build_verbose=False,
        polygraphy_default=False, int8_budget_on="engine", test_backend=None)
    cmd = zoo.worker_command(args, 1, [zoo.BY_NAME["ppocr_cls"]], 300.0)
    pairs = dict(zip(cmd, cmd[1:]))
    assert pairs["--int8-budget-on"] == "engine" and pairs["--calib-samples"] == "64"
    assert pairs["--models"] == "ppocr_cls" and pairs["--budget-s"] == "300"
    assert "--retry-failed" in cmd and "--force" not in cmd


def test_the_summary_counts_verify_and_reports_element_wise_only_where_recorded() -> None:
    zoo = _zoo()

    def row(name: str, **fp16: Any) -> dict[str, Any]:
        return {"name": name, "family": "f", "fetch": {"done": True}, "cpu": {},
                "gpu": {"fp16": {"built": True, "build_s": 10.0, **fp16}}}

    doc = {"models": [row("a", verify_pass=True, cosine_pass=True, elementwise_pass=False),
                      row("b", verify_pass=True, cosine_pass=True, elementwise_pass=True),
                      row("c", verify_pass=False, cosine_pass=False, elementwise_pass=None)]}
    fp16 = next(line for line in zoo._summary(doc) if line.startswith("- GPU fp16"))
    assert "`trtc verify` passed 2/3" in fp16 and "criterion" in fp16
    assert "1 of the 2 rows that record it" in fp16


def test_the_transformer_row_has_a_dynamic_sequence_profile_and_is_measured_at_opt() -> None:
    zoo = _zoo()
    m = zoo.BY_NAME["distilbert"]
    assert m.shapes_flag(1) == "input_ids:1x128,attention_mask:1x128"
    assert m.profile_flag() == ("input_ids:1x16,32x128,32x256;"
                                "attention_mask:1x16,32x128,32x256")
    assert zoo.BY_NAME["resnet18"].profile_flag() == \
        "input:1x3x224x224,32x3x224x224,32x3x224x224"


def test_a_gpu_row_built_with_another_profile_says_so() -> None:
    zoo = _zoo()
    row = {"gpu_profile": "x:1x16,32x128,32x256"}
    old = {"details": {"build": {"cmd": "python -m trtc build r.yaml --profile "
                                        "'x:1x128,32x128,32x128' --force"}}}
    assert zoo.built_profile(old) == "x:1x128,32x128,32x128"
    assert "not the current one" in zoo._stale(old, row)
    same = {"build": {"cmd": "trtc build q.onnx --profile x:1x16,32x128,32x256 --force"}}
    assert zoo.built_profile(same) == row["gpu_profile"] and zoo._stale(same, row) == ""
    assert zoo._stale({}, row) == ""


def test_the_fp16_range_table_shows_the_measured_peaks_and_kept_nodes() -> None:
    zoo = _zoo()
    fp16 = {"ok": True, "calib": "4 samples", "cosine": 0.9999,
            "kept_fp32": [{"name": "where", "op_type": "Where",
                           "reason": "constant 'c' holds 3.4e+38, beyond fp16 max 65504"}],
            "peaks": {"tensors_measured": 120,
                      "top": [{"tensor": "pow_out", "node": "pow", "op_type": "Pow",
                               "peak": 812.5, "headroom": 80.62}]}}
    lines = zoo._fp16_range_lines({"models": [{"name": "distilbert",
                                               "cpu": {"fp16_ranges": fp16}},
                                              {"name": "resnet18", "cpu": {}}]})
    (row,) = [line for line in lines if line.startswith("| distilbert")]
    assert "pow_out (Pow): 812.5, 80.62x" in row and "where (Where): constant" in row
    assert "| 120 |" in row and "0.9999" in row
    assert not any(line.startswith("| resnet18") for line in lines)
    assert zoo._fp16_range_lines({"models": [{"name": "r", "cpu": {}}]}) == []


def test_a_done_fetch_asks_trtc_whether_the_export_is_up_to_date_on_this_machine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The row's `done` was written where the export ran; `export.opset: auto` follows the
    installed TensorRT, so on another machine trtc decides (2026-12-04: a CPU-made opset-18
    export, carried to the GPU machine, was taken as done and failed to parse on 8.6)."""
    import argparse

    zoo = _zoo()
    monkeypatch.setattr(zoo, "RESULTS", tmp_path)
    m = zoo.BY_NAME["mobilenet_v3_large"]
    onnx_file = tmp_path / "model.onnx"
    onnx_file.write_bytes(b"onnx")
    monkeypatch.setattr(zoo, "exported", lambda _m: onnx_file)
    monkeypatch.setattr(zoo, "write_recipe", lambda _m: tmp_path / "r.yaml")
    earlier = {"fetch": {"done": True, "export": {"wall_s": 25.2},
                         "export_summary": {"status": "ran"}}}
    calls: list[list[Any]] = []
    status = {"now": "skipped"}

    def fake_trtc(args: Any, label: str, *_: Any) -> dict[str, Any]:
        calls.append(list(args))
        return {"cmd": "trtc export", "rc": 0,
                "data": {"status": status["now"], "metrics": {"opset": 17}},
                "error": None, "timed_out": False, "wall_s": 0.5 if status["now"] == "skipped"
                else 11.0}

    monkeypatch.setattr(zoo, "trtc", fake_trtc)
    args = argparse.Namespace(force=False, export_timeout=60)
    zoo.save_result(m, earlier)
    zoo.do_fetch(m, args, zoo.Deadline(None))
    assert len(calls) == 1 and "--force" not in calls[0]
    assert zoo.load_result(m) == earlier                     # up to date: the row is kept
    status["now"] = "ran"                                    # stale here: trtc re-exported
    zoo.do_fetch(m, args, zoo.Deadline(None))
    assert len(calls) == 2                                   # not exported a second time
    row = zoo.load_result(m)["fetch"]
    assert row["done"] is True and row["export"]["wall_s"] == 11.0
    assert row["export_summary"]["status"] == "ran"


def test_random_samples_at_the_measured_shapes_are_held_out_by_seed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/budget_engine.py on a model without realistic data (resnet18) calibrates on
    seed 0 and measures the budget on seed 2: same shapes, other samples."""
    import numpy as np

    zoo = _zoo()
    m = zoo.BY_NAME["resnet18"]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["y"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 3, 224, 224])])
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(model))
    monkeypatch.setattr(zoo, "model_file", lambda _m: model)
    calib = np.load(zoo.calib_npz(m, tmp_path / "calib.npz", 3))["input"]
    again = np.load(zoo.calib_npz(m, tmp_path / "again.npz", 3, 0))["input"]
    held = np.load(zoo.calib_npz(m, tmp_path / "eval.npz", 3, 2))["input"]
    assert calib.shape == held.shape == (3, 3, 224, 224)
    assert np.array_equal(calib, again) and not np.allclose(calib, held)


def test_budget_report_names_the_command_of_every_row(tmp_path: Path) -> None:
    """scripts/budget_engine.py --report-only --merge, run twice into one report: the
    header names the command of each row, the earlier merge's rows included."""
    import subprocess

    def part(name: str, command: str) -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"command": command, "backend": "tensorrt", "rows": {
            name: {"model": name, "error": "RuntimeError: x"}}}))
        return path

    out = tmp_path / "report"
    script = [sys.executable, str(ROOT / "scripts" / "budget_engine.py"), "--report-only",
              "--out", str(out), "--merge"]
    subprocess.run(script + [str(part("m1", "cmd-one"))], check=True)
    subprocess.run(script + [str(part("m2", "cmd-two"))], check=True)
    header = out.with_suffix(".md").read_text().splitlines()[2]
    assert header.startswith("Command: `cmd-one`; `cmd-two`.")
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["command"] for r in rows.values()] == ["cmd-one", "cmd-two"]
