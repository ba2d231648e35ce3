//===- FlashAttentionToLinalg.cpp - Fused, tiled attention ----------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The flash lowering of mha.attention and mha.attention_with_lse: for each
// batch element and block of queries, a loop over blocks of keys keeps the
// running row maximum m, the running sum l of exp(s - m) and the accumulator
// acc = sum_j exp(s_j - m)·v_j, rescaled by exp(m_old - m_new) whenever the
// maximum grows (online softmax). Only [blockQ, blockK] scores exist at a
// time, never Sq × Sk. With `causal`, key blocks entirely after a query
// block's last query are not visited. The matrix products are linalg.matmul
// on tiles, which mha-tile-and-vectorize turns into register-blocked FMAs.
//
// Numerics match the decomposition (the op's reference semantics): scores
// and sums in f32, max-subtracted exponentials, and a query row whose keys
// are all masked gives zeros (and lse = -inf), never NaN.
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

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

using namespace mlir;
using namespace mlir::mha;
using namespace mlir::mha::detail;

namespace {
Value indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value asIndex(OpBuilder &b, Location loc, OpFoldResult ofr) {
  return getValueOrCreateConstantIndexOp(b, loc, ofr);
}

Value minIndex(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MinSIOp::create(b, loc, x, y);
}

/// The [rows, cols] matrix at batch position `batch` (an index per batch
/// dimension; a static size-1 dimension of `t` is read at 0, as broadcasting
/// does) and rows [rowOffset, rowOffset + rows) of `t` [..., R, C].
Value matrixSlice(OpBuilder &b, Location loc, Value t, ValueRange batch,
                  OpFoldResult rowOffset, OpFoldResult rows) {
  auto type = tensorType(t);
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets, sizes, strides(rank, b.getIndexAttr(1));
  for (int64_t d = 0; d < rank - 2; ++d) {
    offsets.push_back(type.getDimSize(d) == 1 ? OpFoldResult(b.getIndexAttr(0))
                                              : OpFoldResult(batch[d]));
    sizes.push_back(b.getIndexAttr(1));
  }
  offsets.push_back(rowOffset);
  offsets.push_back(b.getIndexAttr(0));
  sizes.push_back(rows);
  sizes.push_back(sizeOf(b, loc, t, rank - 1));
  SmallVector<int64_t> shape;
  for (OpFoldResult s : ArrayRef(sizes).take_back(2))
    shape.push_back(getConstantIntValue(s).value_or(ShapedType::kDynamic));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, t, offsets, sizes,
                                        strides);
}

/// A linalg.generic over `dest`'s shape that overwrites `dest` in place:
/// `body` receives the inputs' elements and then dest's current element.
Value updateInPlace(OpBuilder &b, Location loc, Value dest, ValueRange inputs,
                    ArrayRef<AffineMap> maps, BodyFn body) {
  int64_t rank = tensorType(dest).getRank();
  SmallVector<AffineMap> indexing(maps);
  indexing.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, dest.getType(), inputs, dest, indexing, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
             })
      .getResult(0);
}

/// How the mask tile of one block is read: the tile and the map from the
/// block's (query, key) iteration space to it.
struct MaskTile {
  Value tile;
  AffineMap map;
};

/// The part of `mask` (broadcastable to [..., Sq, Sk]) that covers queries
/// [qb, qb + bq) and keys [kb, kb + bk) of batch position `batch`.
MaskTile maskSlice(OpBuilder &b, Location loc, Value mask, int64_t rank,
                   ValueRange batch, Value qb, Value bq, Value kb, Value bk) {
  auto type = tensorType(mask);
  int64_t maskRank = type.getRank(), lead = rank - maskRank;
  SmallVector<OpFoldResult> offsets, sizes,
      strides(maskRank, b.getIndexAttr(1));
  SmallVector<int64_t> tileShape;
  SmallVector<AffineExpr> exprs;
  for (int64_t t = 0; t < maskRank; ++t) {
    int64_t d = t + lead; // dimension of the scores it aligns with
    bool unit = type.getDimSize(t) == 1;
    if (d < rank - 2) {
      offsets.push_back(unit ? OpFoldResult(b.getIndexAttr(0))
                             : OpFoldResult(batch[d]));
      sizes.push_back(b.getIndexAttr(1));
      continue;
    }
    bool isQuery = d == rank - 2;
    offsets.push_back(unit ? OpFoldResult(b.getIndexAttr(0))
                           : OpFoldResult(isQuery ? qb : kb));
    sizes.push_back(unit ? OpFoldResult(b.getIndexAttr(1))
                         : OpFoldResult(isQuery ? bq : bk));
    tileShape.push_back(unit ? 1 : ShapedType::kDynamic);
    exprs.push_back(unit ? b.getAffineConstantExpr(0)
                         : b.getAffineDimExpr(isQuery ? 0 : 1));
  }
  auto tileType = RankedTensorType::get(tileShape, type.getElementType());
  Value tile = tensor::ExtractSliceOp::create(b, loc, tileType, mask, offsets,
                                              sizes, strides);
  return {tile, AffineMap::get(2, 0, exprs, b.getContext())};
}

