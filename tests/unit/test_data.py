"""Tests for trtc.data: shapes, seeded random feeds, .npz / python loaders, batching, checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from trtc.data import (
    InputInfo,
    array_dataset,
    batch_axes,
    input_infos,
    load_arrays,
    random_dataset,
    resolve_shape,
)
from trtc.errors import DataError, UsageError

IMAGE = InputInfo("x", "float32", ("batch", 3, 8, 8))
STATIC1 = InputInfo("x", "float32", (1, 3, 8, 8))
TOKENS = InputInfo("ids", "int64", ("batch", "seq"))

# --------------------------------------------------------------------------- resolve_shape


def test_dynamic_batch_takes_batch() -> None:
    assert resolve_shape(IMAGE, {}, 4) == (4, 3, 8, 8)
    assert resolve_shape(IMAGE, {}, 1) == (1, 3, 8, 8)


def test_shapes_override_wins_over_batch() -> None:
    assert resolve_shape(IMAGE, {"x": [2, 3, 8, 8]}, 4) == (2, 3, 8, 8)
    assert resolve_shape(TOKENS, {"ids": (2, 128)}, 1) == (2, 128)


def test_shapes_for_other_input_do_not_apply() -> None:
    assert resolve_shape(IMAGE, {"y": [9, 9]}, 2) == (2, 3, 8, 8)


def test_wrong_rank_names_input() -> None:
    with pytest.raises(DataError) as info:
        resolve_shape(IMAGE, {"x": [2, 3, 8]}, 1)
    assert info.value.message == ("--shapes: input 'x' has rank 4 (model shape batchx3x8x8), "
                                  "got shape 2x3x8")
    assert info.value.exit_code == 5


def test_wrong_static_dim_names_input_and_axis() -> None:
    with pytest.raises(DataError) as info:
        resolve_shape(IMAGE, {"x": [2, 4, 8, 8]}, 1)
    assert info.value.message == ("--shapes: input 'x' axis 1 must be 3 "
                                  "(model shape batchx3x8x8), got 2x4x8x8")


def test_dynamic_non_batch_dim_without_shape() -> None:
    with pytest.raises(DataError) as info:
        resolve_shape(TOKENS, {}, 2)
    assert "input 'ids' has dynamic dim 'seq' at axis 1" in info.value.message
    assert info.value.hint == "pass --shapes ids:2xN"


def test_static_batch_one_with_batch_four() -> None:
    with pytest.raises(DataError) as info:
        resolve_shape(STATIC1, {}, 4)
    assert "input 'x' has a static batch dim 1; batch 4 cannot run" in info.value.message
    assert "--batch 1" in (info.value.hint or "")


def test_static_batch_matching_batch() -> None:
    assert resolve_shape(STATIC1, {}, 1) == (1, 3, 8, 8)
    assert resolve_shape(InputInfo("x", "float32", (4, 2)), {}, 4) == (4, 2)


def test_scalar_input() -> None:
    assert resolve_shape(InputInfo("t", "float32", ()), {}, 3) == ()


# --------------------------------------------------------------------------- random_dataset


MIXED = [
    InputInfo("x", "float32", ("batch", 3, 2, 2)),
    InputInfo("ids", "int64", ("batch", 5)),
    InputInfo("mask", "bool", ("batch", 5)),
]


def test_random_dataset_shapes_dtypes_and_description() -> None:
    ds = random_dataset(MIXED, {}, batch=3, iterations=2, seed=0)
    assert len(ds.feeds) == 2
    assert ds.labels is None
    assert ds.samples == 6
    for feed in ds.feeds:
        assert list(feed) == ["x", "ids", "mask"]
        assert feed["x"].shape == (3, 3, 2, 2) and feed["x"].dtype == np.float32
        assert feed["ids"].shape == (3, 5) and feed["ids"].dtype == np.int64
        assert feed["mask"].shape == (3, 5) and feed["mask"].dtype == np.bool_
        assert feed["ids"].min() >= 0 and feed["ids"].max() < 8
    assert ds.description == "random (seed 0, 2 x x:3x3x2x2, ids:3x5, mask:3x5)"


def test_random_dataset_is_seeded() -> None:
    a = random_dataset(MIXED, {}, batch=2, iterations=3, seed=7)
    b = random_dataset(MIXED, {}, batch=2, iterations=3, seed=7)
    c = random_dataset(MIXED, {}, batch=2, iterations=3, seed=8)
    for fa, fb in zip(a.feeds, b.feeds):
        for name in fa:
            np.testing.assert_array_equal(fa[name], fb[name])
    assert not np.array_equal(a.feeds[0]["x"], c.feeds[0]["x"])
    assert not np.array_equal(a.feeds[0]["x"], a.feeds[1]["x"])  # iterations differ


def test_random_dataset_floats_vary_and_other_dtypes() -> None:
    infos = [InputInfo("h", "float16", ("batch", 64)), InputInfo("u", "uint8", (2, 64)),
             InputInfo("i", "int32", ("batch", 64))]
    feed = random_dataset(infos, {}, batch=2, iterations=1, seed=0).feeds[0]
    assert feed["h"].dtype == np.float16 and feed["h"].shape == (2, 64)
    assert feed["u"].dtype == np.uint8 and feed["u"].shape == (2, 64)
    assert feed["i"].dtype == np.int32
    assert np.unique(feed["h"]).size > 10   # not a constant fill
    assert (feed["h"] < 0).any() and (feed["h"] > 0).any()  # centred on zero


def test_random_dataset_bool_has_both_values() -> None:
    feed = random_dataset([InputInfo("m", "bool", (64,))], {}, 1, 1, 0).feeds[0]
    assert set(np.unique(feed["m"]).tolist()) == {False, True}


def test_random_dataset_uses_shapes() -> None:
    ds = random_dataset([IMAGE, TOKENS], {"ids": [3, 16]}, batch=2, iterations=1, seed=0)
    assert ds.feeds[0]["x"].shape == (2, 3, 8, 8)
    assert ds.feeds[0]["ids"].shape == (3, 16)


def test_random_dataset_unknown_shape_name() -> None:
    with pytest.raises(UsageError) as info:
        random_dataset([IMAGE], {"input": [1, 3, 8, 8]}, batch=1, iterations=1, seed=0)
    assert info.value.message == "--shapes: the model has no input 'input'"
    assert info.value.hint == "inputs are: x"


def test_random_dataset_dynamic_dim_without_shape() -> None:
    with pytest.raises(DataError):
        random_dataset([TOKENS], {}, batch=1, iterations=1, seed=0)


# --------------------------------------------------------------------------- load_arrays

LOADER = textwrap.dedent('''
    import numpy as np

    def as_dict():
        return {"x": [[1.0, 2.0], [3.0, 4.0]], "labels": [0, 1]}

    def as_pair():
        return {"x": np.ones((3, 2), dtype=np.float32)}, np.array([2, 1, 0])

    def bare_pair():
        return np.zeros((2, 2)), [5, 6]

    def explodes():
        raise ValueError("loader boom")

    def returns_list():
        return [1, 2, 3]
''')


@pytest.fixture
def loader(tmp_path: Path) -> Path:
    path = tmp_path / "loaders.py"
    path.write_text(LOADER)
    return path


def test_load_npz(tmp_path: Path) -> None:
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.savez(tmp_path / "d.npz", x=x, labels=np.array([1, 0, 1]))
    for source in (f"npz:{tmp_path / 'd.npz'}", str(tmp_path / "d.npz")):
        arrays = load_arrays(source)
        assert sorted(arrays) == ["labels", "x"]
        np.testing.assert_array_equal(arrays["x"], [[0, 1], [2, 3], [4, 5]])
        assert arrays["x"].dtype == np.float32
        np.testing.assert_array_equal(arrays["labels"], [1, 0, 1])


def test_load_npz_relative_to_base(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "d.npz", x=np.ones(2))
    assert sorted(load_arrays("data/d.npz", base=tmp_path)) == ["x"]
    assert sorted(load_arrays("npz:data/d.npz", base=tmp_path)) == ["x"]


def test_load_python_dict(loader: Path) -> None:
    arrays = load_arrays(f"python:{loader}:as_dict")
    assert sorted(arrays) == ["labels", "x"]
    assert isinstance(arrays["x"], np.ndarray)
    np.testing.assert_array_equal(arrays["x"], [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(arrays["labels"], [0, 1])


def test_load_python_inputs_labels_pair(loader: Path) -> None:
    arrays = load_arrays(f"python:{loader}:as_pair")
    assert sorted(arrays) == ["labels", "x"]
    assert arrays["x"].shape == (3, 2)
    np.testing.assert_array_equal(arrays["labels"], [2, 1, 0])


def test_load_python_bare_pair_is_unnamed(loader: Path) -> None:
    arrays = load_arrays(f"python:{loader}:bare_pair")
    assert sorted(arrays) == ["", "labels"]
    np.testing.assert_array_equal(arrays["labels"], [5, 6])


def test_load_python_loader_raises(loader: Path) -> None:
    with pytest.raises(DataError) as info:
        load_arrays(f"python:{loader}:explodes")
    assert "raised ValueError: loader boom" in info.value.message
    assert info.value.exit_code == 5


def test_load_python_loader_returns_wrong_type(loader: Path) -> None:
    with pytest.raises(DataError) as info:
        load_arrays(f"python:{loader}:returns_list")
    assert info.value.message.endswith("returned list")


def test_load_python_missing_file_or_function(tmp_path: Path, loader: Path) -> None:
    # A data loader that isn't there is a data error (exit 5), like a missing .npz.
    with pytest.raises(DataError) as info:
        load_arrays(f"python:{tmp_path / 'nope.py'}:load")
    assert "file not found" in info.value.message
    with pytest.raises(DataError) as info:
        load_arrays(f"python:{loader}:no_such_function")
    assert "no function 'no_such_function'" in info.value.message


def test_load_missing_npz(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_arrays(f"npz:{tmp_path / 'missing.npz'}")
    assert info.value.message == f"data file not found: {tmp_path / 'missing.npz'}"


def test_load_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(DataError):
        load_arrays(str(tmp_path / "dir.npz"))


def test_load_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(DataError) as info:
        load_arrays(str(path))
    assert f"{path}: cannot read as .npz" in info.value.message


def test_load_npy_under_npz_name(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    with open(path, "wb") as f:
        np.save(f, np.ones(3))
    with pytest.raises(DataError):
        load_arrays(str(path))


def test_load_npz_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError):
        load_arrays(str(path))


# --------------------------------------------------------------------------- array_dataset

VEC = InputInfo("x", "float32", ("batch", 2))


def test_array_dataset_batches_with_labels() -> None:
    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    labels = np.arange(100, 110)
    ds = array_dataset({"x": x, "labels": labels}, [VEC], batch=4, labels_key="labels",
                       source="d.npz")
    assert [f["x"].shape for f in ds.feeds] == [(4, 2), (4, 2), (2, 2)]
    assert all(f["x"].dtype == np.float32 for f in ds.feeds)  # float64 -> float32
    np.testing.assert_array_equal(ds.feeds[2]["x"], [[16, 17], [18, 19]])
    np.testing.assert_array_equal(ds.feeds[0]["x"][0], [0, 1])
    assert ds.labels is not None
    assert [lab.tolist() for lab in ds.labels] == [[100, 101, 102, 103], [104, 105, 106, 107],
                                                   [108, 109]]
    assert ds.samples == 10
    assert ds.description == "d.npz (10 samples, batch 4)"


def test_array_dataset_without_labels() -> None:
    ds = array_dataset({"x": np.zeros((3, 2), np.float32)}, [VEC], 2, "labels", "s")
    assert ds.labels is None
    assert [f["x"].shape[0] for f in ds.feeds] == [2, 1]


def test_array_dataset_limit() -> None:
    ds = array_dataset({"x": np.zeros((10, 2), np.float32), "labels": np.arange(10)}, [VEC],
                       batch=4, labels_key="labels", source="s", limit=5)
    assert [f["x"].shape[0] for f in ds.feeds] == [4, 1]
    assert ds.labels is not None and ds.labels[1].tolist() == [4]
    assert ds.samples == 5


def test_array_dataset_custom_labels_key() -> None:
    ds = array_dataset({"x": np.zeros((2, 2), np.float32), "y_true": np.array([3, 4])},
                       [VEC], 2, "y_true", "s")
    assert ds.labels is not None and ds.labels[0].tolist() == [3, 4]


def test_array_dataset_feeds_are_contiguous_copies_of_slices() -> None:
    x = np.asfortranarray(np.arange(8, dtype=np.float32).reshape(4, 2))
    ds = array_dataset({"x": x}, [VEC], 2, "labels", "s")
    assert all(f["x"].flags["C_CONTIGUOUS"] for f in ds.feeds)


def test_array_dataset_int_data_for_float_input() -> None:
    with pytest.raises(DataError) as info:
        array_dataset({"x": np.zeros((4, 2), np.int64)}, [VEC], 2, "labels", "d.npz")
    assert info.value.message == "d.npz: input 'x' is int64, the model wants float32"
    assert info.value.hint == "convert the array with .astype('float32')"


def test_array_dataset_float_data_for_int_input() -> None:
    with pytest.raises(DataError) as info:
        array_dataset({"ids": np.zeros((4, 5))}, [InputInfo("ids", "int64", ("b", 5))], 2,
                      "labels", "s")
    assert "input 'ids' is float64, the model wants int64" in info.value.message


def test_array_dataset_int_widths_are_cast() -> None:
    ds = array_dataset({"ids": np.ones((2, 5), np.int32)}, [InputInfo("ids", "int64", ("b", 5))],
                       2, "labels", "s")
    assert ds.feeds[0]["ids"].dtype == np.int64


def test_array_dataset_unknown_array_name() -> None:
    two = [VEC, InputInfo("y", "float32", ("batch", 1))]
    arrays = {"x": np.zeros((2, 2), np.float32), "y": np.zeros((2, 1), np.float32),
              "z": np.zeros((2, 1), np.float32)}
    with pytest.raises(DataError) as info:
        array_dataset(arrays, two, 2, "labels", "d.npz")
    assert info.value.message == "d.npz: array 'z' matches no model input"
    assert info.value.hint == "inputs are: x, y"


def test_array_dataset_missing_input_array() -> None:
    two = [VEC, InputInfo("y", "float32", ("batch", 1))]
    with pytest.raises(DataError) as info:
        array_dataset({"x": np.zeros((2, 2), np.float32)}, two, 2, "labels", "d.npz")
    assert info.value.message == "d.npz: no array for input 'y'"


def test_array_dataset_single_unnamed_array_maps_to_single_input() -> None:
    ds = array_dataset({"arr_0": np.zeros((2, 2), np.float32)}, [VEC], 2, "labels", "s")
    assert list(ds.feeds[0]) == ["x"]
    with pytest.raises(DataError, match="no array for input 'x'"):  # a name is a name
        array_dataset({"images": np.zeros((2, 2), np.float32)}, [VEC], 2, "labels", "s")
    ds = array_dataset({"": np.zeros((2, 2), np.float32), "labels": np.array([1, 2])}, [VEC],
                       2, "labels", "s")
    assert list(ds.feeds[0]) == ["x"]


def test_array_dataset_count_mismatch() -> None:
    with pytest.raises(DataError) as info:
        array_dataset({"x": np.zeros((10, 2), np.float32), "labels": np.arange(9)}, [VEC], 4,
                      "labels", "d.npz")
    assert info.value.message == "d.npz: arrays have different sample counts: [9, 10]"


def test_array_dataset_wrong_static_dim() -> None:
    with pytest.raises(DataError) as info:
        array_dataset({"x": np.zeros((4, 3), np.float32)}, [VEC], 2, "labels", "d.npz")
    assert "input 'x' axis 1 must be 2" in info.value.message


def test_array_dataset_batch_against_static_batch_dim() -> None:
    with pytest.raises(DataError):
        array_dataset({"x": np.zeros((8, 2), np.float32)}, [InputInfo("x", "float32", (1, 2))],
                      4, "labels", "s")


def test_array_dataset_partial_batch_for_static_batch_model() -> None:
    # 10 samples at a static batch of 4: two full batches; the 2 left over are left out.
    static4 = InputInfo("x", "float32", (4, 2))
    ds = array_dataset({"x": np.zeros((10, 2), np.float32)}, [static4], 4, "labels", "s")
    assert len(ds.feeds) == 2
    assert [feed["x"].shape for feed in ds.feeds] == [(4, 2), (4, 2)]
    assert "2 left out" in ds.description


def test_array_dataset_fewer_samples_than_static_batch() -> None:
    static4 = InputInfo("x", "float32", (4, 2))
    with pytest.raises(DataError, match="fewer than the model's static batch of 4"):
        array_dataset({"x": np.zeros((3, 2), np.float32)}, [static4], 4, "labels", "s")


def test_input_infos_from_io_specs_keep_order() -> None:
    infos = input_infos({"x": ("float32", ["batch", 3, 8, 8]), "ids": ("int64", ("batch",))})
    assert infos == [IMAGE, InputInfo("ids", "int64", ("batch",))]


# --------------------------------------------------------------- scalar and state inputs (F5)

#: Silero VAD's inputs: audio [batch, N], a state whose batch is axis 1, an int64 scalar rate.
VAD = [InputInfo("input", "float32", ("batch", 4)),
       InputInfo("state", "float32", (2, "batch", 3)),
       InputInfo("sr", "int64", ())]


def test_batch_axes_of_scalar_and_state_inputs() -> None:
    assert batch_axes(VAD) == {"input": 0, "state": 1, "sr": None}
    other = [InputInfo("x", "float32", ("batch", 4)), InputInfo("h", "float32", (2, "n", 3)),
             InputInfo("s", "float32", (2, 3))]
    assert batch_axes(other) == {"x": 0, "h": None, "s": 0}
    # No dynamic batch anywhere: a static axis 0 is the batch, whatever else is dynamic.
    static = [InputInfo("x", "float32", (1, 3, "h", "w")), InputInfo("sr", "int64", ())]
    assert batch_axes(static) == {"x": 0, "sr": None}


def test_npz_with_a_scalar_and_a_batch_on_axis_1_input_is_split_per_batch() -> None:
    arrays = {"input": np.arange(20, dtype=np.float32).reshape(5, 4),
              "state": np.arange(30, dtype=np.float32).reshape(2, 5, 3),
              "sr": np.array(16000, dtype=np.int64)}
    data = array_dataset(arrays, VAD, 2, "labels", "vad.npz")
    assert [f["input"].shape for f in data.feeds] == [(2, 4), (2, 4), (1, 4)]
    assert [f["state"].shape for f in data.feeds] == [(2, 2, 3), (2, 2, 3), (2, 1, 3)]
    np.testing.assert_array_equal(data.feeds[1]["state"], arrays["state"][:, 2:4])
    assert all(f["sr"].shape == () and int(f["sr"]) == 16000 for f in data.feeds)
    assert data.samples == 5


def test_a_scalar_input_given_per_sample_is_a_data_error_naming_it() -> None:
    arrays = {"input": np.zeros((5, 4), np.float32), "state": np.zeros((2, 5, 3), np.float32),
              "sr": np.full(5, 16000, np.int64)}
    with pytest.raises(DataError, match="input 'sr' is a scalar") as info:
        array_dataset(arrays, VAD, 1, "labels", "vad.npz")
    assert "0-d" in (info.value.hint or "")


def test_an_input_without_a_clear_batch_axis_is_fed_whole_to_every_batch() -> None:
    infos = [InputInfo("x", "float32", ("batch", 4)), InputInfo("h", "float32", (2, "n", 3))]
    arrays = {"x": np.zeros((4, 4), np.float32), "h": np.ones((2, 7, 3), np.float32)}
    data = array_dataset(arrays, infos, 2, "labels", "d.npz")
    assert len(data.feeds) == 2 and all(f["h"].shape == (2, 7, 3) for f in data.feeds)
    with pytest.raises(DataError, match="input 'h' axis 0 must be 2"):
        array_dataset({**arrays, "h": np.ones((3, 7, 3), np.float32)}, infos, 2, "labels", "d")


def test_random_data_gives_a_scalar_a_0d_array_and_a_state_its_batch() -> None:
    data = random_dataset(VAD, {}, 3, 2, 0)
    for feed in data.feeds:
        assert feed["input"].shape == (3, 4) and feed["state"].shape == (2, 3, 3)
        assert isinstance(feed["sr"], np.ndarray) and feed["sr"].shape == ()
        assert feed["sr"].dtype == np.int64
    assert data.samples == 6
