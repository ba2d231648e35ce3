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

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/ADT/bit.h"
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>

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

/// min(block, upper - iv): the size of the block at `iv` of a loop of step
/// `block` up to `upper`, as the affine.min that scf loop peeling simplifies
/// to the constant `block` in the peeled loop's full iterations.
Value blockSize(OpBuilder &b, Location loc, int64_t block, Value iv,
                Value upper) {
  MLIRContext *ctx = b.getContext();
  AffineExpr d0 = getAffineDimExpr(0, ctx), s0 = getAffineSymbolExpr(0, ctx);
  AffineMap map =
      AffineMap::get(1, 1, {getAffineConstantExpr(block, ctx), s0 - d0}, ctx);
  return affine::AffineMinOp::create(b, loc, map, ValueRange{iv, upper});
}

/// Marks a block loop whose last iteration may be partial: mha-tile-and-
/// vectorize peels it so that the full blocks get static shapes.
void markForPeeling(scf::ForOp loop) {
  loop->setAttr(kPeelAttrName, UnitAttr::get(loop.getContext()));
}

/// `ofr` as an attribute when it is a constant value.
OpFoldResult foldConstant(OpFoldResult ofr) {
  if (auto value = dyn_cast<Value>(ofr))
    return getAsOpFoldResult(value);
  return ofr;
}

/// The region of `t` [..., R, C] holding rows [rowOffset, rowOffset + rows)
/// at batch position `batch` (a static size-1 batch dimension of `t` is read
/// at 0, as broadcasting does), constant sizes as attributes.
struct RowRegion {
  SmallVector<OpFoldResult> offsets, sizes, strides;
};
RowRegion rowRegion(OpBuilder &b, Location loc, Value t, ValueRange batch,
                    OpFoldResult rowOffset, OpFoldResult rows) {
  auto type = tensorType(t);
  int64_t rank = type.getRank();
  RowRegion r;
  r.strides.assign(rank, b.getIndexAttr(1));
  for (int64_t d = 0; d < rank - 2; ++d) {
    r.offsets.push_back(type.getDimSize(d) == 1
                            ? OpFoldResult(b.getIndexAttr(0))
                            : OpFoldResult(batch[d]));
    r.sizes.push_back(b.getIndexAttr(1));
  }
  r.offsets.push_back(foldConstant(rowOffset));
  r.offsets.push_back(b.getIndexAttr(0));
  r.sizes.push_back(foldConstant(rows));
  r.sizes.push_back(foldConstant(sizeOf(b, loc, t, rank - 1)));
  return r;
}

/// The [rows, cols] matrix of `t` in rowRegion's region.
Value matrixSlice(OpBuilder &b, Location loc, Value t, ValueRange batch,
                  OpFoldResult rowOffset, OpFoldResult rows) {
  RowRegion r = rowRegion(b, loc, t, batch, rowOffset, rows);
  SmallVector<int64_t> shape;
  for (OpFoldResult size : ArrayRef(r.sizes).take_back(2))
    shape.push_back(getConstantIntValue(size).value_or(ShapedType::kDynamic));
  auto resultType =
      RankedTensorType::get(shape, tensorType(t).getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, t, r.offsets,
                                        r.sizes, r.strides);
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

/// The scaled, masked scores of one [bq, bk] tile from the raw products
/// `s`: s·scale, a boolean mask selecting (else -inf) or an additive one
/// added (`mask`, a tile read through `maskMap` from the block's (query,
/// key) space), and -inf past the diagonal with `causal` (key kb + j after
/// query qb + i). The one place the fused lowerings apply attention's masks.
Value scoresOfTile(OpBuilder &b, Location loc, Value s, Value mask,
                   AffineMap maskMap, Value qb, Value kb, Value scale,
                   bool causal) {
  SmallVector<OpFoldResult> tile = {sizeOf(b, loc, s, 0), sizeOf(b, loc, s, 1)};
  SmallVector<Value> inputs = {s};
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(2)};
  if (mask) {
    inputs.push_back(mask);
    maps.push_back(maskMap);
  }
  return buildGeneric(
      b, loc, tile, f32(b), inputs, maps,
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value x = arith::MulFOp::create(nb, l, args[0], scale);
        Value i, j;
        if (causal) {
          i = arith::AddIOp::create(nb, l, qb,
                                    linalg::IndexOp::create(nb, l, 0));
          j = arith::AddIOp::create(nb, l, kb,
                                    linalg::IndexOp::create(nb, l, 1));
        }
        return maskScore(nb, l, x, mask ? args[1] : Value(), i, j, causal);
      });
}

/// scoresOfTile with the tile of the whole `mask` (broadcastable to
/// [..., Sq, Sk]) that covers queries [qb, qb + bq) and keys [kb, kb + bk)
/// of batch position `batch`.
Value maskedScores(OpBuilder &b, Location loc, Value s, Value mask,
                   int64_t rank, ValueRange batch, Value qb, Value bq, Value kb,
                   Value bk, Value scale, bool causal) {
  MaskTile mt{};
  if (mask)
    mt = maskSlice(b, loc, mask, rank, batch, qb, bq, kb, bk);
  return scoresOfTile(b, loc, s, mt.tile, mt.map, qb, kb, scale, causal);
}

/// The map from a [bq, bk] block's (query, key) space to a mask tile of
/// rank <= 2 broadcastable to it (right-aligned, unit dimensions read at 0).
AffineMap maskTileMap(OpBuilder &b, RankedTensorType type) {
  int64_t rank = type.getRank();
  SmallVector<AffineExpr> exprs;
  for (int64_t t = 0; t < rank; ++t)
    exprs.push_back(type.getDimSize(t) == 1
                        ? b.getAffineConstantExpr(0)
                        : b.getAffineDimExpr(t + 2 - rank));
  return AffineMap::get(2, 0, exprs, b.getContext());
}