/// The block sizes of the flash lowering.
struct BlockSizes {
  int64_t queries, keys;
};

/// The options' block sizes, the unset ones derived for head depth `depth`
/// (64 when dynamic); see FlashAttentionOptions.
BlockSizes blockSizesFor(const FlashAttentionOptions &options, int64_t depth) {
  if (ShapedType::isDynamic(depth) || depth <= 0)
    depth = 64;
  BlockSizes blocks{options.blockQueries, options.blockKeys};
  if (blocks.queries <= 0)
    blocks.queries = 64;
  if (blocks.keys <= 0) {
    int64_t fit = options.l1CacheBytes / 2 / (2 * depth * 4);
    blocks.keys = std::clamp<int64_t>(fit / 16 * 16, 16, 256);
  }
  return blocks;
}

/// Builds the flash forward of attention on f32 operands. Returns the output
/// [..., Sq, Dv] and, with `withLse`, the per-row log-sum-exp [..., Sq].
std::pair<Value, Value> buildFlashAttention(OpBuilder &b, Operation *op,
                                            Value q, Value k, Value v,
                                            Value mask, FloatAttr scaleAttr,
                                            bool causal, bool withLse,
                                            BlockSizes blocks) {
  Location loc = op->getLoc();
  int64_t rank = tensorType(q).getRank(), numBatch = rank - 2;
  // The run-time size checks the decomposition's ops would make.
  checkSameSize(b, op, q, rank - 1, "query", k, rank - 1, "key");
  checkSameSize(b, op, k, rank - 2, "key", v, rank - 2, "value");
  for (int64_t d = 0; d < numBatch; ++d) {
    if (tensorType(k).getDimSize(d) != 1)
      checkSameSize(b, op, q, d, "query", k, d, "key");
    if (tensorType(v).getDimSize(d) != 1)
      checkSameSize(b, op, q, d, "query", v, d, "value");
  }
  if (mask) {
    auto maskType = tensorType(mask);
    int64_t lead = rank - maskType.getRank();
    for (int64_t t = 0; t < maskType.getRank(); ++t) {
      if (maskType.getDimSize(t) == 1)
        continue;
      int64_t d = t + lead;
      if (d == rank - 1)
        checkSameSize(b, op, mask, t, "mask", k, rank - 2, "key");
      else
        checkSameSize(b, op, mask, t, "mask", q, d, "query");
    }
  }

  Value scale;
  if (scaleAttr) {
    scale = f32Const(b, loc, scaleAttr.getValueAsDouble());
  } else if (int64_t depth = tensorType(q).getDimSize(rank - 1);
             !ShapedType::isDynamic(depth)) {
    scale = f32Const(b, loc, 1.0 / std::sqrt(double(depth)));
  } else {
    scale = math::RsqrtOp::create(b, loc, countAsF32(b, loc, q, {rank - 1}));
  }

  SmallVector<OpFoldResult> qSizes = sizesOf(b, loc, q);
  OpFoldResult dv = sizeOf(b, loc, v, rank - 1);
  Value sq = asIndex(b, loc, qSizes[rank - 2]);
  Value sk = asIndex(b, loc, sizeOf(b, loc, k, rank - 2));
  SmallVector<OpFoldResult> outSizes(qSizes);
  outSizes.back() = dv;
  SmallVector<OpFoldResult> lseSizes(ArrayRef(qSizes).drop_back());
  Value out = emptyTensor(b, loc, outSizes, f32(b));
  Value lse = withLse ? emptyTensor(b, loc, lseSizes, f32(b)) : Value();

  Value zero = f32Const(b, loc, 0.0);
  Value negInf = f32Const(b, loc, -std::numeric_limits<double>::infinity());
  Value c0 = indexConst(b, loc, 0), c1 = indexConst(b, loc, 1);
  Value blockQ = indexConst(b, loc, blocks.queries);
  Value blockK = indexConst(b, loc, blocks.keys);
  AffineMap id2 = b.getMultiDimIdentityMap(2);
  AffineMap row2 = droppedDimMap(b, 2, 1);
  auto isNegInf = [&](OpBuilder &nb, Location l, Value x) {
    return arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, x, negInf);
  };

  // One block of queries of one batch element: the key loop, then the
  // normalized rows written into the results.
  auto queryBlock = [&](OpBuilder &b, ValueRange batch, Value qb,
                        ValueRange results) -> SmallVector<Value> {
    Value bq = minIndex(b, loc, blockQ, arith::SubIOp::create(b, loc, sq, qb));
    Value qTile = matrixSlice(b, loc, q, batch, qb, bq);
    Value kEnd = sk;
    if (causal) // keys after the block's last query are all masked
      kEnd = minIndex(b, loc, sk, arith::AddIOp::create(b, loc, qb, bq));
    SmallVector<OpFoldResult> rowSizes = {bq};
    SmallVector<OpFoldResult> accSizes = {bq, dv};
    Value m0 = filledTensor(b, loc, rowSizes, f32(b), negInf);
    Value l0 = filledTensor(b, loc, rowSizes, f32(b), zero);
    Value acc0 = filledTensor(b, loc, accSizes, f32(b), zero);
    auto keyLoop = scf::ForOp::create(
        b, loc, c0, kEnd, blockK, ValueRange{m0, l0, acc0},
        [&](OpBuilder &b, Location loc, Value kb, ValueRange state) {
          Value m = state[0], l = state[1], acc = state[2];
          Value bk =
              minIndex(b, loc, blockK, arith::SubIOp::create(b, loc, kEnd, kb));
          SmallVector<OpFoldResult> tile = {bq, bk};
          Value kTile = matrixSlice(b, loc, k, batch, kb, bk);
          Value vTile = matrixSlice(b, loc, v, batch, kb, bk);
          // S = Q·Kᵀ on the tile.
          Value kT = linalg::TransposeOp::create(
                         b, loc, kTile,
                         emptyTensor(b, loc,
                                     {sizeOf(b, loc, kTile, 1), OpFoldResult(bk)},
                                     f32(b)),
                         ArrayRef<int64_t>{1, 0})
                         .getResult()[0];
          Value s = linalg::MatmulOp::create(
                        b, loc, ValueRange{qTile, kT},
                        filledTensor(b, loc, tile, f32(b), zero))
                        .getResult(0);
          // Scaled and masked scores.
          SmallVector<Value> inputs = {s};
          SmallVector<AffineMap> maps = {id2};
          bool booleanMask = false;
          if (mask) {
            MaskTile mt = maskSlice(b, loc, mask, rank, batch, qb, bq, kb, bk);
            inputs.push_back(mt.tile);
            maps.push_back(mt.map);
            booleanMask = tensorType(mask).getElementType().isInteger(1);
          }
          Value scores = buildGeneric(
              b, loc, tile, f32(b), inputs, maps,
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                Value x = arith::MulFOp::create(nb, l, args[0], scale);
                if (mask)
                  x = booleanMask
                          ? arith::SelectOp::create(nb, l, args[1], x, negInf)
                                .getResult()
                          : arith::AddFOp::create(nb, l, x, args[1])
                                .getResult();
                if (causal) {
                  Value i = arith::AddIOp::create(
                      nb, l, qb, linalg::IndexOp::create(nb, l, 0));
                  Value j = arith::AddIOp::create(
                      nb, l, kb, linalg::IndexOp::create(nb, l, 1));
                  Value after = arith::CmpIOp::create(
                      nb, l, arith::CmpIPredicate::sgt, j, i);
                  x = arith::SelectOp::create(nb, l, after, negInf, x);
                }
                return x;
              });
          // Online softmax update. The running statistics are updated in
          // place (destination-passing), so the loop carries one buffer each.
          Value blockMax = reduceF32(b, loc, scores, {1},
                                     -std::numeric_limits<double>::infinity(),
                                     maxF);
          auto maxOf = [](OpBuilder &nb, Location l, Value x, Value y) {
            return arith::MaximumFOp::create(nb, l, x, y).getResult();
          };
          // alpha = exp(m - m_new) rescales what was summed so far.
          Value alpha = mapElements(
              b, loc, {m, blockMax}, f32(b),
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                Value mNew = maxOf(nb, l, args[0], args[1]);
                Value e = math::ExpOp::create(
                    nb, l, arith::SubFOp::create(nb, l, args[0], mNew));
                return arith::SelectOp::create(nb, l, isNegInf(nb, l, args[0]),
                                               zero, e);
              });
          // P = exp(S - m_new), 0 while the row has seen no key.
          Value p = buildGeneric(
              b, loc, tile, f32(b), {scores, m, blockMax}, {id2, row2, row2},
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                Value mNew = maxOf(nb, l, args[1], args[2]);
                Value e = math::ExpOp::create(
                    nb, l, arith::SubFOp::create(nb, l, args[0], mNew));
                return arith::SelectOp::create(nb, l, isNegInf(nb, l, mNew),
                                               zero, e);
              });
          Value rowSum = reduceF32(b, loc, p, {1}, 0.0, addF);
          Value pv = linalg::MatmulOp::create(
                         b, loc, ValueRange{p, vTile},
                         filledTensor(b, loc, accSizes, f32(b), zero))
                         .getResult(0);
          AffineMap id1 = b.getMultiDimIdentityMap(1);
          // l = alpha·l + rowsum(P); acc = alpha·acc + P·V; m = m_new.
          Value lNew = updateInPlace(
              b, loc, l, {alpha, rowSum}, {id1, id1},
              [&](OpBuilder &nb, Location lc, ValueRange args) -> Value {
                return arith::AddFOp::create(
                    nb, lc, arith::MulFOp::create(nb, lc, args[0], args[2]),
                    args[1]);
              });
          Value accNew = updateInPlace(
              b, loc, acc, {pv, alpha}, {id2, row2},
              [&](OpBuilder &nb, Location lc, ValueRange args) -> Value {
                return arith::AddFOp::create(
                    nb, lc, arith::MulFOp::create(nb, lc, args[1], args[2]),
                    args[0]);
              });
          Value mNew = updateInPlace(
              b, loc, m, {blockMax}, {id1},
              [&](OpBuilder &nb, Location lc, ValueRange args) -> Value {
                return maxOf(nb, lc, args[0], args[1]);
              });
          scf::YieldOp::create(b, loc, ValueRange{mNew, lNew, accNew});
        });
    Value m = keyLoop.getResult(0), l = keyLoop.getResult(1),
          acc = keyLoop.getResult(2);
    // O = acc / l, zeros for rows without any key.
    Value o = buildGeneric(
        b, loc, accSizes, f32(b), {acc, l}, {id2, row2},
        [&](OpBuilder &nb, Location lc, ValueRange args) -> Value {
          Value empty = arith::CmpFOp::create(nb, lc, arith::CmpFPredicate::OEQ,
                                              args[1], zero);
          Value ratio = arith::DivFOp::create(nb, lc, args[0], args[1]);
          return arith::SelectOp::create(nb, lc, empty, zero, ratio);
        });
    SmallVector<OpFoldResult> offsets(batch.begin(), batch.end());
    SmallVector<OpFoldResult> sizes(numBatch, b.getIndexAttr(1));
    SmallVector<Value> updated;
    {
      SmallVector<OpFoldResult> off(offsets), sz(sizes);
      off.append({qb, b.getIndexAttr(0)});
      sz.append({bq, dv});
      SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
      updated.push_back(tensor::InsertSliceOp::create(b, loc, o, results[0],
                                                      off, sz, strides));
    }
    if (withLse) {
      Value rowLse = mapElements(
          b, loc, {m, l}, f32(b),
          [&](OpBuilder &nb, Location lc, ValueRange args) -> Value {
            Value empty = arith::CmpFOp::create(
                nb, lc, arith::CmpFPredicate::OEQ, args[1], zero);
            Value value = arith::AddFOp::create(
                nb, lc, args[0], math::LogOp::create(nb, lc, args[1]));
            return arith::SelectOp::create(nb, lc, empty, negInf, value);
          });
      SmallVector<OpFoldResult> off(offsets), sz(sizes);
      off.push_back(qb);
      sz.push_back(bq);
      SmallVector<OpFoldResult> strides(rank - 1, b.getIndexAttr(1));
      updated.push_back(tensor::InsertSliceOp::create(b, loc, rowLse,
                                                      results[1], off, sz,
                                                      strides));
    }
    return updated;
  };

  // Loops over the batch dimensions, then over blocks of queries.
  SmallVector<Value> init = {out};
  if (withLse)
    init.push_back(lse);
  SmallVector<Value> batch;
  std::function<SmallVector<Value>(OpBuilder &, int64_t, ValueRange)> nest =
      [&](OpBuilder &b, int64_t d, ValueRange iter) -> SmallVector<Value> {
    Value upper = d < numBatch ? asIndex(b, loc, qSizes[d]) : sq;
    Value step = d < numBatch ? c1 : blockQ;
    auto loop = scf::ForOp::create(
        b, loc, c0, upper, step, iter,
        [&](OpBuilder &b, Location, Value iv, ValueRange args) {
          SmallVector<Value> next;
          if (d < numBatch) {
            batch.push_back(iv);
            next = nest(b, d + 1, args);
            batch.pop_back();
          } else {
            next = queryBlock(b, batch, iv, args);
          }
          scf::YieldOp::create(b, loc, next);
        });
    return SmallVector<Value>(loop.getResults());
  };
  SmallVector<Value> results = nest(b, 0, init);
  return {results[0], withLse ? results[1] : Value()};
}

