"""The demo model: a small CNN trained on scikit-learn's bundled digits dataset.

Used by configs/digits.yaml:
  model.source     python:../scripts/digits.py:build_model
  verify.data      python:../scripts/digits.py:test_split   (held-out split, with labels)

Train (deterministic, a few seconds on 2 cores):
  python scripts/digits.py --out build/digits/train/weights.pt
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

SEED = 0
TEST_FRACTION = 0.2


def build_model():  # type: ignore[no-untyped-def]
    """Return the digits CNN: 1x8x8 image (pixels / 16) -> 10 logits."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def _split():  # type: ignore[no-untyped-def]
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=TEST_FRACTION, random_state=SEED, stratify=y)


def test_split() -> dict:
    """Return the held-out split as {'input': N x 1 x 8 x 8 float32, 'labels': N int64}."""
    _, x_test, _, y_test = _split()
    return {"input": x_test, "labels": y_test}


def train_split() -> dict:
    """Return the training split (for calibration data)."""
    x_train, _, y_train, _ = _split()
    return {"input": x_train, "labels": y_train}


def train(out: Path, epochs: int = 30) -> float:
    """Train deterministically, save the state dict atomically, return test accuracy."""
    import torch

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    x_train, x_test, y_train, y_test = _split()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), 64):
            idx = order[start:start + 64]
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    with torch.inference_mode():
        acc = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    os.close(fd)
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, out)
    return float(acc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/digits/train/weights.pt"))
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    start = time.perf_counter()
    acc = train(args.out, args.epochs)
    print(f"trained digits CNN: test accuracy {acc * 100:.2f}% in "
          f"{time.perf_counter() - start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
