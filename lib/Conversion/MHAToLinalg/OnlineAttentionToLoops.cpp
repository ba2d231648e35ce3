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
#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"


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

LogicalResult lowerToLoops(RewriterBase &rewriter, OnlineAttentionOp op) {
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
  checkOnlineAttentionSizes(rewriter, op);
  bool transposed = op.getKeyTransposed();
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
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
  // The mask element of (query i, key j): broadcast dimensions read at 0.
  auto maskIndices = [&](Value i, Value j) {
    auto type = cast<RankedTensorType>(op.getMask().getType());
    SmallVector<Value> indices;
    for (int64_t t = 0; t < type.getRank(); ++t) {
      int64_t d = t + rank - type.getRank();
      if (type.getDimSize(t) == 1 || d < rank - 2)
        indices.push_back(c0);
      else
        indices.push_back(d == rank - 2 ? i : j);
    }
    return indices;
  };

  auto rowLoop = scf::ForOp::create(
      rewriter, loc, c0, rows, c1,
      ValueRange{op.getAcc(), op.getMax(), op.getSum()},
      [&](OpBuilder &b, Location l, Value i, ValueRange state) {
        Value m0 = tensor::ExtractOp::create(b, l, state[1], at({i}));
        Value l0 = tensor::ExtractOp::create(b, l, state[2], at({i}));
        auto keyLoop = scf::ForOp::create(
            b, l, c0, keys, c1, ValueRange{m0, l0, state[0]},
            [&](OpBuilder &b, Location l, Value j, ValueRange run) {
              auto dot = scf::ForOp::create(
                  b, l, c0, depth, c1, ValueRange{zero},
                  [&](OpBuilder &b, Location l, Value d, ValueRange sum) {
                    Value x = asF32(
                        b, l, tensor::ExtractOp::create(b, l, q, at({i, d})));
                    Value y = asF32(
                        b, l,
                        tensor::ExtractOp::create(
                            b, l, k, transposed ? at({d, j}) : at({j, d})));
                    Value next = arith::AddFOp::create(
                        b, l, sum[0], arith::MulFOp::create(b, l, x, y));
                    scf::YieldOp::create(b, l, next);
                  });
              Value s =
                  arith::MulFOp::create(b, l, dot.getResult(0), op.getScale());
              Value maskElement;
              if (Value mask = op.getMask())
                maskElement = tensor::ExtractOp::create(b, l, mask,
                                                        maskIndices(i, j));
              Value qi, kj;
              if (op.getCausal()) {
                qi = arith::AddIOp::create(b, l, op.getQueryOffset(), i);
                kj = arith::AddIOp::create(b, l, op.getKeyOffset(), j);
              }
              s = maskScore(b, l, s, maskElement, qi, kj, op.getCausal());
              Value m = run[0];
              Value mNew = arith::MaximumFOp::create(b, l, m, s);
              Value alpha = guardedExp(b, l, m, mNew, m);
              Value p = guardedExp(b, l, s, mNew, mNew);
              Value lNew = arith::AddFOp::create(
                  b, l, arith::MulFOp::create(b, l, run[1], alpha), p);
              auto update = scf::ForOp::create(
                  b, l, c0, columns, c1, ValueRange{run[2]},
                  [&](OpBuilder &b, Location l, Value d, ValueRange acc) {
                    Value old =
                        tensor::ExtractOp::create(b, l, acc[0], at({i, d}));
                    Value w = asF32(
                        b, l, tensor::ExtractOp::create(b, l, v, at({j, d})));
                    Value next = arith::AddFOp::create(
                        b, l, arith::MulFOp::create(b, l, old, alpha),
                        arith::MulFOp::create(b, l, p, w));
                    scf::YieldOp::create(
                        b, l,
                        tensor::InsertOp::create(b, l, next, acc[0],
                                                 at({i, d}))
                            .getResult());
                  });
              scf::YieldOp::create(
                  b, l, ValueRange{mNew, lNew, update.getResult(0)});
            });
        Value maxOut = tensor::InsertOp::create(b, l, keyLoop.getResult(0),
                                                state[1], at({i}));
        Value sumOut = tensor::InsertOp::create(b, l, keyLoop.getResult(1),
                                                state[2], at({i}));
        scf::YieldOp::create(
            b, l, ValueRange{keyLoop.getResult(2), maxOut, sumOut});
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
      if (failed(lowerToLoops(rewriter, op)))
        return signalPassFailure();
  }
};
} // namespace
