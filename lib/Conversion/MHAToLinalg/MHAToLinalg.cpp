//===- MHAToLinalg.cpp - Lower mha compute ops to linalg ------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements convert-mha-to-linalg: one conversion pattern per mha
// compute op, producing linalg named ops where they exist and linalg.generic
// elsewhere, on tensors. Dynamic sizes are read with tensor.dim. Arithmetic is
// done in f32: f16/bf16 operands are extended first and results truncated.
//
//===----------------------------------------------------------------------===//

#include "mha/Conversion/MHAToLinalg/MHAToLinalg.h"
#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_CONVERTMHATOLINALGPASS
#include "mha/Conversion/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {
using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

Type f32(OpBuilder &b) { return b.getF32Type(); }

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
  return mapElements(b, loc, v, elementType,
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       if (widen)
                         return arith::ExtFOp::create(nb, nloc, elementType,
                                                      args[0])
                             .getResult();
                       return arith::TruncFOp::create(nb, nloc, elementType,
                                                      args[0])
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
Value reduceF32(OpBuilder &b, Location loc, Value input,
                ArrayRef<int64_t> dims, double initValue,
                function_ref<Value(OpBuilder &, Location, Value, Value)>
                    combine) {
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
                        RankedTensorType resultType,
                        ArrayRef<bool> isReduced,
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
  auto dims = llvm::to_vector(llvm::seq<int64_t>(0, tensorType(input).getRank()));
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
  Value count = countAsF32(b, loc, of, dims);
  Value mean = mapElements(b, loc, sum, f32(b),
                           [&](OpBuilder &nb, Location nloc, ValueRange args) {
                             return arith::DivFOp::create(nb, nloc, args[0],
                                                          count)
                                 .getResult();
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

/// Transposes the last two dimensions of `v`.
Value transposeLastTwo(OpBuilder &b, Location loc, Value v) {
  int64_t rank = tensorType(v).getRank();
  auto perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  std::swap(perm[rank - 1], perm[rank - 2]);
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, v);
  std::swap(sizes[rank - 1], sizes[rank - 2]);
  Value init = emptyTensor(b, loc, sizes, tensorType(v).getElementType());
  return linalg::TransposeOp::create(b, loc, v, init, perm).getResult()[0];
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

template <typename OpTy>
struct MHAPattern : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpConversionPattern<OpTy>::OpAdaptor;
};

struct DenseLowering final : MHAPattern<DenseOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(DenseOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput(), weight = adaptor.getWeight();
    auto inputType = tensorType(input);
    int64_t rank = inputType.getRank();
    checkSameSize(rewriter, op, input, rank - 1, "input", weight, 0, "weight");
    if (Value bias = adaptor.getBias())
      checkSameSize(rewriter, op, bias, 0, "bias", weight, 1, "weight");
    // View the input as a matrix [rows, in].
    Value matrix = input;
    SmallVector<ReassociationIndices> groups;
    if (rank == 1) {
      groups = {{0, 1}};
      matrix = tensor::ExpandShapeOp::create(
          rewriter, loc,
          RankedTensorType::get({1, inputType.getDimSize(0)},
                                inputType.getElementType()),
          input, groups);
    } else if (rank > 2) {
      groups.resize(1);
      for (int64_t d = 0; d < rank - 1; ++d)
        groups[0].push_back(d);
      groups.push_back({rank - 1});
      matrix = tensor::CollapseShapeOp::create(rewriter, loc, input, groups);
    }
    SmallVector<OpFoldResult> sizes = {sizeOf(rewriter, loc, matrix, 0),
                                       sizeOf(rewriter, loc, weight, 1)};
    // The accumulator starts from the broadcast bias (or zeros).
    Value init;
    if (Value bias = adaptor.getBias()) {
      Value empty = emptyTensor(rewriter, loc, sizes, f32(rewriter));
      init = linalg::BroadcastOp::create(rewriter, loc,
                                         toF32(rewriter, loc, bias), empty,
                                         ArrayRef<int64_t>{0})
                 .getResult()[0];
    } else {
      init = filledTensor(rewriter, loc, sizes, f32(rewriter),
                          f32Const(rewriter, loc, 0.0));
    }
    Value product =
        linalg::MatmulOp::create(rewriter, loc, ValueRange{matrix, weight}, init)
            .getResult(0);
    auto resultType = cast<RankedTensorType>(op.getType());
    Value result = castElements(rewriter, loc, product,
                                resultType.getElementType());
    if (rank == 1) {
      result = tensor::CollapseShapeOp::create(rewriter, loc, resultType,
                                               result, groups);
    } else if (rank > 2) {
      SmallVector<OpFoldResult> outSizes = sizesOf(rewriter, loc, input);
      outSizes.back() = sizeOf(rewriter, loc, weight, 1);
      result = tensor::ExpandShapeOp::create(rewriter, loc, resultType, result,
                                             groups, outSizes);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

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
    auto expandedType = RankedTensorType::get(
        {resultType.getDimSize(0), resultType.getDimSize(2), heads,
         resultType.getDimSize(3)},
        resultType.getElementType());
    Value expanded = tensor::ExpandShapeOp::create(
        rewriter, loc, expandedType, input,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}},
        SmallVector<OpFoldResult>{in[0], in[1], rewriter.getIndexAttr(heads),
                                  depth});
    Value init = emptyTensor(
        rewriter, loc,
        {in[0], rewriter.getIndexAttr(heads), in[1], depth},
        resultType.getElementType());
    rewriter.replaceOp(op, linalg::TransposeOp::create(
                               rewriter, loc, expanded, init,
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
    Value transposed = linalg::TransposeOp::create(rewriter, loc, input, init,
                                                   ArrayRef<int64_t>{0, 2, 1, 3})
                           .getResult()[0];
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, op.getType(), transposed,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    return success();
  }
};

struct MatmulLowering final : MHAPattern<MatmulOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto resultType = cast<RankedTensorType>(op.getType());
    checkMatmulSizes(rewriter, op, adaptor.getLhs(), adaptor.getRhs());
    Value product = buildMatmul(rewriter, op.getLoc(), adaptor.getLhs(),
                                adaptor.getRhs(), resultType);
    rewriter.replaceOp(op, castElements(rewriter, op.getLoc(), product,
                                        resultType.getElementType()));
    return success();
  }
};

struct ScaledMatmulLowering final : MHAPattern<ScaledMatmulOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(ScaledMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    if (!op.getUntransposed())
      rhs = transposeLastTwo(rewriter, loc, rhs);
    checkMatmulSizes(rewriter, op, lhs, rhs);
    Value product = buildMatmul(rewriter, loc, lhs, rhs, resultType);
    // scale, or 1/sqrt(K) read at run time when K is dynamic.
    Value scale;
    if (std::optional<APFloat> attr = op.getScale()) {
      scale = f32Const(rewriter, loc, attr->convertToDouble());
    } else {
      int64_t rank = resultType.getRank();
      int64_t k = tensorType(lhs).getDimSize(rank - 1);
      if (!ShapedType::isDynamic(k)) {
        scale = f32Const(rewriter, loc, 1.0 / std::sqrt(double(k)));
      } else {
        Value kf = countAsF32(rewriter, loc, lhs, {rank - 1});
        scale = math::RsqrtOp::create(rewriter, loc, kf);
      }
    }
    Value scaled = mapElements(
        rewriter, loc, product, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) {
          return arith::MulFOp::create(b, l, args[0], scale).getResult();
        });
    rewriter.replaceOp(op, castElements(rewriter, loc, scaled,
                                        resultType.getElementType()));
    return success();
  }
};

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

