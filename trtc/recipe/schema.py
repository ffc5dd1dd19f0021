"""The recipe schema: typed, frozen specs; defaults live here and nowhere else.

The dataclasses are the schema: ``trtc.recipe.validate`` converts YAML into them,
``trtc.recipe.jsonschema`` generates the JSON Schema from them, and the choice
types (``PruneMethod``, ``Backend``, ...) are shared with the CLI's help texts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from trtc.sweep import Sweep

#: The choices of each enumerated key (``typing.get_args(Backend)`` lists them).
Exporter = Literal["auto", "dynamo", "legacy"]
Cleanup = Literal["onnxslim", "graphsurgeon", "none"]
PruneMethod = Literal["2:4", "magnitude", "channel"]
Layout = Literal["NCHW", "NHWC"]
Color = Literal["RGB", "L"]
QuantizePrecision = Literal["int8", "fp8", "fp16", "bf16"]
QuantizeTarget = Literal["tensorrt", "onnxruntime-cpu", "auto"]
CalibMethod = Literal["minmax", "entropy", "percentile"]
BudgetOn = Literal["onnxruntime", "engine"]
FloatPrecision = Literal["fp32", "fp16"]
Backend = Literal["auto", "onnxruntime", "tensorrt"]
Device = Literal["cpu", "cuda"]
OrtOptimizationLevel = Literal["disable", "basic", "extended", "all"]
BuildPrecision = Literal["fp32", "fp16", "bf16", "int8", "fp8", "best"]
HardwareCompatibility = Literal["none", "ampere+", "same-compute-capability"]
VerifyReference = Literal["export", "pytorch"]
VerifyMetric = Literal["none", "top1", "cosine"]
Elementwise = Literal["auto", "on", "off"]
Baseline = Literal["auto", "pytorch", "none"]

Dim = int | str
Shape = tuple[Dim, ...]

STAGES = ("export", "prune", "quantize", "build", "verify", "bench", "package")


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, shape (named strings for dynamic dims) and dtype."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelSpec:
    """Where the model comes from.

    ``source`` is one of ``torchvision:<name>``, ``python:<module or file.py>:<factory>``
    or ``onnx:<path>``. ``weights`` is a state dict loaded with
    ``torch.load(weights_only=True)``.
    """

    source: str
    weights: str | None = None
    factory_args: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[InputSpec, ...] = ()
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportSpec:
    """PyTorch -> ONNX export, cleanup and the PyTorch/ONNX Runtime parity check.

    ``opset`` and ``exporter`` ``auto`` follow the TensorRT the build will use: TensorRT
    8.x gets opset 17 from the TorchScript (``legacy``) exporter, TensorRT 10/11 and
    ONNX Runtime opset 18 from ``dynamo``. ``cleanup: onnxslim`` falls back to
    ``graphsurgeon`` (with a warning) where onnxslim is not installed.
    """

    enabled: bool = True
    #: ONNX opset; ``auto``: what the TensorRT the build uses parses (8.x: 17, else 18;
    #: 18 without TensorRT).
    opset: int | Literal["auto"] = "auto"
    #: torch.onnx exporter; ``auto``: ``legacy`` (TorchScript) where the opset is below 18
    #: (TensorRT 8.x), else ``dynamo``.
    exporter: Exporter = "auto"
    # Sizes used for named dynamic dims while tracing; 1 is avoided because
    # torch.export specialises dims of size 0 and 1.
    example_dims: dict[str, int] = field(default_factory=dict)
    cleanup: Cleanup = "onnxslim"
    parity_atol: float = 1e-4
    parity_rtol: float = 1e-3
    parity_samples: int = 2
    seed: int = 0


@dataclass(frozen=True)
class PruneSpec:
    """Sparsify the exported ONNX: 2:4 structured, unstructured magnitude or whole channels.

    Off by default; ``trtc prune`` and ``prune.enabled: true`` turn it on.
    ``2:4`` zeroes 2 of every 4 weights along the input channels (a speedup only on
    TensorRT sparse tensor cores); ``magnitude`` zeroes the smallest ``ratio`` of each
    layer's weights (smaller compressed size, no speedup); ``channel`` removes
    ``ratio`` of the output channels of Conv->...->Conv/Gemm chains (fewer FLOPs
    everywhere). ``ratio`` is ignored by ``2:4``. ``exclude`` names layers (ONNX node
    names) to leave dense; ``channel_multiple`` rounds kept channel counts up.
    """

    enabled: bool = False
    method: PruneMethod = "2:4"
    ratio: float = 0.5
    exclude: tuple[str, ...] = ()
    channel_multiple: int = 1


@dataclass(frozen=True)
class CalibPreprocessSpec:
    """How an image folder becomes calibration input (resize, center-crop, normalize)."""

    resize: int = 256
    crop: int = 224
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    layout: Layout = "NCHW"
    scale: float = 1 / 255
    color: Color = "RGB"


@dataclass(frozen=True)
class QuantizeSpec:
    """Write reduced precision into the ONNX graph (Q/DQ for int8/fp8, casts for fp16/bf16).

    Off by default; ``trtc quantize`` and ``quantize.enabled: true`` turn it on.
    ``target`` picks the Q/DQ placement: ``tensorrt`` (symmetric int8, Q/DQ only
    where TensorRT fuses them), ``onnxruntime-cpu`` (uint8 activations), or ``auto``:
    the backend ``build.backend`` resolves to on this machine.
    ``calib_data``: ``random`` (seeded; a warning), an ``.npz``, an image folder
    or ``python:<module or file.py>:<function>``; null = none (int8/fp8 need it).
    ``max_drop``: accuracy budget (top-1 points as a fraction with labelled
    ``verify.data``, else 1 - cosine vs FP32); null = no budget. ``budget_on``: what
    the budget search measures, ``onnxruntime`` (the Q/DQ graph on CPU) or ``engine``
    (each candidate built as a TensorRT engine with the build section; without
    TensorRT it runs on ONNX Runtime and warns). ``float_precision`` (int8/fp8 for
    TensorRT): what the nodes outside the Q/DQ part run in; ``fp16`` writes them as
    fp16 with Casts around (TensorRT 11's strongly typed way; 8.6/10 build the same
    graph with the fp16 flag set), ``fp32`` leaves them fp32.
    """

    enabled: bool = False
    precision: QuantizePrecision = "int8"
    target: QuantizeTarget = "tensorrt"
    calib_data: str | None = None
    calib_samples: int = 64
    calib_batch: int = 1
    calib_method: CalibMethod = "minmax"
    calib_percentile: float = 99.999
    calib_seed: int = 0
    calib_preprocess: CalibPreprocessSpec = field(default_factory=CalibPreprocessSpec)
    exclude_nodes: tuple[str, ...] = ()
    exclude_ops: tuple[str, ...] = ()
    max_drop: float | None = None
    budget_step: int = 1
    budget_on: BudgetOn = "onnxruntime"
    float_precision: FloatPrecision = "fp32"
    # fp16/bf16: keep the graph's inputs and outputs float32 (casts at the boundary).
    keep_io_types: bool = True
    #: Shapes for dynamic inputs while calibrating and measuring ({input: [dims]}, as
    #: ``verify.data.shapes``); named dims not listed here are 1.
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ShapeRangeSpec:
    """One input's shapes in an optimization profile: min <= opt <= max, dim by dim."""

    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]


