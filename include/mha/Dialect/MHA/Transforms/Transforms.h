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

#include "mlir/Support/LLVM.h"

namespace mlir {
class RewritePatternSet;
namespace func {
class FuncOp;
} // namespace func

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

class ParamOp;

/// Builds `@<name>_grad` next to `loss`, a single-block function returning
/// one rank-0 float tensor: it returns the loss, then its gradient with
/// respect to each of `params` (zeros where unused), then, with
/// `wrtInputs`, with respect to each float argument. Emits a diagnostic and
/// returns failure for calls or ops without a gradient rule.
FailureOr<func::FuncOp> buildGradientFunction(func::FuncOp loss,
                                              ArrayRef<ParamOp> params,
                                              bool wrtInputs);

/// Inlines every `func.call` in `func` (repeatedly, for calls in callees),
/// so that layers written once as functions and called N times become
/// straight-line code. Emits an error naming `who` (the pass) at a call to an
/// external or multi-block function, or one nested more than 64 deep.
LogicalResult inlineCalls(func::FuncOp func, StringRef who);

} // namespace mha
} // namespace mlir

#endif // MHA_DIALECT_MHA_TRANSFORMS_TRANSFORMS_H
