//===- AttentionToLinalg.cpp - Attention and its gradient -----------------===//
//-------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Patterns of convert-mha-to-linalg for apply_mask, attention,
// attention_with_lse and attention_grad, through their decomposition into
// scores, softmax and products (Sq x Sk matrices materialized).
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
struct ApplyMaskLowering final : MHAPattern<ApplyMaskOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(ApplyMaskOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value scores = adaptor.getScores();
    auto type = tensorType(scores);
    int64_t rank = type.getRank();
    Type elementType = type.getElementType();
    SmallVector<Value> inputs = {scores};
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(rank)};
    Value mask = adaptor.getMask();
    if (mask) {
      checkBroadcast(rewriter, op, rank, {{scores, "scores"}, {mask, "mask"}});
      inputs.push_back(mask);
      maps.push_back(
          broadcastMap(rewriter, tensorType(mask).getShape(), type.getShape()));
    }
    bool boolean = mask && tensorType(mask).getElementType().isInteger(1);
    bool causal = op.getCausal();
    bool zeroFill = op.getZeroFill();
    Value result = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, scores), elementType, inputs,
        maps, [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value s = args[0];
          Value negInf = arith::ConstantOp::create(
              b, l,
              b.getFloatAttr(
                  elementType,
                  zeroFill ? 0.0 : -std::numeric_limits<double>::infinity()));
          if (mask && boolean)
            s = arith::SelectOp::create(b, l, args[1], s, negInf);
          else if (mask && !zeroFill)
            s = arith::AddFOp::create(b, l, s, args[1]);
          if (causal) {
            Value i = linalg::IndexOp::create(b, l, rank - 2);
            Value j = linalg::IndexOp::create(b, l, rank - 1);
            Value future =
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::ugt, j, i);
            s = arith::SelectOp::create(b, l, future, negInf, s);
          }
          return s;
        });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

/// softmax(scores) rows and their log-sum-exp, in f32, with fully masked
/// rows giving zeros and -inf.
std::pair<Value, Value> softmaxWithLSE(OpBuilder &b, Location loc, Value s) {
  int64_t rank = tensorType(s).getRank(), last = rank - 1;
  Value rowMax = reduceF32(b, loc, s, {last},
                           -std::numeric_limits<double>::infinity(), maxF);
  Value probs = buildSoftmax(b, loc, s, last);
  Value negInf = f32Const(b, loc, -std::numeric_limits<double>::infinity());
  Value zero = f32Const(b, loc, 0.0);
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap rowMap = droppedDimMap(b, rank, last);
  Value exps = buildGeneric(
      b, loc, sizesOf(b, loc, s), f32(b), {s, rowMax}, {identity, rowMap},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value isEmpty = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                              args[1], negInf);
        Value shift = arith::SelectOp::create(nb, l, isEmpty, zero, args[1]);
        return math::ExpOp::create(nb, l,
                                   arith::SubFOp::create(nb, l, args[0], shift))
            .getResult();
      });
  Value sums = reduceF32(b, loc, exps, {last}, 0.0, addF);
  Value lse = mapElements(
      b, loc, {rowMax, sums}, f32(b),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value isEmpty = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                              args[0], negInf);
        Value value = arith::AddFOp::create(
            nb, l, args[0], math::LogOp::create(nb, l, args[1]));
        return arith::SelectOp::create(nb, l, isEmpty, negInf, value)
            .getResult();
      });
  return {probs, lse};
}

/// mha.attention lowers through its decomposition for now, in f32: f16/bf16
/// operands are extended first and only the result is rounded back, so the
/// scores and probabilities never lose precision.
struct AttentionLowering final : MHAPattern<AttentionOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value mask = adaptor.getMask();
    if (mask && !tensorType(mask).getElementType().isInteger(1))
      mask = toF32(rewriter, loc, mask);
    auto f32Op = AttentionOp::create(
        rewriter, loc, toF32(rewriter, loc, adaptor.getQuery()),
        toF32(rewriter, loc, adaptor.getKey()),
        toF32(rewriter, loc, adaptor.getValue()), mask, op.getScaleAttr(),
        op.getCausalAttr());
    FailureOr<SmallVector<Value>> expanded =
        cast<DecomposableOpInterface>(f32Op.getOperation())
            .decomposeOperation(rewriter);
    if (failed(expanded))
      return failure();
    rewriter.eraseOp(f32Op);
    replaceOpCasting(rewriter, op, castElements(rewriter, loc, expanded->front(),
                                        op.getType().getElementType()));
    return success();
  }
};