@dataclass(frozen=True)
class ExpectSpec:
    """What the built TensorRT engine must prove, from its inspector's layer information.

    A fraction is of the compute layers (convolutions, GEMMs, matrix multiplies, fully
    connected) that run in that precision; null = not checked. Fewer fails the build
    (exit 1), naming the layers that did not.
    """

    int8_fraction: float | None = None
    fp16_fraction: float | None = None


@dataclass(frozen=True)
class BuildSpec:
    """Build the artifact a runtime executes.

    ``backend: auto`` picks TensorRT when it imports and a GPU is present, else
    ONNX Runtime. ``optimization_level`` and ``threads`` are ONNX Runtime's;
    the keys after them are TensorRT's (flag = key with dashes, e.g.
    ``--builder-optimization-level``). Unset (None) fields are not sent to the
    backend, so its own defaults apply.
    """

    enabled: bool = True
    backend: Backend = "auto"
    device: Device = "cpu"
    #: ONNX Runtime graph optimisation (TensorRT's own level is builder_optimization_level).
    optimization_level: OrtOptimizationLevel = "all"
    threads: int | None = None
    #: TensorRT builder precision. fp32 keeps the ONNX types (TF32 per ``tf32``);
    #: best = fp16 + int8. TensorRT 11 has no precision flags: use ``trtc quantize``.
    precision: BuildPrecision = "fp32"
    #: TF32 math for fp32 layers (TensorRT's default; trtexec --noTF32 turns it off).
    tf32: bool = True
    #: Strongly typed network (TensorRT >= 9); null = the version's default (on for 11).
    strongly_typed: bool | None = None
    #: int8 calibration data: .npz, python:module:function or random (an image folder:
    #: ``trtc quantize --target tensorrt --calib-data FOLDER`` first).
    int8_calib: str | None = None
    int8_calib_samples: int = 512
    #: Calibration cache file (read if present, else written); null = written fresh next
    #: to the engine (ENGINE.calib.cache).
    int8_calib_cache: str | None = None
    #: Optimization profiles: [{input: {min: [..], opt: [..], max: [..]}}, ...]; empty =
    #: one profile from the recipe's inputs and the verify/bench shapes.
    profiles: tuple[dict[str, ShapeRangeSpec], ...] = ()
    #: Concrete shapes for dynamic inputs, as trtexec's --shapes: without ``profiles``
    #: the engine is built for exactly these (min = opt = max); {input: [dims]}.
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: Workspace memory-pool limit: bytes or a size such as 4GiB / 512MiB.
    workspace: int | str | None = None
    #: TensorRT builder optimization level 0-5 (TensorRT's default is 3).
    builder_optimization_level: int | None = None
    #: One more profile per listed batch, pinned there (min = opt = max): e.g. [1] gives
    #: batch 1 a profile tuned for it beside the throughput profile in the same engine.
    batch_profiles: tuple[int, ...] = ()
    #: Auxiliary streams TensorRT may run independent layers on (trtexec --maxAuxStreams,
    #: >= 8.6); 0 = the main stream only; null = TensorRT's choice.
    max_aux_streams: int | None = None
    #: Network input types and formats as trtexec's --inputIOFormats: "int8:chw32",
    #: "fp16:hwc8", "fp32:chw" (= linear); one per input in order, or one for all
    #: (a comma-separated string or a list); empty = the ONNX types, linear.
    input_formats: tuple[str, ...] = ()
    #: The same for the outputs (trtexec --outputIOFormats).
    output_formats: tuple[str, ...] = ()
    #: TensorRT tactic sources: auto (8.x: no cuBLAS/cuDNN tactics, as TensorRT 10
    #: defaults to; 10/11: their default), default (TensorRT's own), or a list such as
    #: "JIT_CONVOLUTIONS,EDGE_MASK_CONVOLUTIONS" (trtexec --tacticSources).
    tactic_sources: str = "auto"
    #: Stop a TensorRT build after this many seconds (exit 124); null = no limit.
    timeout_s: float | None = None
    #: Timing cache file (loaded and saved); auto = in the workspace, keyed by GPU and
    #: TensorRT version; null = none.
    timing_cache: str | None = "auto"
    #: Let the builder use 2:4 sparse kernels where the weights have that pattern.
    sparsity: bool = False
    refit: bool = False
    #: Engine loads on newer TensorRT versions too (TensorRT >= 8.6, lean runtime).
    version_compatible: bool = False
    hardware_compatibility: HardwareCompatibility = "none"
    #: Plugin libraries (.so) to load for the build.
    plugins: tuple[str, ...] = ()
    #: Before a TensorRT build, run ONNX Runtime (CPU) at every profile corner.
    preflight: bool = True
    #: Precision the engine must prove: {int8_fraction: 0.8} (--expect-int8 0.8).
    expect: ExpectSpec = field(default_factory=ExpectSpec)



