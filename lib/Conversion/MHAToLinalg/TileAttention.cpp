//===- TileAttention.cpp - Attention tiled through its tiled form ---------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-tile-attention: mha.attention and
// mha.attention_with_lse become one mha.online_attention over all keys from
// the initial state (acc = 0, max = -inf, sum = 0), tiled through its
// TilingInterface (scf.forall over batch positions and blocks of queries,
// scf.for over blocks of keys carrying the state), then normalized: O =
// acc / sum (zero rows where sum = 0), lse = max + log(sum). It is the
// target-independent flash lowering any backend can start from (the CPU
// pipeline's own flash lowering builds the same tiles with loops tuned for
// it, Kᵀ transposed once). Causal: key blocks past a query block's last
// visible key are not visited.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <limits>

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHATILEATTENTIONPASS
#include "mha/Conversion/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;
using namespace mlir::mha::detail;

namespace {
/// Tiles `op` by `sizes` into `loopType` loops, replacing it.
FailureOr<scf::SCFTilingResult>
tile(RewriterBase &rewriter, TilingInterface op, ArrayRef<int64_t> sizes,
     scf::SCFTilingOptions::LoopType loopType) {
  scf::SCFTilingOptions options;
  options.setTileSizes(getAsIndexOpFoldResult(op->getContext(), sizes));
  options.setLoopType(loopType);
  rewriter.setInsertionPoint(op);
  FailureOr<scf::SCFTilingResult> tiled =
      scf::tileUsingSCF(rewriter, op, options);
  if (failed(tiled) || tiled->tiledOps.size() != 1)
    return failure();
  rewriter.replaceOp(op, tiled->replacements);
  return tiled;
}

/// Causal: the key blocks of `loop` (over a tile's keys, relative to
/// `keyOffset`) past the last key the query tile (rows from `queryOffset`)
/// sees are not visited: the loop stops at min(keys, max(0, queryOffset +
/// rows − keyOffset)). Those blocks are fully masked, so the state would
/// not change; the last block visited may be cut short at that bound, its
/// keys past it masked anyway.
void skipMaskedKeyBlocks(RewriterBase &rewriter, scf::ForOp loop,
                         Value queryTile, Value queryOffset, Value keyOffset,
                         int64_t rank) {
  Location loc = loop.getLoc();
  rewriter.setInsertionPoint(loop);
  Value rows = tensor::DimOp::create(rewriter, loc, queryTile, rank - 2);
  Value visible = arith::SubIOp::create(
      rewriter, loc, arith::AddIOp::create(rewriter, loc, queryOffset, rows),
      keyOffset);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value end = arith::MinSIOp::create(
      rewriter, loc, loop.getUpperBound(),
      arith::MaxSIOp::create(rewriter, loc, zero, visible));
  rewriter.modifyOpInPlace(loop, [&] { loop.setUpperBound(end); });
}

struct MHATileAttentionPass final
    : mha::impl::MHATileAttentionPassBase<MHATileAttentionPass> {
  using Base::Base;

  LogicalResult tileAttention(RewriterBase &rewriter, Operation *op) {
    Location loc = op->getLoc();
    auto query = cast<TypedValue<RankedTensorType>>(op->getOperand(0));
    Value key = op->getOperand(1), value = op->getOperand(2);
    Value mask = op->getNumOperands() > 3 ? op->getOperand(3) : Value();
    auto scaleAttr = op->getAttrOfType<FloatAttr>("scale");
    bool causal = op->hasAttr("causal");
    int64_t rank = query.getType().getRank(), nb = rank - 2;
    rewriter.setInsertionPoint(op);
    // Tiles are slices of the operands over the query's and key's ranges:
    // sizes that disagree at run time are caught here, before the loops.
    checkAttentionSizes(rewriter, op, query, key, value, mask);

    Value scale = defaultScaleOr(rewriter, loc, query, scaleAttr);
    SmallVector<OpFoldResult> rows = tensor::getMixedSizes(rewriter, loc,
                                                           query);
    rows.pop_back(); // [..., Sq]
    SmallVector<OpFoldResult> accSizes(rows);
    accSizes.push_back(tensor::getMixedSize(rewriter, loc, value, rank - 1));
    Value zero = f32Const(rewriter, loc, 0.0);
    Value negInf =
        f32Const(rewriter, loc, -std::numeric_limits<double>::infinity());
    Value acc = filledTensor(rewriter, loc, accSizes, f32(rewriter), zero);
    Value max = filledTensor(rewriter, loc, rows, f32(rewriter), negInf);
    Value sum = filledTensor(rewriter, loc, rows, f32(rewriter), zero);
    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    auto online = OnlineAttentionOp::create(
        rewriter, loc, TypeRange{acc.getType(), max.getType(), sum.getType()},
        query, key, value, c0, c0, scale, acc, max, sum, mask,
        causal ? rewriter.getUnitAttr() : UnitAttr(), UnitAttr());

    // Batch positions and blocks of queries in parallel, then blocks of
    // keys in sequence within each.
    SmallVector<int64_t> parallel(nb, 1);
    parallel.append({blockQ, 0});
    FailureOr<scf::SCFTilingResult> rowTiles =
        tile(rewriter, cast<TilingInterface>(online.getOperation()), parallel,
             scf::SCFTilingOptions::LoopType::ForallOp);
    if (failed(rowTiles))
      return op->emitOpError("tiling its online form by query blocks failed");
    SmallVector<Value> state = rowTiles->replacements; // acc, max, sum
    SmallVector<int64_t> keys(nb + 1, 0);
    keys.push_back(blockK);
    auto rowTile = cast<OnlineAttentionOp>(rowTiles->tiledOps.front());
    Value queryOffset = rowTile.getQueryOffset();
    Value keyOffset = rowTile.getKeyOffset();
    Value queryTile = rowTile.getQuery();
    if (blockK > 0) {
      FailureOr<scf::SCFTilingResult> keyTiles =
          tile(rewriter, cast<TilingInterface>(rowTile.getOperation()), keys,
               scf::SCFTilingOptions::LoopType::ForOp);
      if (failed(keyTiles))
        return op->emitOpError("tiling its online form by key blocks failed");
      if (causal)
        skipMaskedKeyBlocks(rewriter, cast<scf::ForOp>(keyTiles->loops.front()),
                            queryTile, queryOffset, keyOffset, rank);
    }

    // O = acc / sum (and lse = max + log(sum)), cast to the op's types.
    rewriter.setInsertionPoint(op);
    SmallVector<Value> results = finishOnlineSoftmax(
        rewriter, loc, state[0], state[1], state[2],
        isa<AttentionWithLSEOp>(op));
    results[0] = castElements(
        rewriter, loc, results[0],
        cast<RankedTensorType>(op->getResult(0).getType()).getElementType());
    SmallVector<Value> replacements;
    for (auto [result, value] : llvm::zip(op->getResults(), results))
      replacements.push_back(
          result.getType() == value.getType()
              ? value
              : tensor::CastOp::create(rewriter, loc, result.getType(), value)
                    .getResult());
    rewriter.replaceOp(op, replacements);
    return success();
  }

  void runOnOperation() override {
    if (blockQ <= 0 || blockK < 0) {
      getOperation().emitError("mha-tile-attention: block-q must be "
                               "positive and block-k at least 0 (0: all "
                               "keys in one tile)");
      return signalPassFailure();
    }
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      // An empty sequence is left to the decomposition.
      if (isa<AttentionOp, AttentionWithLSEOp>(op) &&
          !hasStaticEmptyDim(op->getOperands().take_front(3)))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : ops)
      if (failed(tileAttention(rewriter, op)))
        return signalPassFailure();
  }
};
} // namespace
