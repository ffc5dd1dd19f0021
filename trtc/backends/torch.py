"""PyTorch: load the recipe's model, export it to ONNX, run it eagerly (reference, baseline)."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtc.errors import DependencyError, ModelError
from trtc.usercode import load_callable

if TYPE_CHECKING:
    import numpy as np
    import torch

    from trtc.backends.base import Feed
    from trtc.recipe import InputSpec, ModelSpec

TORCH_HINT = "pip install 'trtc[torch]' (torch, torchvision)"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise DependencyError("PyTorch is needed for a PyTorch model source but is not "
                              "installed", TORCH_HINT) from None
    return torch


def load_model(spec: ModelSpec) -> torch.nn.Module:
    """Build the PyTorch model from the recipe and load its weights (eval mode).

    Raises:
        ModelError: unknown torchvision name, a factory that raises or returns no
            module, a missing/unreadable weights file, or weights that do not fit.
    """
    torch = _torch()
    # Seed the random init so every stage that builds the model (export, the PyTorch
    # reference, the baseline) gets the same weights, and exports are reproducible.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = _build_model(spec)
    if spec.weights:
        state = load_state_dict(spec.weights)
        try:
            model.load_state_dict(state)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ModelError(f"model.weights {spec.weights}: does not fit {spec.source}: "
                             f"{_state_dict_problem(str(exc))}",
                             "use the weights saved from this model (same factory and "
                             "factory_args), or check model.source") from None
    return model.eval()


def _state_dict_problem(text: str) -> str:
    """The first few problems of torch's load_state_dict error, on one line."""
    lines = [ln.strip() for ln in text.splitlines()[1:] if ln.strip()] or [text.strip()]
    joined = "; ".join(lines)
    return joined if len(joined) <= 300 else joined[:297] + "..."


def _build_model(spec: ModelSpec) -> torch.nn.Module:
    torch = _torch()
    source = spec.source
    if source.startswith("torchvision:"):
        name = source.split(":", 1)[1]
        try:
            import torchvision
        except ImportError:
            raise DependencyError("torchvision is needed for " + source, TORCH_HINT) from None
        try:
            model = torchvision.models.get_model(name, weights=None, **spec.factory_args)
        except (ValueError, KeyError) as exc:
            raise ModelError(f"model.source {source}: torchvision has no model {name!r} "
                             f"({exc})", "see torchvision.models.list_models()") from None
    elif source.startswith("python:"):
        factory = load_callable(source, "model.source", ModelError)
        try:
            model = factory(**spec.factory_args)
        except Exception as exc:
            raise ModelError(f"model.source {source}: the factory raised "
                             f"{type(exc).__name__}: {exc}",
                             "fix the factory or its factory_args") from None
        if not isinstance(model, torch.nn.Module):
            raise ModelError(f"model.source {source}: the factory returned "
                             f"{type(model).__name__}, not a torch.nn.Module")
    else:
        raise ModelError(f"model.source {source} is not a PyTorch model")
    return model


