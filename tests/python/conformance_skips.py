"""The skip list of the ONNX backend node-test runner (tests/python/test_onnx_conformance.py).

Every node test of the pinned onnx wheel either passes, or stands here with a reason. Three
kinds of entries, from most to least permanent:

* SKIP_GROUPS: explicit test names, grouped by a one-line reason that holds for the
  engine's design (dtypes and value kinds edgeinfer does not have, ops outside the default
  domain, training-only ops, non-reproducible random outputs). Written by hand (from the
  models' declared types and domains); tests/python/test_onnx_conformance.py checks that
  every name still exists in the suite. Set EI_CONFORMANCE_RUN_SKIPPED=1 to run these
  anyway and see which ones would pass now (then delete them here).
* "operator not implemented yet (issue 3)": NOT listed here. The runner computes it per
  test from the engine itself: creating a session raises edgeinfer.Unsupported naming every
  node whose (domain, op, opset) has no row in csrc/ops/ops.def. It shrinks by itself as
  ops land.
* KNOWN_FAILURES: tests of implemented ops that fail today, with what was observed. They
  run as xfail(strict=True): the suite stays green, nothing is hidden, and a fix turns the
  entry into an XPASS failure that forces deleting it. The goal of issue 3 is an empty dict.
"""

# Category key of the automatic skips (tests whose op has no row in ops.def).
NOT_IMPLEMENTED = "not_implemented"
NOT_IMPLEMENTED_REASON = "operator not implemented in edgeinfer (computed by asking the engine, not listed by hand)"

