//===- EmbeddingToLinalg.cpp - Embedding lookups and their gradient -------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Patterns of convert-mha-to-linalg for embedding, embedding_grad,
// positions (an iota of i64 ids), sinusoidal_positions (sin/cos of the
// position times a per-pair frequency): a
// gather of table rows by id (a linalg.generic reading the table with
// tensor.extract), and its adjoint, a scatter-add of the result gradient's
// rows into a zero table (a loop over the ids). Ids are checked against the
// table's row count before either reads or writes a row.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "mha/Conversion/MHAToLinalg/MHAToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::mha;
using namespace mlir::mha::detail;

namespace {
constexpr const char *kIdOutOfRange = "a token id lies";
constexpr const char *kRowCount = "the table's row count";

struct EmbeddingLowering final : MHAPattern<EmbeddingOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value table = adaptor.getTable(), ids = adaptor.getIds();
    checkIndicesInRange(rewriter, op, ids, sizeOf(rewriter, loc, table, 0),
                        kIdOutOfRange, kRowCount);
    int64_t idRank = tensorType(ids).getRank();
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, ids);
    sizes.push_back(sizeOf(rewriter, loc, table, 1));
    // result[p..., d] = table[ids[p...], d]: a copy, in the table's type.
    Value result = buildGeneric(
        rewriter, loc, sizes, tensorType(table).getElementType(), {ids},
        {droppedDimMap(rewriter, idRank + 1, idRank)},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value row =
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[0]);
          Value column = linalg::IndexOp::create(b, l, idRank);
          return tensor::ExtractOp::create(b, l, table,
                                           ValueRange{row, column});
        });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

/// The offset of a positions op as an i64 scalar (the value of its rank-0
/// tensor), or null without one.
Value positionOffset(OpBuilder &b, Location loc, Value offset) {
  if (!offset)
    return Value();
  return tensor::ExtractOp::create(b, loc, offset, ValueRange{});
}

/// Row `index` of a positions op shifted by `offset` (if any), as i64.
Value positionAt(OpBuilder &b, Location loc, Value index, Value offset) {
  Value p = arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
  return offset ? arith::AddIOp::create(b, loc, p, offset).getResult() : p;
}

struct PositionsLowering final : MHAPattern<PositionsOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(PositionsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t dim = int64_t(op.getDim());
    Value offset = positionOffset(rewriter, loc, adaptor.getOffset());
    Value ids = buildGeneric(
        rewriter, loc, {sizeOf(rewriter, loc, adaptor.getInput(), dim)},
        rewriter.getI64Type(), {}, {},
        [&](OpBuilder &b, Location l, ValueRange) -> Value {
          return positionAt(b, l, linalg::IndexOp::create(b, l, 0), offset);
        });
    replaceOpCasting(rewriter, op, ids);
    return success();
  }
};

struct SinusoidalPositionsLowering final : MHAPattern<SinusoidalPositionsOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(SinusoidalPositionsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t dim = int64_t(op.getDim()), features = int64_t(op.getFeatures());
    // angle = p * 10000^(-2i/D) = p * exp(-ln(10000) * 2i / D) for the pair
    // i = floor(c / 2) of column c; even columns take its sine, odd ones its
    // cosine.
    double rate = -std::log(10000.0) / double(features);
    Value offset = positionOffset(rewriter, loc, adaptor.getOffset());
    Value result = buildGeneric(
        rewriter, loc,
        {sizeOf(rewriter, loc, adaptor.getInput(), dim),
         rewriter.getIndexAttr(features)},
        rewriter.getF32Type(), {}, {},
        [&](OpBuilder &b, Location l, ValueRange) -> Value {
          auto asF32 = [&](Value index) {
            return arith::UIToFPOp::create(
                b, l, b.getF32Type(),
                arith::IndexCastUIOp::create(b, l, b.getI64Type(), index));
          };
          // The position as i64 (offset + row), then f32.
          Value p = arith::SIToFPOp::create(
              b, l, b.getF32Type(),
              positionAt(b, l, linalg::IndexOp::create(b, l, 0), offset));
          Value c = linalg::IndexOp::create(b, l, 1);
          Value two = arith::ConstantIndexOp::create(b, l, 2);
          Value pair = arith::DivUIOp::create(b, l, c, two);
          Value evenColumn = arith::MulIOp::create(b, l, pair, two);
          Value frequency = math::ExpOp::create(
              b, l,
              arith::MulFOp::create(b, l, asF32(evenColumn),
                                    f32Const(b, l, rate)));
          Value angle = arith::MulFOp::create(b, l, p, frequency);
          Value isEven = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                               c, evenColumn);
          return arith::SelectOp::create(b, l, isEven,
                                         math::SinOp::create(b, l, angle),
                                         math::CosOp::create(b, l, angle));
        });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

