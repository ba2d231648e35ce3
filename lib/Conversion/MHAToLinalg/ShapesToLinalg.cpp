//===- ShapesToLinalg.cpp - Head splitting, transposes and broadcasts -----===//
//-------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Patterns of convert-mha-to-linalg for split_heads, merge_heads, transpose,
// broadcast_to and reduce_to: reshapes, linalg.transpose, broadcasts and their
// adjoint sums.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "mha/Conversion/MHAToLinalg/MHAToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::mha;
using namespace mlir::mha::detail;

namespace {
struct SplitHeadsLowering final : MHAPattern<SplitHeadsOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(SplitHeadsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto resultType = cast<RankedTensorType>(op.getType());
    int64_t heads = resultType.getDimSize(1);
    SmallVector<OpFoldResult> in = sizesOf(rewriter, loc, input);
    OpFoldResult depth;
    if (resultType.isDynamicDim(3)) {
      Value model = getValueOrCreateConstantIndexOp(rewriter, loc, in[2]);
      Value rem = arith::RemUIOp::create(
          rewriter, loc, model,
          arith::ConstantIndexOp::create(rewriter, loc, heads));
      Value divides = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::eq, rem,
          arith::ConstantIndexOp::create(rewriter, loc, 0));
      cf::AssertOp::create(rewriter, loc, divides,
                           locationText(loc) + ": 'mha.split_heads' op: " +
                               std::to_string(heads) +
                               " heads do not divide the model dimension "
                               "of 'input' at run time");
      depth = arith::DivUIOp::create(
                  rewriter, loc, model,
                  arith::ConstantIndexOp::create(rewriter, loc, heads))
                  .getResult();
    } else {
      depth = rewriter.getIndexAttr(resultType.getDimSize(3));
    }
    // [B, S, H*D] -> [B, S, H, D] -> [B, H, S, D]
    auto expandedType = RankedTensorType::get({resultType.getDimSize(0),
                                               resultType.getDimSize(2), heads,
                                               resultType.getDimSize(3)},
                                              resultType.getElementType());
    Value expanded = tensor::ExpandShapeOp::create(
        rewriter, loc, expandedType, input,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}},
        SmallVector<OpFoldResult>{in[0], in[1], rewriter.getIndexAttr(heads),
                                  depth});
    Value init = emptyTensor(
        rewriter, loc, {in[0], rewriter.getIndexAttr(heads), in[1], depth},
        resultType.getElementType());
    replaceOpCasting(rewriter,
        op, linalg::TransposeOp::create(rewriter, loc, expanded, init,
                                        ArrayRef<int64_t>{0, 2, 1, 3})
                .getResult()[0]);
    return success();
  }
};

struct MergeHeadsLowering final : MHAPattern<MergeHeadsOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(MergeHeadsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    SmallVector<OpFoldResult> in = sizesOf(rewriter, loc, input);
    // [B, H, S, D] -> [B, S, H, D] -> [B, S, H*D]
    Value init = emptyTensor(rewriter, loc, {in[0], in[2], in[1], in[3]},
                             tensorType(input).getElementType());
    Value transposed =
        linalg::TransposeOp::create(rewriter, loc, input, init,
                                    ArrayRef<int64_t>{0, 2, 1, 3})
            .getResult()[0];
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, op.getType(), transposed,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    return success();
  }
};

struct TransposeLowering final : MHAPattern<TransposeOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(TransposeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> in = sizesOf(rewriter, loc, adaptor.getInput());
    SmallVector<OpFoldResult> out;
    for (int64_t p : op.getPermutation())
      out.push_back(in[p]);
    Value init = emptyTensor(rewriter, loc, out, op.getType().getElementType());
    replaceOpCasting(rewriter, op, linalg::TransposeOp::create(rewriter, loc,
                                                       adaptor.getInput(), init,
                                                       op.getPermutation())
                               .getResult()[0]);
    return success();
  }
};

struct BroadcastToLowering final : MHAPattern<BroadcastToOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(BroadcastToOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto likeType = cast<RankedTensorType>(op.getType());
    auto inType = tensorType(adaptor.getInput());
    int64_t rank = likeType.getRank();
    ArrayRef<int64_t> inserted = op.getDims();
    // Input dimension i reads result dimension `resultDim[i]`.
    SmallVector<AffineExpr> exprs;
    SmallVector<int64_t> spread(inserted.begin(), inserted.end());
    for (int64_t d = 0, i = 0; d < rank; ++d) {
      if (llvm::is_contained(inserted, d))
        continue;
      if (inType.getDimSize(i) == 1 && likeType.getDimSize(d) != 1) {
        exprs.push_back(rewriter.getAffineConstantExpr(0));
        spread.push_back(d);
      } else {
        exprs.push_back(rewriter.getAffineDimExpr(d));
      }
      ++i;
    }
    AffineMap map = AffineMap::get(rank, 0, exprs, rewriter.getContext());
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value count;
    if (op.getAverage())
      count = countAsF32(rewriter, loc, adaptor.getLike(), spread);
    Value result = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, adaptor.getLike()), f32(rewriter),
        {x}, {map}, [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          if (!count)
            return args[0];
          return arith::DivFOp::create(b, l, args[0], count);
        });
    replaceOpCasting(rewriter,
        op, castElements(rewriter, loc, result, likeType.getElementType()));
    return success();
  }
};

struct ReduceToLowering final : MHAPattern<ReduceToOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(ReduceToOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto likeType = cast<RankedTensorType>(op.getType());
    Value g = toF32(rewriter, loc, adaptor.getInput());
    auto gType = tensorType(g);
    int64_t rank = gType.getRank(), offset = rank - likeType.getRank();
    SmallVector<int64_t> dims;
    SmallVector<bool> isReduced; // over the like's dimensions
    SmallVector<OpFoldResult> keptSizes;
    SmallVector<OpFoldResult> gSizes = sizesOf(rewriter, loc, g);
    for (int64_t j = 0; j < rank; ++j) {
      if (j < offset) {
        dims.push_back(j);
        continue;
      }
      bool broadcast =
          likeType.getDimSize(j - offset) == 1 && gType.getDimSize(j) != 1;
      if (broadcast)
        dims.push_back(j);
      else
        keptSizes.push_back(gSizes[j]);
      isReduced.push_back(broadcast);
    }
    Value reduced =
        dims.empty() ? g : reduceF32(rewriter, loc, g, dims, 0.0, addF);
    auto f32Like = RankedTensorType::get(likeType.getShape(), f32(rewriter));
    if (tensorType(reduced).getRank() != likeType.getRank())
      reduced = expandReducedDims(rewriter, loc, reduced, f32Like, isReduced,
                                  keptSizes);
    else if (tensorType(reduced) != f32Like)
      reduced = tensor::CastOp::create(rewriter, loc, f32Like, reduced);
    replaceOpCasting(rewriter,
        op, castElements(rewriter, loc, reduced, likeType.getElementType()));
    return success();
  }
};
} // namespace

void mha::populateMHAShapesToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<SplitHeadsLowering, MergeHeadsLowering, TransposeLowering,
               BroadcastToLowering, ReduceToLowering>(patterns.getContext());
}
