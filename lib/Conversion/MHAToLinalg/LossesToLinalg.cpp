//===- LossesToLinalg.cpp - Losses and their gradients --------------------===//
//----------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Patterns of convert-mha-to-linalg for bce_loss, mse_loss, cross_entropy and
// their _grad ops: means of per-element terms, the stable log-sum-exp for cross
// entropy.
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
/// Losses compare two tensors of one shape.
void checkPairwise(OpBuilder &b, Operation *op, Value input, Value target) {
  for (int64_t d = 0, e = tensorType(input).getRank(); d < e; ++d)
    checkSameSize(b, op, input, d, "input", target, d, "target");
}

struct BCELossLowering final : MHAPattern<BCELossOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(BCELossOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    checkPairwise(rewriter, op, adaptor.getInput(), adaptor.getTarget());
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value y = toF32(rewriter, loc, adaptor.getTarget());
    bool fromLogits = op.getFromLogits();
    Value terms = mapElements(
        rewriter, loc, {x, y}, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value v = args[0], t = args[1];
          Value one = f32Const(b, l, 1.0);
          if (fromLogits) {
            // max(x, 0) - x*y + log(1 + exp(-|x|))
            Value relu =
                arith::MaximumFOp::create(b, l, v, f32Const(b, l, 0.0));
            Value xy = arith::MulFOp::create(b, l, v, t);
            Value negAbs =
                arith::NegFOp::create(b, l, math::AbsFOp::create(b, l, v));
            Value softplus =
                math::Log1pOp::create(b, l, math::ExpOp::create(b, l, negAbs));
            return arith::AddFOp::create(
                b, l, arith::SubFOp::create(b, l, relu, xy), softplus);
          }
          // -(y log p + (1 - y) log(1 - p)), p clamped to [1e-7, 1 - 1e-7].
          Value p = arith::MinimumFOp::create(
              b, l, arith::MaximumFOp::create(b, l, v, f32Const(b, l, 1e-7)),
              f32Const(b, l, 1.0 - 1e-7));
          Value logP = math::LogOp::create(b, l, p);
          Value log1mP =
              math::LogOp::create(b, l, arith::SubFOp::create(b, l, one, p));
          Value a = arith::MulFOp::create(b, l, t, logP);
          Value c = arith::MulFOp::create(
              b, l, arith::SubFOp::create(b, l, one, t), log1mP);
          return arith::NegFOp::create(b, l, arith::AddFOp::create(b, l, a, c));
        });
    replaceOpCasting(rewriter, op,
                       meanOfSum(rewriter, loc, sumAll(rewriter, loc, terms), x,
                                 op.getType().getElementType()));
    return success();
  }
};

struct MSELossLowering final : MHAPattern<MSELossOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(MSELossOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    checkPairwise(rewriter, op, adaptor.getInput(), adaptor.getTarget());
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value y = toF32(rewriter, loc, adaptor.getTarget());
    Value squares =
        mapElements(rewriter, loc, {x, y}, f32(rewriter),
                    [&](OpBuilder &b, Location l, ValueRange args) {
                      Value d = arith::SubFOp::create(b, l, args[0], args[1]);
                      return arith::MulFOp::create(b, l, d, d).getResult();
                    });
    replaceOpCasting(rewriter, op,
                       meanOfSum(rewriter, loc, sumAll(rewriter, loc, squares),
                                 x, op.getType().getElementType()));
    return success();
  }
};

/// Whether a label equals the ignore index (false without one).
Value isIgnored(OpBuilder &b, Location loc, Value label,
                std::optional<int64_t> ignore) {
  if (!ignore)
    return arith::ConstantIntOp::create(b, loc, 0, 1);
  Value special = arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(label.getType(), *ignore));
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, label,
                               special);
}

/// The number of labels that are not the ignore index, at least 1, as an
/// f32 scalar (so that a batch of ignored positions gives 0, not NaN).
Value keptCount(OpBuilder &b, Location loc, Value labels, int64_t ignore) {
  Value kept = mapElements(
      b, loc, {labels}, f32(b),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return arith::SelectOp::create(nb, l, isIgnored(nb, l, args[0], ignore),
                                       f32Const(nb, l, 0.0),
                                       f32Const(nb, l, 1.0));
      });
  Value count =
      tensor::ExtractOp::create(b, loc, sumAll(b, loc, kept), ValueRange{});
  return arith::MaximumFOp::create(b, loc, count, f32Const(b, loc, 1.0));
}