struct SoftmaxLowering final : MHAPattern<SoftmaxOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(SoftmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = toF32(rewriter, loc, adaptor.getInput());
    Value result = buildSoftmax(rewriter, loc, x, op.getNormalizedAxis());
    rewriter.replaceOp(op, castElements(rewriter, loc, result,
                                        op.getType().getElementType()));
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
      reduced = mapElements(rewriter, loc, reduced, f32(rewriter),
                            [&](OpBuilder &b, Location l, ValueRange args) {
                              return arith::DivFOp::create(b, l, args[0], count)
                                  .getResult();
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
      reduced = expandReducedDims(rewriter, loc, reduced, resultType,
                                  isReduced, keptSizes);
    }
    rewriter.replaceOp(op, reduced);
    return success();
  }
};

/// Lowers a broadcasting binary op with `combine` applied in f32.
template <typename OpTy, typename ArithOp>
struct BinaryLowering final : MHAPattern<OpTy> {
  using MHAPattern<OpTy>::MHAPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename MHAPattern<OpTy>::OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    checkBroadcast(rewriter, op, resultType.getRank(),
                   {{lhs, "lhs"}, {rhs, "rhs"}});
    SmallVector<OpFoldResult> sizes =
        broadcastSizes(rewriter, loc, resultType, {lhs, rhs});
    Type elementType = resultType.getElementType();
    bool isF32 = elementType.isF32();
    Value result = buildGeneric(
        rewriter, loc, sizes, elementType, {lhs, rhs},
        {broadcastMap(rewriter, tensorType(lhs).getShape(),
                      resultType.getShape()),
         broadcastMap(rewriter, tensorType(rhs).getShape(),
                      resultType.getShape())},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          if (isF32)
            return ArithOp::create(b, l, args[0], args[1]);
          Value x = arith::ExtFOp::create(b, l, f32(b), args[0]);
          Value y = arith::ExtFOp::create(b, l, f32(b), args[1]);
          Value r = ArithOp::create(b, l, x, y);
          return arith::TruncFOp::create(b, l, elementType, r);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Lowers a unary element-wise op whose f32 body is `Derived::compute`.
template <typename OpTy, typename Derived>
struct UnaryLowering : MHAPattern<OpTy> {
  using MHAPattern<OpTy>::MHAPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename MHAPattern<OpTy>::OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Value result = mapElements(
        rewriter, loc, adaptor.getInput(), elementType,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value x = args[0];
          if (!elementType.isF32())
            x = arith::ExtFOp::create(b, l, f32(b), x);
          Value y = static_cast<const Derived *>(this)->compute(op, b, l, x);
          if (!elementType.isF32())
            y = arith::TruncFOp::create(b, l, elementType, y);
          return y;
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct ReluLowering final : UnaryLowering<ReluOp, ReluLowering> {
  using UnaryLowering::UnaryLowering;
  Value compute(ReluOp, OpBuilder &b, Location l, Value x) const {
    return arith::MaximumFOp::create(b, l, x, f32Const(b, l, 0.0));
  }
};

struct SigmoidLowering final : UnaryLowering<SigmoidOp, SigmoidLowering> {
  using UnaryLowering::UnaryLowering;
  Value compute(SigmoidOp, OpBuilder &b, Location l, Value x) const {
    // 1 / (1 + exp(-x)): exp overflows to +inf for very negative x and the
    // quotient correctly becomes 0.
    Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
    Value d = arith::AddFOp::create(b, l, f32Const(b, l, 1.0), e);
    return arith::DivFOp::create(b, l, f32Const(b, l, 1.0), d);
  }
};

struct TanhLowering final : UnaryLowering<TanhOp, TanhLowering> {
  using UnaryLowering::UnaryLowering;
  Value compute(TanhOp, OpBuilder &b, Location l, Value x) const {
    return math::TanhOp::create(b, l, x);
  }
};

struct GeluLowering final : UnaryLowering<GeluOp, GeluLowering> {
  using UnaryLowering::UnaryLowering;
  Value compute(GeluOp op, OpBuilder &b, Location l, Value x) const {
    Value half = arith::MulFOp::create(b, l, x, f32Const(b, l, 0.5));
    Value inner;
    if (op.getApproximate()) {
      // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
      Value x3 = arith::MulFOp::create(
          b, l, x, arith::MulFOp::create(b, l, x, x));
      Value poly = arith::AddFOp::create(
          b, l, x, arith::MulFOp::create(b, l, x3, f32Const(b, l, 0.044715)));
      inner = math::TanhOp::create(
          b, l,
          arith::MulFOp::create(b, l, poly,
                                f32Const(b, l, std::sqrt(2.0 / M_PI))));
    } else {
      inner = math::ErfOp::create(
          b, l, arith::MulFOp::create(b, l, x, f32Const(b, l, M_SQRT1_2)));
    }
    Value onePlus = arith::AddFOp::create(b, l, f32Const(b, l, 1.0), inner);
    return arith::MulFOp::create(b, l, half, onePlus);
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
      return mapElements(rewriter, loc, v, f32(rewriter),
                         [&](OpBuilder &b, Location l, ValueRange args) {
                           return arith::DivFOp::create(b, l, args[0], count)
                               .getResult();
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
    rewriter.replaceOp(op, castElements(rewriter, loc, result,
                                        op.getType().getElementType()));
    return success();
  }
};

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
      maps.push_back(broadcastMap(rewriter, tensorType(mask).getShape(),
                                  type.getShape()));
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
              b.getFloatAttr(elementType,
                             zeroFill ? 0.0
                                      : -std::numeric_limits<double>::infinity()));
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
    rewriter.replaceOp(op, result);
    return success();
  }
};

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
            Value relu = arith::MaximumFOp::create(b, l, v, f32Const(b, l, 0.0));
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
              b, l,
              arith::MaximumFOp::create(b, l, v, f32Const(b, l, 1e-7)),
              f32Const(b, l, 1.0 - 1e-7));
          Value logP = math::LogOp::create(b, l, p);
          Value log1mP = math::LogOp::create(
              b, l, arith::SubFOp::create(b, l, one, p));
          Value a = arith::MulFOp::create(b, l, t, logP);
          Value c = arith::MulFOp::create(
              b, l, arith::SubFOp::create(b, l, one, t), log1mP);
          return arith::NegFOp::create(b, l, arith::AddFOp::create(b, l, a, c));
        });
    rewriter.replaceOp(op, meanOfSum(rewriter, loc, sumAll(rewriter, loc, terms),
                                     x, op.getType().getElementType()));
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
    Value squares = mapElements(
        rewriter, loc, {x, y}, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value d = arith::SubFOp::create(b, l, args[0], args[1]);
          return arith::MulFOp::create(b, l, d, d).getResult();
        });
    rewriter.replaceOp(op,
                       meanOfSum(rewriter, loc, sumAll(rewriter, loc, squares),
                                 x, op.getType().getElementType()));
    return success();
  }
};

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
          indices.push_back(
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[2]));
          Value picked = tensor::ExtractOp::create(b, l, logits, indices);
          Value lse = arith::AddFOp::create(
              b, l, math::LogOp::create(b, l, args[0]), args[1]);
          return arith::SubFOp::create(b, l, lse, picked).getResult();
        });
    rewriter.replaceOp(op,
                       meanOfSum(rewriter, loc, sumAll(rewriter, loc, perRow),
                                 labels, op.getType().getElementType()));
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
    Value init =
        emptyTensor(rewriter, loc, out, op.getType().getElementType());
    rewriter.replaceOp(op, linalg::TransposeOp::create(
                               rewriter, loc, adaptor.getInput(), init,
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
        rewriter, loc, sizesOf(rewriter, loc, adaptor.getLike()),
        f32(rewriter), {x}, {map},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          if (!count)
            return args[0];
          return arith::DivFOp::create(b, l, args[0], count);
        });
    rewriter.replaceOp(op, castElements(rewriter, loc, result,
                                        likeType.getElementType()));
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
      bool broadcast = likeType.getDimSize(j - offset) == 1 &&
                       gType.getDimSize(j) != 1;
      if (broadcast)
        dims.push_back(j);
      else
        keptSizes.push_back(gSizes[j]);
      isReduced.push_back(broadcast);
    }
    Value reduced = dims.empty() ? g : reduceF32(rewriter, loc, g, dims, 0.0, addF);
    auto f32Like = RankedTensorType::get(likeType.getShape(), f32(rewriter));
    if (tensorType(reduced).getRank() != likeType.getRank())
      reduced = expandReducedDims(rewriter, loc, reduced, f32Like, isReduced,
                                  keptSizes);
    else if (tensorType(reduced) != f32Like)
      reduced = tensor::CastOp::create(rewriter, loc, f32Like, reduced);
    rewriter.replaceOp(op, castElements(rewriter, loc, reduced,
                                        likeType.getElementType()));
    return success();
  }
};

