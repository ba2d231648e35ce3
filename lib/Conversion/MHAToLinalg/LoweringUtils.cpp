//===- LoweringUtils.cpp - Shared helpers of convert-mha-to-linalg --------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/TypeUtilities.h"

#include <cmath>
#include <limits>

namespace mlir {
namespace mha {
namespace detail {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

Value f32Const(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

/// The sizes of `v`, static ones as attributes, dynamic ones as tensor.dim.
SmallVector<OpFoldResult> sizesOf(OpBuilder &b, Location loc, Value v) {
  return tensor::getMixedSizes(b, loc, v);
}

/// A size taken from dimension `dim` of `v`.
OpFoldResult sizeOf(OpBuilder &b, Location loc, Value v, int64_t dim) {
  return sizesOf(b, loc, v)[dim];
}

/// "file:line:col" of `loc`, or its printed form.
std::string locationText(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (file.getFilename().getValue() + ":" + Twine(file.getLine()) + ":" +
            Twine(file.getColumn()))
        .str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (isa<FileLineColLoc>(inner))
        return locationText(inner);
  if (auto name = dyn_cast<NameLoc>(loc))
    return locationText(name.getChildLoc());
  std::string text;
  llvm::raw_string_ostream os(text);
  loc.print(os);
  return text;
}

/// Emits a run-time check (cf.assert) that dimension `dx` of `x` equals
/// dimension `dy` of `y`. The verifier has already compared static sizes, so
/// nothing is emitted unless one of them is dynamic.
void checkSameSize(OpBuilder &b, Operation *op, Value x, int64_t dx,
                   StringRef xName, Value y, int64_t dy, StringRef yName) {
  auto tx = tensorType(x), ty = tensorType(y);
  if (!tx.isDynamicDim(dx) && !ty.isDynamicDim(dy))
    return;
  Location loc = op->getLoc();
  Value sx = tensor::DimOp::create(b, loc, x, dx);
  Value sy = tensor::DimOp::create(b, loc, y, dy);
  Value same = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, sx, sy);
  std::string message =
      (locationText(loc) + ": '" + op->getName().getStringRef() +
       "' op: dimension " + Twine(dx) + " of '" + xName +
       "' does not match dimension " + Twine(dy) + " of '" + yName +
       "' at run time")
          .str();
  cf::AssertOp::create(b, loc, same, message);
}

void replaceOpCasting(ConversionPatternRewriter &rewriter, Operation *op,
                      ValueRange values) {
  SmallVector<Value> cast;
  for (auto [result, value] : llvm::zip(op->getResults(), values)) {
    auto want = dyn_cast<RankedTensorType>(result.getType());
    auto have = dyn_cast<RankedTensorType>(value.getType());
    if (want && have && want != have &&
        want.getElementType() == have.getElementType() &&
        succeeded(verifyCompatibleShape(want, have)))
      value = tensor::CastOp::create(rewriter, op->getLoc(), want, value);
    cast.push_back(value);
  }
  rewriter.replaceOp(op, cast);
}

void replaceOpCasting(ConversionPatternRewriter &rewriter, Operation *op,
                      Operation *replacement) {
  replaceOpCasting(rewriter, op, replacement->getResults());
}

void checkIndicesInRange(OpBuilder &b, Operation *op, Value indices,
                         OpFoldResult bound, StringRef what,
                         StringRef boundName, std::optional<int64_t> allowed) {
  Location loc = op->getLoc();
  auto type = tensorType(indices);
  Type elementType = type.getElementType();
  Value boundIndex = getValueOrCreateConstantIndexOp(b, loc, bound);
  Value boundValue =
      arith::IndexCastOp::create(b, loc, elementType, boundIndex);
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(elementType));
  Value allTrue = filledTensor(b, loc, {}, b.getI1Type(),
                               arith::ConstantIntOp::create(b, loc, 1, 1));
  int64_t rank = type.getRank();
  auto all = linalg::GenericOp::create(
      b, loc, allTrue.getType(), indices, allTrue,
      ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank),
                          AffineMap::get(rank, 0, {}, b.getContext())},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::reduction),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value notNegative = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::sge, args[0], zero);
        Value below = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                            args[0], boundValue);
        Value ok = arith::AndIOp::create(nb, l, notNegative, below);
        if (allowed) {
          Value special = arith::ConstantOp::create(
              nb, l, nb.getIntegerAttr(elementType, *allowed));
          ok = arith::OrIOp::create(
              nb, l, ok,
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, args[0],
                                    special));
        }
        linalg::YieldOp::create(nb, l,
                                arith::AndIOp::create(nb, l, ok, args[1])
                                    .getResult());
      });
  Value inRange =
      tensor::ExtractOp::create(b, loc, all.getResult(0), ValueRange{});
  std::string range = "[0, " + boundName.str();
  if (std::optional<int64_t> constant = getConstantIntValue(bound))
    range += " = " + std::to_string(*constant);
  range += ")";
  if (allowed)
    range += " and is not the ignore index " + std::to_string(*allowed);
  std::string message = (locationText(loc) + ": '" +
                         op->getName().getStringRef() + "' op: " + what +
                         " outside " + range + " at run time")
                            .str();
  cf::AssertOp::create(b, loc, inRange, message);
}

