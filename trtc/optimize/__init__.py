"""Model optimisation on ONNX: pruning, INT8/FP8 Q/DQ and FP16/BF16 (quantize), calibration data."""