Value maskToF32(OpBuilder &b, Location loc, Value mask) {
  if (mask && !tensorType(mask).getElementType().isInteger(1))
    return toF32(b, loc, mask);
  return mask;
}

struct FlashAttentionLowering final : OpConversionPattern<AttentionOp> {
  FlashAttentionLowering(MLIRContext *context, const FlashAttentionOptions &options)
      : OpConversionPattern(context, /*benefit=*/2), options(options) {}
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto [out, lse] = buildFlashAttention(
        rewriter, op, toF32(rewriter, loc, adaptor.getQuery()),
        toF32(rewriter, loc, adaptor.getKey()),
        toF32(rewriter, loc, adaptor.getValue()),
        maskToF32(rewriter, loc, adaptor.getMask()), op.getScaleAttr(),
        op.getCausal(), /*withLse=*/false,
        blockSizesFor(options, op.getQuery().getType().getShape().back()));
    rewriter.replaceOp(
        op, castElements(rewriter, loc, out, op.getType().getElementType()));
    return success();
  }
  FlashAttentionOptions options;
};

struct FlashAttentionWithLSELowering final
    : OpConversionPattern<AttentionWithLSEOp> {
  FlashAttentionWithLSELowering(MLIRContext *context, const FlashAttentionOptions &options)
      : OpConversionPattern(context, /*benefit=*/2), options(options) {}
  LogicalResult
  matchAndRewrite(AttentionWithLSEOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto [out, lse] = buildFlashAttention(
        rewriter, op, toF32(rewriter, loc, adaptor.getQuery()),
        toF32(rewriter, loc, adaptor.getKey()),
        toF32(rewriter, loc, adaptor.getValue()),
        maskToF32(rewriter, loc, adaptor.getMask()), op.getScaleAttr(),
        op.getCausal(), /*withLse=*/true,
        blockSizesFor(options, op.getQuery().getType().getShape().back()));
    rewriter.replaceOp(
        op, {castElements(rewriter, loc, out,
                          op.getResult().getType().getElementType()),
             lse});
    return success();
  }
  FlashAttentionOptions options;
};
} // namespace

void mha::populateMHAFlashAttentionToLinalgPatterns(
    RewritePatternSet &patterns, const FlashAttentionOptions &options) {
  patterns.add<FlashAttentionLowering, FlashAttentionWithLSELowering>(
      patterns.getContext(), options);
}