/// Checks at run time that the aligned dimensions of broadcast operands that
/// are not a static 1 agree (dynamic dimensions are never broadcast).
void checkBroadcast(OpBuilder &b, Operation *op, int64_t rank,
                    ArrayRef<std::pair<Value, StringRef>> operands) {
  for (int64_t j = 0; j < rank; ++j) {
    std::optional<std::pair<Value, StringRef>> first;
    int64_t firstDim = 0;
    for (auto [value, name] : operands) {
      auto type = tensorType(value);
      int64_t i = j - (rank - type.getRank());
      if (i < 0 || type.getDimSize(i) == 1)
        continue;
      if (!first) {
        first = {value, name};
        firstDim = i;
        continue;
      }
      checkSameSize(b, op, first->first, firstDim, first->second, value, i,
                    name);
    }
  }
}

/// The number of elements in dimensions `dims` of `v`, as an f32 value.
Value countAsF32(OpBuilder &b, Location loc, Value v, ArrayRef<int64_t> dims) {
  Value count = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t d : dims)
    count = arith::MulIOp::create(b, loc, count,
                                  tensor::DimOp::create(b, loc, v, d));
  Value asInt = arith::IndexCastOp::create(b, loc, b.getI64Type(), count);
  return arith::SIToFPOp::create(b, loc, f32(b), asInt);
}

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, Value value) {
  Value empty = emptyTensor(b, loc, sizes, elementType);
  return linalg::FillOp::create(b, loc, value, empty).getResult(0);
}

/// Builds an all-parallel linalg.generic over `sizes` producing an
/// `elementType` tensor; input `i` is read through `maps[i]`.
Value buildGeneric(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, ValueRange inputs,
                   ArrayRef<AffineMap> maps, BodyFn body) {
  Value init = emptyTensor(b, loc, sizes, elementType);
  SmallVector<AffineMap> indexing(maps);
  indexing.push_back(b.getMultiDimIdentityMap(sizes.size()));
  SmallVector<utils::IteratorType> iterators(sizes.size(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, indexing, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, result);
      });
  return generic.getResult(0);
}

/// Element-wise map over same-shaped inputs.
Value mapElements(OpBuilder &b, Location loc, ValueRange inputs,
                  Type elementType, BodyFn body) {
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, inputs[0]);
  SmallVector<AffineMap> maps(inputs.size(),
                              b.getMultiDimIdentityMap(sizes.size()));
  return buildGeneric(b, loc, sizes, elementType, inputs, maps, body);
}

