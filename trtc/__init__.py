"""trtc: a recipe-driven model compilation toolchain for NVIDIA TensorRT."""

__version__ = "0.1.0"
