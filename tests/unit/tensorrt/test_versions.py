"""TensorRT versions (trtc.tensorrt.versions): parsing, feature gates, opsets, newer-than-known."""

from __future__ import annotations

import pytest

from trtc.errors import DependencyError, UsageError
from trtc.tensorrt.versions import (
    LATEST_KNOWN,
    export_defaults,
    features,
    normalize_version,
    opset_note,
    parse_version,
    resolve_export,
    unknown_version_note,
)


def test_versions_parse_and_bare_majors_mean_the_newest_known() -> None:
    assert parse_version("8.6.1.6") == (8, 6, 1)
    assert parse_version("10.3") == (10, 3, 0)
    assert normalize_version("10") == LATEST_KNOWN[10]
    assert normalize_version("v8.6.0") == "8.6.0"
    with pytest.raises(UsageError, match="not a version"):
        parse_version("latest")


@pytest.mark.parametrize("version, calibrators, strongly, only, bf16, fp8", [
    ("8.6", True, False, False, False, False),
    ("9.3", True, True, False, True, True),
    ("10.0", True, True, False, True, True),
    ("11.0", False, True, True, True, True),
])
def test_feature_gates_per_version(version: str, calibrators: bool, strongly: bool, only: bool,
                                   bf16: bool, fp8: bool) -> None:
    f = features(version)
    assert (f.calibrators, f.strongly_typed, f.strongly_typed_only, f.bf16, f.fp8) == \
        (calibrators, strongly, only, bf16, fp8)
    assert f.trtexec_multi_profile is (f.major >= 9)


def test_hardware_levels_grow_with_the_version() -> None:
    assert features("8.6").hardware_levels == ("none", "ampere+")
    # kSAME_COMPUTE_CAPABILITY and trtexec's sameComputeCapability appear in v10.9.0.
    assert features("10.8").hardware_levels == ("none", "ampere+")
    assert "same-compute-capability" in features("10.9").hardware_levels
    assert "same-compute-capability" in features("11").hardware_levels


def test_versions_older_than_8_6_are_refused() -> None:
    with pytest.raises(DependencyError, match="8.5.3 is older"):
        features("8.5.3")


@pytest.mark.parametrize(("version", "opset", "warned"), [
    ("8.6.0", 17, False), ("8.6.1", 18, True), ("10.3.0", 21, False),
    ("11.1.0", 25, False), ("11.1.0", 26, True),
])
def test_opset_note_per_version(version: str, opset: int, warned: bool) -> None:
    note = opset_note(version, opset)
    assert (note is not None) is warned
    if note:
        assert f"opset {opset}" in note and "export.opset" in note


def test_unknown_version_note_only_past_the_newest_known() -> None:
    assert unknown_version_note("11.1.0") is None and unknown_version_note("8.6.1") is None
    note = unknown_version_note("12.0.0")
    assert note is not None and "12.0.0" in note and "11.1.0" in note
    assert unknown_version_note("11.2.0") is not None


@pytest.mark.parametrize(("version", "expected"), [
    ("8.6", (17, "legacy")),      # 8.6's parser documents opsets up to 17; dynamo starts at 18
    ("8.6.1.6", (17, "legacy")),
    ("10", (18, "dynamo")),
    ("10.3.0", (18, "dynamo")),
    ("11", (18, "dynamo")),       # 11 parses up to 25: 18 is what dynamo writes natively
    (None, (18, "dynamo")),       # ONNX Runtime: today's default
])
def test_export_defaults_follow_the_parser_the_build_uses(version: str | None,
                                                         expected: tuple[int, str]) -> None:
    assert export_defaults(version) == expected


@pytest.mark.parametrize(("opset", "exporter", "version", "expected"), [
    ("auto", "auto", "8.6.1", (17, "legacy")),
    ("auto", "auto", None, (18, "dynamo")),
    (16, "auto", None, (16, "legacy")),       # below dynamo's lowest opset
    (20, "auto", "8.6.1", (20, "dynamo")),    # explicit: kept (the dry run warns)
    ("auto", "dynamo", "8.6.1", (17, "dynamo")),
    (18, "legacy", "10.16.0", (18, "legacy")),
])
def test_resolve_export_keeps_explicit_values(opset: int | str, exporter: str,
                                              version: str | None,
                                              expected: tuple[int, str]) -> None:
    got = resolve_export(opset, exporter, version)
    assert got[:2] == expected
    assert ("TensorRT 8.6.1" in got[2] and "up to 17" in got[2]) if version == "8.6.1" \
        else got[2]
