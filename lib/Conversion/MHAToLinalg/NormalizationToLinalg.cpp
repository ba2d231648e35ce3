//===- NormalizationToLinalg.cpp - Softmax, reductions and layer norm -----===//
//-------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Patterns of convert-mha-to-linalg for softmax (max-subtracted), reduce (sum,
// mean, max), layer_norm and the gradients layer_norm_grad and reduce_max_grad.
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
struct SoftmaxLowering final : MHAPattern<SoftmaxOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(SoftmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value result = buildSoftmax(rewriter, loc, x, op.getNormalizedAxis());
    replaceOpCasting(rewriter,
        op, castElements(rewriter, loc, result, op.getType().getElementType()));
    return success();
  }
};

struct ReduceLowering final : MHAPattern<ReduceOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(ReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toF32(rewriter, loc, adaptor.getInput());
    int64_t rank = tensorType(x).getRank();
    SmallVector<int64_t> dims;
    for (int64_t d : op.getDims())
      dims.push_back(d < 0 ? d + rank : d);
    llvm::sort(dims);
    Value reduced;
    switch (op.getKind()) {
    case ReduceKind::Max:
      reduced = reduceF32(rewriter, loc, x, dims,
                          -std::numeric_limits<double>::infinity(), maxF);
      break;
    case ReduceKind::Sum:
    case ReduceKind::Mean:
      reduced = reduceF32(rewriter, loc, x, dims, 0.0, addF);
      break;
    }
    if (op.getKind() == ReduceKind::Mean) {
      Value count = countAsF32(rewriter, loc, x, dims);
      reduced = mapElements(
          rewriter, loc, reduced, f32(rewriter),
          [&](OpBuilder &b, Location l, ValueRange args) {
            return arith::DivFOp::create(b, l, args[0], count).getResult();
          });
    }
    auto resultType = cast<RankedTensorType>(op.getType());
    reduced = castElements(rewriter, loc, reduced, resultType.getElementType());
    if (op.getKeepDims()) {
      SmallVector<bool> isReduced(rank, false);
      SmallVector<OpFoldResult> keptSizes;
      SmallVector<OpFoldResult> in = sizesOf(rewriter, loc, x);
      for (int64_t d : dims)
        isReduced[d] = true;
      for (int64_t d = 0; d < rank; ++d)
        if (!isReduced[d])
          keptSizes.push_back(in[d]);
      reduced = expandReducedDims(rewriter, loc, reduced, resultType, isReduced,
                                  keptSizes);
    }
    replaceOpCasting(rewriter, op, reduced);
    return success();
  }
};

struct LayerNormLowering final : MHAPattern<LayerNormOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(LayerNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t inputRank = op.getInput().getType().getRank();
    checkSameSize(rewriter, op, adaptor.getGamma(), 0, "gamma",
                  adaptor.getInput(), inputRank - 1, "input");
    checkSameSize(rewriter, op, adaptor.getBeta(), 0, "beta",
                  adaptor.getInput(), inputRank - 1, "input");
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value gamma = toF32(rewriter, loc, adaptor.getGamma());
    Value beta = toF32(rewriter, loc, adaptor.getBeta());
    int64_t rank = tensorType(x).getRank(), last = rank - 1;
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, x);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap rowMap = droppedDimMap(rewriter, rank, last);
    AffineMap featureMap = AffineMap::get(
        rank, 0, rewriter.getAffineDimExpr(last), rewriter.getContext());
    Value count = countAsF32(rewriter, loc, x, {last});
    auto divideByCount = [&](Value v) {
      return mapElements(
          rewriter, loc, v, f32(rewriter),
          [&](OpBuilder &b, Location l, ValueRange args) {
            return arith::DivFOp::create(b, l, args[0], count).getResult();
          });
    };
    Value mean = divideByCount(reduceF32(rewriter, loc, x, {last}, 0.0, addF));
    Value centered = buildGeneric(
        rewriter, loc, sizes, f32(rewriter), {x, mean}, {identity, rowMap},
        [&](OpBuilder &b, Location l, ValueRange args) {
          return arith::SubFOp::create(b, l, args[0], args[1]).getResult();
        });
    Value squares = mapElements(
        rewriter, loc, centered, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) {
          return arith::MulFOp::create(b, l, args[0], args[0]).getResult();
        });
    Value var =
        divideByCount(reduceF32(rewriter, loc, squares, {last}, 0.0, addF));
    Value eps = f32Const(rewriter, loc, op.getEpsilon().convertToDouble());
    Value result = buildGeneric(
        rewriter, loc, sizes, f32(rewriter), {centered, var, gamma, beta},
        {identity, rowMap, featureMap, featureMap},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value inv = math::RsqrtOp::create(
              b, l, arith::AddFOp::create(b, l, args[1], eps));
          Value n = arith::MulFOp::create(b, l, args[0], inv);
          return arith::AddFOp::create(
                     b, l, arith::MulFOp::create(b, l, n, args[2]), args[3])
              .getResult();
        });
    replaceOpCasting(rewriter,
        op, castElements(rewriter, loc, result, op.getType().getElementType()));
    return success();
  }
};

