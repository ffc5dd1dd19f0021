"""Model optimisation on ONNX: pruning and quantization."""