@dataclass(frozen=True)
class ToleranceSpec:
    """Absolute / relative tolerance for one output."""

    atol: float | None = None
    rtol: float | None = None


@dataclass(frozen=True)
class DataSpec:
    """Input data for verify and bench.

    ``source``: ``random`` (seeded, honours dynamic dims), a ``.npz`` path
    (arrays keyed by input name, plus ``labels_key`` for labels), or
    ``python:<module or file.py>:<function>`` returning such a mapping.
    """

    source: str = "random"
    batch: int = 1
    iterations: int = 4
    seed: int = 0
    labels_key: str = "labels"
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifySpec:
    """Compare the built artifact with a reference on the same inputs."""

    enabled: bool = True
    reference: VerifyReference = "export"
    data: DataSpec = field(default_factory=DataSpec)
    atol: float | None = None
    rtol: float | None = None
    per_output: dict[str, ToleranceSpec] = field(default_factory=dict)
    metric: VerifyMetric = "none"
    max_drop: float = 0.01
    # cosine: the mean per-sample cosine similarity of the first output must reach this.
    min_cosine: float = 0.99
    # Element-wise tolerances gate the result (on), are only reported (off), or gate unless
    # the model was changed on purpose by prune/quantize (auto: then the metric gates, and
    # with metric none a cosine check with min_cosine).
    elementwise: Elementwise = "auto"