struct ReduceMaxGradLowering final : MHAPattern<ReduceMaxGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(ReduceMaxGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    int64_t rank = tensorType(x).getRank();
    SmallVector<int64_t> dims;
    for (int64_t d : op.getDims())
      dims.push_back(d < 0 ? d + rank : d);
    // The reduced values are read with the reduced dimensions dropped (or
    // at index 0 when kept).
    SmallVector<AffineExpr> exprs;
    for (int64_t d = 0; d < rank; ++d) {
      if (!llvm::is_contained(dims, d))
        exprs.push_back(rewriter.getAffineDimExpr(d));
      else if (op.getKeepDims())
        exprs.push_back(rewriter.getAffineConstantExpr(0));
    }
    AffineMap reduced = AffineMap::get(rank, 0, exprs, rewriter.getContext());
    Type elementType = op.getType().getElementType();
    Value result = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, x), elementType,
        {x, adaptor.getMax(), adaptor.getResultGrad()},
        {rewriter.getMultiDimIdentityMap(rank), reduced, reduced},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value isMax = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                              args[0], args[1]);
          Value zero =
              arith::ConstantOp::create(b, l, b.getFloatAttr(elementType, 0.0));
          return arith::SelectOp::create(b, l, isMax, args[2], zero)
              .getResult();
        });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

struct LayerNormGradLowering final : MHAPattern<LayerNormGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(LayerNormGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value gamma = toF32(rewriter, loc, adaptor.getGamma());
    Value dy = toF32(rewriter, loc, adaptor.getResultGrad());
    int64_t rank = tensorType(x).getRank(), last = rank - 1;
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, x);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap rowMap = droppedDimMap(rewriter, rank, last);
    AffineMap featureMap = AffineMap::get(
        rank, 0, rewriter.getAffineDimExpr(last), rewriter.getContext());
    Value count = countAsF32(rewriter, loc, x, {last});
    auto rowMean = [&](Value v) {
      return mapElements(
          rewriter, loc, reduceF32(rewriter, loc, v, {last}, 0.0, addF),
          f32(rewriter), [&](OpBuilder &b, Location l, ValueRange args) {
            return arith::DivFOp::create(b, l, args[0], count).getResult();
          });
    };
    auto binary = [&](Value u, AffineMap mu, Value v, AffineMap mv, auto fn) {
      return buildGeneric(rewriter, loc, sizes, f32(rewriter), {u, v}, {mu, mv},
                          [&](OpBuilder &b, Location l, ValueRange args) {
                            return fn(b, l, args[0], args[1]);
                          });
    };
    auto sub = [](OpBuilder &b, Location l, Value u, Value v) {
      return arith::SubFOp::create(b, l, u, v).getResult();
    };
    auto mul = [](OpBuilder &b, Location l, Value u, Value v) {
      return arith::MulFOp::create(b, l, u, v).getResult();
    };
    Value eps = f32Const(rewriter, loc, op.getEpsilon().convertToDouble());
    Value mean = rowMean(x);
    Value centered = binary(x, identity, mean, rowMap, sub);
    Value var = rowMean(binary(centered, identity, centered, identity, mul));
    Value rstd = mapElements(
        rewriter, loc, var, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) {
          return math::RsqrtOp::create(
                     b, l, arith::AddFOp::create(b, l, args[0], eps))
              .getResult();
        });
    Value xhat = binary(centered, identity, rstd, rowMap, mul);
    Value g = binary(dy, identity, gamma, featureMap, mul);
    Value meanG = rowMean(g);
    Value meanGX = rowMean(binary(g, identity, xhat, identity, mul));
    Value dx = buildGeneric(
        rewriter, loc, sizes, f32(rewriter), {g, meanG, xhat, meanGX, rstd},
        {identity, rowMap, identity, rowMap, rowMap},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value t = arith::SubFOp::create(b, l, a[0], a[1]);
          t = arith::SubFOp::create(b, l, t,
                                    arith::MulFOp::create(b, l, a[2], a[3]));
          return arith::MulFOp::create(b, l, t, a[4]).getResult();
        });
    SmallVector<int64_t> rows = llvm::to_vector(llvm::seq<int64_t>(0, last));
    Value dyX = binary(dy, identity, xhat, identity, mul);
    Value dGamma =
        rows.empty() ? dyX : reduceF32(rewriter, loc, dyX, rows, 0.0, addF);
    Value dBeta =
        rows.empty() ? dy : reduceF32(rewriter, loc, dy, rows, 0.0, addF);
    Type inElt = op.getInput().getType().getElementType();
    Type gElt = op.getGamma().getType().getElementType();
    replaceOpCasting(rewriter, op, {castElements(rewriter, loc, dx, inElt),
                            castElements(rewriter, loc, dGamma, gElt),
                            castElements(rewriter, loc, dBeta, gElt)});
    return success();
  }
};
} // namespace

void mha::populateMHANormalizationToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<SoftmaxLowering, ReduceLowering, LayerNormLowering,
               ReduceMaxGradLowering, LayerNormGradLowering>(
      patterns.getContext());
}