# key -> (one-line reason, test names). Keys name the categories in the printed breakdown.
SKIP_GROUPS = {
    # 15 tests
    "training": (
        "training-only: ai.onnx.preview.training optimizers, BatchNormalization/Dropout with training_mode on",
        (
            "test_adagrad",
            "test_adagrad_multiple",
            "test_adam",
            "test_adam_multiple",
            "test_momentum",
            "test_momentum_multiple",
            "test_nesterov_momentum",
            "test_batchnorm_epsilon_training_mode",
            "test_batchnorm_example_training_mode",
            "test_training_dropout",
            "test_training_dropout_default",
            "test_training_dropout_default_mask",
            "test_training_dropout_mask",
            "test_training_dropout_zero_ratio",
            "test_training_dropout_zero_ratio_mask",
        ),
    ),
    # 8 tests
    "onnx_ml": (
        "ai.onnx.ml domain: traditional-ML operators (trees, label encoders), outside edgeinfer's scope",
        (
            "test_ai_onnx_ml_array_feature_extractor",
            "test_ai_onnx_ml_binarizer",
            "test_ai_onnx_ml_label_encoder_string_int",
            "test_ai_onnx_ml_label_encoder_string_int_no_default",
            "test_ai_onnx_ml_label_encoder_tensor_mapping",
            "test_ai_onnx_ml_label_encoder_tensor_value_only_mapping",
            "test_ai_onnx_ml_tree_ensemble_set_membership",
            "test_ai_onnx_ml_tree_ensemble_single_tree",
        ),
    ),
    # 11 tests
    "onnx_preview": (
        "ai.onnx.preview domain: experimental FlexAttention with score/mask subgraphs, not a released op",
        (
            "test_flexattention",
            "test_flexattention_causal_mask",
            "test_flexattention_diff_head_sizes",
            "test_flexattention_double",
            "test_flexattention_fp16",
            "test_flexattention_gqa",
            "test_flexattention_prob_mod",
            "test_flexattention_relative_positional",
            "test_flexattention_scaled",
            "test_flexattention_score_mod",
            "test_flexattention_soft_cap",
        ),
    ),
    # 22 tests
    "string": (
        "string tensors: edgeinfer has no string dtype (string ops, Equal on strings)",
        (
            "test_equal_string",
            "test_equal_string_broadcast",
            "test_regex_full_match_basic",
            "test_regex_full_match_email_domain",
            "test_regex_full_match_empty",
            "test_string_concat",
            "test_string_concat_broadcasting",
            "test_string_concat_empty_string",
            "test_string_concat_utf8",
            "test_string_concat_zero_dimensional",
            "test_string_split_basic",
            "test_string_split_consecutive_delimiters",
            "test_string_split_empty_string_delimiter",
            "test_string_split_empty_tensor",
            "test_string_split_maxsplit",
            "test_string_split_no_delimiter",
            "test_strnormalizer_export_monday_casesensintive_lower",
            "test_strnormalizer_export_monday_casesensintive_nochangecase",
            "test_strnormalizer_export_monday_casesensintive_upper",
            "test_strnormalizer_export_monday_empty_output",
            "test_strnormalizer_export_monday_insensintive_upper_twodim",
            "test_strnormalizer_nostopwords_nochangecase",
        ),
    ),
    # 34 tests
    "sequence_optional": (
        "sequence or optional types: edgeinfer values are dense tensors only",
        (
            "test_identity_opt",
            "test_identity_sequence",
            "test_if_opt",
            "test_if_seq",
            "test_loop13_seq",
            "test_loop16_seq_none",
            "test_optional_get_element_optional_sequence",
            "test_optional_get_element_optional_tensor",
            "test_optional_get_element_sequence",
            "test_optional_get_element_tensor",
            "test_optional_has_element_empty_no_input_name_optional_input",
            "test_optional_has_element_empty_no_input_name_tensor_input",
            "test_optional_has_element_empty_no_input_optional_input",
            "test_optional_has_element_empty_no_input_tensor_input",
            "test_optional_has_element_empty_optional_input",
            "test_optional_has_element_optional_input",
            "test_optional_has_element_tensor_input",
            "test_sequence_insert_at_back",
            "test_sequence_insert_at_front",
            "test_sequence_map_add_1_sequence_1_tensor",
            "test_sequence_map_add_1_sequence_1_tensor_expanded",
            "test_sequence_map_add_2_sequences",
            "test_sequence_map_add_2_sequences_expanded",
            "test_sequence_map_extract_shapes",
            "test_sequence_map_extract_shapes_expanded",
            "test_sequence_map_identity_1_sequence",
            "test_sequence_map_identity_1_sequence_1_tensor",
            "test_sequence_map_identity_1_sequence_1_tensor_expanded",
            "test_sequence_map_identity_1_sequence_expanded",
            "test_sequence_map_identity_2_sequences",
            "test_sequence_map_identity_2_sequences_expanded",
            "test_split_to_sequence_1",
            "test_split_to_sequence_2",
            "test_split_to_sequence_nokeepdims",
        ),
    ),
    # 14 tests
    "float16": (
        "float16 compute in Conv, Mul, QLinearMatMul scales, attention: those kernels are float32/float64",
        (
            "test_attention_4d_fp16",
            "test_attention_4d_fp16_expanded",
            "test_attention_4d_gqa_with_past_and_present_fp16",
            "test_attention_4d_gqa_with_past_and_present_fp16_expanded",
            "test_causal_conv_with_state_fp16",
            "test_causal_conv_with_state_fp16_expanded",
            "test_causal_conv_with_state_silu_fp16",
            "test_causal_conv_with_state_silu_fp16_expanded",
            "test_flexattention_fp16_expanded_ver26",
            "test_linear_attention_fp16",
            "test_qlinearmatmul_2D_int8_float16",
            "test_qlinearmatmul_2D_uint8_float16",
            "test_qlinearmatmul_3D_int8_float16",
            "test_qlinearmatmul_3D_uint8_float16",
        ),
    ),
    # 6 tests
    "random": (
        "random output: Bernoulli's expected values come from NumPy's generator, not reproducible",
        (
            "test_bernoulli",
            "test_bernoulli_double",
            "test_bernoulli_double_expanded",
            "test_bernoulli_expanded",
            "test_bernoulli_seed",
            "test_bernoulli_seed_expanded",
        ),
    ),
}

# test name -> what was observed (op, symptom, max error). xfail(strict=True) in the runner.
KNOWN_FAILURES = {
    # DFT
    "test_dft_inverse":
        "DFT: inverse DFT, 10/200 near-zero outputs off by up to 1.9e-07 (atol 1e-7, rtol 1e-3)",
    "test_dft_inverse_opset19":
        "DFT: inverse DFT, 10/200 near-zero outputs off by up to 1.9e-07 (atol 1e-7, rtol 1e-3)",
    # MatMul
    "test_flexattention_double_expanded_ver26":
        "MatMul: float64 inputs rejected at creation (only float32 is supported)",
    # MaxPool
    "test_maxpool_2d_uint8":
        "MaxPool: uint8 inputs rejected at creation (engine supports float32 only)",
}


def skip_reason(test_name):
    """(category key, one-line reason) of an explicit skip, or None."""
    return _BY_NAME.get(test_name)


_BY_NAME = {}
for _key, (_reason, _names) in SKIP_GROUPS.items():
    for _n in _names:
        if _n in _BY_NAME:
            raise ValueError(f"{_n} is listed in two skip groups: {_BY_NAME[_n][0]} and {_key}")
        _BY_NAME[_n] = (_key, _reason)
del _key, _reason, _names, _n