struct CrossEntropyLowering final : MHAPattern<CrossEntropyOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(CrossEntropyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = toF32(rewriter, loc, adaptor.getLogits());
    Value labels = adaptor.getLabels();
    int64_t rank = tensorType(logits).getRank(), last = rank - 1;
    for (int64_t d = 0; d < rank - 1; ++d)
      checkSameSize(rewriter, op, labels, d, "labels", adaptor.getLogits(), d,
                    "logits");
    // Labels pick logits: each is checked before use.
    std::optional<int64_t> ignore = op.getIgnoreIndex();
    checkIndicesInRange(rewriter, op, labels, sizeOf(rewriter, loc, logits, last),
                        "a label lies", "the number of classes", ignore);
    // log-sum-exp per row, with the row maximum subtracted.
    Value rowMax = reduceF32(rewriter, loc, logits, {last},
                             -std::numeric_limits<double>::infinity(), maxF);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap rowMap = droppedDimMap(rewriter, rank, last);
    Value exps = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, logits), f32(rewriter),
        {logits, rowMax}, {identity, rowMap},
        [&](OpBuilder &b, Location l, ValueRange args) {
          return math::ExpOp::create(
                     b, l, arith::SubFOp::create(b, l, args[0], args[1]))
              .getResult();
        });
    Value sums = reduceF32(rewriter, loc, exps, {last}, 0.0, addF);
    // Per row: log(sum) + max - logits[row, label].
    Value perRow = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, labels), f32(rewriter),
        {sums, rowMax, labels},
        SmallVector<AffineMap>(3, rewriter.getMultiDimIdentityMap(rank - 1)),
        [&](OpBuilder &b, Location l, ValueRange args) {
          SmallVector<Value> indices;
          for (int64_t d = 0; d < rank - 1; ++d)
            indices.push_back(linalg::IndexOp::create(b, l, d));
          // An ignored row reads class 0 (its label may lie outside the
          // logits) and contributes 0.
          Value ignored = isIgnored(b, l, args[2], ignore);
          Value label =
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[2]);
          indices.push_back(arith::SelectOp::create(
              b, l, ignored, arith::ConstantIndexOp::create(b, l, 0), label));
          Value picked = tensor::ExtractOp::create(b, l, logits, indices);
          Value lse = arith::AddFOp::create(
              b, l, math::LogOp::create(b, l, args[0]), args[1]);
          Value term = arith::SubFOp::create(b, l, lse, picked);
          return arith::SelectOp::create(b, l, ignored, f32Const(b, l, 0.0),
                                         term)
              .getResult();
        });
    Value total = sumAll(rewriter, loc, perRow);
    if (!ignore) {
      replaceOpCasting(rewriter, op,
                       meanOfSum(rewriter, loc, total, labels,
                                 op.getType().getElementType()));
      return success();
    }
    replaceOpCasting(rewriter, op,
                     divideScalarTensor(rewriter, loc, total,
                                        keptCount(rewriter, loc, labels,
                                                  *ignore),
                                        op.getType().getElementType()));
    return success();
  }
};

/// The loss gradient g (a rank-0 tensor) as an f32 scalar divided by the
/// f32 scalar `count`.
Value lossGradOver(OpBuilder &b, Location loc, Value g, Value count) {
  Value scalar = tensor::ExtractOp::create(b, loc, g, ValueRange{});
  if (!scalar.getType().isF32())
    scalar = arith::ExtFOp::create(b, loc, f32(b), scalar);
  return arith::DivFOp::create(b, loc, scalar, count);
}

/// The loss gradient g divided by the element count of `of`.
Value scaledLossGrad(OpBuilder &b, Location loc, Value g, Value of,
                     ArrayRef<int64_t> countDims) {
  return lossGradOver(b, loc, g, countAsF32(b, loc, of, countDims));
}

SmallVector<int64_t> allDims(Value v) {
  return llvm::to_vector(llvm::seq<int64_t>(0, tensorType(v).getRank()));
}

