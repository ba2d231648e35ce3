//===- AttentionGradToLoops.cpp - Attention's backward as per-row loops ---===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-attention-grad-to-loops: mha.attention_grad as
// two parallel loops whose iterations each own one row of the gradients,
// so that no Sq × Sk matrix exists and no two iterations write the same
// element (no atomics): the form the GPU pipeline maps to threads, one row
// per thread.
//
//  * Over query rows i: D_i = dO_i·O_i, then over the keys j the row sees,
//    s = mask(scale·q_i·k_j), P = exp(s − lse_i) (0 where s is −inf),
//    dP = dO_i·v_j, dS = P·(dP − D_i), dQ_i += dS·k_j; finally
//    dQ_i ·= scale. D_i is kept for the second loop.
//  * Over key rows j: over the queries i that see key j, P recomputed,
//    dV_j += P·dO_i.
//  * Over key rows j again: the same P and dS recomputed, dK_j += dS·q_i;
//    dK_j ·= scale.
//
// The scores are computed three times (FlashAttention's backward computes
// them once and accumulates dK, dV across query blocks instead; a thread
// per row cannot). dK and dV have loops of their own so that a thread
// holds fewer rows: with both, a key-row thread held its key, value, dK
// and dV rows and each query's q and dO rows, six rows of D floats, and
// spilled (by ptxas at D = 64, 3284 bytes of spill stores; measured in
// docs/GPU.md). The rows are vectors (a thread's registers): the depths
// must be static. Ops asking for an additive mask's gradient (an Sq × Sk
// result) or with dynamic depths are left to the decomposition.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "RowLoops.h"
#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAATTENTIONGRADTOLOOPSPASS
#include "mha/Conversion/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;
using namespace mlir::mha::detail;

namespace {
/// Builds the two loops of one attention_grad.
class GradLoops {
public:
  GradLoops(RewriterBase &rewriter, AttentionGradOp op)
      : rewriter(rewriter), op(op), loc(op.getLoc()) {}

  /// Whether the op has the per-row form: static depths, no mask gradient.
  static bool applies(AttentionGradOp op) {
    if (op.getMaskGrad() && !op.getMaskGrad().use_empty())
      return false;
    auto q = cast<RankedTensorType>(op.getQuery().getType());
    auto v = cast<RankedTensorType>(op.getValue().getType());
    // Each row's batch position indexes every operand: the batch sizes of
    // key and value must be the query's (a static 1 against a dynamic size
    // would be read as a broadcast).
    for (Value operand : {op.getKey(), op.getValue()}) {
      auto type = cast<RankedTensorType>(operand.getType());
      for (int64_t d = 0; d + 2 < q.getRank(); ++d)
        if (type.getDimSize(d) != q.getDimSize(d))
          return false;
    }
    return !q.isDynamicDim(q.getRank() - 1) &&
           !v.isDynamicDim(v.getRank() - 1) &&
           !hasStaticEmptyDim(op->getOperands());
  }

  void rewrite() {
    rewriter.setInsertionPoint(op);
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    rank = qType.getRank();
    nb = rank - 2;
    depth = qType.getDimSize(rank - 1);
    columns = cast<RankedTensorType>(op.getValue().getType())
                  .getDimSize(rank - 1);
    // The sizes, checked on the host before any loop (the loops may run in
    // GPU threads).
    checkAttentionGradSizes(rewriter, op);
    scale = defaultScaleOr(rewriter, loc, op.getQuery(), op.getScaleAttr());
    c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
    queries = tensor::DimOp::create(rewriter, loc, op.getQuery(), rank - 2);
    keys = tensor::DimOp::create(rewriter, loc, op.getKey(), rank - 2);

    auto [dq, rowDots] = queryRows();
    Value dv = valueRows();
    Value dk = keyRows(rowDots);
    SmallVector<Value> results = {dq, dk, dv};
    if (Value maskGrad = op.getMaskGrad()) {
      // Unused (applies() checked): a placeholder of its type.
      auto type = cast<RankedTensorType>(maskGrad.getType());
      results.push_back(tensor::EmptyOp::create(
          rewriter, loc, type.getShape(), type.getElementType(),
          dynamicSizes(op.getMask())));
    }
    rewriter.replaceOp(op, results);
  }

private:
  /// The dynamic sizes of `tensor` (for tensor.empty of its type).
  SmallVector<Value> dynamicSizes(Value tensor) {
    SmallVector<Value> sizes;
    auto type = cast<RankedTensorType>(tensor.getType());
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        sizes.push_back(tensor::DimOp::create(rewriter, loc, tensor, d));
    return sizes;
  }

