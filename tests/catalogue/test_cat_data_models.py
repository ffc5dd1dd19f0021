"""Data, models and weights: ordinary mistakes are one line with the right exit code."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from catalogue import Models, base_recipe, check, invoke, tree, write_recipe

X = (4, 3, 8, 8)


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _member(path: Path) -> Path:
    _npz(path, x=np.zeros(X, np.float32))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("readme.txt", "hello")
    return path


def _text(path: Path) -> Path:
    path.write_text("x,y\n1,2\n")
    return path


def _npy(path: Path) -> Path:
    with open(path, "wb") as f:
        np.save(f, np.zeros(X, np.float32))
    return path


def _pickled(path: Path) -> Path:
    np.savez(path, x=np.array([{"a": 1}] * 4, dtype=object))
    return path


f32 = np.float32
DATA: list[tuple[str, Callable[[Path], Path], int, str]] = [
    ("NaN inputs", lambda p: _npz(p, x=np.full(X, np.nan, f32)), 5, "'x'"),
    ("one NaN", lambda p: _npz(p, x=np.where(np.arange(768).reshape(X) == 7, np.nan, 0)
                                .astype(f32)), 5, "NaN"),
    ("Inf inputs", lambda p: _npz(p, x=np.full(X, np.inf, f32)), 5, "NaN/Inf"),
    ("0 samples", lambda p: _npz(p, x=np.zeros((0, 3, 8, 8), f32)), 5, "0 samples"),
    ("0-d array", lambda p: _npz(p, x=np.float32(1.0)), 5, "rank"),
    ("2-D labels", lambda p: _npz(p, x=np.zeros(X, f32), labels=np.zeros((4, 10))), 5,
     "'labels'"),
    ("non-.npy member", _member, 5, "readme.txt"),
    ("no arrays", lambda p: _npz(p), 5, "no arrays"),
    ("a text file", _text, 5, "cannot read as .npz"),
    ("a bare .npy", _npy, 5, "single .npy"),
    ("pickled objects", _pickled, 5, "data.npz"),
    ("wrong name", lambda p: _npz(p, inp=np.zeros(X, f32), other=np.zeros(X, f32)), 5,
     "no array for input 'x'"),
    ("extra array", lambda p: _npz(p, x=np.zeros(X, f32), extra=np.zeros(X, f32)), 5,
     "'extra'"),
    ("wrong rank", lambda p: _npz(p, x=np.zeros((4, 3, 8), f32)), 5, "'x'"),
    ("wrong channels", lambda p: _npz(p, x=np.zeros((4, 5, 8, 8), f32)), 5, "'x'"),
    ("wrong dtype", lambda p: _npz(p, x=np.zeros(X, np.int64)), 5, "'x'"),
    ("label count", lambda p: _npz(p, x=np.zeros(X, f32), labels=np.arange(3)), 5,
     "sample counts"),
]


@pytest.mark.parametrize(("make", "code", "named"), [d[1:] for d in DATA],
                         ids=[d[0] for d in DATA])
@pytest.mark.parametrize("command", ["verify", "quantize"])
def test_bad_data(tmp_path: Path, models: Models, command: str,
                  make: Callable[[Path], Path], code: int, named: str) -> None:
    data = make(tmp_path / "data.npz")
    before = tree(tmp_path)
    if command == "verify":
        args = ["verify", models.artifact, "--reference", models.onnx, "--data", data]
        names: tuple[str, ...] = ("data.npz", named)
    else:
        (tmp_path / "q").mkdir()
        before = tree(tmp_path)
        args = ["quantize", models.onnx, "-o", tmp_path / "q" / "m.onnx", "--calib-data", data,
                "--target", "onnxruntime-cpu"]
        names = ("data.npz",)
    out = check(invoke(*args), code, *names, before=before)
    assert "output differs" not in out


LOADERS = [
    ("raises", "def load():\n    raise ValueError('no data today')\n", "no data today"),
    ("returns a list", "def load():\n    return [1, 2]\n", "returned list"),
    ("returns NaN", "import numpy as np\ndef load():\n    return {'x': np.full((2, 3, 8, 8), "
                    "np.nan, np.float32)}\n", "NaN"),
    ("no function", "x = 1\n", "no function 'load'"),
    ("syntax error", "def load(:\n", "SyntaxError"),
]


@pytest.mark.parametrize(("code", "named"), [(c, n) for _, c, n in LOADERS],
                         ids=[i for i, _, _ in LOADERS])
def test_bad_data_loaders(tmp_path: Path, models: Models, code: str, named: str) -> None:
    (tmp_path / "loader.py").write_text(code)
    before = tree(tmp_path)
    check(invoke("verify", models.artifact, "--reference", models.onnx, "--data",
                 f"python:{tmp_path / 'loader.py'}:load"), 5, "loader.py", named,
          before=before, allowed=lambda p: p.startswith("__pycache__"))


MODELS = [
    ("verify no inputs", "verify {no_inputs} --reference {no_inputs}", 4, "no inputs"),
    ("verify other shapes", "verify {art} --reference {other_shape}", 4, "output 'y'"),
    ("quantize NaN weight", "quantize {nan_weight} -o {tmp}/q.onnx --calib-data random", 4,
     "weight 'fc'"),
    ("quantize no inputs", "quantize {no_inputs} -o {tmp}/q.onnx --calib-data random", 5,
     "no inputs"),
    ("prune no inputs", "prune {no_inputs} -o {tmp}/p.onnx --method magnitude --ratio 0.5", 4,
     "noinputs.onnx"),
]
MODELS += [
    ("bench huge dims", "bench {huge} --duration 0.01", 5, "input 'x'"),
    ("verify huge dims", "verify {huge} --reference {huge}", 5, "GiB"),
]
for _kind in ("corrupt", "empty", "truncated"):
    MODELS += [
        (f"build {_kind}", f"build {{{_kind}}} -o {{tmp}}/b.ort.onnx --backend onnxruntime", 4,
         f"{_kind}.onnx"),
        (f"prune {_kind}", f"prune {{{_kind}}} -o {{tmp}}/p.onnx --method magnitude "
                           "--ratio 0.5", 4, f"{_kind}.onnx"),
        (f"quantize {_kind}", f"quantize {{{_kind}}} -o {{tmp}}/q.onnx --calib-data random", 4,
         f"{_kind}.onnx"),
        (f"export {_kind}", f"export {{{_kind}}} -o {{tmp}}/e.onnx", 4, f"{_kind}.onnx"),
        (f"inspect {_kind}", f"inspect {{{_kind}}}", 4, f"{_kind}.onnx"),
        (f"verify {_kind}", f"verify {{art}} --reference {{{_kind}}}", 4, f"{_kind}.onnx"),
        (f"bench {_kind}", f"bench {{{_kind}}} --duration 0.01", 4, f"{_kind}.onnx"),
    ]


@pytest.mark.parametrize(("line", "code", "named"), [m[1:] for m in MODELS],
                         ids=[m[0] for m in MODELS])
def test_bad_models(tmp_path: Path, models: Models, line: str, code: int, named: str) -> None:
    args = line.format(tmp=tmp_path, art=models.artifact, **{
        k: getattr(models, k) for k in ("no_inputs", "other_shape", "nan_weight", "corrupt",
                                        "empty", "truncated", "huge")}).split()
    before = tree(tmp_path)
    out = check(invoke(*args), code, named, before=before)
    assert "calibrate on" not in out


# --------------------------------------------------------------------------- weights (torch)


def _weights_recipe(tmp_path: Path, models: Models, weights: Path) -> Path:
    recipe = base_recipe(models, model={
        "source": f"python:{models.factory}:build", "weights": str(weights),
        "inputs": [{"name": "x", "shape": ["batch", 3, 8, 8]}], "outputs": ["y"]},
        export={"exporter": "legacy", "opset": 17})
    return write_recipe(tmp_path, recipe)


WEIGHTS = ["other layer sizes", "missing keys", "not a dict", "code-carrying pickle", "garbage"]


@pytest.mark.parametrize("kind", WEIGHTS)
def test_bad_weights(tmp_path: Path, models: Models, kind: str) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "w.pt"
    if kind == "other layer sizes":
        torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3)).state_dict(), path)
    elif kind == "missing keys":
        torch.save({"0.weight": torch.zeros(4, 3, 3, 3)}, path)
    elif kind == "not a dict":
        torch.save([torch.zeros(3)], path)
    elif kind == "code-carrying pickle":
        torch.save({"model": torch.nn.ReLU()}, path)  # a module object: unpickling runs code
    else:
        path.write_bytes(b"\x80\x04garbage")
    recipe = _weights_recipe(tmp_path, models, path)
    before = tree(tmp_path)
    out = check(invoke("export", recipe, "--workspace", tmp_path / "ws"), 4, "w.pt",
                "model.weights", before=before,
                allowed=lambda p: p == "ws" or p.startswith("ws/tiny"))
    assert "weights_only=False" not in out and "weights_only` set to `False" not in out
    assert not list((tmp_path / "ws").rglob("model.onnx")), "an export was left behind"