/// x + y, in whatever order a reduction finds fastest (reassoc).
Value reassociableAdd(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(
      b, loc, x, y,
      arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
}

/// max(x, y), NaN propagating, regardless of the sign of zero (nsz: the
/// exponentials' shift is the same either way); as a reduction's combiner,
/// in any order (reassoc).
Value reassociableMax(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MaximumFOp::create(
      b, loc, x, y,
      arith::FastMathFlags::reassoc | arith::FastMathFlags::nsz);
}

/// The online-softmax update of one block (mha.online_attention's
/// semantics on 2-D tiles): from the masked scores [bq, bk], the value tile
/// [bk, Dv] and the running m [bq], l [bq], acc [bq, Dv], returns the new
/// acc, m and l (each updated in place, destination-passing).
SmallVector<Value> onlineSoftmaxUpdate(OpBuilder &b, Location loc,
                                       Value scores, Value vTile, Value m,
                                       Value l, Value acc) {
  Value zero = f32Const(b, loc, 0.0);
  AffineMap id2 = b.getMultiDimIdentityMap(2);
  AffineMap row2 = droppedDimMap(b, 2, 1);
  SmallVector<OpFoldResult> tile = {sizeOf(b, loc, scores, 0),
                                    sizeOf(b, loc, scores, 1)};
  SmallVector<OpFoldResult> accSizes = {sizeOf(b, loc, acc, 0),
                                        sizeOf(b, loc, acc, 1)};
  // The block's row max and row sum may combine in any order (a tree of
  // vector max / add instead of a chain of 64 dependent scalar ones, which
  // took 10% of the forward at D = 128): the max of ±0 either way shifts
  // the exponentials by nothing, and the sum's rounding is the tree's. NaN
  // still propagates (maximumf).
  Value blockMax = reduceF32(b, loc, scores, {1},
                             -std::numeric_limits<double>::infinity(),
                             reassociableMax);
  // alpha = exp(m - m_new) rescales what was summed so far.
  Value alpha = mapElements(
      b, loc, {m, blockMax}, f32(b),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value mNew = reassociableMax(nb, l, args[0], args[1]);
        return guardedExp(nb, l, args[0], mNew, args[0]);
      });
  // P = exp(S - m_new), 0 while the row has seen no key.
  Value p = buildGeneric(
      b, loc, tile, f32(b), {scores, m, blockMax}, {id2, row2, row2},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value mNew = reassociableMax(nb, l, args[1], args[2]);
        return guardedExp(nb, l, args[0], mNew, mNew);
      });
  Value rowSum = reduceF32(b, loc, p, {1}, 0.0, reassociableAdd);
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
            nb, lc, arith::MulFOp::create(nb, lc, args[0], args[2]), args[1]);
      });
  Value accNew = updateInPlace(
      b, loc, acc, {pv, alpha}, {id2, row2},
      [&](OpBuilder &nb, Location lc, ValueRange args) -> Value {
        return arith::AddFOp::create(
            nb, lc, arith::MulFOp::create(nb, lc, args[1], args[2]), args[0]);
      });
  Value mNew = updateInPlace(
      b, loc, m, {blockMax}, {id1},
      [&](OpBuilder &nb, Location lc, ValueRange args) -> Value {
        return reassociableMax(nb, lc, args[0], args[1]);
      });
  return {accNew, mNew, lNew};
}
} // namespace

SmallVector<Value> mha::detail::finishOnlineSoftmax(OpBuilder &b, Location loc,
                                                    Value acc, Value max,
                                                    Value sum, bool withLse) {
  Value zero = f32Const(b, loc, 0.0);
  Value negInf = f32Const(b, loc, -std::numeric_limits<double>::infinity());
  int64_t rank = tensorType(acc).getRank();
  auto isEmpty = [&](OpBuilder &nb, Location l, Value rowSum) {
    return arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, rowSum,
                                 zero);
  };
  // O = acc / sum, zeros for rows without any key.
  Value out = buildGeneric(
      b, loc, tensor::getMixedSizes(b, loc, acc), f32(b), {acc, sum},
      {b.getMultiDimIdentityMap(rank), droppedDimMap(b, rank, rank - 1)},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value ratio = arith::DivFOp::create(nb, l, args[0], args[1]);
        return arith::SelectOp::create(nb, l, isEmpty(nb, l, args[1]), zero,
                                       ratio);
      });
  if (!withLse)
    return {out};
  // lse = max + log(sum), -inf for rows without any key.
  Value lse = mapElements(
      b, loc, {max, sum}, f32(b),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value value = arith::AddFOp::create(
            nb, l, args[0], math::LogOp::create(nb, l, args[1]));
        return arith::SelectOp::create(nb, l, isEmpty(nb, l, args[1]), negInf,
                                       value);
      });
  return {out, lse};
}

namespace {

/// Q·Kᵀ of two tiles [bq, D] and [bk, D]: [bq, bk], with a linalg.matmul.
Value productWithTransposed(OpBuilder &b, Location loc, Value x, Value y) {
  Value zero = f32Const(b, loc, 0.0);
  Value yT =
      linalg::TransposeOp::create(
          b, loc, y,
          emptyTensor(b, loc, {sizeOf(b, loc, y, 1), sizeOf(b, loc, y, 0)},
                      f32(b)),
          ArrayRef<int64_t>{1, 0})
          .getResult()[0];
  return linalg::MatmulOp::create(
             b, loc, ValueRange{x, yT},
             filledTensor(b, loc, {sizeOf(b, loc, x, 0), sizeOf(b, loc, y, 0)},
                          f32(b), zero))
      .getResult(0);
}

/// xᵀ of a [R, C] matrix, stored in a buffer whose rows are C + 16 floats
/// apart. With C a multiple of 1024 (S = 1024, 2048, ...) rows a multiple of
/// 4 KiB apart all fall into the same few L1 sets, and the [D, blockK] tiles
/// the key loop reads would not stay in L1 (the forward at S = 4096, D = 64
/// ran 13% faster on Zen 5 with the padding).
Value transposeWithPaddedRows(OpBuilder &b, Location loc, Value x) {
  OpFoldResult rows = sizeOf(b, loc, x, 1), cols = sizeOf(b, loc, x, 0);
  AffineExpr s0 = b.getAffineSymbolExpr(0);
  OpFoldResult padded =
      affine::makeComposedFoldedAffineApply(b, loc, s0 + 16, {cols});
  Value buffer = emptyTensor(b, loc, {rows, padded}, f32(b));
  SmallVector<OpFoldResult> zeros(2, b.getIndexAttr(0)),
      ones(2, b.getIndexAttr(1));
  SmallVector<OpFoldResult> sizes = {rows, cols};
  Value view =
      tensor::ExtractSliceOp::create(b, loc, buffer, zeros, sizes, ones);
  return linalg::TransposeOp::create(b, loc, x, view, ArrayRef<int64_t>{1, 0})
      .getResult()[0];
}

} // namespace

void mha::detail::checkAttentionSizes(OpBuilder &b, Operation *op, Value q,
                                      Value k, Value v, Value mask) {
  int64_t rank = tensorType(q).getRank(), numBatch = rank - 2;
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
}

