"""The harness's execution contexts (trtc.backends.tensorrt_slots.make_slots), on CPU.

A fake engine plays TensorRT's tensor-name API and the buffers are plain numpy arrays,
so what is checked is the plan: which engine copy and profile each stream's context
gets, and that streams beyond the profiles run on copies (trtexec's --streams).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from trtc.backends import tensorrt_slots
from trtc.errors import UsageError

ONE_PROFILE = {"inputs": {"x": {"dtype": "float32"}}, "outputs": {"y": {"dtype": "float32"}},
               "profiles": [{"x": [[1, 3], [8, 3], [8, 3]]}]}


class _Context:
    def __init__(self, engine: _Engine) -> None:
        self.engine, self.profile, self.shapes = engine, None, {}

    def set_optimization_profile_async(self, profile: int, stream: int) -> bool:
        self.profile = profile
        return True

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        self.shapes[name] = shape
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.shapes["x"]

    def set_tensor_address(self, name: str, ptr: int) -> None:
        pass


class _Engine:
    def __init__(self) -> None:
        self.contexts: list[_Context] = []

    def create_execution_context(self) -> _Context:
        self.contexts.append(_Context(self))
        return self.contexts[-1]


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    def allocate(name: str, is_input: bool, shape: Any, dtype: Any) -> Any:
        return SimpleNamespace(name=name, host=SimpleNamespace(array=np.zeros(shape, dtype)),
                               device=SimpleNamespace(ptr=0))

    monkeypatch.setattr(tensorrt_slots.Binding, "allocate", staticmethod(allocate))
    monkeypatch.setattr(tensorrt_slots, "cudart", lambda: SimpleNamespace(
        cudaStreamSynchronize=lambda stream: (0,)))
    monkeypatch.setattr(tensorrt_slots, "check", lambda result, what: None)


def test_streams_beyond_the_profiles_get_their_own_engine_copy() -> None:
    first, made = _Engine(), []

    def another() -> _Engine:
        made.append(_Engine())
        return made[-1]

    slots = tensorrt_slots.make_slots(first, ONE_PROFILE, {"x": np.ones((8, 3), np.float32)},
                                      3, another_engine=another)
    assert len(slots) == 3 and len(made) == 2
    engines = [slot.keepalive[1] for slot in slots]
    assert engines == [first, *made]  # one context on each copy
    assert all(len(e.contexts) == 1 for e in engines)
    # Each copy's first context has profile 0 by itself: none is set.
    assert all(e.contexts[0].profile is None for e in engines)
    assert all(e.contexts[0].shapes == {"x": (8, 3)} for e in engines)


def test_without_a_way_to_copy_the_engine_too_few_profiles_is_an_error() -> None:
    with pytest.raises(UsageError, match=r"--streams 2 needs 2 optimization profiles covering "
                                         r"x 8x3; the engine has 1"):
        tensorrt_slots.make_slots(_Engine(), ONE_PROFILE, {"x": np.ones((8, 3), np.float32)},
                                  2)


def test_a_second_profile_is_used_before_a_copy_is_made() -> None:
    io = {**ONE_PROFILE, "profiles": [*ONE_PROFILE["profiles"], {"x": [[1, 3], [8, 3], [8, 3]]}]}
    engine = _Engine()

    def another() -> _Engine:
        raise AssertionError("two profiles hold batch 8: no copy needed for 2 streams")

    slots = tensorrt_slots.make_slots(engine, io, {"x": np.ones((8, 3), np.float32)}, 2,
                                      another_engine=another)
    assert [s.keepalive[1] for s in slots] == [engine, engine]
    assert [c.profile for c in engine.contexts] == [None, 1]