struct DenseWeightGradLowering final : MHAPattern<DenseWeightGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(DenseWeightGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto asMatrix = [&](Value v) -> Value {
      auto type = tensorType(v);
      int64_t rank = type.getRank();
      if (rank == 2)
        return v;
      if (rank == 1)
        return tensor::ExpandShapeOp::create(
            rewriter, loc,
            RankedTensorType::get({1, type.getDimSize(0)},
                                  type.getElementType()),
            v, SmallVector<ReassociationIndices>{{0, 1}});
      SmallVector<ReassociationIndices> groups(1);
      for (int64_t d = 0; d < rank - 1; ++d)
        groups[0].push_back(d);
      groups.push_back({rank - 1});
      return tensor::CollapseShapeOp::create(rewriter, loc, v, groups);
    };
    Value x = asMatrix(adaptor.getInput());
    Value dy = asMatrix(adaptor.getResultGrad());
    for (int64_t d = 0, e = tensorType(adaptor.getInput()).getRank() - 1; d < e;
         ++d)
      checkSameSize(rewriter, op, adaptor.getInput(), d, "input",
                    adaptor.getResultGrad(), d, "result_grad");
    Value xT = transposeLastTwo(rewriter, loc, x);
    Value product = buildMatmul(
        rewriter, loc, xT, dy,
        RankedTensorType::get(cast<RankedTensorType>(op.getType()).getShape(),
                              f32(rewriter)));
    rewriter.replaceOp(op, castElements(rewriter, loc, product,
                                        op.getType().getElementType()));
    return success();
  }
};

