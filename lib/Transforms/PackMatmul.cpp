//===- PackMatmul.cpp - Cache blocking and packing of matmuls -------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// C[M, N] += A[M, K] · B[K, N] becomes, with P = nTile and Kc = blockK:
//
//   for pc in 0 .. K step Kc:                       (full panels only)
//     Bp = transpose(expand(B[pc : pc+Kc, 0 : N'])) : [N' / P, Kc, P]
//     for ic in 0 .. M step blockM:                  (scf.forall if parallel)
//       for j in 0 .. N' / P:
//         C[ic.., jP : jP+P] += A[ic.., pc : pc+Kc] · Bp[j]
//     C[:, N' : N] += A[:, pc : pc+Kc] · B[pc : pc+Kc, N' : N]
//   C += A[:, K' : K] · B[K' : K, :]
//
// where N' and K' are N and K rounded down to whole panels. Each Bp[j] is a
// contiguous [Kc, P] matrix: the register-block loops read it row after row
// instead of striding through B by N floats per step (with N a multiple of
// 1024 every such row falls into the same few L1 sets). The copy is
// Kc · N' floats per panel for M · Kc · N' multiply-adds.
//
// bf16 operands with an f32 accumulator, when the target has AVX-512 BF16
// (`bf16Dot`), are packed in pairs of reduction steps instead,
//
//   Bp[j, kk, 2c + t] = B[pc + 2kk + t, jP + c]        : [N' / P, Kc / 2, 2P]
//
// the layout of `vdpbf16ps`, which adds to each f32 lane the products of one
// pair of bf16 from each operand. A panel's product is then emitted here as
// vector code, not left to the register-block tiling (which knows only
// multiply-adds): per pair of steps, P / 16 loads of Bp, one broadcast of
// A's pair (both steps) per row and a `x86vector.avx512.dot` per row and 16
// columns, on an accumulator of mTile × P floats held in registers.
//
//===----------------------------------------------------------------------===//

#include "PackMatmul.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"

using namespace mlir;

namespace {

/// A static size, or ShapedType::kDynamic.
int64_t staticDim(Value tensor, unsigned dim) {
  return cast<RankedTensorType>(tensor.getType()).getDimSize(dim);
}

/// Emits the loops of one packed panel (see the file comment) and returns
/// the updated C.
class PanelBuilder {
public:
  PanelBuilder(RewriterBase &b, Location loc,
               const mha::MatmulPackingOptions &options)
      : b(b), loc(loc), options(options) {}

  OpFoldResult apply(AffineExpr expr, ArrayRef<OpFoldResult> operands) {
    return affine::makeComposedFoldedAffineApply(b, loc, expr, operands);
  }

  Value slice(Value source, ArrayRef<OpFoldResult> offsets,
              ArrayRef<OpFoldResult> sizes) {
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, source, offsets, sizes,
                                          strides);
  }

  Value insert(Value tile, Value dest, ArrayRef<OpFoldResult> offsets,
               ArrayRef<OpFoldResult> sizes) {
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::InsertSliceOp::create(b, loc, tile, dest, offsets, sizes,
                                         strides);
  }

  /// scf.for lb to ub step `step` carrying one tensor; `body` maps the
  /// induction variable and the carried value to the next one. (The body is
  /// built after the loop exists: affine builders need the block attached.)
  Value forLoop(OpFoldResult lb, OpFoldResult ub, OpFoldResult step,
                Value init, function_ref<Value(Value, Value)> body) {
    auto loop = scf::ForOp::create(
        b, loc, getValueOrCreateConstantIndexOp(b, loc, lb),
        getValueOrCreateConstantIndexOp(b, loc, ub),
        getValueOrCreateConstantIndexOp(b, loc, step), ValueRange{init});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value next = body(loop.getInductionVar(), loop.getRegionIterArgs()[0]);
    scf::YieldOp::create(b, loc, next);
    return loop.getResult(0);
  }

  Value matmul(Value lhs, Value rhs, Value acc) {
    return linalg::MatmulOp::create(b, loc, ValueRange{lhs, rhs},
                                    ValueRange{acc})
        .getResult(0);
  }

