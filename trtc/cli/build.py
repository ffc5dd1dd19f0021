"""trtc build: make the artifact a runtime executes (a TensorRT engine or an ONNX Runtime model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from trtc import api
from trtc.cli.options import Common, ForceOpt, command, one_of
from trtc.cli.output import Output
from trtc.errors import UsageError
from trtc.recipe import Backend, Device, HardwareCompatibility
from trtc.report import dry_run_settings, plan_table, precision_line


def split_workspace(values: list[str] | None) -> tuple[str | None, Path]:
    """Sort ``--workspace`` values into (TensorRT workspace size, artifact root directory).

    ``--workspace 4GiB`` is TensorRT's workspace memory pool (as in the issue's
    interface and trtexec); any other value is the directory artifacts go to.
    Both can be given by repeating the flag.

    Raises:
        UsageError: two sizes or two directories, or a bare number that looks like MiB.
    """
    size: str | None = None
    root: Path | None = None
    for value in values or []:
        if api.is_size(value):
            if size is not None:
                raise UsageError(f"--workspace given two sizes ({size}, {value})")
            if value.strip().isdigit() and int(value) < (1 << 20):
                raise UsageError(f"--workspace {value}: a bare number is bytes here",
                                 f"write the unit: --workspace {value}MiB (trtexec's old "
                                 "--workspace=N was MiB)")
            size = value.strip()
        else:
            if root is not None:
                raise UsageError(f"--workspace given two directories ({root}, {value})")
            root = Path(value)
    return size, root or Path("build")


@command(workspace=False)
def build(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or an ONNX model.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Artifact path "
                                                "(flags mode): OUT.engine or OUT.ort.onnx.")
                      ] = None,
    backend: Annotated[str | None, typer.Option(help=f"{one_of(Backend)}.")] = None,
    precision: Annotated[str | None, typer.Option(
        help="TensorRT precision: fp32, fp16, bf16, int8, fp8 or best (fp16+int8).")] = None,
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", metavar="NAME:MIN,OPT,MAX",
        help="TensorRT optimization profile 'input:MIN,OPT,MAX' "
        "(e.g. 'input:1x3x224x224,8x3x224x224,32x3x224x224'; several inputs joined by "
        "';'). Repeat for several profiles.")] = None,
    workspace: Annotated[list[str] | None, typer.Option(
        "--workspace", metavar="SIZE|DIR",
        help="A size (4GiB, 512MiB): TensorRT's workspace memory pool. "
        "A directory: the artifact root (WORKSPACE/<recipe-name>/<stage>/; default build). "
        "Repeat to give both.")] = None,
    timing_cache: Annotated[str | None, typer.Option(
        help="TensorRT timing cache file, loaded and saved ('auto': in the workspace, keyed "
        "by GPU and TensorRT version; 'none': off).")] = None,
    tf32: Annotated[bool | None, typer.Option("--tf32/--no-tf32", help="TF32 math for fp32 "
                                              "layers (TensorRT's default: on).")] = None,
    strongly_typed: Annotated[bool | None, typer.Option(
        "--strongly-typed/--no-strongly-typed",
        help="Strongly typed TensorRT network: precision from the ONNX types (>= 9; "
        "always on 11).")] = None,
    int8_calib: Annotated[str | None, typer.Option(
        help="int8 calibration data: .npz, python:module:function or random "
        "(TensorRT 8.6 / 10; image folders: trtc quantize --target tensorrt).")] = None,
    int8_calib_samples: Annotated[int | None, typer.Option(
        help="Calibration samples (default 512).")] = None,
    int8_calib_cache: Annotated[str | None, typer.Option(
        help="Calibration cache file (read if present, else written).")] = None,
    builder_optimization_level: Annotated[int | None, typer.Option(
        "--builder-optimization-level", "--opt-level",
        help="TensorRT builder optimization level 0-5 (TensorRT's default 3).")] = None,
    batch_profile: Annotated[list[int] | None, typer.Option(
        help="One more profile pinned to this batch (min = opt = max), e.g. 1 beside the "
        "throughput profile; repeat (build.batch_profiles).")] = None,
    max_aux_streams: Annotated[int | None, typer.Option(
        help="Auxiliary streams TensorRT may run independent layers on (trtexec "
        "--maxAuxStreams; >= 8.6; 0 = main stream only).")] = None,
    input_formats: Annotated[str | None, typer.Option(
        metavar="TYPE:FMT[,..]",
        help="Network input types and formats, as trtexec's --inputIOFormats: "
        "int8:chw32, fp16:hwc8, fp32:chw; one per input or one for all.")] = None,
    output_formats: Annotated[str | None, typer.Option(
        metavar="TYPE:FMT[,..]",
        help="The same for the outputs (trtexec --outputIOFormats).")] = None,
    sparsity: Annotated[bool | None, typer.Option(
        "--sparsity/--no-sparsity", help="Allow TensorRT's 2:4 sparse kernels.")] = None,
    refit: Annotated[bool | None, typer.Option("--refit/--no-refit",
                                               help="Build a refittable engine.")] = None,
    version_compatible: Annotated[bool | None, typer.Option(
        "--version-compatible/--no-version-compatible",
        help="Engine that loads on newer TensorRT versions too (>= 8.6).")] = None,
    hardware_compatibility: Annotated[str | None, typer.Option(
        help=f"{one_of(HardwareCompatibility)} (TensorRT >= 10.9).")] = None,
    plugins: Annotated[list[str] | None, typer.Option(
        "--plugins", metavar="LIB.so",
        help="TensorRT plugin library (.so) to load; repeatable.")] = None,
    preflight: Annotated[bool | None, typer.Option(
        "--preflight/--no-preflight", help="Run ONNX Runtime at every profile corner before "
        "a TensorRT build (default on).")] = None,
    trt_version: Annotated[str | None, typer.Option(
        help="With --dry-run where TensorRT is not installed: preview the settings and "
        "trtexec line for this version (8.6, 10, 11).")] = None,
    device: Annotated[str | None, typer.Option(help=f"ONNX Runtime provider: {one_of(Device)}.")
                      ] = None,
    optimization_level: Annotated[str | None, typer.Option(
        help="ONNX Runtime graph optimisation: disable, basic, extended or all "
        "(TensorRT's level is --opt-level).")] = None,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime intra-op threads.")
                       ] = None,
    shapes: Annotated[str | None, typer.Option(
        "--shapes", help="trtexec's --shapes: build for exactly these shapes of the dynamic "
        "inputs when no --profile is given ('x:1x3x640x640,y:1x128').")] = None,
    tactic_sources: Annotated[str | None, typer.Option(
        help="TensorRT tactic sources: auto (8.x: no cuBLAS/cuDNN tactics, as TensorRT 10 "
        "defaults to), default (TensorRT's own) or a list such as "
        "JIT_CONVOLUTIONS,EDGE_MASK_CONVOLUTIONS.")] = None,
    timeout_s: Annotated[float | None, typer.Option(
        help="Stop a TensorRT build after this many seconds (exit 124).")] = None,
    expect_int8: Annotated[float | None, typer.Option(
        help="Fail (exit 1) unless this fraction of the engine's convolution/GEMM/matmul "
        "layers runs in int8, naming those that do not (build.expect.int8_fraction).")
                           ] = None,
    expect_fp16: Annotated[float | None, typer.Option(
        help="The same for fp16 or narrower (int8 counts): catches an engine that silently "
        "built in fp32 (build.expect.fp16_fraction).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved settings "
                                          "(and the trtexec line); build nothing.")] = False,
    force: ForceOpt = False,
    *, common: Common,
) -> None:
    """Build an optimised artifact (TensorRT engine or ONNX Runtime model) from ONNX."""
    out = common.out
    trt_workspace, root = split_workspace(workspace)
    if trt_version is not None and not dry_run:
        raise UsageError("--trt-version previews settings: use it with --dry-run",
                         "a real build uses the installed TensorRT")
    settings: dict[str, Any] = dict(
        backend=backend, device=device, optimization_level=optimization_level,
        threads=threads, precision=precision, tf32=tf32, strongly_typed=strongly_typed,
        int8_calib=int8_calib, int8_calib_samples=int8_calib_samples,
        int8_calib_cache=int8_calib_cache, builder_optimization_level=builder_optimization_level,
        max_aux_streams=max_aux_streams, input_formats=input_formats,
        output_formats=output_formats,
        batch_profiles=tuple(batch_profile) if batch_profile else None,
        timing_cache=timing_cache, sparsity=sparsity, refit=refit,
        version_compatible=version_compatible, hardware_compatibility=hardware_compatibility,
        plugins=plugins or None, preflight=preflight, tactic_sources=tactic_sources,
        timeout_s=timeout_s)
    expect = {k: v for k, v in (("int8_fraction", expect_int8),
                                ("fp16_fraction", expect_fp16)) if v is not None}
    if expect:
        settings["expect"] = expect
    if dry_run:
        plan = api.build_plan(target, output=output, workspace=root, trt_version=trt_version,
                              trt_workspace=trt_workspace, profiles=profile, shapes=shapes,
                              **settings)
        _show_plan(plan, out)
        return
    outcome = api.build(target, output=output, workspace=root, force=force,
                        trt_workspace=trt_workspace, profiles=profile, shapes=shapes,
                        verbose=out.verbose,
                        reporter=out.reporter(), **settings)
    if api.is_recipe(target):
        out.outcome(outcome)
        out.warnings(outcome.warnings)
        _show_precision(outcome.metrics, out)
        _show_trtexec(outcome.metrics, out)
        out.result(outcome.to_dict())
        return
    out.warnings(outcome.warnings)
    out.info(f"[green]built[/] {output} with {outcome.metrics['backend_choice']} in "
             f"{outcome.metrics['build_time_s']:.2f} s")
    _show_precision(outcome.metrics, out)
    _show_trtexec(outcome.metrics, out)
    out.result({"output": str(output), "metrics": outcome.metrics,
                "warnings": outcome.warnings})


def _show_precision(metrics: dict[str, Any], out: Output) -> None:
    if metrics.get("layer_precision"):
        out.info(precision_line(metrics["layer_precision"]))


def _show_trtexec(metrics: dict[str, Any], out: Output) -> None:
    line = (metrics.get("settings") or {}).get("trtexec")
    if line and out.verbose and not out.json:
        out.err.print(Text(f"trtexec equivalent: {line}"), highlight=False)


def _show_plan(plan: dict[str, Any], out: Output) -> None:
    out.show(plan_table(dry_run_settings(plan)))
    out.warnings(plan.get("warnings", []))
    if "trtexec" in plan and out.human:
        out.console.print(f"trtexec equivalent (TensorRT {plan['tensorrt']['version']}):",
                          highlight=False)
        # One unwrapped line, so that it can be copied into a shell.
        out.console.print(Text(plan["trtexec"]), soft_wrap=True, highlight=False)
    out.result(plan)
