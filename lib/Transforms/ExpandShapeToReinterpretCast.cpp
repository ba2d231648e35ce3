//===- ExpandShapeToReinterpretCast.cpp - Expand shapes as casts ----------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-expand-shape-to-reinterpret-cast, which works
// around MLIR 22.1's expand-strided-metadata crashing on memref.expand_shape
// with dynamic output sizes, by expressing such reshapes of contiguous buffers
// as reinterpret_casts.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAEXPANDSHAPETOREINTERPRETCASTPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
struct ExpandShapeAsReinterpretCast final
    : OpRewritePattern<memref::ExpandShapeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(memref::ExpandShapeOp op,
                                PatternRewriter &rewriter) const override {
    MemRefType sourceType = op.getSrcType();
    MemRefType resultType = op.getResultType();
    if (!sourceType.getLayout().isIdentity() ||
        !resultType.getLayout().isIdentity())
      return rewriter.notifyMatchFailure(op, "not a contiguous buffer");
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
    // Row-major strides, static while the trailing sizes are.
    SmallVector<OpFoldResult> strides(sizes.size());
    OpFoldResult stride = rewriter.getIndexAttr(1);
    for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
      strides[d] = stride;
      std::optional<int64_t> s = getConstantIntValue(stride);
      std::optional<int64_t> n = getConstantIntValue(sizes[d]);
      if (s && n) {
        stride = rewriter.getIndexAttr(*s * *n);
      } else {
        Value a = getValueOrCreateConstantIndexOp(rewriter, loc, stride);
        Value b = getValueOrCreateConstantIndexOp(rewriter, loc, sizes[d]);
        stride = arith::MulIOp::create(rewriter, loc, a, b).getResult();
      }
    }
    rewriter.replaceOpWithNewOp<memref::ReinterpretCastOp>(
        op, resultType, op.getSrc(), rewriter.getIndexAttr(0), sizes, strides);
    return success();
  }
};

struct MHAExpandShapeToReinterpretCastPass final
    : mha::impl::MHAExpandShapeToReinterpretCastPassBase<
          MHAExpandShapeToReinterpretCastPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandShapeAsReinterpretCast>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      getOperation()->emitError(
          "mha-expand-shape-to-reinterpret-cast did not converge");
      signalPassFailure();
    }
  }
};
} // namespace