struct AttentionWithLSELowering final : MHAPattern<AttentionWithLSEOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(AttentionWithLSEOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value q = toF32(rewriter, loc, adaptor.getQuery());
    Value k = toF32(rewriter, loc, adaptor.getKey());
    Value v = toF32(rewriter, loc, adaptor.getValue());
    Value mask = adaptor.getMask();
    if (mask && !tensorType(mask).getElementType().isInteger(1))
      mask = toF32(rewriter, loc, mask);
    Value scores = buildAttentionScores(rewriter, loc, q, k, mask, op.getScaleAttr(),
                                   op.getCausal());
    auto [probs, lse] = softmaxWithLSE(rewriter, loc, scores);
    Value out = MatmulOp::create(rewriter, loc, probs, v);
    replaceOpCasting(rewriter, op,
                       {castElements(rewriter, loc, out,
                                     op.getResult().getType().getElementType()),
                        lse});
    return success();
  }
};

struct AttentionGradLowering final : MHAPattern<AttentionGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(AttentionGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value q = toF32(rewriter, loc, adaptor.getQuery());
    Value k = toF32(rewriter, loc, adaptor.getKey());
    Value v = toF32(rewriter, loc, adaptor.getValue());
    Value o = toF32(rewriter, loc, adaptor.getResult());
    Value dO = toF32(rewriter, loc, adaptor.getResultGrad());
    Value lse = adaptor.getLse();
    Value mask = adaptor.getMask();
    if (mask && !tensorType(mask).getElementType().isInteger(1))
      mask = toF32(rewriter, loc, mask);
    int64_t rank = tensorType(q).getRank(), last = rank - 1;
    // The forward's scale: the attribute, else 1/sqrt(D), read at run time
    // when D is dynamic (as the forward's scaled_matmul does).
    Value scale = defaultScaleOr(rewriter, loc, q, op.getScaleAttr());
    // P = exp(S - lse), recomputed; 0 where S is -inf.
    Value scores = buildAttentionScores(rewriter, loc, q, k, mask, op.getScaleAttr(),
                                   op.getCausal());
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap rowMap = droppedDimMap(rewriter, rank, last);
    Value negInf =
        f32Const(rewriter, loc, -std::numeric_limits<double>::infinity());
    Value zero = f32Const(rewriter, loc, 0.0);
    Value probs = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, scores), f32(rewriter),
        {scores, lse}, {identity, rowMap},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value masked = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                               args[0], negInf);
          Value e = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, args[0], args[1]));
          return arith::SelectOp::create(b, l, masked, zero, e).getResult();
        });
    // dV = Pᵀ·dO; dP = dO·Vᵀ; D = rowsum(dO ⊙ O); dS = P ⊙ (dP - D).
    Value dV = MatmulOp::create(
        rewriter, loc,
        TransposeOp::create(rewriter, loc, probs, lastTwoSwapped(rank)), dO);
    Value dP = ScaledMatmulOp::create(rewriter, loc, dO, v, nullptr,
                                      rewriter.getF32FloatAttr(1.0));
    Value rowDot = reduceF32(
        rewriter, loc,
        mapElements(
            rewriter, loc, {dO, o}, f32(rewriter),
            [&](OpBuilder &b, Location l, ValueRange args) {
              return arith::MulFOp::create(b, l, args[0], args[1]).getResult();
            }),
        {last}, 0.0, addF);
    auto buildDS = [&](Value factor) {
      return buildGeneric(
          rewriter, loc, sizesOf(rewriter, loc, probs), f32(rewriter),
          {probs, dP, rowDot}, {identity, identity, rowMap},
          [&](OpBuilder &b, Location l, ValueRange args) -> Value {
            Value diff = arith::SubFOp::create(b, l, args[1], args[2]);
            Value ds = arith::MulFOp::create(b, l, args[0], diff);
            if (factor)
              ds = arith::MulFOp::create(b, l, ds, factor);
            return ds;
          });
    };
    // The additive mask's gradient is dS itself, summed over the mask's
    // broadcast dimensions (P, hence dS, is 0 where causal masks a score).
    Value maskGrad;
    if (op.getMaskGrad())
      maskGrad = castElements(
          rewriter, loc,
          ReduceToOp::create(rewriter, loc, buildDS(Value()), mask),
          tensorType(adaptor.getMask()).getElementType());
    // dQ = scale·dS·K, dK = scale·dSᵀ·Q.
    Value scaledDS = buildDS(scale);
    Value dQ = MatmulOp::create(rewriter, loc, scaledDS, k);
    Value dK = MatmulOp::create(
        rewriter, loc,
        TransposeOp::create(rewriter, loc, scaledDS, lastTwoSwapped(rank)), q);
    auto back = [&](Value grad, Value like) {
      return castElements(rewriter, loc, grad,
                          tensorType(like).getElementType());
    };
    SmallVector<Value> results = {back(dQ, adaptor.getQuery()),
                                  back(dK, adaptor.getKey()),
                                  back(dV, adaptor.getValue())};
    if (maskGrad)
      results.push_back(maskGrad);
    replaceOpCasting(rewriter, op, results);
    return success();
  }
};
} // namespace

void mha::populateMHAAttentionToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<ApplyMaskLowering, AttentionLowering, AttentionWithLSELowering,
               AttentionGradLowering>(patterns.getContext());
}
