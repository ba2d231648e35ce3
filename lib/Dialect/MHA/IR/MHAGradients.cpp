//===- MHAGradients.cpp - Reverse-mode gradient rules of mha ops ----------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements DifferentiableOpInterface for the mha ops: each rule
// builds the gradients of an op's operands from the gradients of its results,
// in mha ops, so the gradient function stays readable and is lowered by the
// same pipeline as the forward pass. The mathematics of each rule is in the
// comment above it; docs/Autodiff.md gives the overview.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <cmath>

using namespace mlir;
using namespace mlir::mha;

#include "mha/Dialect/MHA/IR/MHAInterfaces.cpp.inc"

namespace {
RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

bool isBooleanMask(Value mask) {
  return typeOf(mask).getElementType().isInteger(1);
}

/// A rank-0 constant of `v`'s element type, broadcastable to anything.
Value scalar(OpBuilder &b, Location loc, Value like, double value) {
  auto type = RankedTensorType::get({}, typeOf(like).getElementType());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, b.getFloatAttr(
                                               type.getElementType(), value)));
}

/// Permutation swapping the last two of `rank` dimensions.
SmallVector<int64_t> swapLastTwo(int64_t rank) {
  auto perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  std::swap(perm[rank - 1], perm[rank - 2]);
  return perm;
}

Value transposeLastTwo(OpBuilder &b, Location loc, Value v) {
  return TransposeOp::create(b, loc, v, swapLastTwo(typeOf(v).getRank()));
}

/// The scale of a scaled_matmul, or failure when it defaults to 1/sqrt(K)
/// with K dynamic.
FailureOr<FloatAttr> effectiveScale(ScaledMatmulOp op, OpBuilder &b) {
  if (FloatAttr scale = op.getScaleAttr())
    return scale;
  auto lhs = typeOf(op.getLhs());
  int64_t k = lhs.getShape().back();
  if (ShapedType::isDynamic(k))
    return op.emitOpError("gradient needs a static contraction size or an "
                          "explicit 'scale'"),
           failure();
  return b.getF32FloatAttr(1.0 / std::sqrt(double(k)));
}
} // namespace

// y = x·W + b: dx = dy·Wᵀ, dW = Σ_rows xᵀ·dy, db = Σ_rows dy.
LogicalResult DenseOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value dy = resultGrads[0];
  Value wT = TransposeOp::create(b, loc, getWeight(), ArrayRef<int64_t>{1, 0});
  operandGrads.push_back(DenseOp::create(b, loc, dy, wT, Value()));
  operandGrads.push_back(DenseWeightGradOp::create(b, loc, getInput(), dy));
  if (getBias()) {
    int64_t rank = typeOf(dy).getRank();
    Value db = dy;
    if (rank > 1)
      db = ReduceOp::create(b, loc, ReduceKind::Sum, dy,
                            llvm::to_vector(llvm::seq<int64_t>(0, rank - 1)),
                            /*keep_dims=*/false);
    operandGrads.push_back(db);
  }
  return success();
}

// Split and merge are inverse permutations of the same elements.
LogicalResult
SplitHeadsOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                             SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(MergeHeadsOp::create(b, getLoc(), resultGrads[0]));
  return success();
}

LogicalResult
MergeHeadsOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                             SmallVectorImpl<Value> &operandGrads) {
  int64_t heads = typeOf(getInput()).getDimSize(1);
  if (ShapedType::isDynamic(heads))
    return emitOpError("gradient needs a static number of heads");
  operandGrads.push_back(
      SplitHeadsOp::create(b, getLoc(), resultGrads[0], heads));
  return success();
}

// C = s·A·Bᵀ: dA = s·dC·B, dB = s·dCᵀ·A.
// C = s·A·B (untransposed): dA = s·dC·Bᵀ, dB = s·Aᵀ·dC.
LogicalResult
ScaledMatmulOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  FailureOr<FloatAttr> scale = effectiveScale(*this, b);
  if (failed(scale))
    return failure();
  Location loc = getLoc();
  Value dc = resultGrads[0];
  UnitAttr untransposed = b.getUnitAttr();
  if (!getUntransposed()) {
    operandGrads.push_back(ScaledMatmulOp::create(b, loc, dc, getRhs(),
                                                  untransposed, *scale));
    operandGrads.push_back(ScaledMatmulOp::create(
        b, loc, transposeLastTwo(b, loc, dc), getLhs(), untransposed, *scale));
  } else {
    operandGrads.push_back(
        ScaledMatmulOp::create(b, loc, dc, getRhs(), UnitAttr(), *scale));
    operandGrads.push_back(ScaledMatmulOp::create(
        b, loc, transposeLastTwo(b, loc, getLhs()), dc, untransposed, *scale));
  }
  return success();
}

