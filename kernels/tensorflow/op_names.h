// The TensorFlow ops of this library (docs/contract.md §3 as TensorFlow ops): the names the
// CPU and GPU kernels register for, and the attrs both ops take. Prefixed so that they never
// clash with TensorFlow's own ops.
#pragma once

namespace tfjs_attention {
namespace tf {

constexpr const char* kForwardOp = "TfjsScaledDotProductAttention";
constexpr const char* kGradOp = "TfjsScaledDotProductAttentionGrad";

// Attrs of both ops, as "name: type" for TF_OpDefinitionBuilderAddAttr.
constexpr const char* kOpAttrs[] = {
    "scale: float",
    "causal: int",  // 0 none, 1 top-left, 2 bottom-right
    "dropout_rate: float",
    "dropout_seed: int",        // uint32 (docs/contract.md §5)
    "q_seq_starts: list(int)",  // cumulative starts with the end; empty: one block
    "k_seq_starts: list(int)",
    "has_bias: bool",
    "has_window_bias: bool",
};

}  // namespace tf
}  // namespace tfjs_attention