/// Lowers an element-wise gradient op `f(x, dy)` computed in f32.
template <typename OpTy>
struct ElementwiseGradLowering : MHAPattern<OpTy> {
  using MHAPattern<OpTy>::MHAPattern;
  virtual Value compute(OpTy op, OpBuilder &b, Location l, Value x,
                        Value dy) const = 0;
  LogicalResult
  matchAndRewrite(OpTy op, typename MHAPattern<OpTy>::OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Value result = mapElements(
        rewriter, loc, {adaptor.getInput(), adaptor.getResultGrad()},
        elementType, [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value x = args[0], dy = args[1];
          if (!elementType.isF32()) {
            x = arith::ExtFOp::create(b, l, f32(b), x);
            dy = arith::ExtFOp::create(b, l, f32(b), dy);
          }
          Value r = compute(op, b, l, x, dy);
          if (!elementType.isF32())
            r = arith::TruncFOp::create(b, l, elementType, r);
          return r;
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct ReluGradLowering final : ElementwiseGradLowering<ReluGradOp> {
  using ElementwiseGradLowering::ElementwiseGradLowering;
  Value compute(ReluGradOp, OpBuilder &b, Location l, Value x,
                Value dy) const override {
    Value positive = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x,
                                           f32Const(b, l, 0.0));
    return arith::SelectOp::create(b, l, positive, dy, f32Const(b, l, 0.0));
  }
};

struct GeluGradLowering final : ElementwiseGradLowering<GeluGradOp> {
  using ElementwiseGradLowering::ElementwiseGradLowering;
  Value compute(GeluGradOp op, OpBuilder &b, Location l, Value x,
                Value dy) const override {
    auto mul = [&](Value u, Value v) {
      return arith::MulFOp::create(b, l, u, v).getResult();
    };
    auto add = [&](Value u, Value v) {
      return arith::AddFOp::create(b, l, u, v).getResult();
    };
    Value half = f32Const(b, l, 0.5), one = f32Const(b, l, 1.0);
    Value derivative;
    if (op.getApproximate()) {
      // d/dx [x/2 (1 + tanh(u))], u = c (x + 0.044715 x^3)
      Value c = f32Const(b, l, std::sqrt(2.0 / M_PI));
      Value x2 = mul(x, x);
      Value u = mul(c, add(x, mul(f32Const(b, l, 0.044715), mul(x2, x))));
      Value t = math::TanhOp::create(b, l, u);
      Value du = mul(c, add(one, mul(f32Const(b, l, 3 * 0.044715), x2)));
      Value sech2 = arith::SubFOp::create(b, l, one, mul(t, t));
      derivative = add(mul(half, add(one, t)), mul(mul(half, x), mul(sech2, du)));
    } else {
      // Phi(x) + x phi(x)
      Value cdf = mul(half, add(one, math::ErfOp::create(
                                         b, l, mul(x, f32Const(b, l, M_SQRT1_2)))));
      Value pdf = mul(f32Const(b, l, 1.0 / std::sqrt(2.0 * M_PI)),
                      math::ExpOp::create(b, l, mul(f32Const(b, l, -0.5),
                                                    mul(x, x))));
      derivative = add(cdf, mul(x, pdf));
    }
    return mul(dy, derivative);
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

/// Masked, scaled scores of attention in f32, built from mha ops (lowered
/// by the same conversion).
Value attentionScores(OpBuilder &b, Location loc, Value q, Value k,
                      Value mask, FloatAttr scale, bool causal) {
  Value scores = ScaledMatmulOp::create(b, loc, q, k, /*untransposed=*/nullptr,
                                        scale);
  if (mask || causal)
    scores = ApplyMaskOp::create(b, loc, scores.getType(), scores, mask,
                                 causal);
  return scores;
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
    Value q = toF32(rewriter, loc, adaptor.getQuery());
    Value k = toF32(rewriter, loc, adaptor.getKey());
    Value v = toF32(rewriter, loc, adaptor.getValue());
    Value mask = adaptor.getMask();
    if (mask && !tensorType(mask).getElementType().isInteger(1))
      mask = toF32(rewriter, loc, mask);
    Value scores = attentionScores(rewriter, loc, q, k, mask,
                                   op.getScaleAttr(), op.getCausal());
    Value probs = SoftmaxOp::create(rewriter, loc, scores, /*axis=*/-1);
    Value out = MatmulOp::create(rewriter, loc, probs, v);
    rewriter.replaceOp(op, castElements(rewriter, loc, out,
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
    Value scores = attentionScores(rewriter, loc, q, k, mask,
                                   op.getScaleAttr(), op.getCausal());
    auto [probs, lse] = softmaxWithLSE(rewriter, loc, scores);
    Value out = MatmulOp::create(rewriter, loc, probs, v);
    rewriter.replaceOp(op, {castElements(rewriter, loc, out,
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
    Value scale;
    if (FloatAttr attr = op.getScaleAttr()) {
      scale = f32Const(rewriter, loc, attr.getValueAsDouble());
    } else if (int64_t depth = tensorType(q).getShape().back();
               !ShapedType::isDynamic(depth)) {
      scale = f32Const(rewriter, loc, 1.0 / std::sqrt(double(depth)));
    } else {
      scale = math::RsqrtOp::create(rewriter, loc,
                                    countAsF32(rewriter, loc, q, {last}));
    }
    // P = exp(S - lse), recomputed; 0 where S is -inf.
    Value scores = attentionScores(rewriter, loc, q, k, mask,
                                   op.getScaleAttr(), op.getCausal());
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap rowMap = droppedDimMap(rewriter, rank, last);
    Value negInf =
        f32Const(rewriter, loc, -std::numeric_limits<double>::infinity());
    Value zero = f32Const(rewriter, loc, 0.0);
    Value probs = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, scores), f32(rewriter),
        {scores, lse}, {identity, rowMap},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value masked = arith::CmpFOp::create(
              b, l, arith::CmpFPredicate::OEQ, args[0], negInf);
          Value e = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, args[0], args[1]));
          return arith::SelectOp::create(b, l, masked, zero, e).getResult();
        });
    // dV = Pᵀ·dO; dP = dO·Vᵀ; D = rowsum(dO ⊙ O); dS = P ⊙ (dP - D).
    Value dV = MatmulOp::create(
        rewriter, loc,
        TransposeOp::create(rewriter, loc, probs, swapPerm(rank)), dO);
    Value dP = ScaledMatmulOp::create(rewriter, loc, dO, v, nullptr,
                                      rewriter.getF32FloatAttr(1.0));
    Value rowDot = reduceF32(
        rewriter, loc,
        mapElements(rewriter, loc, {dO, o}, f32(rewriter),
                    [&](OpBuilder &b, Location l, ValueRange args) {
                      return arith::MulFOp::create(b, l, args[0], args[1])
                          .getResult();
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
        TransposeOp::create(rewriter, loc, scaledDS, swapPerm(rank)), q);
    auto back = [&](Value grad, Value like) {
      return castElements(rewriter, loc, grad, tensorType(like).getElementType());
    };
    SmallVector<Value> results = {back(dQ, adaptor.getQuery()),
                                  back(dK, adaptor.getKey()),
                                  back(dV, adaptor.getValue())};
    if (maskGrad)
      results.push_back(maskGrad);
    rewriter.replaceOp(op, results);
    return success();
  }

  static SmallVector<int64_t> swapPerm(int64_t rank) {
    auto perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    std::swap(perm[rank - 1], perm[rank - 2]);
    return perm;
  }
};

/// The loss gradient g (a rank-0 tensor) as an f32 scalar divided by the
/// element count of `of`.
Value scaledLossGrad(OpBuilder &b, Location loc, Value g, Value of,
                     ArrayRef<int64_t> countDims) {
  Value scalar = tensor::ExtractOp::create(b, loc, g, ValueRange{});
  if (!scalar.getType().isF32())
    scalar = arith::ExtFOp::create(b, loc, f32(b), scalar);
  return arith::DivFOp::create(b, loc, scalar,
                               countAsF32(b, loc, of, countDims));
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
    Value g = scaledLossGrad(rewriter, loc, adaptor.getLossGrad(), x,
                             allDims(x));
    bool fromLogits = op.getFromLogits();
    Value result = mapElements(
        rewriter, loc, {x, y}, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value v = args[0], t = args[1];
          Value one = f32Const(b, l, 1.0);
          if (fromLogits) {
            Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, v));
            Value s = arith::DivFOp::create(b, l, one,
                                            arith::AddFOp::create(b, l, one, e));
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
    rewriter.replaceOp(op, castElements(rewriter, loc, result,
                                        op.getType().getElementType()));
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
    Value g = scaledLossGrad(rewriter, loc, adaptor.getLossGrad(), x,
                             allDims(x));
    Value result = mapElements(
        rewriter, loc, {x, y}, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value d = arith::SubFOp::create(b, l, args[0], args[1]);
          Value twice = arith::MulFOp::create(b, l, d, f32Const(b, l, 2.0));
          return arith::MulFOp::create(b, l, twice, g).getResult();
        });
    rewriter.replaceOp(op, castElements(rewriter, loc, result,
                                        op.getType().getElementType()));
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
    Value g = scaledLossGrad(rewriter, loc, adaptor.getLossGrad(), labels,
                             allDims(labels));
    Value probs = buildSoftmax(rewriter, loc, logits, last);
    Value result = buildGeneric(
        rewriter, loc, sizesOf(rewriter, loc, logits), f32(rewriter),
        {probs, labels},
        {rewriter.getMultiDimIdentityMap(rank), droppedDimMap(rewriter, rank, last)},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value c = linalg::IndexOp::create(b, l, last);
          Value label =
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[1]);
          Value hit = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, c,
                                            label);
          Value onehot = arith::SelectOp::create(b, l, hit, f32Const(b, l, 1.0),
                                                 f32Const(b, l, 0.0));
          Value d = arith::SubFOp::create(b, l, args[0], onehot);
          return arith::MulFOp::create(b, l, d, g).getResult();
        });
    rewriter.replaceOp(op, castElements(rewriter, loc, result,
                                        op.getType().getElementType()));
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
          Value zero = arith::ConstantOp::create(
              b, l, b.getFloatAttr(elementType, 0.0));
          return arith::SelectOp::create(b, l, isMax, args[2], zero)
              .getResult();
        });
    rewriter.replaceOp(op, result);
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
      return mapElements(rewriter, loc, reduceF32(rewriter, loc, v, {last}, 0.0, addF),
                         f32(rewriter),
                         [&](OpBuilder &b, Location l, ValueRange args) {
                           return arith::DivFOp::create(b, l, args[0], count)
                               .getResult();
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
    Value rstd = mapElements(rewriter, loc, var, f32(rewriter),
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
          t = arith::SubFOp::create(b, l, t, arith::MulFOp::create(b, l, a[2], a[3]));
          return arith::MulFOp::create(b, l, t, a[4]).getResult();
        });
    SmallVector<int64_t> rows = llvm::to_vector(llvm::seq<int64_t>(0, last));
    Value dyX = binary(dy, identity, xhat, identity, mul);
    Value dGamma = rows.empty() ? dyX : reduceF32(rewriter, loc, dyX, rows, 0.0, addF);
    Value dBeta = rows.empty() ? dy : reduceF32(rewriter, loc, dy, rows, 0.0, addF);
    Type inElt = op.getInput().getType().getElementType();
    Type gElt = op.getGamma().getType().getElementType();
    rewriter.replaceOp(op, {castElements(rewriter, loc, dx, inElt),
                            castElements(rewriter, loc, dGamma, gElt),
                            castElements(rewriter, loc, dBeta, gElt)});
    return success();
  }
};