// C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC.
LogicalResult MatmulOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value dc = resultGrads[0];
  operandGrads.push_back(ScaledMatmulOp::create(
      b, loc, dc, getRhs(), UnitAttr(), b.getF32FloatAttr(1.0)));
  operandGrads.push_back(
      MatmulOp::create(b, loc, transposeLastTwo(b, loc, getLhs()), dc));
  return success();
}

// y = softmax(x): dx = y ⊙ (dy - Σ_axis dy ⊙ y).
LogicalResult SoftmaxOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value y = getResult(), dy = resultGrads[0];
  Value dyY = MulOp::create(b, loc, dy, y);
  Value sum = ReduceOp::create(b, loc, ReduceKind::Sum, dyY,
                               ArrayRef<int64_t>{getNormalizedAxis()},
                               /*keep_dims=*/true);
  Value centered = SubOp::create(b, loc, dy, sum);
  operandGrads.push_back(MulOp::create(b, loc, y, centered));
  return success();
}

// Sum: broadcast dy back; mean: and divide by the count. Max is not
// differentiable here yet.
LogicalResult ReduceOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  if (getKind() == ReduceKind::Max) {
    operandGrads.push_back(ReduceMaxGradOp::create(
        b, getLoc(), getInput(), getResult(), resultGrads[0], getDimsAttr(),
        getKeepDimsAttr()));
    return success();
  }
  int64_t rank = typeOf(getInput()).getRank();
  SmallVector<int64_t> dims;
  if (!getKeepDims()) {
    for (int64_t d : getDims())
      dims.push_back(d < 0 ? d + rank : d);
    llvm::sort(dims);
  }
  auto broadcast = BroadcastToOp::create(
      b, getLoc(), getInput().getType(), resultGrads[0], getInput(),
      b.getDenseI64ArrayAttr(dims),
      getKind() == ReduceKind::Mean ? b.getUnitAttr() : UnitAttr());
  operandGrads.push_back(broadcast);
  return success();
}

// Broadcasting ops sum their gradient back to each operand's shape.
LogicalResult AddOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  operandGrads.push_back(
      ReduceToOp::create(b, loc, resultGrads[0], getLhs()).getResult());
  operandGrads.push_back(
      ReduceToOp::create(b, loc, resultGrads[0], getRhs()).getResult());
  return success();
}

LogicalResult SubOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value dy = resultGrads[0];
  Value negated = MulOp::create(b, loc, dy, scalar(b, loc, dy, -1.0));
  operandGrads.push_back(ReduceToOp::create(b, loc, dy, getLhs()).getResult());
  operandGrads.push_back(
      ReduceToOp::create(b, loc, negated, getRhs()).getResult());
  return success();
}

LogicalResult MulOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value dy = resultGrads[0];
  Value dl = MulOp::create(b, loc, dy, getRhs());
  Value dr = MulOp::create(b, loc, dy, getLhs());
  operandGrads.push_back(ReduceToOp::create(b, loc, dl, getLhs()).getResult());
  operandGrads.push_back(ReduceToOp::create(b, loc, dr, getRhs()).getResult());
  return success();
}

LogicalResult TransposeOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  operandGrads.push_back(
      TransposeOp::create(b, getLoc(), resultGrads[0], inverse));
  return success();
}

LogicalResult ReluOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      ReluGradOp::create(b, getLoc(), getInput(), resultGrads[0]));
  return success();
}

// y = x ⊙ m / (1 - p) with a mask m drawn from (key, stream, index): the
// gradient is the same dropout of dy (the same key and stream draw the same
// mask); the key has none.
LogicalResult DropoutOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(DropoutOp::create(b, getLoc(), resultGrads[0],
                                           getKey(), getRateAttr(),
                                           getStreamAttr()));
  if (getKey())
    operandGrads.push_back(Value());
  return success();
}

// A rotation's gradient is its transpose, the rotation by -θ; the offset
// has none.
LogicalResult RotaryOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(RotaryOp::create(
      b, getLoc(), resultGrads[0].getType(), resultGrads[0], getOffset(),
      getBaseAttr(), getInverse() ? UnitAttr() : b.getUnitAttr()));
  if (getOffset())
    operandGrads.push_back(Value());
  return success();
}