/// Converts the elements of `v` to `elementType` (extf/truncf); a no-op when
/// they already have it.
Value castElements(OpBuilder &b, Location loc, Value v, Type elementType) {
  Type from = tensorType(v).getElementType();
  if (from == elementType)
    return v;
  bool widen = cast<FloatType>(from).getWidth() <
               cast<FloatType>(elementType).getWidth();
  return mapElements(
      b, loc, v, elementType,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        if (widen)
          return arith::ExtFOp::create(nb, nloc, elementType, args[0])
              .getResult();
        return arith::TruncFOp::create(nb, nloc, elementType, args[0])
            .getResult();
      });
}

Value toF32(OpBuilder &b, Location loc, Value v) {
  return castElements(b, loc, v, b.getF32Type());
}

/// The map reading an operand of shape `shape` while iterating over a result
/// of rank `rank` under the NumPy broadcasting rule: trailing alignment, and
/// static size-1 dimensions broadcast (read at index 0).
AffineMap broadcastMap(OpBuilder &b, ArrayRef<int64_t> shape,
                       ArrayRef<int64_t> resultShape) {
  int64_t rank = resultShape.size();
  int64_t offset = rank - static_cast<int64_t>(shape.size());
  SmallVector<AffineExpr> exprs;
  for (auto [i, size] : llvm::enumerate(shape)) {
    int64_t j = static_cast<int64_t>(i) + offset;
    if (size == 1 && resultShape[j] != 1)
      exprs.push_back(b.getAffineConstantExpr(0));
    else
      exprs.push_back(b.getAffineDimExpr(j));
  }
  return AffineMap::get(rank, 0, exprs, b.getContext());
}

/// The sizes of a broadcast result of type `resultType`: static sizes from the
/// type, dynamic ones from an operand whose aligned size is not a static 1.
SmallVector<OpFoldResult> broadcastSizes(OpBuilder &b, Location loc,
                                         RankedTensorType resultType,
                                         ValueRange operands) {
  int64_t rank = resultType.getRank();
  SmallVector<OpFoldResult> sizes;
  for (int64_t j = 0; j < rank; ++j) {
    if (!resultType.isDynamicDim(j)) {
      sizes.push_back(b.getIndexAttr(resultType.getDimSize(j)));
      continue;
    }
    OpFoldResult size;
    for (Value operand : operands) {
      auto type = tensorType(operand);
      int64_t i = j - (rank - type.getRank());
      if (i < 0 || type.getDimSize(i) == 1)
        continue;
      size = sizeOf(b, loc, operand, i);
      break;
    }
    sizes.push_back(size);
  }
  return sizes;
}

/// Reduces `input` over `dims` with `combine`, starting from `init`; the
/// result drops the reduced dimensions. The input is f32.
Value reduceF32(
    OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> dims,
    double initValue,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  SmallVector<OpFoldResult> sizes;
  for (auto [d, size] : llvm::enumerate(sizesOf(b, loc, input)))
    if (!llvm::is_contained(dims, static_cast<int64_t>(d)))
      sizes.push_back(size);
  Value init = filledTensor(b, loc, sizes, f32(b), f32Const(b, loc, initValue));
  auto reduce = linalg::ReduceOp::create(
      b, loc, input, init, dims,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, combine(nb, nloc, args[0], args[1]));
      });
  return reduce.getResult(0);
}