def load_state_dict(path: str) -> dict[str, Any]:
    torch = _torch()
    if not Path(path).is_file():
        raise ModelError(f"model.weights: file not found: {path}",
                         "check the path (relative to the recipe), or train/download it first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        if "weights only" in text.lower() or "weights_only" in text:
            # torch's message goes on to suggest weights_only=False: never pass that on,
            # it would run whatever code the file carries.
            why = ("it holds Python objects other than tensors, and unpickling them could "
                   "run code (trtc never does)")
        else:
            why = text.splitlines()[0] if text.strip() else type(exc).__name__
        raise ModelError(f"model.weights {path}: cannot load with torch.load(weights_only=True)"
                         f": {why}",
                         "save a plain state_dict with torch.save(model.state_dict(), path)"
                         ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"model.weights {path}: holds a {type(state).__name__}, "
                         "not a state_dict")
    return state


def example_inputs(inputs: Sequence[InputSpec], dims: dict[str, int],
                   seed: int) -> list[torch.Tensor]:
    """Make seeded example tensors, named dims taken from ``dims`` (default 2)."""
    torch = _torch()
    gen = torch.Generator().manual_seed(seed)
    tensors = []
    for spec in inputs:
        shape = [d if isinstance(d, int) else dims.get(d, 2) for d in spec.shape]
        dtype = getattr(torch, spec.dtype)
        if dtype.is_floating_point:
            tensors.append(torch.randn(shape, generator=gen).to(dtype))
        elif dtype == torch.bool:
            tensors.append(torch.randint(0, 2, shape, generator=gen).bool())
        else:
            tensors.append(torch.randint(0, 8, shape, generator=gen).to(dtype))
    return tensors


def export_onnx(model: torch.nn.Module, inputs: Sequence[InputSpec], output_names: list[str],
                out_path: Path, *, opset: int, exporter: str,
                example_dims: dict[str, int], seed: int) -> dict[str, Any]:
    """Export with torch.onnx (``dynamo``: torch's current default; ``legacy``: TorchScript).

    The model is written to ``out_path`` (possibly with an external-data file
    beside it, which the caller folds back in).
    """
    torch = _torch()
    args = tuple(example_inputs(inputs, example_dims, seed))
    input_names = [s.name for s in inputs]
    kwargs: dict[str, Any] = {"input_names": input_names, "output_names": output_names,
                              "opset_version": opset}
    dynamic = {s.name: {i: d for i, d in enumerate(s.shape) if isinstance(d, str)}
               for s in inputs}
    has_dynamic = any(dynamic.values())
    if exporter == "dynamo":
        kwargs["dynamo"] = True
        if has_dynamic:
            dims: dict[str, Any] = {}
            kwargs["dynamic_shapes"] = tuple(
                {i: dims.setdefault(name, torch.export.Dim(name)) for i, name in axes.items()}
                or None for axes in dynamic.values())
    else:
        kwargs["dynamo"] = False
        if has_dynamic:
            axes: dict[str, dict[int, str]] = {k: v for k, v in dynamic.items() if v}
            first = next(iter(v for v in dynamic.values() if 0 in v), None)
            if first is not None:  # outputs follow the batch dim of the first input
                for name in output_names:
                    axes[name] = {0: first[0]}
            kwargs["dynamic_axes"] = axes
    log = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(log):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, args, str(out_path), **kwargs)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ModelError(f"torch.onnx.export ({exporter}) failed: {type(exc).__name__}: "
                         f"{text[0] if text else ''}",
                         "try export.exporter: legacy, another opset, or fix the model"
                         ) from None
    return {"exporter": exporter, "opset_requested": opset,
            "example_shapes": {n: list(t.shape) for n, t in zip(input_names, args)}}


def output_names_for(model: torch.nn.Module, spec: ModelSpec, dims: dict[str, int],
                     seed: int) -> list[str]:
    """Name the outputs: the recipe's names, else ``output`` / ``output_<i>``."""
    if spec.outputs:
        return list(spec.outputs)
    torch = _torch()
    with torch.inference_mode():
        out = model(*example_inputs(spec.inputs, dims, seed))
    count = len(_flatten(out))
    return ["output"] if count == 1 else [f"output_{i}" for i in range(count)]


def _flatten(out: Any) -> list[Any]:
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten(o)]
    return [out]


def run_eager(model: torch.nn.Module, feed: Feed, input_names: Sequence[str],
              output_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Run the model on numpy inputs, return numpy outputs by name."""
    torch = _torch()
    with torch.inference_mode():
        out = model(*[torch.from_numpy(feed[n]) for n in input_names])
    flat = _flatten(out)
    if len(flat) != len(output_names):
        raise ModelError(f"the PyTorch model returned {len(flat)} outputs, the ONNX model "
                         f"has {len(output_names)} ({', '.join(output_names)})")
    return {n: t.detach().cpu().numpy() for n, t in zip(output_names, flat)}


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    torch = _torch()
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def infer_fn(model: torch.nn.Module, input_names: Sequence[str]) -> Callable[[Feed], Any]:
    """Return a function running one eager forward pass on numpy inputs (for timing)."""
    torch = _torch()

    def infer(feed: Feed) -> Any:
        with torch.inference_mode():
            return model(*[torch.from_numpy(feed[n]) for n in input_names])

    return infer


def runner(model: torch.nn.Module, inputs: Mapping[str, tuple[str, Sequence[int | str]]],
           output_names: Sequence[str], name: str = "pytorch") -> Any:
    """Return a Polygraphy runner for the eager model on CPU.

    Polygraphy's own PytRunner moves inputs to CUDA and zips a single output
    tensor row by row, so it cannot be the CPU reference.
    """
    import time

    import numpy as np
    from polygraphy.backend.base import BaseRunner
    from polygraphy.common import TensorMetadata

    class TorchCpuRunner(BaseRunner):
        def __init__(self) -> None:
            super().__init__(name=name, prefix="pytorch-cpu")

        def activate_impl(self) -> None:
            pass

        def get_input_metadata_impl(self) -> Any:
            # The comparator feeds a runner only the inputs its metadata names.
            meta = TensorMetadata()
            for input_name, (dtype, shape) in inputs.items():
                meta.add(input_name, np.dtype(dtype),
                         [d if isinstance(d, int) else -1 for d in shape])
            return meta

        def infer_impl(self, feed_dict: Feed) -> Any:
            start = time.perf_counter()
            out = run_eager(model, feed_dict, list(inputs), output_names)
            self.inference_time = time.perf_counter() - start
            return OrderedDict(out)

        def deactivate_impl(self) -> None:
            pass

    return TorchCpuRunner()
