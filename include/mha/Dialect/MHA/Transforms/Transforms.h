//===- Transforms.h - MHA rewrite patterns ----------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the populate*Patterns entry points of the mha -> mha
// rewrites, for passes and pipelines to combine.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_TRANSFORMS_TRANSFORMS_H
#define MHA_DIALECT_MHA_TRANSFORMS_TRANSFORMS_H

namespace mlir {
class RewritePatternSet;

namespace mha {

/// Adds the pattern that fuses `scaled_matmul -> [add mask | apply_mask] ->
/// softmax(last axis) -> matmul` into `mha.attention`. The pattern fails to
/// match (and changes nothing) when an intermediate value has another use or
/// the chain's semantics differ from attention's.
void populateMHAFuseAttentionPatterns(RewritePatternSet &patterns);

/// Adds the pattern that expands `mha.attention` into `scaled_matmul`,
/// `apply_mask` (with a mask or `causal`), `softmax` and `matmul`. It always
/// applies.
void populateMHADecomposeAttentionPatterns(RewritePatternSet &patterns);

} // namespace mha
} // namespace mlir

#endif // MHA_DIALECT_MHA_TRANSFORMS_TRANSFORMS_H
