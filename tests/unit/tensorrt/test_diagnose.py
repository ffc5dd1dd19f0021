"""Parser/builder failures name the node and op, and the hint is the fix that applies."""

from __future__ import annotations

from trtc.tensorrt.diagnose import ParserIssue, diagnose, error_lines, timing_cache_refusal

RESHAPE = ("reshape wildcard -1 has no integer solution. Reshaping [1,1,1,1] to [-1,2048].")


def test_dynamo_reshape_on_86_points_at_the_reexport_not_a_plugin() -> None:
    d = diagnose([ParserIssue(RESHAPE, "INVALID_NODE", 121, "node_view", "Reshape")], [],
                 where="m.onnx", version="8.6.0", opset=18, max_opset=17)
    assert d.cause == "reshape-wildcard"
    assert "'node_view' (Reshape) #121" in d.message and "m.onnx" in d.message
    assert "plugin" not in d.hint and "opset" in d.hint and "legacy" in d.hint


def test_equal_dim_names_from_the_builder_log() -> None:
    log = ("[12/02/2026-06:00:00] [TRT] [E] 4: [network.cpp::validate::3062] Error Code 4: "
           "Internal Error (x: Input dimensions with this name are inconsistent)")
    d = diagnose([], error_lines(log), where="det.onnx", version="8.6.0", phase="build")
    assert d.cause == "dim-names"
    assert "cannot build" in d.message and "inconsistent" in d.message
    assert "same name" in d.hint


def test_a_missing_importer_is_the_plugin_case() -> None:
    issue = ParserIssue("No importer registered for op: NonMaxSuppressionX. Attempting to "
                        "import as plugin.", "UNSUPPORTED_NODE", 7, "nms", "NonMaxSuppressionX")
    d = diagnose([issue, issue], [], where="m.onnx", version="8.6.0", opset=17, max_opset=17)
    assert d.cause == "no-importer" and "plugin" in d.hint
    assert "(+1 more parser error(s))" in d.message


def test_unknown_error_on_a_too_new_opset_blames_the_opset() -> None:
    d = diagnose([ParserIssue("Assertion failed: something odd", "INVALID_NODE", 3, "", "Foo")],
                 [], where="m.onnx", version="8.6.0", opset=21, max_opset=17)
    assert d.cause == "opset" and "opset 21" in d.hint


def test_fallback_names_the_node_and_suggests_the_log() -> None:
    d = diagnose([ParserIssue("Assertion failed: weird", "INVALID_NODE", 3, "n3", "Foo")], [],
                 where="m.onnx", version="10.3.0", opset=17, max_opset=20)
    assert d.cause == "other" and "'n3' (Foo) #3" in d.message and "--verbose" in d.hint


def test_error_lines_keep_only_errors_without_prefixes() -> None:
    log = "[W] [TRT] something\n[E] [TRT] 2: bad thing\nplain info\n[TRT] [E] 4: other bad"
    assert error_lines(log) == ["2: bad thing", "4: other bad"]


# Measured on the H200 (TensorRT 8.6.0, level 0), docs/device/2026-12-03b: int8 builds of
# the zoo's ViT-B/16 patch embedding and Silero VAD's 1-D STFT convolution.
VIT = ("10: Could not find any implementation for node conv_proj.weight + "
       "conv_proj.weight_QuantizeLinear + /conv_proj/Conv.")
SILERO = ("10: Could not find any implementation for node model.stft.forward_basis_buffer + "
          "model.stft.forward_basis_buffer_QuantizeLinear + (Unnamed Layer* 70) [Shuffle] + "
          "/model/stft/Conv.")


def test_no_implementation_names_the_onnx_nodes_to_keep_out_of_int8() -> None:
    d = diagnose([], [VIT], where="vit.onnx", version="8.6.0", phase="build",
                 node_names={"/conv_proj/Conv", "/encoder/Add"})
    assert d.cause == "no-tactic" and "plugin" not in d.hint
    assert "--exclude-nodes /conv_proj/Conv" in d.hint and "builder_optimization_level" in d.hint
    # The graph's node names keep a weight's name (no .weight suffix) out of the hint.
    d = diagnose([], [SILERO], where="s.onnx", version="8.6.0", phase="build",
                 node_names={"/model/stft/Conv"})
    assert "--exclude-nodes /model/stft/Conv;" in d.hint and "forward_basis" not in d.hint


def test_fused_layer_names_open_pointwise_groups_and_drop_weights_and_qdq() -> None:
    from trtc.tensorrt.diagnose import fused_node_names

    assert fused_node_names("/m/conv/Conv + PWN(PWN(/m/act/Sigmoid), /m/act/Mul)") == \
        ["/m/conv/Conv", "/m/act/Sigmoid", "/m/act/Mul"]
    assert fused_node_names("w.weight + w.weight_QuantizeLinear + /c/Conv") == ["/c/Conv"]
    assert fused_node_names("{ForeignNode[/a/Slice.../b/Reshape]}") == []


def test_a_refused_timing_cache_is_found_in_the_build_log() -> None:
    # Every engine-budget candidate of mobilenet_v3_large on the H200 (TensorRT 8.6):
    # the cache the previous candidate saved was read back and thrown away.
    log = "\n".join([
        "[W] trtc-bench | Was activated but never deactivated.",
        "[E] 1: [myelinCache.h::deserializeFromBuffer::52] Error Code 1: Myelin (Myelin error "
        "from unknown graph)",
        "[E] 4: The timing cache will not be used!",
        "[I] Building engine"])
    assert timing_cache_refusal(log) == ("1: [myelinCache.h::deserializeFromBuffer::52] Error "
                                         "Code 1: Myelin (Myelin error from unknown graph)")
    assert timing_cache_refusal("[E] 4: The timing cache will not be used!") == \
        "4: The timing cache will not be used!"
    assert timing_cache_refusal("[I] Loaded timing cache (3 MiB)\n[I] Building engine") is None
