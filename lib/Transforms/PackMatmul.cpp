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
//===----------------------------------------------------------------------===//

#include "PackMatmul.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

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

  /// C[rows] += aRows · packed, over the column panels of `packed`.
  Value panelLoop(Value aRows, Value packed, Value cRows, OpFoldResult rows,
                  int64_t kc) {
    int64_t p = options.nTile;
    Value panels = tensor::DimOp::create(b, loc, packed, 0);
    return forLoop(
        b.getIndexAttr(0), panels, b.getIndexAttr(1), cRows,
        [&](Value j, Value cIn) {
          auto panelType = RankedTensorType::get({kc, p}, b.getF32Type());
          SmallVector<OpFoldResult> ones(3, b.getIndexAttr(1));
          Value panel = tensor::ExtractSliceOp::create(
              b, loc, panelType, packed,
              SmallVector<OpFoldResult>{j, b.getIndexAttr(0),
                                        b.getIndexAttr(0)},
              SmallVector<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(kc),
                                        b.getIndexAttr(p)},
              ones);
          OpFoldResult column = apply(b.getAffineSymbolExpr(0) * p, {j});
          SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), column};
          SmallVector<OpFoldResult> sizes = {rows, b.getIndexAttr(p)};
          Value product = matmul(aRows, panel, slice(cIn, offsets, sizes));
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

private:
  RewriterBase &b;
  Location loc;
  const mha::MatmulPackingOptions &options;
};

} // namespace

/// Each float of B copied serves M multiply-adds: with fewer rows than this
/// the copy costs as much as it saves.
constexpr int64_t kMinRows = 128;

bool mlir::mha::shouldPackMatmul(linalg::MatmulOp op,
                                 const MatmulPackingOptions &options) {
  if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps())
    return false;
  for (Value operand : op->getOperands())
    if (!cast<RankedTensorType>(operand.getType()).getElementType().isF32())
      return false;
  Value a = op.getDpsInputs()[0], bMat = op.getDpsInputs()[1];
  int64_t m = staticDim(a, 0), k = staticDim(a, 1), n = staticDim(bMat, 1);
  // A dynamic reduction (a weight gradient xᵀ·dy over the tokens): packed,
  // the seed classifier's training step measured 7 ms slower at B·S = 512
  // although the same product alone ran 1.7x faster; left to the plain
  // register blocks until that is understood.
  if (ShapedType::isDynamic(k))
    return false;
  // Too few columns for a panel, reduction steps for a register block, or
  // rows to repay copying B (or, in parallel, for two row blocks: the
  // column blocks of the parallel split are better then).
  if ((!ShapedType::isDynamic(n) && n < options.nTile) || k < 16)
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

  int64_t kc = options.blockK;
  if (staticK)
    kc = std::min(kc, *staticK);
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
        Value packed = builder.packB(bMat, pc, kc, nMain);
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