void mha::detail::checkAttentionGradSizes(OpBuilder &b, AttentionGradOp op) {
  int64_t rank = tensorType(op.getQuery()).getRank();
  checkAttentionSizes(b, op, op.getQuery(), op.getKey(), op.getValue(),
                      op.getMask());
  checkSameSize(b, op, op.getResult(), rank - 2, "result", op.getQuery(),
                rank - 2, "query");
  checkSameSize(b, op, op.getResult(), rank - 1, "result", op.getValue(),
                rank - 1, "value");
  checkSameSize(b, op, op.getResultGrad(), rank - 2, "result_grad",
                op.getQuery(), rank - 2, "query");
  checkSameSize(b, op, op.getResultGrad(), rank - 1, "result_grad",
                op.getValue(), rank - 1, "value");
  checkSameSize(b, op, op.getLse(), rank - 2, "lse", op.getQuery(), rank - 2,
                "query");
  for (int64_t d = 0; d + 2 < rank; ++d)
    for (auto [operand, name] : {std::pair(op.getResult(), "result"),
                                 std::pair(op.getResultGrad(), "result_grad"),
                                 std::pair(op.getLse(), "lse")})
      checkSameSize(b, op, operand, d, name, op.getQuery(), d, "query");
}

bool mha::detail::hasStaticEmptyDim(ValueRange values) {
  return llvm::any_of(values, [](Value v) {
    return llvm::is_contained(tensorType(v).getShape(), 0);
  });
}

Value mha::detail::maskScore(OpBuilder &b, Location loc, Value score,
                             Value maskElement, Value query, Value key,
                             bool causal) {
  // Scalars, or vectors of them (the GPU kernel's emulated lanes).
  auto like = [&](Value value, Type scalar) -> Type {
    if (auto vector = dyn_cast<VectorType>(value.getType()))
      return VectorType::get(vector.getShape(), scalar);
    return scalar;
  };
  Value negInf = f32Const(b, loc, -std::numeric_limits<double>::infinity());
  if (auto vector = dyn_cast<VectorType>(score.getType()))
    negInf = vector::BroadcastOp::create(b, loc, vector, negInf);
  if (maskElement) {
    Type type = getElementTypeOrSelf(maskElement.getType());
    if (auto integer = dyn_cast<IntegerType>(type)) {
      // i1, or bytes (the fused forward's tiles).
      Value keep = integer.getWidth() == 1
                       ? maskElement
                       : arith::CmpIOp::create(
                             b, loc, arith::CmpIPredicate::ne, maskElement,
                             arith::ConstantOp::create(
                                 b, loc,
                                 like(maskElement, integer),
                                 b.getZeroAttr(like(maskElement, integer))))
                             .getResult();
      score = arith::SelectOp::create(b, loc, keep, score, negInf);
    } else {
      Value bias = type.isF32()
                       ? maskElement
                       : arith::ExtFOp::create(b, loc,
                                               like(maskElement, f32(b)),
                                               maskElement)
                             .getResult();
      score = arith::AddFOp::create(b, loc, score, bias);
    }
  }
  if (causal) {
    Value after =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, key, query);
    score = arith::SelectOp::create(b, loc, after, negInf, score);
  }
  return score;
}

Value mha::detail::guardedExp(OpBuilder &b, Location loc, Value x,
                              Value shift, Value guard) {
  Value negInf = f32Const(b, loc, -std::numeric_limits<double>::infinity());
  Value unseen =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, guard, negInf);
  Value e = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, shift));
  return arith::SelectOp::create(b, loc, unseen, f32Const(b, loc, 0.0), e);
}

void mha::detail::checkOnlineAttentionSizes(OpBuilder &b,
                                            OnlineAttentionOp op) {
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue(),
        acc = op.getAcc();
  int64_t rank = op.getNumBatchDims() + 2;
  int64_t kDepth = op.getKeyTransposed() ? rank - 2 : rank - 1;
  int64_t kLength = op.getKeyTransposed() ? rank - 1 : rank - 2;
  checkSameSize(b, op, q, rank - 1, "query", k, kDepth, "key");
  checkSameSize(b, op, k, kLength, "key", v, rank - 2, "value");
  checkSameSize(b, op, q, rank - 2, "query", acc, rank - 2, "acc");
  checkSameSize(b, op, v, rank - 1, "value", acc, rank - 1, "acc");
  checkSameSize(b, op, q, rank - 2, "query", op.getMax(), rank - 2, "max");
  checkSameSize(b, op, q, rank - 2, "query", op.getSum(), rank - 2, "sum");
  if (Value mask = op.getMask()) {
    auto maskType = tensorType(mask);
    int64_t lead = rank - maskType.getRank();
    for (int64_t t = std::max<int64_t>(0, rank - 2 - lead);
         t < maskType.getRank(); ++t) {
      if (maskType.getDimSize(t) == 1)
        continue;
      if (t + lead == rank - 1)
        checkSameSize(b, op, mask, t, "mask", k, kLength, "key");
      else
        checkSameSize(b, op, mask, t, "mask", q, rank - 2, "query");
    }
  }
}