/// Rotary embeddings: each element reads its pair partner (index ^ 1 along
/// the features) with tensor.extract and combines both with the cosine and
/// sine of its pair's angle at its (offset) position.
struct RotaryLowering final : MHAPattern<RotaryOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(RotaryOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto type = cast<RankedTensorType>(input.getType());
    int64_t rank = type.getRank();
    int64_t features = type.getShape().back();
    Type elementType = type.getElementType();
    Value offset = positionOffset(rewriter, loc, adaptor.getOffset());
    double rate = -std::log(op.getBase().convertToDouble()) / double(features);
    double sign = op.getInverse() ? -1.0 : 1.0;
    Value result = mapElements(
        rewriter, loc, input, elementType,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          SmallVector<Value> indices;
          for (int64_t d = 0; d < rank; ++d)
            indices.push_back(linalg::IndexOp::create(b, l, d));
          Value c = indices.back();
          Value one = arith::ConstantIndexOp::create(b, l, 1);
          Value two = arith::ConstantIndexOp::create(b, l, 2);
          Value pair = arith::DivUIOp::create(b, l, c, two);
          Value evenColumn = arith::MulIOp::create(b, l, pair, two);
          Value isEven = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                               c, evenColumn);
          SmallVector<Value> partnerIndices = indices;
          partnerIndices.back() = arith::SelectOp::create(
              b, l, isEven, arith::AddIOp::create(b, l, c, one),
              arith::SubIOp::create(b, l, c, one));
          Value x = args[0];
          Value partner =
              tensor::ExtractOp::create(b, l, input, partnerIndices);
          if (!elementType.isF32()) {
            x = arith::ExtFOp::create(b, l, b.getF32Type(), x);
            partner = arith::ExtFOp::create(b, l, b.getF32Type(), partner);
          }
          // θ = position * base^(-2i / D).
          Value position = arith::SIToFPOp::create(
              b, l, b.getF32Type(), positionAt(b, l, indices[rank - 2], offset));
          Value frequency = math::ExpOp::create(
              b, l,
              arith::MulFOp::create(
                  b, l,
                  arith::UIToFPOp::create(
                      b, l, b.getF32Type(),
                      arith::IndexCastUIOp::create(b, l, b.getI64Type(),
                                                   evenColumn)),
                  f32Const(b, l, rate)));
          Value angle = arith::MulFOp::create(b, l, position, frequency);
          Value cosine = math::CosOp::create(b, l, angle);
          Value sine = math::SinOp::create(b, l, angle);
          // Even features subtract the partner's share, odd ones add it
          // (the other way round for the inverse rotation).
          Value partnerSign = arith::SelectOp::create(
              b, l, isEven, f32Const(b, l, -sign), f32Const(b, l, sign));
          Value y = arith::AddFOp::create(
              b, l, arith::MulFOp::create(b, l, x, cosine),
              arith::MulFOp::create(
                  b, l, partnerSign,
                  arith::MulFOp::create(b, l, partner, sine)));
          if (!elementType.isF32())
            y = arith::TruncFOp::create(b, l, elementType, y);
          return y;
        });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

