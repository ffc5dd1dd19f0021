"""Image folders as calibration data: torchvision-style Resize + CenterCrop, normalised.

Files are read in sorted order (class sub-folders included) and picked evenly
over the list, so a folder sorted by class does not calibrate on one class.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trtc.data import InputInfo
from trtc.errors import DataError, DependencyError, UsageError
from trtc.recipe import CalibPreprocessSpec
from trtc.shapes import format_shape

#: Image file suffixes read from a folder (what Pillow decodes in every build).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm")

#: How an image folder becomes an input tensor: the recipe's ``quantize.calib_preprocess``
#: (the usual ImageNet recipe by default). Each image is converted to ``color`` ("RGB" or
#: "L"), resized so its shorter side is ``resize`` pixels, center-cropped to ``crop`` x
#: ``crop``, multiplied by ``scale``, normalized per channel with ``mean`` / ``std`` (after
#: scaling) and laid out as ``layout`` with a leading batch axis.
ImagePreprocess = CalibPreprocessSpec

def image_files(folder: Path) -> list[Path]:
    """Every non-hidden file under ``folder``, sorted (class sub-folders included)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".")
                                             for part in p.relative_to(folder).parts))


def pick_evenly(files: Sequence[Path], count: int) -> list[Path]:
    """Pick ``count`` files spread evenly over the sorted list.

    Image folders are often sorted by class (class sub-folders): the first N
    files would calibrate on one class only.
    """
    if count >= len(files):
        return list(files)
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def image_arrays(folder: Path, infos: Sequence[InputInfo], samples: int,
                 pre: ImagePreprocess) -> dict[str, np.ndarray]:
    """Read up to ``samples`` images of ``folder`` as the one input's array (first axis = samples).

    Raises:
        DataError: several inputs, an empty folder, a non-image file, or images that cannot
            feed the input.
    """
    if len(infos) != 1:
        raise DataError(f"{folder}: an image folder feeds one input, the model has "
                        f"{len(infos)} ({', '.join(i.name for i in infos)})",
                        "use an .npz or python:module:function for multi-input models")
    info = infos[0]
    check_image_input(info, pre)
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder}: the image folder is empty", "put calibration images in it "
                        f"({', '.join(IMAGE_SUFFIXES[:3])}, ...)")
    for path in files:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}: not a supported image file ({path.suffix or 'no suffix'})",
                            f"image folders hold only {', '.join(IMAGE_SUFFIXES)} files; "
                            "move it out")
    images = np.stack([load_image(p, pre) for p in pick_evenly(files, samples)])
    return {info.name: images.astype(info.dtype)}


def check_image_input(info: InputInfo, pre: ImagePreprocess) -> None:
    """Raise unless images preprocessed with ``pre`` fit ``info`` (rank, channels, size, dtype)."""
    # The settings themselves first: a bad crop is a usage error, not a model mismatch.
    if pre.crop > pre.resize or pre.crop < 1 or 0 in pre.std:
        raise UsageError(f"preprocess crop {pre.crop} must be >= 1 and <= resize {pre.resize}, "
                         "std must not be 0", "e.g. resize 256, crop 224")
    if np.dtype(info.dtype).kind != "f":
        raise DataError(f"input '{info.name}' is {info.dtype}; image folders feed float inputs",
                        "use an .npz or python:module:function")
    if len(info.shape) != 4:
        raise DataError(f"input '{info.name}' has shape {format_shape(info.shape)}; image folders "
                        "feed 4-D image inputs (NCHW or NHWC)",
                        "use an .npz or python:module:function")
    channels = 3 if pre.color == "RGB" else 1
    c_axis, hw = (1, info.shape[2:]) if pre.layout == "NCHW" else (3, info.shape[1:3])
    want_c = info.shape[c_axis]
    if isinstance(want_c, int) and want_c != channels:
        other = info.shape[3 if pre.layout == "NCHW" else 1]
        hint = (f"set layout {'NHWC' if pre.layout == 'NCHW' else 'NCHW'}"
                if other == channels else f"set color {'L' if want_c == 1 else 'RGB'}")
        raise DataError(f"input '{info.name}' (shape {format_shape(info.shape)}, {pre.layout}) has "
                        f"{want_c} channels, {pre.color} images have {channels}", hint)
    for dim in hw:
        if isinstance(dim, int) and dim != pre.crop:
            raise DataError(f"input '{info.name}' takes {format_shape(hw)} images (shape "
                            f"{format_shape(info.shape)}), the preprocessing crops "
                            f"{pre.crop}x{pre.crop}",
                            f"set crop {dim} (and resize >= {dim})")
    for key, values in (("mean", pre.mean), ("std", pre.std)):
        if len(values) not in (1, channels):
            raise UsageError(f"preprocess {key} has {len(values)} values for {channels}-channel "
                             f"{pre.color} images", f"give 1 or {channels} values")


def resized_size(size: tuple[int, int], shorter: int) -> tuple[int, int]:
    """(width, height) with the shorter side ``shorter``, the longer truncated as torchvision does.

    Calibration must see the preprocessing the model was trained and will be
    served with, and that is most often torchvision's Resize + CenterCrop.
    """
    w, h = size
    if w <= h:
        return shorter, int(shorter * h / w)
    return int(shorter * w / h), shorter


def load_image(path: Path, pre: ImagePreprocess) -> np.ndarray:
    """Read one image and preprocess it into a float32 CHW / HWC array (no batch axis).

    Resize (bilinear, antialiased) and center crop follow torchvision's
    ``Resize(resize)`` + ``CenterCrop(crop)`` on PIL images.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DependencyError("reading an image folder needs Pillow",
                              "pip install pillow") from None
    try:
        with Image.open(path) as opened:
            img = opened.convert(pre.color)
        size = resized_size(img.size, pre.resize)
        img = img.resize(size, Image.Resampling.BILINEAR)
        left, top = (round((size[0] - pre.crop) / 2), round((size[1] - pre.crop) / 2))
        img = img.crop((left, top, left + pre.crop, top + pre.crop))
        pixels = np.asarray(img, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read as an image ({type(exc).__name__}: {exc})",
                        "remove or replace the file") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    mean, std = np.asarray(pre.mean, np.float32), np.asarray(pre.std, np.float32)
    arr = ((pixels * np.float32(pre.scale) - mean) / std).astype(np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1) if pre.layout == "NCHW" else arr)