/// Reshapes `reduced` (the result of reducing the dimensions flagged in
/// `isReduced` away) to `resultType`, where those dimensions have size 1:
/// each kept dimension is grouped with the unit dimensions that follow it
/// (leading unit dimensions go with the first kept one).
Value expandReducedDims(OpBuilder &b, Location loc, Value reduced,
                        RankedTensorType resultType, ArrayRef<bool> isReduced,
                        ArrayRef<OpFoldResult> keptSizes) {
  SmallVector<ReassociationIndices> groups;
  SmallVector<OpFoldResult> outSizes;
  ReassociationIndices pending;
  size_t kept = 0;
  for (int64_t d = 0, e = isReduced.size(); d < e; ++d) {
    outSizes.push_back(isReduced[d] ? b.getIndexAttr(1) : keptSizes[kept++]);
    pending.push_back(d);
    if (!isReduced[d]) {
      groups.push_back(pending);
      pending.clear();
    }
  }
  if (!pending.empty()) {
    if (groups.empty())
      groups.push_back({});
    groups.back().append(pending.begin(), pending.end());
  }
  if (tensorType(reduced).getRank() == 0)
    groups.clear();
  return tensor::ExpandShapeOp::create(b, loc, resultType, reduced, groups,
                                       outSizes);
}

Value addF(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}
Value maxF(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MaximumFOp::create(b, loc, x, y);
}

/// Sum of all elements of `input` (f32) as a rank-0 tensor.
Value sumAll(OpBuilder &b, Location loc, Value input) {
  auto dims =
      llvm::to_vector(llvm::seq<int64_t>(0, tensorType(input).getRank()));
  return reduceF32(b, loc, input, dims, 0.0, addF);
}

/// The map that reads a tensor with dimension `dropped` removed while
/// iterating over the full rank.
AffineMap droppedDimMap(OpBuilder &b, int64_t rank, int64_t dropped) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank; ++d)
    if (d != dropped)
      exprs.push_back(b.getAffineDimExpr(d));
  return AffineMap::get(rank, 0, exprs, b.getContext());
}

/// Divides a rank-0 f32 tensor by the element count of `of`, returning the
/// mean cast to `elementType`.
Value meanOfSum(OpBuilder &b, Location loc, Value sum, Value of,
                Type elementType) {
  auto dims = llvm::to_vector(llvm::seq<int64_t>(0, tensorType(of).getRank()));
  return divideScalarTensor(b, loc, sum, countAsF32(b, loc, of, dims),
                            elementType);
}

Value divideScalarTensor(OpBuilder &b, Location loc, Value sum, Value count,
                         Type elementType) {
  Value mean = mapElements(
      b, loc, sum, f32(b), [&](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::DivFOp::create(nb, nloc, args[0], count).getResult();
      });
  return castElements(b, loc, mean, elementType);
}

/// Batched matmul lhs [..., M, K] x rhs [..., K, N] -> f32 [..., M, N] with
/// named linalg ops: matmul for rank 2, batch_matmul for rank 3, and batch
/// dimensions collapsed into one above that.
Value buildMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs,
                  RankedTensorType resultType) {
  int64_t rank = resultType.getRank();
  // Output sizes: batch and M from lhs, N from rhs.
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, lhs);
  sizes.back() = sizeOf(b, loc, rhs, rank - 1);
  // Prefer static batch sizes from either operand.
  for (int64_t d = 0; d < rank - 2; ++d)
    if (!resultType.isDynamicDim(d))
      sizes[d] = b.getIndexAttr(resultType.getDimSize(d));

  if (rank == 2) {
    Value init = filledTensor(b, loc, sizes, f32(b), f32Const(b, loc, 0.0));
    return linalg::MatmulOp::create(b, loc, ValueRange{lhs, rhs}, init)
        .getResult(0);
  }
  auto collapse = [&](Value v) -> Value {
    if (rank == 3)
      return v;
    SmallVector<ReassociationIndices> groups(1);
    for (int64_t d = 0; d < rank - 2; ++d)
      groups[0].push_back(d);
    groups.push_back({rank - 2});
    groups.push_back({rank - 1});
    return tensor::CollapseShapeOp::create(b, loc, v, groups);
  };
  Value lhs3 = collapse(lhs), rhs3 = collapse(rhs);
  SmallVector<OpFoldResult> sizes3 = sizesOf(b, loc, lhs3);
  sizes3.back() = sizeOf(b, loc, rhs3, 2);
  Value init = filledTensor(b, loc, sizes3, f32(b), f32Const(b, loc, 0.0));
  Value product =
      linalg::BatchMatmulOp::create(b, loc, ValueRange{lhs3, rhs3}, init)
          .getResult(0);
  if (rank == 3)
    return product;
  SmallVector<ReassociationIndices> groups(1);
  for (int64_t d = 0; d < rank - 2; ++d)
    groups[0].push_back(d);
  groups.push_back({rank - 2});
  groups.push_back({rank - 1});
  auto type = RankedTensorType::get(resultType.getShape(), f32(b));
  return tensor::ExpandShapeOp::create(b, loc, type, product, groups, sizes);
}