  /// B[kOffset : +kc, 0 : columns] as [columns / P, kc, P].
  Value packB(Value bMat, OpFoldResult kOffset, int64_t kc,
              OpFoldResult columns) {
    int64_t p = options.nTile;
    AffineExpr s0 = b.getAffineSymbolExpr(0);
    OpFoldResult panels = apply(s0.floorDiv(p), {columns});
    Value block = slice(bMat, {kOffset, b.getIndexAttr(0)},
                        {b.getIndexAttr(kc), columns});
    SmallVector<int64_t> expandedShape = {kc, ShapedType::kDynamic, p};
    if (std::optional<int64_t> n = getConstantIntValue(panels))
      expandedShape[1] = *n;
    Type f32 = b.getF32Type();
    Value expanded = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(expandedShape, f32), block,
        SmallVector<ReassociationIndices>{{0}, {1, 2}},
        SmallVector<OpFoldResult>{b.getIndexAttr(kc), panels,
                                  b.getIndexAttr(p)});
    Value empty = tensor::EmptyOp::create(
        b, loc, SmallVector<OpFoldResult>{panels, b.getIndexAttr(kc),
                                          b.getIndexAttr(p)},
        f32);
    return linalg::TransposeOp::create(b, loc, expanded, empty,
                                       ArrayRef<int64_t>{1, 0, 2})
        .getResult()[0];
  }

  /// B[kOffset : +kc, 0 : columns] (bf16, kc even) in pairs of rows:
  /// [columns / P, kc / 2, 2P] with element [j, kk, 2c + t] = B[kOffset +
  /// 2kk + t, jP + c]. Two rows of a panel are read as vectors of P and
  /// interleaved.
  Value packBPairs(Value bMat, OpFoldResult kOffset, int64_t kc,
                   OpFoldResult columns) {
    int64_t p = options.nTile;
    Type bf16 = b.getBF16Type();
    OpFoldResult panels =
        apply(b.getAffineSymbolExpr(0).floorDiv(p), {columns});
    Value empty = tensor::EmptyOp::create(
        b, loc,
        SmallVector<OpFoldResult>{panels, b.getIndexAttr(kc / 2),
                                  b.getIndexAttr(2 * p)},
        bf16);
    auto rowType = VectorType::get({p}, bf16);
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(bf16));
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    return forLoop(
        b.getIndexAttr(0), panels, b.getIndexAttr(1), empty,
        [&](Value j, Value packedIn) {
          Value column =
              getValueOrCreateConstantIndexOp(
                  b, loc, apply(b.getAffineSymbolExpr(0) * p, {j}));
          return forLoop(
              b.getIndexAttr(0), b.getIndexAttr(kc / 2), b.getIndexAttr(1),
              packedIn, [&](Value kk, Value packed) {
                AffineExpr s0 = b.getAffineSymbolExpr(0),
                           s1 = b.getAffineSymbolExpr(1);
                Value row0 = getValueOrCreateConstantIndexOp(
                    b, loc, apply(s0 + s1 * 2, {kOffset, kk}));
                Value row1 = getValueOrCreateConstantIndexOp(
                    b, loc, apply(s0 + s1 * 2 + 1, {kOffset, kk}));
                Value even = vector::TransferReadOp::create(
                    b, loc, rowType, bMat, ValueRange{row0, column}, zero,
                    ArrayRef<bool>{true});
                Value odd = vector::TransferReadOp::create(
                    b, loc, rowType, bMat, ValueRange{row1, column}, zero,
                    ArrayRef<bool>{true});
                Value pairs =
                    vector::InterleaveOp::create(b, loc, even, odd);
                return vector::TransferWriteOp::create(
                           b, loc, pairs, packed, ValueRange{j, kk, c0},
                           ArrayRef<bool>{true})
                    .getResult();
              });
        });
  }

  /// cTile[rows, P] += aRows[rows, kc] · (the pair-packed panel [kc / 2,
  /// 2P]), as `vdpbf16ps` on register blocks of mTile rows (then single
  /// rows for the rest).
  Value dotPanel(Value aRows, Value panel, Value cTile, OpFoldResult rows,
                 int64_t kc) {
    int64_t p = options.nTile, mr = options.mTile;
    constexpr int64_t lanes = 16; // f32 lanes of a 512-bit register
    Type f32 = b.getF32Type(), bf16 = b.getBF16Type(), i32 = b.getI32Type();
    auto accType = VectorType::get({lanes}, f32);
    auto pairsType = VectorType::get({2 * lanes}, bf16);
    Value zeroF = arith::ConstantOp::create(b, loc, b.getZeroAttr(f32));
    Value zeroB = arith::ConstantOp::create(b, loc, b.getZeroAttr(bf16));
    AffineExpr s0 = b.getAffineSymbolExpr(0);

    // Rows [r0, r0 + height) of the tile, for all kc / 2 pairs of steps.
    auto block = [&](Value r0, int64_t height, Value c) -> Value {
      SmallVector<Value> rowIndex;
      for (int64_t r = 0; r < height; ++r)
        rowIndex.push_back(getValueOrCreateConstantIndexOp(
            b, loc, apply(s0 + r, {r0})));
      SmallVector<Value> accs;
      for (int64_t r = 0; r < height; ++r)
        for (int64_t h = 0; h < p / lanes; ++h)
          accs.push_back(vector::TransferReadOp::create(
              b, loc, accType, c,
              ValueRange{rowIndex[r],
                         arith::ConstantIndexOp::create(b, loc, h * lanes)},
              zeroF, ArrayRef<bool>{true}));
      Value lb = arith::ConstantIndexOp::create(b, loc, 0);
      Value ub = arith::ConstantIndexOp::create(b, loc, kc / 2);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      auto loop = scf::ForOp::create(b, loc, lb, ub, one, accs);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value kk = loop.getInductionVar();
        SmallVector<Value> bVecs;
        for (int64_t h = 0; h < p / lanes; ++h)
          bVecs.push_back(vector::TransferReadOp::create(
              b, loc, pairsType, panel,
              ValueRange{kk, arith::ConstantIndexOp::create(
                                 b, loc, h * 2 * lanes)},
              zeroB, ArrayRef<bool>{true}));
        Value step = getValueOrCreateConstantIndexOp(
            b, loc, apply(s0 * 2, {kk}));
        SmallVector<Value> next;
        for (int64_t r = 0; r < height; ++r) {
          // A[r, 2kk : 2kk + 2] as one 32-bit lane, broadcast.
          Value pair = vector::TransferReadOp::create(
              b, loc, VectorType::get({2}, bf16), aRows,
              ValueRange{rowIndex[r], step}, zeroB, ArrayRef<bool>{true});
          Value word = vector::BitCastOp::create(
              b, loc, VectorType::get({1}, i32), pair);
          Value scalar = vector::ExtractOp::create(b, loc, word, 0);
          Value splat = vector::BroadcastOp::create(
              b, loc, VectorType::get({lanes}, i32), scalar);
          Value aPairs = vector::BitCastOp::create(b, loc, pairsType, splat);
          for (int64_t h = 0; h < p / lanes; ++h)
            next.push_back(x86vector::DotBF16Op::create(
                b, loc, accType,
                loop.getRegionIterArgs()[r * (p / lanes) + h], aPairs,
                bVecs[h]));
        }
        scf::YieldOp::create(b, loc, next);
      }
      for (int64_t r = 0; r < height; ++r)
        for (int64_t h = 0; h < p / lanes; ++h)
          c = vector::TransferWriteOp::create(
                  b, loc, loop.getResult(r * (p / lanes) + h), c,
                  ValueRange{rowIndex[r],
                             arith::ConstantIndexOp::create(b, loc, h * lanes)},
                  ArrayRef<bool>{true})
                  .getResult();
      return c;
    };

    OpFoldResult fullRows = apply(s0.floorDiv(mr) * mr, {rows});
    Value c = forLoop(b.getIndexAttr(0), fullRows, b.getIndexAttr(mr), cTile,
                      [&](Value r0, Value cIn) { return block(r0, mr, cIn); });
    return forLoop(fullRows, rows, b.getIndexAttr(1), c,
                   [&](Value r0, Value cIn) { return block(r0, 1, cIn); });
  }

  /// C[rows] += aRows · packed, over the column panels of `packed`.
  Value panelLoop(Value aRows, Value packed, Value cRows, OpFoldResult rows,
                  int64_t kc) {
    int64_t p = options.nTile;
    Value panels = tensor::DimOp::create(b, loc, packed, 0);
    return forLoop(
        b.getIndexAttr(0), panels, b.getIndexAttr(1), cRows,
        [&](Value j, Value cIn) {
          // [kc, P] floats, or [kc / 2, 2P] pairs of bf16.
          auto panelType = cast<RankedTensorType>(packed.getType());
          int64_t height = panelType.getDimSize(1),
                  width = panelType.getDimSize(2);
          SmallVector<OpFoldResult> ones(3, b.getIndexAttr(1));
          Value panel = tensor::ExtractSliceOp::create(
              b, loc,
              RankedTensorType::get({height, width},
                                    panelType.getElementType()),
              packed,
              SmallVector<OpFoldResult>{j, b.getIndexAttr(0),
                                        b.getIndexAttr(0)},
              SmallVector<OpFoldResult>{b.getIndexAttr(1),
                                        b.getIndexAttr(height),
                                        b.getIndexAttr(width)},
              ones);
          OpFoldResult column = apply(b.getAffineSymbolExpr(0) * p, {j});
          SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), column};
          SmallVector<OpFoldResult> sizes = {rows, b.getIndexAttr(p)};
          Value cTile = slice(cIn, offsets, sizes);
          Value product = pairedPanels
                              ? dotPanel(aRows, panel, cTile, rows, kc)
                              : matmul(aRows, panel, cTile);
          return insert(product, cIn, offsets, sizes);
        });
  }

  /// C[:, 0 : columns] += aBlock · packed, blockM rows at a time.
  Value rowBlocks(Value aBlock, Value packed, Value c, OpFoldResult m,
                  OpFoldResult columns, int64_t kc) {
    int64_t mc = options.blockM;
    AffineExpr d0 = b.getAffineDimExpr(0), s0 = b.getAffineSymbolExpr(0);
    auto rowsOf = [&](Value ic) {
      return affine::makeComposedFoldedAffineMin(
          b, loc, AffineMap::get(1, 1, {b.getAffineConstantExpr(mc), s0 - d0},
                                 b.getContext()),
          {ic, m});
    };
    auto body = [&](Value ic, Value cIn) -> std::pair<Value, OpFoldResult> {
      OpFoldResult rows = rowsOf(ic);
      Value aRows =
          slice(aBlock, {ic, b.getIndexAttr(0)}, {rows, b.getIndexAttr(kc)});
      Value cRows = slice(cIn, {ic, b.getIndexAttr(0)}, {rows, columns});
      return {panelLoop(aRows, packed, cRows, rows, kc), rows};
    };
    if (options.parallel) {
      auto forall = scf::ForallOp::create(
          b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{m}, ArrayRef<OpFoldResult>{b.getIndexAttr(mc)},
          ValueRange{c}, /*mapping=*/std::nullopt);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(forall.getBody());
      Value ic = forall.getInductionVars()[0];
      auto [result, rows] = body(ic, forall.getRegionIterArgs()[0]);
      b.setInsertionPointToStart(forall.getTerminator().getBody());
      SmallVector<OpFoldResult> ones(2, b.getIndexAttr(1));
      tensor::ParallelInsertSliceOp::create(
          b, loc, result, forall.getRegionIterArgs()[0],
          SmallVector<OpFoldResult>{ic, b.getIndexAttr(0)},
          SmallVector<OpFoldResult>{rows, columns}, ones);
      return forall.getResult(0);
    }
    return forLoop(b.getIndexAttr(0), m, b.getIndexAttr(mc), c,
                   [&](Value ic, Value cIn) {
                     auto [result, rows] = body(ic, cIn);
                     return insert(result, cIn, {ic, b.getIndexAttr(0)},
                                   {rows, columns});
                   });
  }

  /// Whether panels of B are packed in pairs for `vdpbf16ps` (bf16).
  bool pairedPanels = false;