@dataclass(frozen=True)
class BenchSpec:
    """trtexec-style latency and throughput measurement."""

    enabled: bool = True
    batch: tuple[int, ...] = (1,)
    warmup_ms: float = 200.0
    duration_s: float = 3.0
    min_iterations: int = 10
    threads: int | None = None
    baseline: Baseline = "auto"
    cov_warn: float = 0.025
    seed: int = 0
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: TensorRT engines: replay the enqueue as a CUDA graph (trtexec --useCudaGraph).
    cuda_graph: bool = True
    #: TensorRT engines: streams kept busy at once, each with its own context (throughput).
    streams: int = 1
    #: An earlier bench report.json to compare with (--compare-to); null = no gate.
    baseline_file: str | None = None
    #: Largest allowed median-latency regression against ``baseline_file`` (0.05 = 5 %);
    #: a regression within twice the run-to-run CoV is noise and passes.
    max_regression: float = 0.05
    #: Time every point of a grid in one run: ``'batch=1,8,32 streams=1,2,4'``
    #: (trtc.sweep); an axis left out is ``batch`` / ``streams`` above. null = no sweep.
    sweep: str | None = None
    #: With ``sweep``: the best point is the most samples/s whose request latency (TensorRT:
    #: host latency, copies included) is at most this. null = no bound.
    max_latency_ms: float | None = None

    def swept(self) -> Sweep | None:
        """``sweep`` parsed (validated when the recipe loads), or None."""
        from trtc.sweep import parse_sweep

        if not self.sweep:
            return None
        return parse_sweep(self.sweep, default_batch=self.batch, default_streams=self.streams)

    def all_batches(self) -> tuple[int, ...]:
        """Every batch size bench will run (``batch``, or the sweep's): the build's
        profile must cover them."""
        swept = self.swept()
        return tuple(sorted(set(swept.batch if swept else self.batch)))


Platform = Literal["auto", "tensorrt_plan", "onnxruntime_onnx"]


@dataclass(frozen=True)
class PackageSpec:
    """Put the built artifact into a Triton Inference Server model repository.

    Off by default. ``repository`` is the model repository folder (relative to the
    recipe; null = ``<workspace>/<name>/package/triton``); the model goes to
    ``repository/<model_name>/`` with ``config.pbtxt`` and ``1/model.plan`` (TensorRT)
    or ``1/model.onnx`` (ONNX Runtime). ``max_batch_size`` null = from the build
    profile's largest batch (or the bench / verify batches for a dynamic batch dim).
    """

    enabled: bool = False
    repository: str | None = None
    model_name: str | None = None
    max_batch_size: int | None = None
    dynamic_batching: bool = True
    version: int = 1


@dataclass(frozen=True)
class Recipe:
    """One model's pipeline: where the model comes from and what each stage does."""

    name: str
    model: ModelSpec
    export: ExportSpec = field(default_factory=ExportSpec)
    prune: PruneSpec = field(default_factory=PruneSpec)
    quantize: QuantizeSpec = field(default_factory=QuantizeSpec)
    build: BuildSpec = field(default_factory=BuildSpec)
    verify: VerifySpec = field(default_factory=VerifySpec)
    bench: BenchSpec = field(default_factory=BenchSpec)
    package: PackageSpec = field(default_factory=PackageSpec)
    # Not part of the YAML: where the recipe came from (paths resolve against it).
    path: Path | None = field(default=None, metadata={"internal": True}, compare=False)

    @property
    def is_pytorch(self) -> bool:
        return not self.model.source.startswith("onnx:")

    def enabled_stages(self) -> tuple[str, ...]:
        # An onnx: source still goes through export: it is checked and cleaned up there.
        return tuple(s for s in STAGES if getattr(self, s).enabled)

    def section(self, stage: str) -> dict[str, Any]:
        """Return the resolved section of one stage as plain data (for manifests)."""
        return to_data(getattr(self, stage))


# --------------------------------------------------------------------------- data out


def to_data(obj: Any) -> Any:
    """Return a spec as plain JSON-able data (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.metadata.get("internal")}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


#: verify's default tolerances by the artifact's precision (overridable per output).
#: fp32 ONNX Runtime vs ONNX Runtime differs by float reassociation only; TF32 and
#: reduced precisions need room (TensorRT's TF32 fp32 engine differed by 0.076 on
#: logits of magnitude 38 on an H100).
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "fp32": (1e-4, 1e-3),
    "tf32": (5e-2, 1e-2),
    "fp16": (5e-2, 2e-2),
    "bf16": (1e-1, 5e-2),
    "int8": (2e-1, 1e-1),
    "fp8": (2e-1, 1e-1),
    # TensorRT's "best" lets every layer pick fp32, fp16 or int8: as loose as int8.
    "best": (2e-1, 1e-1),
}