  /// Index list [batch..., trailing...].
  SmallVector<Value> at(ValueRange batch, ArrayRef<Value> trailing) {
    SmallVector<Value> indices(batch.begin(), batch.end());
    indices.append(trailing.begin(), trailing.end());
    return indices;
  }

  /// Row `row` of `source` [batch..., rows, n] as an f32 vector of n.
  Value readRow(OpBuilder &b, Location l, Value source, ValueRange batch,
                Value row, int64_t n) {
    return readRowF32(b, l, source, at(batch, {row, c0}), n);
  }

  /// P of (query i, key j): exp(s − lse), 0 where the masked score s is
  /// −inf.
  Value probability(OpBuilder &b, Location l, ValueRange batch, Value i,
                    Value j, Value qRow, Value kRow, Value lse) {
    Value s = arith::MulFOp::create(b, l, rowDot(b, l, qRow, kRow), scale);
    Value maskElement;
    if (Value mask = op.getMask())
      maskElement = tensor::ExtractOp::create(
          b, l, mask, maskIndices(mask, rank, batch, i, j, c0));
    // (Causal exclusion is the loops' bounds.)
    s = maskScore(b, l, s, maskElement, Value(), Value(), /*causal=*/false);
    return guardedExp(b, l, s, lse, s);
  }

  /// P and dS of (query i, key j): P as probability() gives it,
  /// dS = P·(dO_i·v_j − D_i).
  std::pair<Value, Value> probAndGrad(OpBuilder &b, Location l,
                                      ValueRange batch, Value i, Value j,
                                      Value qRow, Value kRow, Value dORow,
                                      Value vRow, Value lse, Value dRow) {
    Value p = probability(b, l, batch, i, j, qRow, kRow, lse);
    Value dp = rowDot(b, l, dORow, vRow);
    Value ds = arith::MulFOp::create(b, l, p,
                                     arith::SubFOp::create(b, l, dp, dRow));
    return {p, ds};
  }