struct BCELossGradLowering final : MHAPattern<BCELossGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(BCELossGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value y = toF32(rewriter, loc, adaptor.getTarget());
    Value g =
        scaledLossGrad(rewriter, loc, adaptor.getLossGrad(), x, allDims(x));
    bool fromLogits = op.getFromLogits();
    Value result = mapElements(
        rewriter, loc, {x, y}, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value v = args[0], t = args[1];
          Value one = f32Const(b, l, 1.0);
          if (fromLogits) {
            Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, v));
            Value s = arith::DivFOp::create(
                b, l, one, arith::AddFOp::create(b, l, one, e));
            return arith::MulFOp::create(b, l, g,
                                         arith::SubFOp::create(b, l, s, t));
          }
          // The forward clamps p to [1e-7, 1 - 1e-7]: no gradient outside.
          Value lo = f32Const(b, l, 1e-7), hi = f32Const(b, l, 1.0 - 1e-7);
          Value inside = arith::AndIOp::create(
              b, l,
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, v, lo),
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLE, v, hi));
          Value denom = arith::MulFOp::create(
              b, l, v, arith::SubFOp::create(b, l, one, v));
          Value d = arith::DivFOp::create(
              b, l, arith::SubFOp::create(b, l, v, t), denom);
          Value scaled = arith::MulFOp::create(b, l, g, d);
          return arith::SelectOp::create(b, l, inside, scaled,
                                         f32Const(b, l, 0.0));
        });
    replaceOpCasting(rewriter,
        op, castElements(rewriter, loc, result, op.getType().getElementType()));
    return success();
  }
};

struct MSELossGradLowering final : MHAPattern<MSELossGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(MSELossGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value y = toF32(rewriter, loc, adaptor.getTarget());
    Value g =
        scaledLossGrad(rewriter, loc, adaptor.getLossGrad(), x, allDims(x));
    Value result =
        mapElements(rewriter, loc, {x, y}, f32(rewriter),
                    [&](OpBuilder &b, Location l, ValueRange args) {
                      Value d = arith::SubFOp::create(b, l, args[0], args[1]);
                      Value twice =
                          arith::MulFOp::create(b, l, d, f32Const(b, l, 2.0));
                      return arith::MulFOp::create(b, l, twice, g).getResult();
                    });
    replaceOpCasting(rewriter,
        op, castElements(rewriter, loc, result, op.getType().getElementType()));
    return success();
  }
};

struct CrossEntropyGradLowering final : MHAPattern<CrossEntropyGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(CrossEntropyGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = toF32(rewriter, loc, adaptor.getLogits());
    Value labels = adaptor.getLabels();
    int64_t rank = tensorType(logits).getRank(), last = rank - 1;
    std::optional<int64_t> ignore = op.getIgnoreIndex();
    checkIndicesInRange(rewriter, op, labels, sizeOf(rewriter, loc, logits, last),
                        "a label lies", "the number of classes", ignore);
    Value g = ignore ? lossGradOver(rewriter, loc, adaptor.getLossGrad(),
                                    keptCount(rewriter, loc, labels, *ignore))
                     : scaledLossGrad(rewriter, loc, adaptor.getLossGrad(),
                                      labels, allDims(labels));
    Value probs = buildSoftmax(rewriter, loc, logits, last);
    Value result = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, logits), f32(rewriter),
        {probs, labels},
        {rewriter.getMultiDimIdentityMap(rank),
         droppedDimMap(rewriter, rank, last)},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value c = linalg::IndexOp::create(b, l, last);
          Value label =
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[1]);
          Value hit =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, c, label);
          Value onehot = arith::SelectOp::create(b, l, hit, f32Const(b, l, 1.0),
                                                 f32Const(b, l, 0.0));
          Value d = arith::SubFOp::create(b, l, args[0], onehot);
          Value grad = arith::MulFOp::create(b, l, d, g);
          return arith::SelectOp::create(b, l, isIgnored(b, l, args[1], ignore),
                                         f32Const(b, l, 0.0), grad)
              .getResult();
        });
    replaceOpCasting(rewriter,
        op, castElements(rewriter, loc, result, op.getType().getElementType()));
    return success();
  }
};
} // namespace

void mha::populateMHALossesToLinalgPatterns(RewritePatternSet &patterns) {
  patterns
      .add<BCELossLowering, MSELossLowering, CrossEntropyLowering,
           BCELossGradLowering, MSELossGradLowering, CrossEntropyGradLowering>(
          patterns.getContext());
}
