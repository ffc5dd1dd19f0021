"""The public Python API: the functions the ``trtc`` commands call.

Every function takes a recipe (a ``.yaml`` path or a :class:`trtc.recipe.Recipe`)
or a model path, plus keyword overrides of that stage's recipe section (the
keys of :class:`trtc.recipe.QuantizeSpec` for :func:`quantize`, and so on; a
flag ``--calib-data`` is the keyword ``calib_data``).

- Recipe mode runs the stage in its workspace folder
  (``WORKSPACE/<recipe-name>/<stage>/``), skips it when it is up to date and
  writes its manifest, as ``trtc run`` does.
- Flags mode (a model path) makes a recipe for that model with the same
  overrides and runs the same stage job, writing to ``output``; auxiliary files
  go beside it (quantize: ``OUT.calibration.json`` and a calibration cache in
  the output's folder).

Example::

    import trtc.api as trtc

    outcome = trtc.quantize("model.onnx", output="model.int8.onnx", precision="int8",
                            target="onnxruntime-cpu", calib_data="random")
    print(outcome.metrics["qdq"])

Errors are :class:`trtc.errors.TrtcError` subclasses (``UsageError``, ``ModelError``,
``DataError``, ``DependencyError``, ``VerificationError``), never ``SystemExit``.
"""

from trtc.api._support import ENGINE_SUFFIXES, Shapes, Source, is_recipe, is_size
from trtc.api.artifact import bench, build, build_plan, verify
from trtc.api.model import export, prune, quantize
from trtc.api.package import package
from trtc.api.workflow import RunResult, inspect, run, versions
from trtc.pipeline import StageOutcome

__all__ = ["ENGINE_SUFFIXES", "RunResult", "Shapes", "Source", "StageOutcome", "bench", "build",
           "build_plan", "export", "inspect", "is_recipe", "is_size", "package", "prune",
           "quantize", "run", "verify", "versions"]