struct OptimizerUpdateLowering final : MHAPattern<OptimizerUpdateOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(OptimizerUpdateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OptimizerAttr opt = op.getOptimizer();
    auto value = [](FloatAttr attr, double fallback) {
      return attr ? attr.getValueAsDouble() : fallback;
    };
    OptimizerKind kind = opt.getKind();
    double lr = opt.getLearningRate().getValueAsDouble();
    double momentum = value(opt.getMomentum(), 0.0);
    double beta1 = value(opt.getBeta1(), 0.9), beta2 = value(opt.getBeta2(), 0.999);
    double eps = value(opt.getEpsilon(), 1e-7);
    double decay = value(opt.getWeightDecay(),
                         kind == OptimizerKind::AdamW ? 0.01 : 0.0);
    Type elementType = op.getParam().getType().getElementType();
    Value p = toF32(rewriter, loc, adaptor.getParam());
    Value g = toF32(rewriter, loc, adaptor.getGrad());
    Value m = toF32(rewriter, loc, adaptor.getFirstMoment());
    Value v = toF32(rewriter, loc, adaptor.getSecondMoment());
    // Bias corrections 1 - beta^t, computed once.
    Value t = tensor::ExtractOp::create(rewriter, loc, adaptor.getStep(),
                                        ValueRange{});
    auto correction = [&](double beta) -> Value {
      Value pow = math::PowFOp::create(rewriter, loc, f32Const(rewriter, loc, beta), t);
      return arith::SubFOp::create(rewriter, loc, f32Const(rewriter, loc, 1.0), pow);
    };
    Value c1, c2;
    if (kind != OptimizerKind::SGD) {
      c1 = correction(beta1);
      c2 = correction(beta2);
    }
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, p);
    int64_t rank = sizes.size();
    SmallVector<Value> inits;
    for (int i = 0; i < 3; ++i)
      inits.push_back(emptyTensor(rewriter, loc, sizes, f32(rewriter)));
    SmallVector<AffineMap> maps(7, rewriter.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange(ValueRange(inits)), ValueRange{p, g, m, v},
        inits, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          auto cst = [&](double x) { return f32Const(b, l, x); };
          auto mul = [&](Value x, Value y) {
            return arith::MulFOp::create(b, l, x, y).getResult();
          };
          auto add = [&](Value x, Value y) {
            return arith::AddFOp::create(b, l, x, y).getResult();
          };
          auto sub = [&](Value x, Value y) {
            return arith::SubFOp::create(b, l, x, y).getResult();
          };
          Value pp = args[0], gg = args[1], mm = args[2], vv = args[3];
          if (kind != OptimizerKind::AdamW && decay != 0.0)
            gg = add(gg, mul(cst(decay), pp));
          if (kind == OptimizerKind::SGD) {
            Value m2 = add(mul(cst(momentum), mm), gg);
            Value p2 = sub(pp, mul(cst(lr), m2));
            linalg::YieldOp::create(b, l, ValueRange{p2, m2, vv});
            return;
          }
          Value m2 = add(mul(cst(beta1), mm), mul(cst(1.0 - beta1), gg));
          Value v2 = add(mul(cst(beta2), vv), mul(cst(1.0 - beta2), mul(gg, gg)));
          Value mHat = arith::DivFOp::create(b, l, m2, c1);
          Value vHat = arith::DivFOp::create(b, l, v2, c2);
          Value update = arith::DivFOp::create(
              b, l, mHat, add(math::SqrtOp::create(b, l, vHat), cst(eps)));
          if (kind == OptimizerKind::AdamW && decay != 0.0)
            update = add(update, mul(cst(decay), pp));
          Value p2 = sub(pp, mul(cst(lr), update));
          linalg::YieldOp::create(b, l, ValueRange{p2, m2, v2});
        });
    SmallVector<Value> results;
    for (Value r : generic.getResults())
      results.push_back(castElements(rewriter, loc, r, elementType));
    rewriter.replaceOp(op, results);
    return success();
  }
};
} // namespace

