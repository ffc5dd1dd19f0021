"""Tests for trtc.backends.torch on the CPU: loading, example inputs, eager runs, the runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtc.errors import ModelError
from trtc.recipe import InputSpec, ModelSpec

torch = pytest.importorskip("torch")

from trtc.backends import torch as torch_backend  # noqa: E402


def _spec(factory: Path, fn: str = "build", **kw: object) -> ModelSpec:
    return ModelSpec(source=f"python:{factory}:{fn}",
                     inputs=(InputSpec("x", (("batch"), 3, 8, 8), "float32"),), **kw)


def test_load_model_is_seeded_and_in_eval_mode(torch_factory: Path) -> None:
    a = torch_backend.load_model(_spec(torch_factory))
    b = torch_backend.load_model(_spec(torch_factory))
    assert not a.training
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)  # every stage that builds the model gets the same weights


def test_factories_that_fail_are_model_errors(torch_factory: Path) -> None:
    with pytest.raises(ModelError, match="factory raised ValueError"):
        torch_backend.load_model(_spec(torch_factory, "broken"))
    with pytest.raises(ModelError, match="not a torch.nn.Module"):
        torch_backend.load_model(_spec(torch_factory, "not_a_module"))
    with pytest.raises(ModelError, match="not a PyTorch model"):
        torch_backend.load_model(ModelSpec(source="onnx:m.onnx"))


def test_weights_round_trip_and_bad_files(torch_factory: Path, tmp_path: Path) -> None:
    model = torch_backend.load_model(_spec(torch_factory))
    weights = tmp_path / "w.pt"
    with torch.no_grad():
        next(model.parameters()).fill_(0.25)
    torch.save({"state_dict": model.state_dict()}, weights)
    again = torch_backend.load_model(_spec(torch_factory, weights=str(weights)))
    assert float(next(again.parameters()).detach().flatten()[0]) == 0.25
    with pytest.raises(ModelError, match="file not found"):
        torch_backend.load_state_dict(str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    with pytest.raises(ModelError, match="cannot load"):
        torch_backend.load_state_dict(str(junk))


def test_example_inputs_follow_named_dims_and_dtypes() -> None:
    inputs = (InputSpec("x", ("batch", 3), "float32"), InputSpec("ids", (4,), "int64"))
    x, ids = torch_backend.example_inputs(inputs, {"batch": 5}, seed=0)
    assert tuple(x.shape) == (5, 3) and x.dtype == torch.float32
    assert tuple(ids.shape) == (4,) and ids.dtype == torch.int64
    assert int(ids.min()) >= 0 and int(ids.max()) < 8
    again, _ = torch_backend.example_inputs(inputs, {"batch": 5}, seed=0)
    assert torch.equal(x, again)


def test_eager_runs_infer_fn_and_runner_agree(torch_factory: Path) -> None:
    spec = _spec(torch_factory)
    model = torch_backend.load_model(spec)
    feed = {"x": np.ones((2, 3, 8, 8), np.float32)}
    out = torch_backend.run_eager(model, feed, ["x"], ["y"])
    assert out["y"].shape == (2, 10)
    direct = torch_backend.infer_fn(model, ["x"])(feed)
    assert np.allclose(direct.numpy(), out["y"])
    with torch_backend.runner(model, {"x": ("float32", ("batch", 3, 8, 8))}, ["y"],
                              name="ref") as runner:
        assert np.allclose(runner.infer(feed)["y"], out["y"])
    with pytest.raises(ModelError, match="returned 1 outputs"):
        torch_backend.run_eager(model, feed, ["x"], ["a", "b"])
    assert torch_backend.output_names_for(model, spec, {"batch": 1}, 0) == ["output"]


def test_torch_threads_restores_the_count() -> None:
    before = torch.get_num_threads()
    with torch_backend.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
