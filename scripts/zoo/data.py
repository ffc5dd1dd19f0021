"""Realistic inputs for the zoo's models with real weights (the `data` of a zoo entry).

Random noise tells nothing about a trained detector: PP-OCR's text detector answers noise
with a probability map of ~1e-8 everywhere, so int8 and fp32 then differ only in how they
round zero (cosine 0 on CPU int8, on a map nobody would threshold). These functions render
text with Pillow (a dependency of torchvision; the font is Pillow's own) and normalise it
the way RapidOCR feeds PaddleOCR's models, so calibration and verification see text.

Each function takes (batch, height, width, seed) and returns one float32 NCHW array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "invoice",
         "total", "amount", "due", "paid", "model", "engine", "TensorRT", "2026", "No.", "42",
         "Street", "Road", "order", "date", "qty", "price", "EUR", "USD")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size)  # Pillow >= 10.1: a scalable built-in font


def _colour(rng: np.random.Generator, low: int, high: int) -> tuple[int, ...]:
    return tuple(int(v) for v in rng.integers(low, high, 3))


def _words(rng: np.random.Generator, low: int, high: int) -> str:
    return " ".join(str(w) for w in rng.choice(WORDS, int(rng.integers(low, high))))


def _page(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Lines of dark text of mixed sizes on a light background, HWC in 0..1."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), _colour(rng, 190, 256))
    draw = ImageDraw.Draw(img)
    y = int(rng.integers(5, 30))
    while y < height - 30:
        size = int(rng.integers(16, 40))
        draw.text((int(rng.integers(5, max(6, width // 3))), y), _words(rng, 2, 6),
                  fill=_colour(rng, 0, 90), font=_font(size))
        y += size + int(rng.integers(8, 50))
    return np.asarray(img, dtype=np.float32) / 255.0


def _line(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """One cropped text line, as a recogniser gets it: text fills the height, HWC 0..1."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), _colour(rng, 190, 256))
    draw = ImageDraw.Draw(img)
    size = int(height * rng.uniform(0.55, 0.75))
    draw.text((int(rng.integers(2, 12)), (height - size) // 2 - 2), _words(rng, 1, 4),
              fill=_colour(rng, 0, 90), font=_font(size))
    return np.asarray(img, dtype=np.float32) / 255.0


def ocr_page(batch: int, height: int, width: int, seed: int) -> np.ndarray:
    """PP-OCR text detector input: ImageNet-normalised pages of text."""
    rng = np.random.default_rng(seed)
    pages = [(_page(rng, height, width) - IMAGENET_MEAN) / IMAGENET_STD for _ in range(batch)]
    return np.stack(pages).transpose(0, 3, 1, 2).astype(np.float32)


def ocr_line(batch: int, height: int, width: int, seed: int) -> np.ndarray:
    """PP-OCR recogniser / direction classifier input: text lines scaled to -1..1."""
    rng = np.random.default_rng(seed)
    lines = [(_line(rng, height, width) - 0.5) / 0.5 for _ in range(batch)]
    return np.stack(lines).transpose(0, 3, 1, 2).astype(np.float32)


def gaussian(batch: int, height: int, width: int, seed: int) -> np.ndarray:
    """Seeded N(0, 1) images, NCHW: the inputs the random-init models' BatchNorm statistics
    were measured on (scripts/zoo/models.py ``torchvision_calibrated``), as an .npz so the
    accuracy budget has held-out samples."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 3, height, width)).astype(np.float32)
