"""The README's Python API example runs as written, on a tiny ONNX model."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_api_example() -> str:
    """The first ```python block of the README's "Python API" section."""
    section = README.read_text().split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the Python API section has no python example"
    return match.group(1)


def test_readme_python_api_example_runs(tmp_path: Path, conv_onnx: Path) -> None:
    shutil.copy(conv_onnx, tmp_path / "model.onnx")
    (tmp_path / "example.py").write_text(readme_api_example())
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "model.int8.calibration.json" and lines[1].endswith(" ms")
    assert lines[2] == "17"  # the opset of the model
    assert (tmp_path / "model.int8.ort.onnx").is_file()


def test_help_documents_the_api() -> None:
    proc = subprocess.run([sys.executable, "-c", "import trtc.api as t; help(t.quantize)"],
                          capture_output=True, text=True, timeout=120,
                          env={"PAGER": "cat", "PATH": "", "PYTHONPATH": ":".join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "Quantize an ONNX model" in text
    for section in ("Args:", "Returns:", "Raises:", "calib_data", "OUT.calibration.json"):
        assert section in text, section