/// Run-time checks of lhs [..., M, K] x rhs [..., K, N]: batch and K sizes.
void checkMatmulSizes(OpBuilder &b, Operation *op, Value lhs, Value rhs) {
  int64_t rank = tensorType(lhs).getRank();
  for (int64_t d = 0; d < rank - 2; ++d)
    checkSameSize(b, op, lhs, d, "lhs", rhs, d, "rhs");
  checkSameSize(b, op, lhs, rank - 1, "lhs", rhs, rank - 2, "rhs");
}

SmallVector<int64_t> lastTwoSwapped(int64_t rank) {
  auto perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  std::swap(perm[rank - 1], perm[rank - 2]);
  return perm;
}

/// Transposes the last two dimensions of `v`.
Value transposeLastTwo(OpBuilder &b, Location loc, Value v) {
  int64_t rank = tensorType(v).getRank();
  SmallVector<int64_t> perm = lastTwoSwapped(rank);
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, v);
  std::swap(sizes[rank - 1], sizes[rank - 2]);
  Value init = emptyTensor(b, loc, sizes, tensorType(v).getElementType());
  return linalg::TransposeOp::create(b, loc, v, init, perm).getResult()[0];
}

/// softmax along `axis` of an f32 tensor: exp(x - max) / sum, with rows of
/// -inf giving zeros.
Value buildSoftmax(OpBuilder &b, Location loc, Value x, int64_t axis) {
  int64_t rank = tensorType(x).getRank();
  Value rowMax = reduceF32(b, loc, x, {axis},
                           -std::numeric_limits<double>::infinity(), maxF);
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap rowMap = droppedDimMap(b, rank, axis);
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, x);
  Value negInf = f32Const(b, loc, -std::numeric_limits<double>::infinity());
  Value zero = f32Const(b, loc, 0.0);
  Value exps = buildGeneric(
      b, loc, sizes, f32(b), {x, rowMax}, {identity, rowMap},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        // A row of -inf has max -inf: subtract 0 instead, so exp gives 0.
        Value isEmpty = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                              args[1], negInf);
        Value shift = arith::SelectOp::create(nb, l, isEmpty, zero, args[1]);
        Value diff = arith::SubFOp::create(nb, l, args[0], shift);
        return math::ExpOp::create(nb, l, diff).getResult();
      });
  Value sums = reduceF32(b, loc, exps, {axis}, 0.0, addF);
  return buildGeneric(
      b, loc, sizes, f32(b), {exps, sums}, {identity, rowMap},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value isZero = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                             args[1], zero);
        Value ratio = arith::DivFOp::create(nb, l, args[0], args[1]);
        return arith::SelectOp::create(nb, l, isZero, zero, ratio).getResult();
      });
}

Value defaultScaleOr(OpBuilder &b, Location loc, Value lhs, FloatAttr scale) {
  if (scale)
    return f32Const(b, loc, scale.getValueAsDouble());
  int64_t last = tensorType(lhs).getRank() - 1;
  int64_t k = tensorType(lhs).getDimSize(last);
  if (!ShapedType::isDynamic(k))
    return f32Const(b, loc, 1.0 / std::sqrt(double(k)));
  return math::RsqrtOp::create(b, loc, countAsF32(b, loc, lhs, {last}));
}

} // namespace detail
} // namespace mha
} // namespace mlir