struct EmbeddingGradLowering final : MHAPattern<EmbeddingGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(EmbeddingGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value table = adaptor.getTable(), ids = adaptor.getIds();
    Value grad = toF32(rewriter, loc, adaptor.getResultGrad());
    int64_t idRank = tensorType(ids).getRank();
    for (int64_t d = 0; d < idRank; ++d)
      checkSameSize(rewriter, op, ids, d, "ids", grad, d, "result_grad");
    checkSameSize(rewriter, op, table, 1, "table", grad, idRank,
                  "result_grad");
    checkIndicesInRange(rewriter, op, ids, sizeOf(rewriter, loc, table, 0),
                        kIdOutOfRange, kRowCount);
    // Ids as [N] and gradient rows as [N, D].
    if (idRank == 0) {
      ids = tensor::ExpandShapeOp::create(
          rewriter, loc,
          RankedTensorType::get({1}, tensorType(ids).getElementType()), ids,
          SmallVector<ReassociationIndices>{});
      grad = tensor::ExpandShapeOp::create(
          rewriter, loc,
          RankedTensorType::get({1, tensorType(grad).getDimSize(0)},
                                rewriter.getF32Type()),
          grad, SmallVector<ReassociationIndices>{{0, 1}});
    } else if (idRank > 1) {
      ReassociationIndices all;
      for (int64_t d = 0; d < idRank; ++d)
        all.push_back(d);
      ids = tensor::CollapseShapeOp::create(
          rewriter, loc, ids, SmallVector<ReassociationIndices>{all});
      grad = tensor::CollapseShapeOp::create(
          rewriter, loc, grad,
          SmallVector<ReassociationIndices>{all, {idRank}});
    }
    OpFoldResult features = sizeOf(rewriter, loc, table, 1);
    Value zeros =
        filledTensor(rewriter, loc, sizesOf(rewriter, loc, table),
                     rewriter.getF32Type(), f32Const(rewriter, loc, 0.0));
    // One row at a time, in order: rows of equal ids add up in sequence.
    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value count = getValueOrCreateConstantIndexOp(
        rewriter, loc, sizeOf(rewriter, loc, ids, 0));
    auto loop = scf::ForOp::create(rewriter, loc, c0, count, c1,
                                   ValueRange{zeros});
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(loop.getBody());
      Value n = loop.getInductionVar(), acc = loop.getRegionIterArgs()[0];
      Value id = arith::IndexCastOp::create(
          rewriter, loc, rewriter.getIndexType(),
          tensor::ExtractOp::create(rewriter, loc, ids, ValueRange{n}));
      SmallVector<OpFoldResult> rowSizes = {rewriter.getIndexAttr(1),
                                            features};
      SmallVector<OpFoldResult> strides(2, rewriter.getIndexAttr(1));
      SmallVector<OpFoldResult> gradOffsets = {n, rewriter.getIndexAttr(0)};
      SmallVector<OpFoldResult> tableOffsets = {id, rewriter.getIndexAttr(0)};
      Value gradRow = tensor::ExtractSliceOp::create(
          rewriter, loc, grad, gradOffsets, rowSizes, strides);
      Value tableRow = tensor::ExtractSliceOp::create(
          rewriter, loc, acc, tableOffsets, rowSizes, strides);
      Value sum = linalg::AddOp::create(rewriter, loc,
                                        ValueRange{tableRow, gradRow},
                                        ValueRange{tableRow})
                      .getResult(0);
      scf::YieldOp::create(
          rewriter, loc,
          tensor::InsertSliceOp::create(rewriter, loc, sum, acc, tableOffsets,
                                        rowSizes, strides)
              .getResult());
    }
    replaceOpCasting(rewriter, op,
                     castElements(rewriter, loc, loop.getResult(0),
                                  tensorType(table).getElementType()));
    return success();
  }
};
} // namespace

void mha::populateMHAEmbeddingToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbeddingLowering, EmbeddingGradLowering, PositionsLowering,
               SinusoidalPositionsLowering, RotaryLowering>(
      patterns.getContext());
}
