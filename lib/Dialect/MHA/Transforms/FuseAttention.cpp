//===- FuseAttention.cpp - Fuse the attention chain into mha.attention ----===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the mha-fuse-attention pass: it recognizes
// scaled_matmul -> [mask] -> softmax -> matmul and replaces it with one
// mha.attention.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/IR/ShapeUtils.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Dialect/MHA/Transforms/Transforms.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAFUSEATTENTIONPASS
#include "mha/Dialect/MHA/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;

namespace {
/// The pieces of a matched chain, besides query/key (from the scaled_matmul)
/// and value (from the final matmul).
struct MaskPart {
  Value mask;
  bool causal = false;
};

/// Rooted at the final `mha.matmul`: matches backwards through softmax, an
/// optional mask and the scaled_matmul.
struct FuseAttentionChain final : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MatmulOp matmul,
                                PatternRewriter &rewriter) const override {
    auto softmax = matmul.getLhs().getDefiningOp<SoftmaxOp>();
    if (!softmax)
      return rewriter.notifyMatchFailure(matmul, "lhs is not an mha.softmax");
    if (softmax.getNormalizedAxis() != softmax.getType().getRank() - 1)
      return rewriter.notifyMatchFailure(matmul,
                                         "softmax is not over the last axis");
    if (!softmax->hasOneUse())
      return rewriter.notifyMatchFailure(matmul,
                                         "the probabilities have other uses");

    MaskPart maskPart;
    FailureOr<ScaledMatmulOp> scores =
        matchScores(softmax.getInput(), maskPart, rewriter, matmul);
    if (failed(scores))
      return failure();

    ScaledMatmulOp qk = *scores;
    // The chain verified op by op; attention's own rules (same ranks of
    // query, key and value, a mask of the scores' shape...) may still fail.
    auto attention = createIfInferable<AttentionOp>(
        rewriter, matmul.getLoc(), qk.getLhs(), qk.getRhs(), matmul.getRhs(),
        maskPart.mask, qk.getScaleAttr(),
        maskPart.causal ? rewriter.getUnitAttr() : UnitAttr());
    if (!attention)
      return rewriter.notifyMatchFailure(
          matmul, "the operands do not make a valid mha.attention");
    if (attention.getType() != matmul.getType()) {
      rewriter.eraseOp(attention);
      return rewriter.notifyMatchFailure(
          matmul, "the fused op would not have the matmul's type");
    }
    rewriter.replaceOp(matmul, attention.getResult());
    return success();
  }

private:
  /// Matches the softmax input: scaled_matmul, possibly behind an additive
  /// `mha.add` mask or an `mha.apply_mask`. Every op on the way must have one
  /// use, so nothing else still needs the scores.
  static FailureOr<ScaledMatmulOp> matchScores(Value scores, MaskPart &maskPart,
                                               PatternRewriter &rewriter,
                                               Operation *root) {
    Operation *producer = scores.getDefiningOp();
    if (!producer || !producer->hasOneUse())
      return rewriter.notifyMatchFailure(root,
                                         "the scores have other uses or no "
                                         "producing op");
    if (auto add = dyn_cast<AddOp>(producer)) {
      for (auto [sIdx, mIdx] : {std::pair{0, 1}, {1, 0}}) {
        Value s = add->getOperand(sIdx), m = add->getOperand(mIdx);
        auto qk = s.getDefiningOp<ScaledMatmulOp>();
        // The mask must not broadcast the scores to a larger shape.
        if (!qk || qk.getType() != add.getType() ||
            !broadcastsTo(cast<RankedTensorType>(m.getType()).getShape(),
                          qk.getType().getShape()))
          continue;
        maskPart.mask = m;
        return matchScaledMatmul(qk, rewriter, root);
      }
      return rewriter.notifyMatchFailure(
          root, "mha.add is not scaled_matmul plus a broadcastable mask");
    }
    if (auto apply = dyn_cast<ApplyMaskOp>(producer)) {
      if (apply.getZeroFill())
        return rewriter.notifyMatchFailure(
            root, "a zero-filling mha.apply_mask is a gradient, not a mask");
      auto qk = apply.getScores().getDefiningOp<ScaledMatmulOp>();
      if (!qk)
        return rewriter.notifyMatchFailure(
            root, "mha.apply_mask does not mask a scaled_matmul");
      maskPart.mask = apply.getMask();
      maskPart.causal = apply.getCausal();
      return matchScaledMatmul(qk, rewriter, root);
    }
    if (auto qk = dyn_cast<ScaledMatmulOp>(producer))
      return matchScaledMatmul(qk, rewriter, root);
    return rewriter.notifyMatchFailure(root,
                                       "the softmax input is not attention "
                                       "scores");
  }

  static FailureOr<ScaledMatmulOp> matchScaledMatmul(ScaledMatmulOp qk,
                                                     PatternRewriter &rewriter,
                                                     Operation *root) {
    if (!qk->hasOneUse())
      return rewriter.notifyMatchFailure(root, "the scores have other uses");
    if (qk.getUntransposed())
      return rewriter.notifyMatchFailure(
          root, "scaled_matmul does not take the key transposed");
    return qk;
  }
};
} // namespace

void mha::populateMHAFuseAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseAttentionChain>(patterns.getContext());
}

namespace {
struct MHAFuseAttentionPass final
    : mha::impl::MHAFuseAttentionPassBase<MHAFuseAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMHAFuseAttentionPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      getOperation()->emitError("mha-fuse-attention did not converge");
      signalPassFailure();
    }
  }
};
} // namespace