namespace {

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
  // 128 queries share each K and V tile (measured on Zen 5 against 64:
  // forward 2-4% and forward + backward 4-5% faster; causal forward at
  // S = 4096 still 1.8x faster than non-causal).
  if (blocks.queries <= 0)
    blocks.queries = 128;
  if (blocks.keys <= 0) {
    // A power of two (so a multiple of 32, the column block of
    // mha-tile-and-vectorize's matmul tiles: S = Q·Kᵀ has no scalar
    // remainder) whose K tile fits L1; at least 64, which amortizes the
    // per-row work of the online softmax (measured on Zen 5: 32-key blocks
    // 7-15% slower, 96-key ones up to 25% slower in the backward).
    int64_t fit = options.l1CacheBytes / (depth * 4);
    blocks.keys = std::clamp<int64_t>(
        int64_t(llvm::bit_floor(uint64_t(std::max<int64_t>(fit, 1)))), 64, 256);
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
  checkAttentionSizes(b, op, q, k, v, mask);
  Value scale = defaultScaleOr(b, loc, q, scaleAttr);

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

  // One block of queries [qb, qb + bq) of one batch element (bq = the
  // block size, less at `qEnd`): the key loop, then the normalized rows
  // (and their lse) as tiles.
  auto queryBlock = [&](OpBuilder &b, ValueRange batch, Value kT, Value qb,
                        Value qEnd) -> SmallVector<Value> {
    Value bq = blockSize(b, loc, blocks.queries, qb, qEnd);
    Value qTile = matrixSlice(b, loc, q, batch, qb, bq);
    Value kEnd = sk;
    if (causal) // keys after the block's last query are all masked
      kEnd = minIndex(b, loc, sk, arith::AddIOp::create(b, loc, qb, bq));
    SmallVector<OpFoldResult> rowSizes = {bq};
    SmallVector<OpFoldResult> accSizes = {bq, dv};
    Value m0 = filledTensor(b, loc, rowSizes, f32(b), negInf);
    Value l0 = filledTensor(b, loc, rowSizes, f32(b), zero);
    Value acc0 = filledTensor(b, loc, accSizes, f32(b), zero);
    // Key blocks from `start` to `end`; `diagonal` ones are compared with
    // the causal diagonal, the others need no mask.
    auto keyLoop = [&](Value start, Value end, bool diagonal, ValueRange init) {
      auto loop = scf::ForOp::create(
          b, loc, start, end, blockK, init,
          [&](OpBuilder &b, Location loc, Value kb, ValueRange state) {
            Value m = state[0], l = state[1], acc = state[2];
            Value bk = blockSize(b, loc, blocks.keys, kb, end);
            Value vTile = matrixSlice(b, loc, v, batch, kb, bk);
            // Kᵀ transposed once per batch element: its [D, bk] tile.
            SmallVector<OpFoldResult> kTOffsets = {b.getIndexAttr(0), kb};
            SmallVector<OpFoldResult> kTSizes = {sizeOf(b, loc, kT, 0), bk};
            SmallVector<OpFoldResult> unitStrides(2, b.getIndexAttr(1));
            Value kTTile = tensor::ExtractSliceOp::create(b, loc, kT, kTOffsets,
                                                          kTSizes, unitStrides);
            Value maskTile;
            if (mask)
              maskTile =
                  maskSlice(b, loc, mask, rank, batch, qb, bq, kb, bk).tile;
            // The block: the tiled form of attention, lowered by
            // OnlineAttentionLowering.
            auto block = OnlineAttentionOp::create(
                b, loc, TypeRange{acc.getType(), m.getType(), l.getType()},
                qTile, kTTile, vTile, qb, kb, scale, acc, m, l, maskTile,
                causal && diagonal ? b.getUnitAttr() : UnitAttr(),
                b.getUnitAttr());
            Value accNew = block.getNewAcc(), mNew = block.getNewMax(),
                  lNew = block.getNewSum();
            scf::YieldOp::create(b, loc, ValueRange{mNew, lNew, accNew});
          });
      markForPeeling(loop);
      return loop;
    };
    scf::ForOp keys;
    if (causal) {
      // Key blocks that end at or before the block's first query are seen
      // whole by every query: only the blocks on the diagonal are masked.
      Value seenWhole = arith::MulIOp::create(
          b, loc,
          arith::DivUIOp::create(b, loc, arith::AddIOp::create(b, loc, qb, c1),
                                 blockK),
          blockK);
      Value kDiag = minIndex(b, loc, kEnd, seenWhole);
      scf::ForOp below =
          keyLoop(c0, kDiag, /*diagonal=*/false, ValueRange{m0, l0, acc0});
      keys = keyLoop(kDiag, kEnd, /*diagonal=*/true, below.getResults());
    } else {
      keys = keyLoop(c0, kEnd, /*diagonal=*/false, ValueRange{m0, l0, acc0});
    }
    return finishOnlineSoftmax(b, loc, keys.getResult(2), keys.getResult(0),
                               keys.getResult(1), withLse);
  };

  // Kᵀ of every batch element of K (in parallel), each [D, Sk] in a buffer
  // with padded rows; `kTOf` is the one a batch position of Q reads (a
  // static size-1 batch dimension of K at 0, as broadcasting does).
  auto kType = tensorType(k);
  Value kTAll;
  if (numBatch == 0) {
    kTAll = transposeWithPaddedRows(b, loc, matrixSlice(b, loc, k, {}, c0, sk));
  } else {
    SmallVector<OpFoldResult> kSizes = sizesOf(b, loc, k);
    SmallVector<OpFoldResult> kBatch(kSizes.begin(), kSizes.begin() + numBatch);
    OpFoldResult depth = kSizes[rank - 1];
    AffineExpr s0 = b.getAffineSymbolExpr(0);
    OpFoldResult padded = affine::makeComposedFoldedAffineApply(
        b, loc, s0 + 16, {kSizes[rank - 2]});
    SmallVector<OpFoldResult> allSizes(kBatch);
    allSizes.push_back(depth);
    allSizes.push_back(padded);
    auto transposes = scf::ForallOp::create(
        b, loc, kBatch, ValueRange{emptyTensor(b, loc, allSizes, f32(b))},
        /*mapping=*/std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(transposes.getBody());
    SmallVector<Value> batch(transposes.getInductionVars());
    Value kMatrix = matrixSlice(b, loc, k, batch, c0, sk);
    SmallVector<OpFoldResult> offsets(batch.begin(), batch.end()),
        sizes(numBatch, b.getIndexAttr(1)), strides(rank, b.getIndexAttr(1));
    offsets.append({b.getIndexAttr(0), b.getIndexAttr(0)});
    sizes.append({depth, kSizes[rank - 2]});
    auto viewType = RankedTensorType::get(
        {kType.getDimSize(rank - 1), kType.getDimSize(rank - 2)}, f32(b));
    Value view = tensor::ExtractSliceOp::create(
        b, loc, viewType, transposes.getRegionIterArgs()[0], offsets, sizes,
        strides);
    Value kT = linalg::TransposeOp::create(b, loc, kMatrix, view,
                                           ArrayRef<int64_t>{1, 0})
                   .getResult()[0];
    b.setInsertionPointToStart(transposes.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(
        b, loc, kT, transposes.getRegionIterArgs()[0], offsets, sizes,
        strides);
    kTAll = transposes.getResult(0);
  }
  auto kTOf = [&](OpBuilder &b, ValueRange batch) -> Value {
    if (numBatch == 0)
      return kTAll;
    // All D rows of the batch position's Kᵀ, its Sk columns (not the
    // padding).
    RowRegion r = rowRegion(b, loc, kTAll, batch, b.getIndexAttr(0),
                            sizeOf(b, loc, k, rank - 1));
    r.sizes.back() = foldConstant(sizeOf(b, loc, k, rank - 2));
    auto viewType = RankedTensorType::get(
        {kType.getDimSize(rank - 1), kType.getDimSize(rank - 2)}, f32(b));
    return tensor::ExtractSliceOp::create(b, loc, viewType, kTAll, r.offsets,
                                          r.sizes, r.strides);
  };

  // Every (batch position, block of queries) is independent: an scf.forall
  // over them, which the CPU pipeline runs on every core (OpenMP), so that
  // even one batch element and head keeps every core busy. Each iteration
  // runs a loop of one block, [start, min(start + blockQ, Sq)), marked for
  // peeling: full blocks get static shapes, the last one its own code.
  SmallVector<Value> outputs = {out};
  if (withLse)
    outputs.push_back(lse);
  SmallVector<OpFoldResult> parallelSizes(qSizes.begin(),
                                          qSizes.begin() + numBatch);
  AffineExpr s0 = b.getAffineSymbolExpr(0);
  parallelSizes.push_back(affine::makeComposedFoldedAffineApply(
      b, loc, s0.ceilDiv(blocks.queries), {qSizes[rank - 2]}));
  auto forall = scf::ForallOp::create(b, loc, parallelSizes, outputs,
                                      /*mapping=*/std::nullopt);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    SmallVector<Value> ivs(forall.getInductionVars());
    SmallVector<Value> batch(ivs.begin(), ivs.begin() + numBatch);
    Value kT = kTOf(b, batch);
    Value start = arith::MulIOp::create(b, loc, ivs.back(), blockQ);
    Value end =
        minIndex(b, loc, sq, arith::AddIOp::create(b, loc, start, blockQ));
    Value rows = arith::SubIOp::create(b, loc, end, start);
    SmallVector<Value> init = {emptyTensor(b, loc, {rows, dv}, f32(b))};
    if (withLse)
      init.push_back(emptyTensor(b, loc, {rows}, f32(b)));
    auto loop = scf::ForOp::create(
        b, loc, start, end, blockQ, init,
        [&](OpBuilder &b, Location, Value qb, ValueRange args) {
          SmallVector<Value> tiles = queryBlock(b, batch, kT, qb, end);
          Value bq = blockSize(b, loc, blocks.queries, qb, end);
          Value at = arith::SubIOp::create(b, loc, qb, start);
          SmallVector<Value> updated;
          for (auto [tile, dest] : llvm::zip(tiles, args)) {
            int64_t tileRank = tensorType(tile).getRank();
            SmallVector<OpFoldResult> off = {at}, sz = {bq};
            if (tileRank == 2) {
              off.push_back(b.getIndexAttr(0));
              sz.push_back(dv);
            }
            SmallVector<OpFoldResult> strides(tileRank, b.getIndexAttr(1));
            updated.push_back(tensor::InsertSliceOp::create(b, loc, tile, dest,
                                                            off, sz, strides));
          }
          scf::YieldOp::create(b, loc, updated);
        });
    markForPeeling(loop);
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    for (auto [i, value] : llvm::enumerate(loop.getResults())) {
      Value dest = forall.getRegionIterArgs()[i];
      int64_t destRank = tensorType(dest).getRank();
      SmallVector<OpFoldResult> offsets(batch.begin(), batch.end()),
          sizes(numBatch, b.getIndexAttr(1)),
          strides(destRank, b.getIndexAttr(1));
      offsets.push_back(start);
      sizes.push_back(rows);
      if (destRank - numBatch == 2) {
        offsets.push_back(b.getIndexAttr(0));
        sizes.push_back(dv);
      }
      tensor::ParallelInsertSliceOp::create(b, loc, value, dest, offsets, sizes,
                                            strides);
    }
  }
  return {forall.getResult(0), withLse ? forall.getResult(1) : Value()};
}

/// The sizes and offsets of the region of `mask` (broadcastable to
/// [..., Sq, Sk]) that covers queries [qb, qb + bq) and keys [kb, kb + bk) of
/// batch position `batch`, as a tile without the mask's unit dimensions,
/// and the map from the block's (query, key) space to it. The fused
/// backward accumulates the mask's gradient into such tiles.
struct MaskRegion {
  SmallVector<OpFoldResult> offsets, sizes;
  RankedTensorType tileType;
  AffineMap map;
  SmallVector<utils::IteratorType> iterators;
};

MaskRegion maskRegion(OpBuilder &b, RankedTensorType type, int64_t rank,
                      ValueRange batch, Value qb, Value bq, Value kb,
                      Value bk) {
  MaskRegion r;
  int64_t maskRank = type.getRank(), lead = rank - maskRank;
  SmallVector<int64_t> shape;
  SmallVector<AffineExpr> exprs;
  bool keepsQueries = false, keepsKeys = false;
  for (int64_t t = 0; t < maskRank; ++t) {
    int64_t d = t + lead;
    bool unit = type.getDimSize(t) == 1;
    if (d < rank - 2 || unit) {
      r.offsets.push_back(d < rank - 2 && !unit
                              ? OpFoldResult(batch[d])
                              : OpFoldResult(b.getIndexAttr(0)));
      r.sizes.push_back(b.getIndexAttr(1));
      continue;
    }
    bool isQuery = d == rank - 2;
    r.offsets.push_back(isQuery ? qb : kb);
    r.sizes.push_back(isQuery ? bq : bk);
    shape.push_back(ShapedType::kDynamic);
    exprs.push_back(b.getAffineDimExpr(isQuery ? 0 : 1));
    (isQuery ? keepsQueries : keepsKeys) = true;
  }
  r.tileType = RankedTensorType::get(shape, type.getElementType());
  r.map = AffineMap::get(2, 0, exprs, b.getContext());
  r.iterators = {keepsQueries ? utils::IteratorType::parallel
                              : utils::IteratorType::reduction,
                 keepsKeys ? utils::IteratorType::parallel
                           : utils::IteratorType::reduction};
  return r;
}

/// Adds `update` [rows, cols] (scaled by `factor` when given) to the rows
/// [rowOffset, rowOffset + rows) of `dest` [..., R, C] at batch position
/// `batch` (a static size-1 batch dimension of `dest` is at 0, so gradients
/// of broadcast operands sum over the batch).
Value accumulateRows(OpBuilder &b, Location loc, Value dest, ValueRange batch,
                     Value rowOffset, Value rows, Value update, Value factor) {
  Value old = matrixSlice(b, loc, dest, batch, rowOffset, rows);
  AffineMap id2 = b.getMultiDimIdentityMap(2);
  Value sum =
      updateInPlace(b, loc, old, {update}, {id2},
                    [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                      Value x = args[0];
                      if (factor)
                        x = arith::MulFOp::create(nb, l, x, factor);
                      return arith::AddFOp::create(nb, l, args[1], x);
                    });
  RowRegion r = rowRegion(b, loc, dest, batch, rowOffset, rows);
  return tensor::InsertSliceOp::create(b, loc, sum, dest, r.offsets, r.sizes,
                                       r.strides);
}

/// The row [start, start + size) of `t` [..., S] at batch position `batch`.
Value rowSlice(OpBuilder &b, Location loc, Value t, ValueRange batch,
               Value start, Value size) {
  auto type = tensorType(t);
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(batch.begin(), batch.end()),
      sizes(rank - 1, b.getIndexAttr(1)), strides(rank, b.getIndexAttr(1));
  offsets.push_back(start);
  sizes.push_back(size);
  auto resultType =
      RankedTensorType::get({ShapedType::kDynamic}, type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, t, offsets, sizes,
                                        strides);
}

/// Gradients of the fused backward.
struct FlashGradients {
  Value query, key, value, mask;
};

/// Builds the fused backward of attention on f32 operands (FlashAttention-2
/// order): for each batch element and block of keys, a loop over the blocks
/// of queries that can see it recomputes P = exp(S - lse) on the tile,
/// accumulates dV += Pᵀ·dO and dK += dSᵀ·Q for the key block, adds dS·K to
/// the query block's rows of dQ and, with `withMaskGrad`, dS to the
/// additive mask's gradient, where dS = P ⊙ (dO·Vᵀ - rowsum(dO ⊙ O)).
FlashGradients buildFlashAttentionGrad(OpBuilder &b, Operation *op, Value q,
                                       Value k, Value v, Value o, Value lse,
                                       Value dO, Value mask,
                                       FloatAttr scaleAttr, bool causal,
                                       bool withMaskGrad, BlockSizes blocks) {
  Location loc = op->getLoc();
  int64_t rank = tensorType(q).getRank(), numBatch = rank - 2;
  checkAttentionSizes(b, op, q, k, v, mask);
  Value scale = defaultScaleOr(b, loc, q, scaleAttr);
  Value zero = f32Const(b, loc, 0.0);
  Value negInf = f32Const(b, loc, -std::numeric_limits<double>::infinity());
  Value c0 = indexConst(b, loc, 0), c1 = indexConst(b, loc, 1);
  Value blockQ = indexConst(b, loc, blocks.queries);
  Value blockK = indexConst(b, loc, blocks.keys);
  AffineMap id2 = b.getMultiDimIdentityMap(2);
  AffineMap row2 = droppedDimMap(b, 2, 1);
  SmallVector<OpFoldResult> qSizes = sizesOf(b, loc, q);
  Value sq = asIndex(b, loc, qSizes[rank - 2]);
  Value sk = asIndex(b, loc, sizeOf(b, loc, k, rank - 2));

  // D = rowsum(dO ⊙ O), [..., Sq].
  Value rowDot = reduceF32(
      b, loc,
      mapElements(b, loc, {dO, o}, f32(b),
                  [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                    return arith::MulFOp::create(nb, l, args[0], args[1]);
                  }),
      {rank - 1}, 0.0, addF);

  SmallVector<Value> init = {
      filledTensor(b, loc, qSizes, f32(b), zero),
      filledTensor(b, loc, sizesOf(b, loc, k), f32(b), zero),
      filledTensor(b, loc, sizesOf(b, loc, v), f32(b), zero)};
  if (withMaskGrad)
    init.push_back(filledTensor(b, loc, sizesOf(b, loc, mask), f32(b), zero));

  // One block of keys of one batch element. The gradients are accumulated
  // at `gradBatch` (the batch position, or none for one element's own
  // [S, D] gradients).
  auto keyBlock = [&](OpBuilder &b, ValueRange batch, ValueRange gradBatch,
                      Value kb, ValueRange grads) -> SmallVector<Value> {
    Value bk = blockSize(b, loc, blocks.keys, kb, sk);
    Value kTile = matrixSlice(b, loc, k, batch, kb, bk);
    Value vTile = matrixSlice(b, loc, v, batch, kb, bk);
    OpFoldResult depth = sizeOf(b, loc, kTile, 1),
                 depthV = sizeOf(b, loc, vTile, 1);
    Value dK0 = filledTensor(b, loc, {bk, depth}, f32(b), zero);
    Value dV0 = filledTensor(b, loc, {bk, depthV}, f32(b), zero);
    // Causal: queries before the block's first key see none of it.
    Value qStart = c0;
    if (causal)
      qStart = arith::MulIOp::create(
          b, loc, arith::DivUIOp::create(b, loc, kb, blockQ), blockQ);
    SmallVector<Value> carried = {dK0, dV0, grads[0]};
    if (withMaskGrad)
      carried.push_back(grads[3]);
    auto queryLoop = scf::ForOp::create(
        b, loc, qStart, sq, blockQ, carried,
        [&](OpBuilder &b, Location loc, Value qb, ValueRange state) {
          Value dK = state[0], dV = state[1], dQ = state[2];
          Value bq = blockSize(b, loc, blocks.queries, qb, sq);
          Value qTile = matrixSlice(b, loc, q, batch, qb, bq);
          Value dOTile = matrixSlice(b, loc, dO, batch, qb, bq);
          Value lseRow = rowSlice(b, loc, lse, batch, qb, bq);
          Value dRow = rowSlice(b, loc, rowDot, batch, qb, bq);
          SmallVector<OpFoldResult> tile = {bq, bk};
          Value scores =
              maskedScores(b, loc, productWithTransposed(b, loc, qTile, kTile),
                           mask, rank, batch, qb, bq, kb, bk, scale, causal);
          // P = exp(S - lse), 0 where the score is masked.
          Value p = buildGeneric(
              b, loc, tile, f32(b), {scores, lseRow}, {id2, row2},
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                Value masked = arith::CmpFOp::create(
                    nb, l, arith::CmpFPredicate::OEQ, args[0], negInf);
                Value e = math::ExpOp::create(
                    nb, l, arith::SubFOp::create(nb, l, args[0], args[1]));
                return arith::SelectOp::create(nb, l, masked, zero, e);
              });
          // dV += Pᵀ·dO (linalg.matmul accumulates into its init).
          Value pT = linalg::TransposeOp::create(
                         b, loc, p, emptyTensor(b, loc, {bk, bq}, f32(b)),
                         ArrayRef<int64_t>{1, 0})
                         .getResult()[0];
          Value dVNew =
              linalg::MatmulOp::create(b, loc, ValueRange{pT, dOTile}, dV)
                  .getResult(0);
          // dS = P ⊙ (dO·Vᵀ - D).
          Value dP = productWithTransposed(b, loc, dOTile, vTile);
          Value dS = buildGeneric(
              b, loc, tile, f32(b), {p, dP, dRow}, {id2, id2, row2},
              [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                return arith::MulFOp::create(
                    nb, l, args[0],
                    arith::SubFOp::create(nb, l, args[1], args[2]));
              });
          // dK += dSᵀ·Q (scaled once, when written); dQ rows += scale·dS·K.
          Value dST = linalg::TransposeOp::create(
                          b, loc, dS, emptyTensor(b, loc, {bk, bq}, f32(b)),
                          ArrayRef<int64_t>{1, 0})
                          .getResult()[0];
          Value dKNew =
              linalg::MatmulOp::create(b, loc, ValueRange{dST, qTile}, dK)
                  .getResult(0);
          Value dSK = linalg::MatmulOp::create(
                          b, loc, ValueRange{dS, kTile},
                          filledTensor(b, loc, {bq, depth}, f32(b), zero))
                          .getResult(0);
          Value dQNew =
              accumulateRows(b, loc, dQ, gradBatch, qb, bq, dSK, scale);
          SmallVector<Value> next = {dKNew, dVNew, dQNew};
          if (withMaskGrad) {
            // The additive mask's gradient: dS summed over its broadcast
            // dimensions, accumulated into its region.
            Value maskGrad = state[3];
            MaskRegion region = maskRegion(b, tensorType(maskGrad), rank, batch,
                                           qb, bq, kb, bk);
            SmallVector<OpFoldResult> strides(tensorType(maskGrad).getRank(),
                                              b.getIndexAttr(1));
            Value old = tensor::ExtractSliceOp::create(b, loc, region.tileType,
                                                       maskGrad, region.offsets,
                                                       region.sizes, strides);
            Value sum =
                linalg::GenericOp::create(
                    b, loc, old.getType(), ValueRange{dS}, ValueRange{old},
                    ArrayRef<AffineMap>{id2, region.map}, region.iterators,
                    [&](OpBuilder &nb, Location l, ValueRange args) {
                      linalg::YieldOp::create(nb, l,
                                              ValueRange{arith::AddFOp::create(
                                                  nb, l, args[0], args[1])});
                    })
                    .getResult(0);
            next.push_back(tensor::InsertSliceOp::create(
                b, loc, sum, maskGrad, region.offsets, region.sizes, strides));
          }
          scf::YieldOp::create(b, loc, next);
        });
    markForPeeling(queryLoop);
    SmallVector<Value> updated = {queryLoop.getResult(2)};
    updated.push_back(accumulateRows(b, loc, grads[1], gradBatch, kb, bk,
                                     queryLoop.getResult(0), scale));
    updated.push_back(accumulateRows(b, loc, grads[2], gradBatch, kb, bk,
                                     queryLoop.getResult(1), Value()));
    if (withMaskGrad)
      updated.push_back(queryLoop.getResult(3));
    return updated;
  };

  SmallVector<Value> batch;
  std::function<SmallVector<Value>(OpBuilder &, int64_t, ValueRange)> nest =
      [&](OpBuilder &b, int64_t d, ValueRange iter) -> SmallVector<Value> {
    Value upper = d < numBatch ? asIndex(b, loc, qSizes[d]) : sk;
    Value step = d < numBatch ? c1 : blockK;
    auto loop = scf::ForOp::create(
        b, loc, c0, upper, step, iter,
        [&](OpBuilder &b, Location, Value iv, ValueRange args) {
          SmallVector<Value> next;
          if (d < numBatch) {
            batch.push_back(iv);
            next = nest(b, d + 1, args);
            batch.pop_back();
          } else {
            next = keyBlock(b, batch, batch, iv, args);
          }
          scf::YieldOp::create(b, loc, next);
        });
    if (d == numBatch)
      markForPeeling(loop);
    return SmallVector<Value>(loop.getResults());
  };
  // Batch elements run in parallel (scf.forall) unless their gradients
  // overlap: a mask gradient, or keys/values broadcast over a batch
  // dimension, sum over batch elements.
  bool broadcastKV = false;
  for (int64_t d = 0; d < numBatch; ++d)
    for (Value t : {k, v})
      broadcastKV |=
          tensorType(t).getDimSize(d) == 1 && tensorType(q).getDimSize(d) != 1;
  if (numBatch == 0 || withMaskGrad || broadcastKV) {
    SmallVector<Value> results = nest(b, 0, init);
    return {results[0], results[1], results[2],
            withMaskGrad ? results[3] : Value()};
  }
  SmallVector<OpFoldResult> batchSizes(qSizes.begin(),
                                       qSizes.begin() + numBatch);
  auto forall = scf::ForallOp::create(b, loc, batchSizes, init,
                                      /*mapping=*/std::nullopt);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    SmallVector<Value> batch(forall.getInductionVars());
    // This element's gradients, [Sq, D], [Sk, D], [Sk, Dv].
    SmallVector<Value> local;
    for (Value t : {q, k, v}) {
      Value slice = matrixSlice(b, loc, t, batch, c0,
                                asIndex(b, loc, sizeOf(b, loc, t, rank - 2)));
      local.push_back(
          filledTensor(b, loc, sizesOf(b, loc, slice), f32(b), zero));
    }
    auto loop = scf::ForOp::create(
        b, loc, c0, sk, blockK, local,
        [&](OpBuilder &b, Location, Value kb, ValueRange args) {
          scf::YieldOp::create(b, loc, keyBlock(b, batch, {}, kb, args));
        });
    markForPeeling(loop);
    SmallVector<SmallVector<OpFoldResult>> elementSizes;
    for (Value value : loop.getResults())
      elementSizes.push_back(sizesOf(b, loc, value));
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    for (auto [i, value] : llvm::enumerate(loop.getResults())) {
      SmallVector<OpFoldResult> offsets(batch.begin(), batch.end()),
          sizes(numBatch, b.getIndexAttr(1)), strides(rank, b.getIndexAttr(1));
      offsets.append({b.getIndexAttr(0), b.getIndexAttr(0)});
      sizes.append(elementSizes[i]);
      tensor::ParallelInsertSliceOp::create(b, loc, value,
                                            forall.getRegionIterArgs()[i],
                                            offsets, sizes, strides);
    }
  }
  return {forall.getResult(0), forall.getResult(1), forall.getResult(2),
          Value()};
}