private:
  RewriterBase &b;
  Location loc;
  const mha::MatmulPackingOptions &options;
};

} // namespace

/// Each float of B copied serves M multiply-adds: with fewer rows than this
/// the copy costs as much as it saves.
constexpr int64_t kMinRows = 128;

bool mlir::mha::isPairedMatmul(linalg::MatmulOp op,
                               const MatmulPackingOptions &options) {
  if (!options.bf16Dot || options.nTile % 16 != 0)
    return false;
  auto elementOf = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getElementType();
  };
  return elementOf(op.getDpsInputs()[0]).isBF16() &&
         elementOf(op.getDpsInputs()[1]).isBF16() &&
         elementOf(op.getDpsInits()[0]).isF32();
}

bool mlir::mha::shouldPackMatmul(linalg::MatmulOp op,
                                 const MatmulPackingOptions &options) {
  if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps())
    return false;
  bool paired = isPairedMatmul(op, options);
  if (!paired)
    for (Value operand : op->getOperands())
      if (!cast<RankedTensorType>(operand.getType()).getElementType().isF32())
        return false;
  Value a = op.getDpsInputs()[0], bMat = op.getDpsInputs()[1];
  int64_t m = staticDim(a, 0), k = staticDim(a, 1), n = staticDim(bMat, 1);
  // A dynamic reduction (a weight gradient xᵀ·dy over the tokens) is
  // packed too: [2048 tokens]ᵀ·[2048, 512] ran in 4.9 ms instead of 9.7 ms
  // unpacked, and the seed classifier's one-thread training step at
  // S = 256 in 179 ms instead of 200 ms (Zen 5; S = 16, whose 512 tokens
  // are less than one panel, unchanged).
  // Too few columns for a panel, reduction steps for a register block, or
  // rows to repay copying B (or, in parallel, for two row blocks: the
  // column blocks of the parallel split are better then).
  if ((!ShapedType::isDynamic(n) && n < options.nTile) ||
      (!ShapedType::isDynamic(k) && k < 16))
    return false;
  if (!ShapedType::isDynamic(m) &&
      (m < kMinRows || (options.parallel && m <= options.blockM)))
    return false;
  return true;
}

