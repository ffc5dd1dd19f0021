"""Tests for trtc.optimize.calibdata: every source kind on tiny generated data, every bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trtc.errors import DataError, UsageError
from trtc.optimize.calibdata import (
    RANDOM_WARNING,
    CalibrationSet,
    ImagePreprocess,
    calibration_batches,
)
from trtc.optimize.calibimages import pick_evenly

IMAGE = {"x": ("float32", ("batch", 3, 8, 8))}
STATIC4 = {"x": ("float32", (4, 3, 8, 8))}
TWO = {"a": ("float32", ("batch", 4)), "ids": ("int64", ("batch", 2))}
SMALL = ImagePreprocess(resize=8, crop=8)


def _one_line(exc: pytest.ExceptionInfo[Exception]) -> str:
    message = str(exc.value)
    assert "\n" not in message and exc.value.hint  # type: ignore[attr-defined]
    return message


def _samples(calib: CalibrationSet, name: str = "x") -> np.ndarray:
    return np.concatenate([f[name] for f in calib.feeds])


# --------------------------------------------------------------------------- random


def test_random_is_seeded_batched_truncated_and_warns() -> None:
    calib = calibration_batches("random", IMAGE, samples=5, batch=2, seed=3)
    assert [f["x"].shape for f in calib.feeds] == [(2, 3, 8, 8), (2, 3, 8, 8), (1, 3, 8, 8)]
    assert calib.samples == 5 and calib.feeds[0]["x"].dtype == np.float32
    assert calib.warnings[0] == RANDOM_WARNING and "footgun" not in calib.source
    again = calibration_batches("random", IMAGE, samples=5, batch=2, seed=3)
    other = calibration_batches("random", IMAGE, samples=5, batch=2, seed=4)
    assert again.fingerprint == calib.fingerprint != other.fingerprint
    np.testing.assert_array_equal(_samples(again), _samples(calib))


def test_random_respects_a_static_batch_dim_and_input_dtypes() -> None:
    calib = calibration_batches("random", STATIC4, samples=10)
    assert [f["x"].shape[0] for f in calib.feeds] == [4, 4]  # no short batch: the dim is static
    assert calib.samples == 8 and any("8 samples, 10 asked" in w for w in calib.warnings)
    two = calibration_batches("random", TWO, samples=3, batch=3)
    assert two.feeds[0]["ids"].dtype == np.int64 and two.feeds[0]["a"].shape == (3, 4)


def test_random_needs_shapes_for_dynamic_non_batch_dims() -> None:
    tokens = {"ids": ("int64", ("batch", "seq"))}
    with pytest.raises(DataError, match="input 'ids' has dynamic dim 'seq' at axis 1"):
        calibration_batches("random", tokens, samples=2)
    calib = calibration_batches("random", tokens, samples=2, shapes={"ids": (1, 5)})
    assert [f["ids"].shape for f in calib.feeds] == [(1, 5), (1, 5)]


def test_a_static_batch_dim_wins_over_the_asked_batch(npz: Path) -> None:
    calib = calibration_batches(str(npz), {"x": ("float32", (2, 3, 8, 8))}, samples=4, batch=8)
    assert [f["x"].shape[0] for f in calib.feeds] == [2, 2]
    assert "static (2): calibrating in batches of 2, not 8" in calib.warnings[0]


def test_bad_counts_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        calibration_batches("random", IMAGE, samples=0)


# --------------------------------------------------------------------------- .npz


@pytest.fixture
def npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "calib.npz"
    np.savez(path, x=rng.random((10, 3, 8, 8), dtype=np.float32),
             labels=np.arange(10))
    return path


def test_npz_is_split_in_batches_and_truncated(npz: Path) -> None:
    calib = calibration_batches(str(npz), IMAGE, samples=7, batch=4)
    assert [f["x"].shape[0] for f in calib.feeds] == [4, 3] and set(calib.feeds[0]) == {"x"}
    np.testing.assert_array_equal(_samples(calib), np.load(npz)["x"][:7])
    assert calib.samples == 7 and calib.warnings == [] and calib.source == str(npz)
    prefixed = calibration_batches(f"npz:{npz}", IMAGE, samples=7, batch=4)
    np.testing.assert_array_equal(_samples(prefixed), _samples(calib))


def test_npz_fewer_samples_than_asked_is_a_warning(npz: Path) -> None:
    calib = calibration_batches(str(npz), IMAGE, samples=50, batch=8)
    assert calib.samples == 10 and calib.warnings == [f"{npz} has 10 samples, 50 asked: "
                                                      "calibrating on 10"]


def test_single_unnamed_array_feeds_a_single_input(tmp_path: Path) -> None:
    path = tmp_path / "bare.npz"
    np.savez(path, np.ones((3, 3, 8, 8), np.float64))  # saved as arr_0, cast to the input dtype
    calib = calibration_batches(str(path), IMAGE, samples=3)
    assert len(calib.feeds) == 3 and calib.feeds[0]["x"].dtype == np.float32


def test_fingerprint_follows_the_data(tmp_path: Path) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, x=np.zeros((2, 3, 8, 8), np.float32))
    np.savez(b, x=np.zeros((2, 3, 8, 8), np.float32) + 1e-3)
    fa = calibration_batches(str(a), IMAGE, samples=2).fingerprint
    assert fa == calibration_batches(str(a), IMAGE, samples=2).fingerprint
    assert fa != calibration_batches(str(b), IMAGE, samples=2).fingerprint
    assert fa != calibration_batches(str(a), IMAGE, samples=1).fingerprint
    # The same samples under another name: the same fingerprint (the cache is reused).
    c = tmp_path / "copy" / "a.npz"
    c.parent.mkdir()
    c.write_bytes(a.read_bytes())
    assert fa == calibration_batches(str(c), IMAGE, samples=2).fingerprint


@pytest.mark.parametrize(("arrays", "expected"), [
    ({"y": np.zeros((2, 3, 8, 8), np.float32)}, "no array for input 'x'"),
    ({"x": np.zeros((2, 3, 8, 8), np.float32), "z": np.zeros(2)}, "array 'z' matches no model"),
    ({"x": np.zeros((2, 3, 9, 8), np.float32)}, "input 'x' axis 2 must be 8"),
    ({"x": np.zeros((2, 3, 8), np.float32)}, "input 'x' has rank 4"),
    ({"x": np.zeros((2, 3, 8, 8), np.int32)}, "input 'x' is int32, the model wants float32"),
])
def test_npz_mismatches_name_the_file_and_input(tmp_path: Path, arrays: dict[str, np.ndarray],
                                                expected: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    with pytest.raises(DataError) as exc:
        calibration_batches(str(path), IMAGE, samples=2)
    assert str(path) in _one_line(exc) and expected in str(exc.value)


@pytest.mark.parametrize(("value", "expected"), [(np.nan, "3 NaN and 0 Inf"),
                                                 (np.inf, "0 NaN and 3 Inf")])
def test_nan_and_inf_are_counted_by_input(tmp_path: Path, value: float, expected: str) -> None:
    x = np.zeros((2, 3, 8, 8), np.float32)
    x[1, 0, 0, :3] = value
    path = tmp_path / "nan.npz"
    np.savez(path, x=x)
    with pytest.raises(DataError) as exc:
        calibration_batches(str(path), IMAGE, samples=2)
    assert _one_line(exc) == (f"{path}: input 'x' has {expected} values in 1 of 2 samples "
                              "(first: sample 1)")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        calibration_batches(str(tmp_path / "nope.npz"), IMAGE, samples=2)
    assert "nope.npz" in _one_line(exc)


# --------------------------------------------------------------------------- image folders


def _png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (8, 8),
         mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    color: int | tuple[int, int, int] = rgb if mode == "RGB" else rgb[0]
    Image.new(mode, size, color).save(path)
    return path


def test_image_folder_is_normalized_per_channel_in_nchw(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (255, 0, 51))
    _png(tmp_path / "b.png", (0, 102, 255))
    calib = calibration_batches(str(tmp_path), IMAGE, samples=2, batch=2, preprocess=SMALL)
    x = calib.feeds[0]["x"]
    assert x.shape == (2, 3, 8, 8) and x.dtype == np.float32
    mean, std = np.array(SMALL.mean), np.array(SMALL.std)
    for img, rgb in zip(x, [(255, 0, 51), (0, 102, 255)]):
        expected = (np.array(rgb) / 255 - mean) / std
        np.testing.assert_allclose(img.reshape(3, -1).mean(axis=1), expected, rtol=1e-5)
        assert np.ptp(img.reshape(3, -1), axis=1).max() < 1e-5  # solid colour stays solid


def test_image_resize_shorter_side_and_center_crop(tmp_path: Path) -> None:
    img = Image.new("RGB", (16, 8), (255, 0, 0))  # left half red, right half blue
    img.paste((0, 0, 255), (8, 0, 16, 8))
    img.save(tmp_path / "wide.png")
    pre = ImagePreprocess(resize=8, crop=8, mean=(0.0,), std=(1.0,))
    x = calibration_batches(str(tmp_path), IMAGE, samples=1, preprocess=pre).feeds[0]["x"][0]
    np.testing.assert_array_equal(x[0, :, :4], 1.0)  # columns 4..7 of the original: red
    np.testing.assert_array_equal(x[2, :, 4:], 1.0)  # columns 8..11: blue
    np.testing.assert_array_equal(x[0, :, 4:], 0.0)
    big = ImagePreprocess(resize=16, crop=8, mean=(0.0,), std=(1.0,))
    y = calibration_batches(str(tmp_path), IMAGE, samples=1, preprocess=big).feeds[0]["x"][0]
    # 32x16 after the resize; the crop keeps columns 12..19, across the colour edge at 16
    # (bilinear blends the two columns next to it)
    assert y.shape == (3, 8, 8)
    np.testing.assert_allclose(y[0, :, :3], 1.0)
    np.testing.assert_allclose(y[2, :, 5:], 1.0)
    np.testing.assert_allclose(y[0, :, 5:], 0.0)


def test_grayscale_nhwc(tmp_path: Path) -> None:
    _png(tmp_path / "g.png", (128, 0, 0), mode="L")
    pre = ImagePreprocess(resize=8, crop=8, mean=(0.5,), std=(0.5,), layout="NHWC", color="L")
    calib = calibration_batches(str(tmp_path), {"x": ("float32", ("n", 8, 8, 1))},
                                samples=1, preprocess=pre)
    x = calib.feeds[0]["x"]
    assert x.shape == (1, 8, 8, 1)
    np.testing.assert_allclose(x, (128 / 255 - 0.5) / 0.5, atol=1e-6)


def test_images_are_taken_sorted_and_spread_over_class_folders(tmp_path: Path) -> None:
    for cls in range(3):
        for k in range(4):  # class folders sorted by name: a naive first-N takes class 0 only
            _png(tmp_path / f"class{cls}" / f"img{k}.png", (cls * 100, k * 10, 0))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "notes.txt").write_text("ignored")
    pre = ImagePreprocess(resize=8, crop=8, mean=(0.0,), std=(1.0,), scale=1.0)
    calib = calibration_batches(str(tmp_path), IMAGE, samples=3, preprocess=pre)
    reds = [float(f["x"][0, 0, 0, 0]) for f in calib.feeds]
    assert reds == [0.0, 100.0, 200.0]
    everything = calibration_batches(str(tmp_path), IMAGE, samples=20, preprocess=pre)
    assert everything.samples == 12 and "12 samples, 20 asked" in everything.warnings[0]
    greens = [float(f["x"][0, 1, 0, 0]) for f in everything.feeds[:4]]
    assert greens == [0.0, 10.0, 20.0, 30.0]


def test_pick_evenly() -> None:
    files = [Path(str(i)) for i in range(10)]
    assert pick_evenly(files, 5) == [Path(s) for s in "02468"]
    assert pick_evenly(files, 20) == files


def test_empty_image_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        calibration_batches(str(tmp_path), IMAGE, samples=2, preprocess=SMALL)
    assert _one_line(exc) == f"{tmp_path}: the image folder is empty"


def test_unsupported_file_in_an_image_folder_is_named(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (1, 2, 3))
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError) as exc:
        calibration_batches(str(tmp_path), IMAGE, samples=2, preprocess=SMALL)
    assert _one_line(exc).startswith(f"{tmp_path / 'notes.txt'}: not a supported image file")


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (1, 2, 3))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataError) as exc:
        calibration_batches(str(tmp_path), IMAGE, samples=2, preprocess=SMALL)
    assert _one_line(exc).startswith(f"{tmp_path / 'b.png'}: cannot read as an image")


def test_image_folder_refuses_a_multi_input_model(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (1, 2, 3))
    with pytest.raises(DataError) as exc:
        calibration_batches(str(tmp_path), TWO, samples=1)
    assert "image folder feeds one input, the model has 2 (a, ids)" in _one_line(exc)


@pytest.mark.parametrize(("inputs", "pre", "expected", "hint"), [
    (IMAGE, ImagePreprocess(), "takes 8x8 images", "set crop 8"),
    ({"x": ("float32", ("n", 8, 8, 3))}, SMALL, "has 8 channels, RGB images have 3",
     "set layout NHWC"),
    ({"x": ("float32", ("n", 1, 8, 8))}, SMALL, "has 1 channels", "set color L"),
    ({"x": ("int64", ("n", 3, 8, 8))}, SMALL, "is int64; image folders feed float", "npz"),
])
def test_image_preprocessing_that_cannot_fit_the_input(
        tmp_path: Path, inputs: dict[str, tuple[str, tuple[int | str, ...]]],
        pre: ImagePreprocess, expected: str, hint: str) -> None:
    _png(tmp_path / "a.png", (1, 2, 3))
    with pytest.raises(DataError) as exc:
        calibration_batches(str(tmp_path), inputs, samples=1, preprocess=pre)
    assert expected in _one_line(exc) and "'x'" in str(exc.value)
    assert hint in str(exc.value.hint)


def test_mean_for_the_wrong_channel_count(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (1, 2, 3), mode="L")
    pre = ImagePreprocess(resize=8, crop=8, color="L")  # ImageNet's 3-value mean
    with pytest.raises(UsageError, match="mean has 3 values for 1-channel L images"):
        calibration_batches(str(tmp_path), {"x": ("float32", ("n", 1, 8, 8))}, samples=1,
                            preprocess=pre)


# --------------------------------------------------------------------------- python readers


READERS = textwrap.dedent('''
    import itertools
    import numpy as np

    def mapping():
        return {"x": np.full((6, 3, 8, 8), 2.0, np.float32), "labels": np.arange(6)}

    def pair():
        return np.ones((3, 3, 8, 8), np.float32), np.arange(3)

    def endless():
        for k in itertools.count():
            yield {"x": np.full((2, 3, 8, 8), k, np.float32)}

    def single_samples():
        return [{"x": np.full((3, 8, 8), k, np.float32)} for k in range(5)]

    def two_inputs():
        yield {"a": np.ones((2, 4), np.float32), "ids": np.zeros((2, 2), np.int64)}
        yield {"a": np.ones((2, 4), np.float32), "ids": np.zeros((2, 2), np.int32)}

    def ragged():
        yield {"x": np.ones((1, 3, 8, 8), np.float32)}
        yield {"x": np.ones((1, 3, 9, 8), np.float32)}

    def explodes():
        raise RuntimeError("disk on fire")

    def lazy_explodes():
        yield {"x": np.ones((1, 3, 8, 8), np.float32)}
        raise RuntimeError("disk on fire")

    def scalar():
        return 42

    def not_dicts():
        return [np.ones((1, 3, 8, 8))]

    def with_nan():
        x = np.zeros((2, 3, 8, 8), np.float32)
        x[0, 0, 0, 0] = np.nan
        return {"x": x}
''')


@pytest.fixture
def readers(tmp_path: Path) -> str:
    path = tmp_path / "readers.py"
    path.write_text(READERS)
    return f"python:{path}"


def test_python_mapping_drops_labels(readers: str) -> None:
    calib = calibration_batches(f"{readers}:mapping", IMAGE, samples=4, batch=2)
    assert [set(f) for f in calib.feeds] == [{"x"}, {"x"}] and calib.samples == 4
    assert (_samples(calib) == 2.0).all() and calib.source == f"{readers}:mapping"


def test_python_inputs_labels_pair(readers: str) -> None:
    assert calibration_batches(f"{readers}:pair", IMAGE, samples=3).samples == 3


def test_python_generator_is_consumed_only_up_to_samples(readers: str) -> None:
    calib = calibration_batches(f"{readers}:endless", IMAGE, samples=5, batch=4)
    assert [f["x"].shape[0] for f in calib.feeds] == [4, 1]
    assert [float(v) for v in _samples(calib)[:, 0, 0, 0]] == [0, 0, 1, 1, 2]


def test_python_samples_without_batch_axis(readers: str) -> None:
    calib = calibration_batches(f"{readers}:single_samples", IMAGE, samples=5, batch=5)
    assert calib.feeds[0]["x"].shape == (5, 3, 8, 8)


def test_python_multi_input_batches_are_joined(readers: str) -> None:
    calib = calibration_batches(f"{readers}:two_inputs", TWO, samples=4, batch=4)
    assert calib.feeds[0]["a"].shape == (4, 4) and calib.feeds[0]["ids"].dtype == np.int64


@pytest.mark.parametrize(("func", "expected"), [
    ("explodes", "raised RuntimeError: disk on fire"),
    ("lazy_explodes", "raised RuntimeError while iterating: disk on fire"),
    ("scalar", "returned int"),
    ("not_dicts", "item 0 is ndarray, not a dict of arrays"),
    ("ragged", "input 'x' comes in shapes Nx3x8x8, Nx3x9x8"),
    ("with_nan", "input 'x' has 1 NaN and 0 Inf values"),
    ("missing", "has no function 'missing'"),
])
def test_python_reader_errors(readers: str, func: str, expected: str) -> None:
    with pytest.raises(DataError) as exc:
        calibration_batches(f"{readers}:{func}", IMAGE, samples=4)
    assert expected in _one_line(exc) and f"{readers}:{func}" in str(exc.value)


@pytest.mark.parametrize("size", [(37, 23), (23, 37), (20, 20)])
def test_image_preprocessing_matches_torchvision_eval_transforms(tmp_path: Path,
                                                                  size: tuple[int, int]) -> None:
    transforms = pytest.importorskip("torchvision.transforms")
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    pre = ImagePreprocess(resize=16, crop=12)
    ours = calibration_batches(str(tmp_path), {"x": ("float32", ("n", 3, 12, 12))}, samples=1,
                               preprocess=pre).feeds[0]["x"][0]
    theirs = transforms.Compose([
        transforms.Resize(16), transforms.CenterCrop(12), transforms.ToTensor(),
        transforms.Normalize(pre.mean, pre.std)])(Image.open(path).convert("RGB")).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


# ------------------------------------------------------------- scalar and state inputs (F5)

VAD = {"input": ("float32", ("batch", 4)), "state": ("float32", (2, "batch", 3)),
       "sr": ("int64", ())}


def test_vad_npz_calibrates_in_batches_with_the_scalar_in_every_batch(tmp_path: Path) -> None:
    np.savez(tmp_path / "vad.npz", input=np.zeros((5, 4), np.float32),
             state=np.zeros((2, 5, 3), np.float32), sr=np.int64(16000))
    calib = calibration_batches(str(tmp_path / "vad.npz"), VAD, samples=3, batch=2)
    assert calib.samples == 3 and len(calib.feeds) == 2
    assert [f["state"].shape for f in calib.feeds] == [(2, 2, 3), (2, 1, 3)]
    assert all(f["sr"].shape == () for f in calib.feeds)
    assert not any("static" in w for w in calib.warnings)  # state's 2 is not a batch


def test_vad_random_calibration_truncates_along_each_batch_axis() -> None:
    calib = calibration_batches("random", VAD, samples=3, batch=2)
    assert calib.samples == 3
    assert [f["state"].shape for f in calib.feeds] == [(2, 2, 3), (2, 1, 3)]
    assert all(f["sr"].shape == () for f in calib.feeds)


def test_vad_python_generator_joins_along_each_batch_axis(tmp_path: Path) -> None:
    (tmp_path / "vad_reader.py").write_text(textwrap.dedent('''
        import numpy as np

        def batches():
            for i in range(3):
                yield {"input": np.full((2, 4), i, np.float32),
                       "state": np.full((2, 2, 3), i, np.float32), "sr": np.int64(8000)}
    '''))
    calib = calibration_batches(f"python:{tmp_path / 'vad_reader.py'}:batches", VAD,
                                samples=6, batch=3)
    assert [f["state"].shape for f in calib.feeds] == [(2, 3, 3), (2, 3, 3)]
    assert [float(v) for v in calib.feeds[1]["state"][0, :, 0]] == [1, 2, 2]
    assert int(calib.feeds[0]["sr"]) == 8000


def test_vad_scalar_given_per_sample_is_a_data_error(tmp_path: Path) -> None:
    np.savez(tmp_path / "vad.npz", input=np.zeros((5, 4), np.float32),
             state=np.zeros((2, 5, 3), np.float32), sr=np.full(5, 16000, np.int64))
    with pytest.raises(DataError, match="input 'sr' is a scalar"):
        calibration_batches(str(tmp_path / "vad.npz"), VAD, samples=3)