/// The mask as the fused lowerings read it: an additive one in f32, a
/// boolean one as i8 (one byte per element, as memrefs of i1 are stored):
/// vectorized tiles of i1 would be loaded as packed bits, which the i1
/// buffer is not.
Value maskForTiles(OpBuilder &b, Location loc, Value mask) {
  if (!mask)
    return mask;
  if (!tensorType(mask).getElementType().isInteger(1))
    return toF32(b, loc, mask);
  return mapElements(b, loc, mask, b.getI8Type(),
                     [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                       return arith::ExtUIOp::create(nb, l, nb.getI8Type(),
                                                     args[0]);
                     });
}

/// The flash forward of mha.attention and mha.attention_with_lse (which also
/// returns the log-sum-exp).
template <typename OpTy>
struct FlashAttentionLowering final : OpConversionPattern<OpTy> {
  static constexpr bool withLse = std::is_same_v<OpTy, AttentionWithLSEOp>;
  using OpAdaptor = typename OpConversionPattern<OpTy>::OpAdaptor;
  FlashAttentionLowering(MLIRContext *context,
                         const FlashAttentionOptions &options)
      : OpConversionPattern<OpTy>(context, /*benefit=*/2), options(options) {}
  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // An empty sequence: the decomposition (zeros, lse -inf).
    if (hasStaticEmptyDim({op.getQuery(), op.getKey(), op.getValue()}))
      return rewriter.notifyMatchFailure(op, "empty dimension");
    Location loc = op.getLoc();
    auto [out, lse] = buildFlashAttention(
        rewriter, op, toF32(rewriter, loc, adaptor.getQuery()),
        toF32(rewriter, loc, adaptor.getKey()),
        toF32(rewriter, loc, adaptor.getValue()),
        maskForTiles(rewriter, loc, adaptor.getMask()), op.getScaleAttr(),
        op.getCausal(), withLse,
        blockSizesFor(options, op.getQuery().getType().getShape().back()));
    SmallVector<Value> results = {castElements(
        rewriter, loc, out, tensorType(op->getResult(0)).getElementType())};
    if (withLse)
      results.push_back(lse);
    replaceOpCasting(rewriter, op, results);
    return success();
  }
  FlashAttentionOptions options;
};

