//===- DecomposeAttention.cpp - Expand mha.attention into its parts -------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the mha-decompose-attention pass, which gives
// mha.attention its reference semantics in terms of other mha ops.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Dialect/MHA/Transforms/Transforms.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHADECOMPOSEATTENTIONPASS
#include "mha/Dialect/MHA/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;

namespace {
struct DecomposeAttention final : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> expanded =
        cast<DecomposableOpInterface>(op.getOperation())
            .decomposeOperation(rewriter);
    if (failed(expanded))
      return failure();
    rewriter.replaceOp(op, *expanded);
    return success();
  }
};
} // namespace

void mha::populateMHADecomposeAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<DecomposeAttention>(patterns.getContext());
}

namespace {
struct MHADecomposeAttentionPass final
    : mha::impl::MHADecomposeAttentionPassBase<MHADecomposeAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMHADecomposeAttentionPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      getOperation()->emitError("mha-decompose-attention did not converge");
      signalPassFailure();
    }
  }
};
} // namespace
