"""Pure TensorRT planning: every build decision as data, tested on CPU for 8.6, 10 and 11.

Nothing in this package imports tensorrt, polygraphy or cuda; the adapter
``trtc/backends/tensorrt.py`` (the only module importing tensorrt) turns what is
decided here into Polygraphy / TensorRT calls.

    versions     parsing versions, the feature gates per version, the parser's opsets
    settings     the build settings as one table of rows; TrtBuildSettings; plan_trt_build
    precision    precision -> builder flags / strongly typed / int8 mode, per version
    profiles     optimization profiles: parse, default, check against the model, corners
    trtexec      the equivalent trtexec line (from the settings table)
    io_formats   network I/O types / formats (--inputIOFormats): checks, host layout
    int8_io      int8 I/O: the Q/DQ node at the network's edge removed before parsing
    model        what the build reads from the ONNX: inputs, Q/DQ, trtc's quantize metadata
    calibration  the int8 calibration feeds
    engine_file  the files beside an engine: sidecar, layers.json, timing caches, verdicts
    inspector    the engine inspector's JSON, read leniently, and its per-layer summary
    diagnostics  TensorRT / Polygraphy failures as trtc errors with what to do
"""