struct FlashAttentionGradLowering final : OpConversionPattern<AttentionGradOp> {
  FlashAttentionGradLowering(MLIRContext *context,
                             const FlashAttentionOptions &options)
      : OpConversionPattern(context, /*benefit=*/2), options(options) {}
  LogicalResult
  matchAndRewrite(AttentionGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (hasStaticEmptyDim({op.getQuery(), op.getKey(), op.getValue()}))
      return rewriter.notifyMatchFailure(op, "empty dimension");
    Location loc = op.getLoc();
    FlashGradients grads = buildFlashAttentionGrad(
        rewriter, op, toF32(rewriter, loc, adaptor.getQuery()),
        toF32(rewriter, loc, adaptor.getKey()),
        toF32(rewriter, loc, adaptor.getValue()),
        toF32(rewriter, loc, adaptor.getResult()), adaptor.getLse(),
        toF32(rewriter, loc, adaptor.getResultGrad()),
        maskForTiles(rewriter, loc, adaptor.getMask()), op.getScaleAttr(),
        op.getCausal(), /*withMaskGrad=*/bool(op.getMaskGrad()),
        blockSizesFor(options, op.getQuery().getType().getShape().back()));
    auto back = [&](Value grad, Value like) {
      return castElements(rewriter, loc, grad,
                          tensorType(like).getElementType());
    };
    SmallVector<Value> results = {back(grads.query, adaptor.getQuery()),
                                  back(grads.key, adaptor.getKey()),
                                  back(grads.value, adaptor.getValue())};
    if (op.getMaskGrad())
      results.push_back(back(grads.mask, adaptor.getMask()));
    replaceOpCasting(rewriter, op, results);
    return success();
  }
  FlashAttentionOptions options;
};
/// A tile of mha.online_attention (every batch dimension of size 1): Q·Kᵀ
/// (a linalg.matmul; K transposed first unless `key_transposed`), the
/// scaled, masked scores and the online-softmax update, on the 2-D matrices
/// of the tile.
struct OnlineAttentionLowering final
    : OpConversionPattern<OnlineAttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OnlineAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t nb = op.getNumBatchDims();
    SmallVector<Value> operands = {adaptor.getQuery(), adaptor.getKey(),
                                   adaptor.getValue(), adaptor.getAcc(),
                                   adaptor.getMax(), adaptor.getSum()};
    if (adaptor.getMask())
      operands.push_back(adaptor.getMask());
    for (Value operand : operands) {
      auto type = tensorType(operand);
      int64_t lead = operand == adaptor.getMask()
                         ? std::max<int64_t>(0, type.getRank() - 2)
                         : nb;
      for (int64_t d = 0; d < std::min<int64_t>(lead, type.getRank()); ++d)
        if (type.getDimSize(d) != 1) {
          InFlightDiagnostic diag = op.emitOpError(
              "is lowered one batch position at a time: tile its batch "
              "dimensions by 1 first (dimension ");
          diag << d << " of an operand is ";
          if (type.isDynamicDim(d))
            diag << "dynamic)";
          else
            diag << type.getDimSize(d) << ")";
          return failure();
        }
    }
    // Sizes the verifier could not compare (dynamic) are checked at run
    // time; in the flash loops they fold away (the tiles are slices of the
    // same sizes, checked once before the loops).
    checkOnlineAttentionSizes(rewriter, op);
    // The unit batch dimensions folded into the first of the `keep` last
    // ones (matrices and row vectors), and back.
    auto groupsOf = [](int64_t rank, int64_t keep) {
      SmallVector<ReassociationIndices> groups(1);
      for (int64_t d = 0; d <= rank - keep; ++d)
        groups.front().push_back(d);
      for (int64_t d = rank - keep + 1; d < rank; ++d)
        groups.push_back({d});
      return groups;
    };
    auto collapse = [&](Value v, int64_t keep) -> Value {
      int64_t rank = tensorType(v).getRank();
      if (rank <= keep)
        return v;
      return tensor::CollapseShapeOp::create(rewriter, loc, v,
                                             groupsOf(rank, keep));
    };
    Value q = collapse(toF32(rewriter, loc, adaptor.getQuery()), 2);
    Value k = collapse(toF32(rewriter, loc, adaptor.getKey()), 2);
    Value v = collapse(toF32(rewriter, loc, adaptor.getValue()), 2);
    Value acc = collapse(adaptor.getAcc(), 2);
    Value m = collapse(adaptor.getMax(), 1), l = collapse(adaptor.getSum(), 1);
    Value mask = adaptor.getMask()
                     ? collapse(adaptor.getMask(),
                                std::min<int64_t>(
                                    2, tensorType(adaptor.getMask()).getRank()))
                     : Value();
    Value s = op.getKeyTransposed()
                  ? linalg::MatmulOp::create(
                        rewriter, loc, ValueRange{q, k},
                        filledTensor(rewriter, loc,
                                     {sizeOf(rewriter, loc, q, 0),
                                      sizeOf(rewriter, loc, k, 1)},
                                     f32(rewriter),
                                     f32Const(rewriter, loc, 0.0)))
                        .getResult(0)
                  : productWithTransposed(rewriter, loc, q, k);
    Value scores = scoresOfTile(
        rewriter, loc, s, mask,
        mask ? maskTileMap(rewriter, tensorType(mask)) : AffineMap(),
        adaptor.getQueryOffset(), adaptor.getKeyOffset(), adaptor.getScale(),
        op.getCausal());
    SmallVector<Value> updated =
        onlineSoftmaxUpdate(rewriter, loc, scores, v, m, l, acc);
    // Back to the op's shapes.
    SmallVector<Value> results;
    SmallVector<Value> state = {adaptor.getAcc(), adaptor.getMax(),
                                adaptor.getSum()};
    for (auto [value, like] : llvm::zip(updated, state)) {
      auto type = tensorType(like);
      if (tensorType(value).getRank() == type.getRank()) {
        results.push_back(value);
        continue;
      }
      results.push_back(tensor::ExpandShapeOp::create(
          rewriter, loc, type, value,
          groupsOf(type.getRank(), tensorType(value).getRank()),
          tensor::getMixedSizes(rewriter, loc, like)));
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};
} // namespace

void mha::populateMHAOnlineAttentionToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<OnlineAttentionLowering>(patterns.getContext());
}

void mha::populateMHAFlashAttentionToLinalgPatterns(
    RewritePatternSet &patterns, const FlashAttentionOptions &options) {
  patterns.add<FlashAttentionLowering<AttentionOp>,
               FlashAttentionLowering<AttentionWithLSEOp>,
               FlashAttentionGradLowering>(patterns.getContext(), options);
}