LogicalResult mlir::mha::packMatmul(RewriterBase &rewriter,
                                    linalg::MatmulOp op,
                                    const MatmulPackingOptions &options) {
  if (options.nTile <= 0 || options.blockK <= 0 || options.blockM <= 0)
    return op.emitError("matmul packing: block sizes must be positive");
  Location loc = op.getLoc();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  PanelBuilder builder(rewriter, loc, options);
  Value a = op.getDpsInputs()[0], bMat = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  OpFoldResult m = tensor::getMixedSize(rewriter, loc, a, 0);
  OpFoldResult k = tensor::getMixedSize(rewriter, loc, a, 1);
  OpFoldResult n = tensor::getMixedSize(rewriter, loc, bMat, 1);
  std::optional<int64_t> staticK = getConstantIntValue(k),
                         staticN = getConstantIntValue(n);

  bool paired = isPairedMatmul(op, options);
  builder.pairedPanels = paired;
  int64_t kc = options.blockK;
  if (staticK)
    kc = std::min(kc, *staticK);
  // Pairs of reduction steps; an odd last step is left to the remainder.
  if (paired)
    kc -= kc % 2;
  if (kc <= 0)
    return op.emitError("matmul packing: no whole panel of reduction steps");
  AffineExpr s0 = rewriter.getAffineSymbolExpr(0);
  OpFoldResult kMain = builder.apply(s0.floorDiv(kc) * kc, {k});
  OpFoldResult nMain =
      builder.apply(s0.floorDiv(options.nTile) * options.nTile, {n});
  bool columnRest = !staticN || *staticN % options.nTile != 0;
  bool depthRest = !staticK || *staticK % kc != 0;

  Value result = builder.forLoop(
      rewriter.getIndexAttr(0), kMain, rewriter.getIndexAttr(kc), c,
      [&](Value pc, Value cIn) {
        Value aBlock = builder.slice(a, {rewriter.getIndexAttr(0), pc},
                                     {m, rewriter.getIndexAttr(kc)});
        Value packed = paired ? builder.packBPairs(bMat, pc, kc, nMain)
                              : builder.packB(bMat, pc, kc, nMain);
        Value acc = builder.rowBlocks(aBlock, packed, cIn, m, nMain, kc);
        if (!columnRest)
          return acc;
        OpFoldResult rest = builder.apply(
            s0 - s0.floorDiv(options.nTile) * options.nTile, {n});
        SmallVector<OpFoldResult> offsets = {rewriter.getIndexAttr(0), nMain};
        SmallVector<OpFoldResult> sizes = {m, rest};
        Value bRest = builder.slice(bMat, {pc, nMain},
                                    {rewriter.getIndexAttr(kc), rest});
        Value product =
            builder.matmul(aBlock, bRest, builder.slice(acc, offsets, sizes));
        return builder.insert(product, acc, offsets, sizes);
      });
  if (depthRest) {
    OpFoldResult rest = builder.apply(s0 - s0.floorDiv(kc) * kc, {k});
    Value aRest = builder.slice(a, {rewriter.getIndexAttr(0), kMain}, {m, rest});
    Value bRest =
        builder.slice(bMat, {kMain, rewriter.getIndexAttr(0)}, {rest, n});
    result = builder.matmul(aRest, bRest, result);
  }
  if (result.getType() != op.getResult(0).getType())
    result = tensor::CastOp::create(rewriter, loc, op.getResult(0).getType(),
                                    result);
  rewriter.replaceOp(op, result);
  return success();
}