  /// Writes the f32 vector `row`, times `factor` when given, as row `index`
  /// of the shared output `out` (a slice of it, inserted in parallel).
  void writeRow(OpBuilder &b, Location l, scf::ForallOp loop, Value out,
                ValueRange batch, Value index, Value row, Value factor,
                int64_t n) {
    auto type = cast<RankedTensorType>(out.getType());
    if (factor)
      row = arith::MulFOp::create(
          b, l, row,
          vector::BroadcastOp::create(b, l, cast<VectorType>(row.getType()),
                                      factor));
    if (!type.getElementType().isF32())
      row = arith::TruncFOp::create(
          b, l, VectorType::get({n}, type.getElementType()), row);
    SmallVector<OpFoldResult> offsets(getAsOpFoldResult(batch));
    offsets.push_back(index);
    offsets.push_back(b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes(rank, b.getIndexAttr(1));
    sizes.back() = b.getIndexAttr(n);
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    Value slice =
        tensor::ExtractSliceOp::create(b, l, out, offsets, sizes, strides);
    SmallVector<Value> zeros(rank, c0);
    Value written = vector::TransferWriteOp::create(b, l, row, slice, zeros,
                                                    ArrayRef<bool>{true})
                        .getResult();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(loop.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(b, l, written, out, offsets, sizes,
                                          strides);
  }

  /// A parallel loop over [batch..., rows) with `outputs` shared; returns
  /// it with the insertion point at the start of its body.
  scf::ForallOp rowLoop(Value source, Value rows, ValueRange outputs) {
    SmallVector<OpFoldResult> bounds;
    for (int64_t d = 0; d < nb; ++d)
      bounds.push_back(tensor::getMixedSize(rewriter, loc, source, d));
    bounds.push_back(rows);
    auto loop = scf::ForallOp::create(rewriter, loc, bounds, outputs,
                                      std::nullopt);
    rewriter.setInsertionPointToStart(loop.getBody());
    return loop;
  }

  /// dQ and D = rowsum(dO ⊙ O), one query row per iteration.
  std::pair<Value, Value> queryRows() {
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    Value dO = op.getResultGrad();
    Value dqInit = emptyLike(q);
    SmallVector<OpFoldResult> rowSizes =
        tensor::getMixedSizes(rewriter, loc, op.getLse());
    Value dInit = tensor::EmptyOp::create(rewriter, loc, rowSizes, f32(rewriter));
    OpBuilder::InsertionGuard guard(rewriter);
    scf::ForallOp loop = rowLoop(q, queries, {dqInit, dInit});
    SmallVector<Value> ivs = loop.getInductionVars();
    ValueRange batch = ValueRange(ivs).drop_back();
    Value i = ivs.back();
    Value dqOut = loop.getRegionIterArgs()[0];
    Value dOut = loop.getRegionIterArgs()[1];
    OpBuilder &b = rewriter;
    Value qRow = readRow(b, loc, q, batch, i, depth);
    Value dORow = readRow(b, loc, dO, batch, i, columns);
    Value oRow = readRow(b, loc, op.getResult(), batch, i, columns);
    Value dRow = rowDot(b, loc, dORow, oRow);
    Value lse = tensor::ExtractOp::create(b, loc, op.getLse(), at(batch, {i}));
    // Causal: the keys j <= i.
    Value end = keys;
    if (op.getCausal())
      end = arith::MinSIOp::create(b, loc, keys,
                                   arith::AddIOp::create(b, loc, i, c1));
    auto keyLoop = scf::ForOp::create(
        b, loc, c0, end, c1, ValueRange{zeros(b, depth)},
        [&](OpBuilder &nb, Location l, Value j, ValueRange acc) {
          Value kRow = readRow(nb, l, k, batch, j, depth);
          Value vRow = readRow(nb, l, v, batch, j, columns);
          auto [p, ds] = probAndGrad(nb, l, batch, i, j, qRow, kRow, dORow,
                                     vRow, lse, dRow);
          (void)p;
          scf::YieldOp::create(nb, l, rowAxpy(nb, l, ds, kRow, acc[0]));
        });
    writeRow(b, loc, loop, dqOut, batch, i, keyLoop.getResult(0), scale,
             depth);
    // D_i into its row of the [batch..., Sq] buffer.
    SmallVector<OpFoldResult> offsets(getAsOpFoldResult(batch));
    offsets.push_back(i);
    SmallVector<OpFoldResult> ones(nb + 1, b.getIndexAttr(1));
    Value slice = tensor::ExtractSliceOp::create(b, loc, dOut, offsets, ones,
                                                 ones);
    Value written = tensor::InsertOp::create(b, loc, dRow, slice,
                                             SmallVector<Value>(nb + 1, c0));
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToEnd(loop.getTerminator().getBody());
      tensor::ParallelInsertSliceOp::create(b, loc, written, dOut, offsets,
                                            ones, ones);
    }
    return {loop.getResult(0), loop.getResult(1)};
  }

  /// The empty result of `t`'s shape and type.
  Value emptyLike(Value t) {
    return tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, t),
        cast<RankedTensorType>(t.getType()).getElementType());
  }

  /// A loop over the queries that see key `j` (causal: i >= j) carrying
  /// `init`, `body` given the query and the state.
  scf::ForOp queryLoop(OpBuilder &b, Value j, ValueRange init,
                       function_ref<SmallVector<Value>(OpBuilder &, Location,
                                                       Value, ValueRange)>
                           body) {
    Value start = op.getCausal()
                      ? arith::MinSIOp::create(b, loc, j, queries).getResult()
                      : c0;
    return scf::ForOp::create(
        b, loc, start, queries, c1, init,
        [&](OpBuilder &nb, Location l, Value i, ValueRange acc) {
          scf::YieldOp::create(nb, l, body(nb, l, i, acc));
        });
  }

