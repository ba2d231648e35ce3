//===- TileAndVectorize.cpp - Register-block tiling of matmuls ------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-tile-and-vectorize: linalg.matmul and
// linalg.batch_matmul are tiled into register blocks with scf.for loops, the
// loops are peeled so full tiles have static shapes, and those are vectorized.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHATILEANDVECTORIZEPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
struct MHATileAndVectorizePass final
    : mha::impl::MHATileAndVectorizePassBase<MHATileAndVectorizePass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (mTile <= 0 || nTile <= 0 || kTile <= 0) {
      func.emitError("mha-tile-and-vectorize: tile sizes must be positive");
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> targets;
    func.walk([&](linalg::LinalgOp op) {
      if (isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) &&
          op.hasPureTensorSemantics())
        targets.push_back(op);
    });

    // 1. Tile each op into register blocks and peel the loops, so that the
    //    main loops see full, statically sized tiles and only the last
    //    iteration of each loop handles a remainder.
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : targets) {
      SmallVector<int64_t> sizes = {mTile, nTile, kTile};
      if (isa<linalg::BatchMatmulOp>(op))
        sizes.insert(sizes.begin(), 1);
      scf::SCFTilingOptions options;
      options.setTileSizes(getAsIndexOpFoldResult(&getContext(), sizes));
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled)) {
        op.emitError("mha-tile-and-vectorize: tiling failed");
        return signalPassFailure();
      }
      rewriter.replaceOp(op, tiled->replacements);
      for (LoopLikeOpInterface loop : tiled->loops) {
        auto forOp = dyn_cast<scf::ForOp>(loop.getOperation());
        scf::ForOp remainder;
        // Fails (harmlessly) when the step already divides the trip count.
        if (forOp)
          (void)scf::peelForLoopAndSimplifyBounds(rewriter, forOp, remainder);
      }
    }

    // 2. Let the full tiles' sizes become static types.
    {
      RewritePatternSet patterns(&getContext());
      // Dialect-level patterns include linalg's folding of tensor.cast
      // producers, which gives the tiled ops static types.
      for (Dialect *dialect : getContext().getLoadedDialects())
        dialect->getCanonicalizationPatterns(patterns);
      for (RegisteredOperationName name :
           getContext().getRegisteredOperations())
        name.getCanonicalizationPatterns(patterns, &getContext());
      if (failed(applyPatternsGreedily(func, std::move(patterns))))
        func.emitWarning("mha-tile-and-vectorize: cleanup did not converge");
    }

    // 3. Vectorize the full tiles: static shapes no larger than the block.
    //    Remainder tiles stay linalg ops and become scalar loops.
    SmallVector<linalg::LinalgOp> tiles;
    func.walk([&](linalg::LinalgOp op) {
      if (!isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) ||
          !op.hasPureTensorSemantics() ||
          ShapedType::isDynamicShape(op.getStaticLoopRanges()))
        return;
      SmallVector<int64_t> bounds = op.getStaticLoopRanges();
      int64_t m = bounds[bounds.size() - 3], n = bounds[bounds.size() - 2],
              k = bounds.back();
      if (m <= mTile && n <= nTile && k <= kTile)
        tiles.push_back(op);
    });
    for (linalg::LinalgOp tile : tiles) {
      rewriter.setInsertionPoint(tile);
      // A named vector.contract keeps the operand reads plain loads.
      FailureOr<linalg::VectorizationResult> vectorized = linalg::vectorize(
          rewriter, tile, /*inputVectorSizes=*/{},
          /*inputScalableVecDims=*/{}, /*vectorizeNDExtract=*/false,
          /*flatten1DDepthwiseConv=*/false,
          /*assumeDynamicDimsMatchVecSizes=*/false,
          /*createNamedContraction=*/true);
      if (failed(vectorized)) {
        tile.emitError("mha-tile-and-vectorize: vectorization failed");
        return signalPassFailure();
      }
      rewriter.replaceOp(tile, vectorized->replacements);
    }

    // 4. Mixed-precision contractions (f16/bf16 operands, f32 accumulator)
    //    have no outer-product lowering: extend the operand vectors to the
    //    accumulator's type, which keeps the accumulation in f32.
    func.walk([&](vector::ContractionOp contract) {
      Type accElement = getElementTypeOrSelf(contract.getAccType());
      rewriter.setInsertionPoint(contract);
      auto widen = [&](Value operand) -> Value {
        auto type = cast<VectorType>(operand.getType());
        if (type.getElementType() == accElement)
          return operand;
        return arith::ExtFOp::create(rewriter, contract.getLoc(),
                                     type.clone(accElement), operand);
      };
      Value lhs = widen(contract.getLhs()), rhs = widen(contract.getRhs());
      if (lhs == contract.getLhs() && rhs == contract.getRhs())
        return;
      rewriter.modifyOpInPlace(contract, [&] {
        contract.getLhsMutable().assign(lhs);
        contract.getRhsMutable().assign(rhs);
      });
    });
  }
};
} // namespace