LogicalResult GeluOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(GeluGradOp::create(b, getLoc(), getInput(),
                                            resultGrads[0],
                                            getApproximateAttr()));
  return success();
}

// y = sigmoid(x): dx = dy ⊙ y ⊙ (1 - y).
LogicalResult SigmoidOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value y = getResult();
  Value oneMinusY = SubOp::create(b, loc, scalar(b, loc, y, 1.0), y);
  Value local = MulOp::create(b, loc, y, oneMinusY);
  operandGrads.push_back(MulOp::create(b, loc, resultGrads[0], local));
  return success();
}

// y = tanh(x): dx = dy ⊙ (1 - y²).
LogicalResult TanhOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value y = getResult();
  Value local = SubOp::create(b, loc, scalar(b, loc, y, 1.0),
                              MulOp::create(b, loc, y, y));
  operandGrads.push_back(MulOp::create(b, loc, resultGrads[0], local));
  return success();
}

// Recomputes probabilities from the saved log-sum-exp (no Sq×Sk matrix kept).
LogicalResult
AttentionWithLSEOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                   SmallVectorImpl<Value> &operandGrads) {
  if (!resultGrads[0]) {
    operandGrads.append(getNumOperands(), Value());
    return success();
  }
  // An additive mask is part of the scores: its gradient is dS (summed over
  // its broadcast dimensions). A boolean one selects and has none.
  Value mask = getMask();
  bool additive = mask && !isBooleanMask(mask);
  auto grad = AttentionGradOp::create(
      b, getLoc(), getQuery(), getKey(), getValue(), getResult(), getLse(),
      resultGrads[0], mask, getScaleAttr(), getCausalAttr(),
      /*withMaskGrad=*/additive);
  operandGrads.push_back(grad.getQueryGrad());
  operandGrads.push_back(grad.getKeyGrad());
  operandGrads.push_back(grad.getValueGrad());
  if (mask)
    operandGrads.push_back(grad.getMaskGrad());
  return success();
}

LogicalResult BCELossOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(BCELossGradOp::create(b, getLoc(), getInput(),
                                               getTarget(), resultGrads[0],
                                               getFromLogitsAttr()));
  operandGrads.push_back(Value());
  return success();
}

LogicalResult MSELossOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(MSELossGradOp::create(b, getLoc(), getInput(),
                                               getTarget(), resultGrads[0]));
  operandGrads.push_back(Value());
  return success();
}

LogicalResult EmbeddingOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(EmbeddingGradOp::create(b, getLoc(), getTable(),
                                                 getIds(), resultGrads[0]));
  operandGrads.push_back(Value());
  return success();
}

LogicalResult
CrossEntropyOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      CrossEntropyGradOp::create(b, getLoc(), getLogits(), getLabels(),
                                 resultGrads[0], getIgnoreIndexAttr()));
  operandGrads.push_back(Value());
  return success();
}

LogicalResult LayerNormOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  auto grad = LayerNormGradOp::create(b, getLoc(), getInput(), getGamma(),
                                      resultGrads[0], getEpsilonAttr());
  operandGrads.push_back(grad.getInputGrad());
  operandGrads.push_back(grad.getGammaGrad());
  operandGrads.push_back(grad.getBetaGrad());
  return success();
}

// Kept scores pass their gradient through; masked ones (constant -inf) get
// none. An additive mask is added to the scores: it receives the same
// gradient, summed over the dimensions along which it was broadcast (none
// where `causal` masks the score, since the result is -inf whatever it is).
LogicalResult ApplyMaskOp::buildGradients(OpBuilder &b, ValueRange resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  Value mask = getMask();
  bool boolean = mask && isBooleanMask(mask);
  Value scoresGrad = resultGrads[0];
  if (boolean || getCausal())
    scoresGrad = ApplyMaskOp::create(b, getLoc(), scoresGrad.getType(),
                                     scoresGrad, boolean ? mask : Value(),
                                     getCausalAttr(), b.getUnitAttr());
  operandGrads.push_back(scoresGrad);
  if (mask)
    operandGrads.push_back(
        boolean ? Value()
                : ReduceToOp::create(b, getLoc(), scoresGrad,
                                     mask)
                      .getResult());
  return success();
}