void mha::populateMHAToLinalgConversionPatterns(RewritePatternSet &patterns) {
  patterns.add<DenseLowering, SplitHeadsLowering, MergeHeadsLowering,
               MatmulLowering, ScaledMatmulLowering, SoftmaxLowering,
               ReduceLowering, BinaryLowering<AddOp, arith::AddFOp>,
               BinaryLowering<MulOp, arith::MulFOp>, ReluLowering,
               SigmoidLowering, TanhLowering, GeluLowering, LayerNormLowering,
               ApplyMaskLowering, BCELossLowering, MSELossLowering,
               CrossEntropyLowering, AttentionLowering,
               BinaryLowering<SubOp, arith::SubFOp>, TransposeLowering,
               BroadcastToLowering, ReduceToLowering, DenseWeightGradLowering,
               ReluGradLowering, GeluGradLowering, AttentionWithLSELowering,
               AttentionGradLowering, BCELossGradLowering, MSELossGradLowering,
               CrossEntropyGradLowering, OptimizerUpdateLowering,
               LayerNormGradLowering, ReduceMaxGradLowering>(
      patterns.getContext());
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

namespace {
struct ConvertMHAToLinalgPass final
    : mha::impl::ConvertMHAToLinalgPassBase<ConvertMHAToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    WalkResult unlowered = module.walk([](GetParamOp op) {
      op.emitOpError("must be turned into a function argument by "
                     "mha-params-to-arguments before convert-mha-to-linalg");
      return WalkResult::interrupt();
    });
    if (unlowered.wasInterrupted())
      return signalPassFailure();

    ConversionTarget target(getContext());
    target.addLegalDialect<arith::ArithDialect, cf::ControlFlowDialect,
                           linalg::LinalgDialect, math::MathDialect,
                           tensor::TensorDialect>();
    target.addIllegalDialect<MHADialect>();
    target.addLegalOp<ParamOp, TrainingOp>();
    RewritePatternSet patterns(&getContext());
    populateMHAToLinalgConversionPatterns(patterns);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();

    // Declarations consumed by drivers have no lowering; drop them and the
    // argument tags that name them.
    for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
      if (isa<ParamOp, TrainingOp>(op))
        op.erase();
    for (auto func : module.getOps<func::FuncOp>())
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        func.removeArgAttr(i, "mha.param");
  }
};
} // namespace