  /// The f32 zero vector of `n`.
  Value zeros(OpBuilder &b, int64_t n) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(VectorType::get({n}, f32(b)), 0.0f));
  }

  /// A parallel loop over key rows j, its result like `like` ([batch...,
  /// keys, n]): `body` gives each row (f32, `n`) from the batch position,
  /// j and the key row; the row is written times `factor` (if any).
  Value
  keyRowLoop(Value like, int64_t n, Value factor,
             function_ref<Value(OpBuilder &, ValueRange, Value, Value)> body) {
    OpBuilder::InsertionGuard guard(rewriter);
    scf::ForallOp loop = rowLoop(op.getKey(), keys, {emptyLike(like)});
    SmallVector<Value> ivs = loop.getInductionVars();
    ValueRange batch = ValueRange(ivs).drop_back();
    Value j = ivs.back();
    Value kRow = readRow(rewriter, loc, op.getKey(), batch, j, depth);
    writeRow(rewriter, loc, loop, loop.getRegionIterArgs()[0], batch, j,
             body(rewriter, batch, j, kRow), factor, n);
    return loop.getResult(0);
  }

  /// dV, one key row per iteration: its key row, dV's row, and each
  /// query's q and dO rows.
  Value valueRows() {
    Value q = op.getQuery(), dO = op.getResultGrad();
    return keyRowLoop(
        op.getValue(), columns, Value(),
        [&](OpBuilder &b, ValueRange batch, Value j, Value kRow) -> Value {
          return queryLoop(b, j, ValueRange{zeros(b, columns)},
                           [&](OpBuilder &nb, Location l, Value i,
                               ValueRange acc) -> SmallVector<Value> {
                             Value qRow = readRow(nb, l, q, batch, i, depth);
                             Value lse = tensor::ExtractOp::create(
                                 nb, l, op.getLse(), at(batch, {i}));
                             Value p = probability(nb, l, batch, i, j, qRow,
                                                   kRow, lse);
                             Value dORow =
                                 readRow(nb, l, dO, batch, i, columns);
                             return {rowAxpy(nb, l, p, dORow, acc[0])};
                           })
              .getResult(0);
        });
  }

  /// dK, one key row per iteration: its key and value rows, dK's row, and
  /// each query's q and dO rows.
  Value keyRows(Value rowDots) {
    Value q = op.getQuery(), v = op.getValue(), dO = op.getResultGrad();
    return keyRowLoop(
        op.getKey(), depth, scale,
        [&](OpBuilder &b, ValueRange batch, Value j, Value kRow) -> Value {
          Value vRow = readRow(b, loc, v, batch, j, columns);
          return queryLoop(
                     b, j, ValueRange{zeros(b, depth)},
                     [&](OpBuilder &nb, Location l, Value i,
                         ValueRange acc) -> SmallVector<Value> {
                       Value qRow = readRow(nb, l, q, batch, i, depth);
                       Value dORow = readRow(nb, l, dO, batch, i, columns);
                       Value lse = tensor::ExtractOp::create(nb, l, op.getLse(),
                                                             at(batch, {i}));
                       Value dRow = tensor::ExtractOp::create(nb, l, rowDots,
                                                              at(batch, {i}));
                       auto [p, ds] = probAndGrad(nb, l, batch, i, j, qRow,
                                                  kRow, dORow, vRow, lse, dRow);
                       (void)p;
                       return {rowAxpy(nb, l, ds, qRow, acc[0])};
                     })
              .getResult(0);
        });
  }

  RewriterBase &rewriter;
  AttentionGradOp op;
  Location loc;
  int64_t rank = 0, nb = 0, depth = 0, columns = 0;
  Value scale, c0, c1, queries, keys;
};

struct MHAAttentionGradToLoopsPass final
    : mha::impl::MHAAttentionGradToLoopsPassBase<MHAAttentionGradToLoopsPass> {
  void runOnOperation() override {
    SmallVector<AttentionGradOp> ops;
    getOperation().walk([&](AttentionGradOp op) {
      if (GradLoops::applies(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (AttentionGradOp op : ops)
      GradLoops(rewriter, op).rewrite();
  }
};
} // namespace
