//===- OnlineAttentionToLoops.cpp - The tiled form as per-row loops -------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-online-attention-to-loops: each tile of
// mha.online_attention (batch dimensions of size 1) becomes scalar loops on
// tensors, one query row after another and, within a row, one key after
// another: s = scale · q·k (masked), m' = max(m, s), α = exp(m − m'),
// p = exp(s − m'), l' = α·l + p, acc' = α·acc + p·v, the running state read
// and written in place (tensor.extract / tensor.insert), no temporary
// tensor. It is the online softmax with one key per step: the same values
// as the blocked update, in a form whose loops a GPU thread runs (the GPU
// pipeline maps the tiled form's parallel loop over query rows to threads;
// a kernel cannot allocate the blocked form's temporaries).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "RowLoops.h"
#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"


namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAONLINEATTENTIONTOLOOPSPASS
#include "mha/Conversion/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;
using namespace mlir::mha::detail;

namespace {
/// An f32 scalar from `value` (f16/bf16 extended).
Value asF32(OpBuilder &b, Location loc, Value value) {
  if (value.getType().isF32())
    return value;
  return arith::ExtFOp::create(b, loc, f32(b), value);
}

LogicalResult lowerToLoops(RewriterBase &rewriter, OnlineAttentionOp op,
                           bool checkSizes) {
  Location loc = op.getLoc();
  int64_t nb = op.getNumBatchDims(), rank = nb + 2;
  for (Value operand : op->getOperands()) {
    auto type = dyn_cast<RankedTensorType>(operand.getType());
    if (!type || operand == op.getMask())
      continue;
    for (int64_t d = 0; d < std::min<int64_t>(nb, type.getRank()); ++d)
      if (type.getDimSize(d) != 1)
        return op.emitOpError("is lowered to loops one batch position at a "
                              "time: tile its batch dimensions by 1 first");
  }
  rewriter.setInsertionPoint(op);
  // Without check-sizes, the tiles inside a parallel loop go unchecked
  // (mha-tile-attention checked their op before tiling); an op outside one
  // is checked all the same, on the host.
  if (checkSizes || !op->getParentOfType<scf::ForallOp>())
    checkOnlineAttentionSizes(rewriter, op);
  bool transposed = op.getKeyTransposed();
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
  // Static depths: a query row and an accumulator row are vectors (held in
  // registers by a GPU thread), each key's row one vector load.
  int64_t staticDepth = cast<RankedTensorType>(q.getType()).getDimSize(rank - 1);
  int64_t staticColumns =
      cast<RankedTensorType>(v.getType()).getDimSize(rank - 1);
  bool vectorDot = !ShapedType::isDynamic(staticDepth) && !transposed;
  bool vectorAcc = !ShapedType::isDynamic(staticColumns);
  Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
  Value zero = f32Const(rewriter, loc, 0.0);
  Value rows = tensor::DimOp::create(rewriter, loc, q, rank - 2);
  Value depth = tensor::DimOp::create(rewriter, loc, q, rank - 1);
  Value keys =
      tensor::DimOp::create(rewriter, loc, k, transposed ? rank - 1 : rank - 2);
  Value columns = tensor::DimOp::create(rewriter, loc, v, rank - 1);
  // Index lists: batch positions at 0, then the given ones.
  auto at = [&](ArrayRef<Value> trailing) {
    SmallVector<Value> indices(nb, c0);
    indices.append(trailing.begin(), trailing.end());
    return indices;
  };
  // A tile's batch positions are all 0.
  SmallVector<Value> batchAtZero(nb, c0);

  auto rowLoop = scf::ForOp::create(
      rewriter, loc, c0, rows, c1,
      ValueRange{op.getAcc(), op.getMax(), op.getSum()},
      [&](OpBuilder &b, Location l, Value i, ValueRange state) {
        Value m0 = tensor::ExtractOp::create(b, l, state[1], at({i}));
        Value l0 = tensor::ExtractOp::create(b, l, state[2], at({i}));
        Value queryRow =
            vectorDot ? readRowF32(b, l, q, at({i, c0}), staticDepth) : Value();
        // The accumulator row: a vector carried through the keys, or the
        // tensor updated in place.
        Value acc0 = vectorAcc
                         ? readRowF32(b, l, state[0], at({i, c0}), staticColumns)
                         : state[0];
        // Causal: keys after the query's position (key_offset + j >
        // query_offset + i) are masked, so the row's loop stops before them.
        Value end = keys;
        if (op.getCausal()) {
          Value last = arith::SubIOp::create(
              b, l, arith::AddIOp::create(b, l, op.getQueryOffset(), i),
              op.getKeyOffset());
          end = arith::MinSIOp::create(
              b, l, keys,
              arith::MaxSIOp::create(
                  b, l, c0, arith::AddIOp::create(b, l, last, c1)));
        }
        auto keyLoop = scf::ForOp::create(
            b, l, c0, end, c1, ValueRange{m0, l0, acc0},
            [&](OpBuilder &b, Location l, Value j, ValueRange run) {
              Value dot;
              if (vectorDot) {
                Value keyRow = readRowF32(b, l, k, at({j, c0}), staticDepth);
                dot = rowDot(b, l, queryRow, keyRow);
              } else {
                dot = scf::ForOp::create(
                          b, l, c0, depth, c1, ValueRange{zero},
                          [&](OpBuilder &b, Location l, Value d,
                              ValueRange sum) {
                            Value x = asF32(b, l,
                                            tensor::ExtractOp::create(
                                                b, l, q, at({i, d})));
                            Value y = asF32(
                                b, l,
                                tensor::ExtractOp::create(
                                    b, l, k,
                                    transposed ? at({d, j}) : at({j, d})));
                            Value next = arith::AddFOp::create(
                                b, l, sum[0], arith::MulFOp::create(b, l, x, y));
                            scf::YieldOp::create(b, l, next);
                          })
                          .getResult(0);
              }
              Value s = arith::MulFOp::create(b, l, dot, op.getScale());
              Value maskElement;
              if (Value mask = op.getMask())
                maskElement = tensor::ExtractOp::create(
                    b, l, mask, maskIndices(mask, rank, batchAtZero, i, j, c0));
              // (The causal exclusion is the loop's bound.)
              s = maskScore(b, l, s, maskElement, Value(), Value(),
                            /*causal=*/false);
              Value m = run[0];
              Value mNew = arith::MaximumFOp::create(b, l, m, s);
              Value alpha = guardedExp(b, l, m, mNew, m);
              Value p = guardedExp(b, l, s, mNew, mNew);
              Value lNew = arith::AddFOp::create(
                  b, l, arith::MulFOp::create(b, l, run[1], alpha), p);
              Value accNew;
              if (vectorAcc) {
                auto type = VectorType::get({staticColumns}, f32(b));
                Value valueRow = readRowF32(b, l, v, at({j, c0}), staticColumns);
                Value scaled = arith::MulFOp::create(
                    b, l, run[2], vector::BroadcastOp::create(b, l, type, alpha));
                accNew = rowAxpy(b, l, p, valueRow, scaled);
              } else {
                accNew =
                    scf::ForOp::create(
                        b, l, c0, columns, c1, ValueRange{run[2]},
                        [&](OpBuilder &b, Location l, Value d,
                            ValueRange acc) {
                          Value old = tensor::ExtractOp::create(b, l, acc[0],
                                                                at({i, d}));
                          Value w = asF32(b, l,
                                          tensor::ExtractOp::create(
                                              b, l, v, at({j, d})));
                          Value next = arith::AddFOp::create(
                              b, l, arith::MulFOp::create(b, l, old, alpha),
                              arith::MulFOp::create(b, l, p, w));
                          scf::YieldOp::create(
                              b, l,
                              tensor::InsertOp::create(b, l, next, acc[0],
                                                       at({i, d}))
                                  .getResult());
                        })
                        .getResult(0);
              }
              scf::YieldOp::create(b, l, ValueRange{mNew, lNew, accNew});
            });
        Value accOut = keyLoop.getResult(2);
        if (vectorAcc)
          accOut = vector::TransferWriteOp::create(b, l, accOut, state[0],
                                                   at({i, c0}),
                                                   ArrayRef<bool>{true})
                       .getResult();
        Value maxOut = tensor::InsertOp::create(b, l, keyLoop.getResult(0),
                                                state[1], at({i}));
        Value sumOut = tensor::InsertOp::create(b, l, keyLoop.getResult(1),
                                                state[2], at({i}));
        scf::YieldOp::create(b, l, ValueRange{accOut, maxOut, sumOut});
      });
  rewriter.replaceOp(op, rowLoop.getResults());
  return success();
}

struct MHAOnlineAttentionToLoopsPass final
    : mha::impl::MHAOnlineAttentionToLoopsPassBase<
          MHAOnlineAttentionToLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<OnlineAttentionOp> ops;
    getOperation().walk([&](OnlineAttentionOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (OnlineAttentionOp op : ops)
      if (failed(lowerToLoops(rewriter, op, checkSizes)))
        return signalPassFailure();
  }
};
} // namespace
