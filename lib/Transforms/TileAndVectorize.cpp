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

#include "mha/Conversion/MHAToLinalg/MHAToLinalg.h"
#include "mha/Transforms/Passes.h"

#include "PackMatmul.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHATILEANDVECTORIZEPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
/// Marks, within this pass, the peeled loops whose bodies see full blocks.
constexpr const char *kFullBlocksAttr = "mha.full_blocks";
/// Marks, within this pass, the remainder loops of register-block tiling
/// (the last, partial step of a peeled loop: at most one iteration).
constexpr const char *kRemainderAttr = "mha.remainder";

/// The side of the square tiles a transpose is vectorized in: 16 x 16 f32
/// is sixteen 512-bit rows, transposed in registers by shuffles
/// (convert-vector-to-llvm's shuffle16x16 lowering).
constexpr int64_t kTransposeTile = 16;

/// Whether `op` has a loop of static size 0 (an empty tensor): nothing to
/// compute, and neither tiling (upstream divides by the size) nor vectors
/// (no 0-element vector type) take it; it stays as it is (empty loops).
bool hasEmptyLoop(linalg::LinalgOp op) {
  return llvm::is_contained(op.getStaticLoopRanges(), 0);
}

/// Whether `op` swaps its last two dimensions (leading ones in place) of
/// f32 elements: a matrix transpose, which as loops reads one element per
/// cache line.
bool isMatrixTranspose(linalg::TransposeOp op) {
  ArrayRef<int64_t> perm = op.getPermutation();
  int64_t rank = perm.size();
  if (rank < 2 || !op.hasPureTensorSemantics() || hasEmptyLoop(op) ||
      !getElementTypeOrSelf(op.getInit().getType()).isF32())
    return false;
  for (int64_t d = 0; d < rank - 2; ++d)
    if (perm[d] != d)
      return false;
  return perm[rank - 2] == rank - 1 && perm[rank - 1] == rank - 2;
}

/// The largest value each loop of `op` can take, from the bounds of the
/// operand dimensions that define it (a remainder tile's sizes are
/// min(block, remaining)): static sizes as they are; std::nullopt when a
/// dynamic size has no constant bound.
std::optional<SmallVector<int64_t>> loopUpperBounds(linalg::LinalgOp op) {
  SmallVector<int64_t> bounds = op.getStaticLoopRanges();
  for (auto [dim, bound] : llvm::enumerate(bounds)) {
    if (!ShapedType::isDynamic(bound))
      continue;
    Value operand;
    unsigned operandDim;
    if (failed(op.mapIterationSpaceDimToOperandDim(dim, operand, operandDim)))
      return std::nullopt;
    FailureOr<int64_t> ub = ValueBoundsConstraintSet::computeConstantBound(
        presburger::BoundType::UB, {operand, operandDim},
        /*stopCondition=*/nullptr, /*closedUB=*/true);
    if (failed(ub) || *ub <= 0)
      return std::nullopt;
    bound = *ub;
  }
  return bounds;
}

/// Whether `v` is read with zeros past the tensor's bounds: a masked or
/// in-bounds vector.transfer_read padded with 0.
bool isZeroPaddedRead(Value v) {
  Operation *def = v.getDefiningOp();
  if (auto mask = dyn_cast_or_null<vector::MaskOp>(def))
    def = mask.getMaskableOp();
  auto read = dyn_cast_or_null<vector::TransferReadOp>(def);
  return read && matchPattern(read.getPadding(), m_AnyZeroFloat());
}

/// The masks of vectorized remainder tiles, lowered on tensors (one-shot
/// bufferization would put its ownership constants into vector.mask
/// regions, which must hold one operation):
/// * a masked contraction of zero-padded operands is the plain contraction
///   (positions past the reduction's end multiply 0 by 0; rows and columns
///   past the tile's end are not written back);
/// * masked transfers become transfers with a mask operand.
LogicalResult unmaskRemainderTiles(func::FuncOp func) {
  IRRewriter rewriter(func.getContext());
  SmallVector<vector::MaskOp> masked;
  func.walk([&](vector::MaskOp mask) { masked.push_back(mask); });
  for (vector::MaskOp mask : masked) {
    auto contract = dyn_cast_or_null<vector::ContractionOp>(
        mask.getMaskableOp());
    if (!contract || !isZeroPaddedRead(contract.getLhs()) ||
        !isZeroPaddedRead(contract.getRhs()))
      continue;
    rewriter.setInsertionPoint(mask);
    Operation *plain = rewriter.clone(*contract);
    rewriter.replaceOp(mask, plain->getResults());
  }
  RewritePatternSet patterns(func.getContext());
  vector::populateVectorMaskLoweringPatternsForSideEffectingOps(patterns);
  return applyPatternsGreedily(func, std::move(patterns));
}

/// Tiles `op` by `sizes` (0: that dimension untiled) into `loopType` loops
/// and replaces it with the tiled result.
FailureOr<scf::SCFTilingResult>
tileAndReplace(RewriterBase &rewriter, Operation *op, ArrayRef<int64_t> sizes,
               scf::SCFTilingOptions::LoopType loopType =
                   scf::SCFTilingOptions::LoopType::ForOp) {
  scf::SCFTilingOptions options;
  options.setTileSizes(getAsIndexOpFoldResult(op->getContext(), sizes));
  options.setLoopType(loopType);
  rewriter.setInsertionPoint(op);
  FailureOr<scf::SCFTilingResult> tiled =
      scf::tileUsingSCF(rewriter, cast<TilingInterface>(op), options);
  if (succeeded(tiled))
    rewriter.replaceOp(op, tiled->replacements);
  return tiled;
}

/// The slice one iteration of `op`, a top-level loop that blocks a matmul
/// and does nothing else, writes into its single result: a forall's
/// parallel insert, or an scf.for's insert at an offset that is its
/// induction variable (iterations write disjoint blocks: a loop over rows,
/// not over a reduction), of the result's rank (consumer fusion mishandles
/// rank-reducing slices). Null for any other op.
Operation *rowBlockSlice(Operation &op) {
  Operation *slice = nullptr;
  if (auto forall = dyn_cast<scf::ForallOp>(op)) {
    auto yielding = forall.getTerminator().getYieldingOps();
    if (forall.getNumResults() == 1 && llvm::hasSingleElement(yielding))
      slice = &*yielding.begin();
  } else if (auto loop = dyn_cast<scf::ForOp>(op)) {
    auto insert = loop.getNumResults() == 1
                      ? loop.getBody()
                            ->getTerminator()
                            ->getOperand(0)
                            .getDefiningOp<tensor::InsertSliceOp>()
                      : nullptr;
    if (insert && insert.getDest() == loop.getRegionIterArgs()[0] &&
        llvm::is_contained(insert.getOffsets(), loop.getInductionVar()))
      slice = insert;
  }
  if (!slice || cast<RankedTensorType>(slice->getOperand(0).getType())
                        .getRank() !=
                    cast<RankedTensorType>(slice->getOperand(1).getType())
                        .getRank())
    return nullptr;
  bool blocksMatmul = false, other = false;
  op.walk([&](linalg::LinalgOp inner) {
    if (isa<linalg::MatmulOp>(inner))
      blocksMatmul = true;
    else if (!isa<linalg::FillOp, linalg::CopyOp, linalg::TransposeOp>(inner))
      other = true;
  });
  return blocksMatmul && !other ? slice : nullptr;
}

/// Whether `extract` takes whole rows (every dimension after the first in
/// full, statically).
bool takesWholeRows(tensor::ExtractSliceOp extract) {
  ArrayRef<int64_t> shape = extract.getSourceType().getShape();
  SmallVector<OpFoldResult> sizes = extract.getMixedSizes();
  SmallVector<OpFoldResult> offsets = extract.getMixedOffsets();
  for (size_t d = 1; d < shape.size(); ++d) {
    std::optional<int64_t> size = getConstantIntValue(sizes[d]);
    if (ShapedType::isDynamic(shape[d]) || size != shape[d] ||
        !isConstantIntValue(offsets[d], 0))
      return false;
  }
  return true;
}

/// mha-tile-and-vectorize's step 0c (see there) on `func`'s top-level
/// row-block loops.
void fuseIntoRowBlocks(RewriterBase &rewriter, func::FuncOp func) {
  // A packed matmul's loop over reduction panels has one iteration when
  // the reduction fits one panel: gone, its loop over rows is outermost.
  {
    RewritePatternSet patterns(func.getContext());
    scf::ForOp::getCanonicalizationPatterns(patterns, func.getContext());
    (void)applyPatternsGreedily(func, std::move(patterns));
  }
  SmallVector<std::pair<LoopLikeOpInterface, Operation *>> loops;
  for (Operation &op : func.getBody().front())
    if (Operation *slice = rowBlockSlice(op))
      loops.push_back({cast<LoopLikeOpInterface>(&op), slice});
  for (auto [loop, slice] : loops) {
    SmallVector<LoopLikeOpInterface> nest = {loop};
    // The bias: the blocks' initial value, made block by block inside the
    // loop, when each iteration reads one block of whole rows of it (a
    // loop that also reads, say, a remainder of columns separately keeps
    // its initial value whole).
    Operation *init = loop.getInits()[0].getDefiningOp();
    if (init && isa<linalg::BroadcastOp, linalg::FillOp>(init) &&
        init->hasOneUse()) {
      tensor::ExtractSliceOp rows;
      int reads = 0;
      for (Operation *user : loop.getRegionIterArgs()[0].getUsers())
        if (auto extract = dyn_cast<tensor::ExtractSliceOp>(user)) {
          rows = extract;
          ++reads;
        } else if (!isa<tensor::InsertSliceOp, tensor::ParallelInsertSliceOp>(
                       user)) {
          ++reads;
        }
      if (rows && reads == 1 && takesWholeRows(rows))
        (void)scf::tileAndFuseProducerOfSlice(rewriter, rows, nest);
    }
    // The activation; a consumer the loop's blocks cannot feed stays where
    // it is.
    Block *loopBlock = loop->getBlock();
    bool activated = llvm::any_of(
        loop->getResult(0).getUsers(), [&](Operation *user) {
          auto generic = dyn_cast<linalg::GenericOp>(user);
          return generic && generic->getBlock() == loopBlock &&
                 linalg::isElementwise(generic) &&
                 generic.getNumDpsInits() == 1;
        });
    if (activated)
      (void)scf::tileAndFuseConsumerOfSlices(rewriter, {slice}, nest);
  }
}

/// The fast-math flags of `op`'s combiner when it is a reduction of one
/// arith op that may reassociate (`reassoc`), else none.
std::optional<arith::FastMathFlags>
reassociableCombiner(linalg::LinalgOp op) {
  if (op.getNumReductionLoops() == 0)
    return std::nullopt;
  Block *body = op.getBlock();
  if (body->getOperations().size() != 2)
    return std::nullopt;
  auto fastmath =
      dyn_cast<arith::ArithFastMathInterface>(body->getOperations().front());
  if (!fastmath ||
      !bitEnumContainsAll(fastmath.getFastMathFlagsAttr().getValue(),
                          arith::FastMathFlags::reassoc))
    return std::nullopt;
  return fastmath.getFastMathFlagsAttr().getValue();
}

/// Row reductions (vector<1xN> over its second dimension, as the flash
/// blocks are vectorized row by row) whose combiner may reassociate become
/// vector.reduction with those fast-math flags: a tree of vector operations
/// rather than the ordered chain of N scalar ones (which the lowering of
/// vector.multi_reduction, without fast-math flags, makes of a sum).
void lowerReassociableRows(
    RewriterBase &rewriter,
    ArrayRef<std::pair<vector::MultiDimReductionOp, arith::FastMathFlags>>
        rows) {
  for (auto [reduction, flags] : rows) {
    VectorType source = reduction.getSourceVectorType();
    if (source.getRank() != 2 || source.getDimSize(0) != 1 ||
        reduction.getReductionDims() != ArrayRef<int64_t>{1} ||
        !isa<VectorType>(reduction.getAcc().getType()))
      continue;
    Location loc = reduction.getLoc();
    rewriter.setInsertionPoint(reduction);
    Value flat = vector::ShapeCastOp::create(
        rewriter, loc,
        VectorType::get({source.getDimSize(1)}, source.getElementType()),
        reduction.getSource());
    Value acc = vector::ExtractOp::create(rewriter, loc, reduction.getAcc(),
                                          ArrayRef<int64_t>{0});
    Value reduced = vector::ReductionOp::create(
        rewriter, loc, reduction.getKind(), flat, acc, flags);
    rewriter.replaceOpWithNewOp<vector::BroadcastOp>(
        reduction, reduction.getType(), reduced);
  }
}

struct MHATileAndVectorizePass final
    : mha::impl::MHATileAndVectorizePassBase<MHATileAndVectorizePass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return; // A declaration: no code.
    // A register block is unrolled into vectors: bound it, or a typo such
    // as k-tile=1000000000 makes code generation grow without end.
    constexpr int64_t kMaxTile = 256;
    if (mTile <= 0 || nTile <= 0 || kTile <= 0 || mTile > kMaxTile ||
        nTile > kMaxTile || kTile > kMaxTile) {
      func.emitError("mha-tile-and-vectorize: tile sizes must lie in [1, ")
          << kMaxTile << "], got m-tile=" << int64_t(mTile)
          << " n-tile=" << int64_t(nTile) << " k-tile=" << int64_t(kTile);
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());

    // 0. Peel the block loops the flash lowering marked, so that the full
    //    blocks get static shapes once the cleanup below has folded their
    //    min(block, remaining) sizes to constants.
    SmallVector<scf::ForOp> marked;
    func.walk([&](scf::ForOp loop) {
      if (loop->hasAttr(mha::kPeelAttrName))
        marked.push_back(loop);
    });
    for (scf::ForOp loop : marked) {
      loop->removeAttr(mha::kPeelAttrName);
      // Fails (harmlessly) when the step already divides the trip count:
      // every block is full then.
      scf::ForOp remainder;
      (void)scf::peelForLoopAndSimplifyBounds(rewriter, loop, remainder);
      loop->setAttr(kFullBlocksAttr, rewriter.getUnitAttr());
    }

    // 0a. Cache blocking: matmuls outside loops (a model's layers, not the
    //     flash lowering's blocks) get packed panels of B and blocks of A's
    //     rows; the panels' matmuls are tiled by step 1.
    constexpr int64_t kMaxBlock = 4096;
    if (blockM <= 0 || blockK <= 0 || blockM % mTile != 0 ||
        blockM > kMaxBlock || blockK > kMaxBlock) {
      func.emitError("mha-tile-and-vectorize: block-m must be a positive "
                     "multiple of m-tile and block-k positive, both at most ")
          << kMaxBlock;
      return signalPassFailure();
    }
    if (packMatmuls) {
      mha::MatmulPackingOptions packing;
      packing.nTile = nTile;
      packing.blockK = blockK;
      packing.blockM = parallelRows > 0 ? int64_t(parallelRows) : blockM;
      packing.parallel = parallelRows > 0;
      packing.bf16Dot = bf16Dot;
      packing.mTile = mTile;
      SmallVector<linalg::MatmulOp> outer;
      func.walk([&](linalg::MatmulOp op) {
        if (!op->getParentOfType<LoopLikeOpInterface>() && !hasEmptyLoop(op) &&
            mha::shouldPackMatmul(op, packing))
          outer.push_back(op);
      });
      for (linalg::MatmulOp op : outer)
        if (failed(mha::packMatmul(rewriter, op, packing)))
          return signalPassFailure();
    }

    // 0b. Row blocks of the matmuls on every core: an scf.forall over
    //     blocks of `parallelRows` output rows (one batch element at a
    //     time), each block a matmul that step 1 tiles. Matmuls inside a
    //     parallel loop (the flash lowering's) are left to it.
    if (parallelRows < 0 || (parallelRows > 0 && parallelRows % mTile != 0)) {
      func.emitError("mha-tile-and-vectorize: parallel-rows must be 0 or a "
                     "positive multiple of m-tile");
      return signalPassFailure();
    }
    if (parallelRows > 0) {
      SmallVector<linalg::LinalgOp> wide;
      func.walk([&](linalg::LinalgOp op) {
        if (isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) &&
            op.hasPureTensorSemantics() && !hasEmptyLoop(op) &&
            !op->getParentOfType<scf::ForallOp>() &&
            !op->getParentOfType<scf::ParallelOp>())
          wide.push_back(op);
      });
      for (linalg::LinalgOp op : wide) {
        SmallVector<int64_t> sizes = {parallelRows, 0, 0};
        SmallVector<int64_t> ranges = op.getStaticLoopRanges();
        int64_t rows = ranges[ranges.size() - 3],
                columns = ranges[ranges.size() - 2];
        // Too few rows for two blocks (a weight gradient xᵀ·dy has as many
        // rows as input features): blocks of columns instead, when there
        // are enough of them.
        if (!ShapedType::isDynamic(rows) && rows <= parallelRows) {
          int64_t columnBlock = 4 * nTile;
          sizes = {0, columnBlock, 0};
          if (!isa<linalg::BatchMatmulOp>(op) &&
              !ShapedType::isDynamic(columns) && columns <= columnBlock)
            continue;
        }
        if (isa<linalg::BatchMatmulOp>(op))
          sizes.insert(sizes.begin(), 1);
        if (failed(tileAndReplace(rewriter, op, sizes,
                                  scf::SCFTilingOptions::LoopType::ForallOp))) {
          op.emitError("mha-tile-and-vectorize: row-block tiling failed");
          return signalPassFailure();
        }
      }
    }

    // 0c. A Dense's bias (the blocked matmul's initial value) and its
    //     activation (an element-wise op on the result) join the matmul's
    //     loop over blocks of rows: each block is initialized, multiplied
    //     and activated while in cache, one pass over the output.
    if (fuseActivations)
      fuseIntoRowBlocks(rewriter, func);

    SmallVector<linalg::LinalgOp> targets;
    func.walk([&](linalg::LinalgOp op) {
      if (isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) &&
          op.hasPureTensorSemantics() && !hasEmptyLoop(op))
        targets.push_back(op);
    });

    // 1. Tile each op into register blocks and peel the loops, so that the
    //    main loops see full, statically sized tiles and only the last
    //    iteration of each loop handles a remainder.
    for (linalg::LinalgOp op : targets) {
      SmallVector<int64_t> sizes = {mTile, nTile, kTile};
      if (isa<linalg::BatchMatmulOp>(op))
        sizes.insert(sizes.begin(), 1);
      FailureOr<scf::SCFTilingResult> tiled =
          tileAndReplace(rewriter, op, sizes);
      if (failed(tiled)) {
        op.emitError("mha-tile-and-vectorize: tiling failed");
        return signalPassFailure();
      }
      for (LoopLikeOpInterface loop : tiled->loops) {
        auto forOp = dyn_cast<scf::ForOp>(loop.getOperation());
        scf::ForOp remainder;
        // Fails (harmlessly) when the step already divides the trip count.
        if (forOp &&
            succeeded(scf::peelForLoopAndSimplifyBounds(rewriter, forOp,
                                                        remainder)) &&
            remainder)
          remainder->setAttr(kRemainderAttr, rewriter.getUnitAttr());
      }
    }

    // 1b. Matrix transposes into square tiles, loops peeled, so that full
    //     tiles are static 16 x 16 blocks (vectorized in step 3).
    SmallVector<linalg::TransposeOp> transposes;
    func.walk([&](linalg::TransposeOp op) {
      if (isMatrixTranspose(op))
        transposes.push_back(op);
    });
    for (linalg::TransposeOp op : transposes) {
      SmallVector<int64_t> sizes(op.getPermutation().size(), 1);
      sizes[sizes.size() - 2] = sizes.back() = kTransposeTile;
      FailureOr<scf::SCFTilingResult> tiled = tileAndReplace(rewriter, op, sizes);
      if (failed(tiled)) {
        op.emitError("mha-tile-and-vectorize: transpose tiling failed");
        return signalPassFailure();
      }
      for (LoopLikeOpInterface loop : tiled->loops)
        if (auto forOp = dyn_cast<scf::ForOp>(loop.getOperation())) {
          scf::ForOp remainder;
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
      // min(block, upper - iv) is the block itself where the step divides
      // the trip count (loops that needed no peeling).
      scf::populateSCFForLoopCanonicalizationPatterns(patterns);
      if (failed(applyPatternsGreedily(func, std::move(patterns))))
        func.emitWarning("mha-tile-and-vectorize: cleanup did not converge");
    }

    // 3. Vectorize the full tiles: static shapes no larger than the block.
    //    Remainder tiles stay linalg ops and become scalar loops.
    SmallVector<linalg::LinalgOp> tiles;
    func.walk([&](linalg::LinalgOp op) {
      if (!isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) ||
          !op.hasPureTensorSemantics() || hasEmptyLoop(op) ||
          ShapedType::isDynamicShape(op.getStaticLoopRanges()))
        return;
      SmallVector<int64_t> bounds = op.getStaticLoopRanges();
      int64_t m = bounds[bounds.size() - 3], n = bounds[bounds.size() - 2],
              k = bounds.back();
      if (m <= mTile && n <= nTile && k <= kTile)
        tiles.push_back(op);
    });
    // Remainder tiles (dynamic sizes bounded by the register block): masked
    // vectors of the block's shape, instead of scalar loops.
    SmallVector<std::pair<linalg::LinalgOp, SmallVector<int64_t>>>
        remainderTiles;
    func.walk([&](linalg::LinalgOp op) {
      if (!isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) ||
          !op.hasPureTensorSemantics() || hasEmptyLoop(op) ||
          !ShapedType::isDynamicShape(op.getStaticLoopRanges()))
        return;
      std::optional<SmallVector<int64_t>> bounds = loopUpperBounds(op);
      if (!bounds)
        return;
      int64_t rank = bounds->size();
      if ((*bounds)[rank - 3] <= mTile && (*bounds)[rank - 2] <= nTile &&
          (*bounds)[rank - 1] <= kTile)
        remainderTiles.push_back({op, *bounds});
    });
    for (auto &[tile, sizes] : remainderTiles) {
      rewriter.setInsertionPoint(tile);
      // One flag per vector size: with none, the masks' types get
      // undefined scalable-dimension flags (LLVM 22).
      SmallVector<bool> fixed(sizes.size(), false);
      FailureOr<linalg::VectorizationResult> vectorized = linalg::vectorize(
          rewriter, tile, sizes, fixed,
          /*vectorizeNDExtract=*/false, /*flatten1DDepthwiseConv=*/false,
          /*assumeDynamicDimsMatchVecSizes=*/false,
          /*createNamedContraction=*/true);
      if (succeeded(vectorized))
        rewriter.replaceOp(tile, vectorized->replacements);
    }
    if (!remainderTiles.empty() && failed(unmaskRemainderTiles(func))) {
      func.emitError("mha-tile-and-vectorize: lowering the masks of "
                     "remainder tiles failed");
      return signalPassFailure();
    }
    // Full transpose tiles: a read, a vector.transpose and a write.
    SmallVector<linalg::TransposeOp> transposeTiles;
    func.walk([&](linalg::TransposeOp op) {
      if (!isMatrixTranspose(op) ||
          ShapedType::isDynamicShape(op.getStaticLoopRanges()))
        return;
      ArrayRef<int64_t> shape =
          cast<RankedTensorType>(op.getInit().getType()).getShape();
      if (shape.take_back(2) == ArrayRef<int64_t>{kTransposeTile,
                                                  kTransposeTile} &&
          llvm::all_of(shape.drop_back(2), [](int64_t d) { return d == 1; }))
        transposeTiles.push_back(op);
    });
    for (linalg::TransposeOp tile : transposeTiles) {
      rewriter.setInsertionPoint(tile);
      FailureOr<linalg::VectorizationResult> vectorized =
          linalg::vectorize(rewriter, tile);
      if (succeeded(vectorized))
        rewriter.replaceOp(tile, vectorized->replacements);
    }
    if (!transposeTiles.empty()) {
      // The transposing read becomes a plain read and a vector.transpose
      // of the 16 x 16 block (unit leading dimensions dropped).
      RewritePatternSet patterns(&getContext());
      vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
      vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
      if (failed(applyPatternsGreedily(func, std::move(patterns))))
        func.emitWarning("mha-tile-and-vectorize: transpose cleanup did not "
                         "converge");
    }
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

    // 3b. Keep each output tile in registers across its reduction loop:
    //     the tile's extract/transfer_read and transfer_write/insert pairs
    //     move out of the innermost loops (innermost first), so the
    //     accumulator is a loop-carried vector instead of a load and a store
    //     per reduction step.
    //     A peeled remainder loop runs at most once: nothing to gain, and
    //     without results it stays a kernel loop mha-outline-kernels can
    //     move into a (shared) function.
    {
      SmallVector<scf::ForOp> loops;
      func.walk([&](scf::ForOp loop) { loops.push_back(loop); });
      for (scf::ForOp loop : loops) {
        if (loop->hasAttr(kRemainderAttr))
          continue;
        (void)hoistLoopInvariantSubsets(
            rewriter, cast<LoopLikeOpInterface>(loop.getOperation()));
      }
      func.walk([&](scf::ForOp loop) { loop->removeAttr(kRemainderAttr); });
    }

    // 4. The element-wise and reduction work of full blocks (scores, online
    //    softmax, the backward's dS): static shapes, vectorized row by row.
    SmallVector<linalg::LinalgOp> blockOps;
    SmallVector<std::pair<vector::MultiDimReductionOp, arith::FastMathFlags>>
        reassociableRows;
    func.walk([&](linalg::LinalgOp op) {
      if (isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) ||
          !op.hasPureTensorSemantics() || op.getNumLoops() == 0 ||
          hasEmptyLoop(op) ||
          op.getNumLoops() > 2 ||
          ShapedType::isDynamicShape(op.getStaticLoopRanges()))
        return;
      for (Operation *p = op->getParentOp(); p; p = p->getParentOp())
        if (p->hasAttr(kFullBlocksAttr)) {
          blockOps.push_back(op);
          return;
        }
    });
    for (linalg::LinalgOp op : blockOps) {
      linalg::LinalgOp target = op;
      // Rows of a 2-D op with a parallel first dimension one at a time, so
      // each vector is one row of the block (a few registers).
      if (op.getNumLoops() == 2 &&
          op.getIteratorTypesArray()[0] == utils::IteratorType::parallel &&
          op.getStaticLoopRanges()[0] > 1) {
        FailureOr<scf::SCFTilingResult> tiled =
            tileAndReplace(rewriter, op, {1, 0});
        if (failed(tiled) || tiled->tiledOps.size() != 1)
          continue;
        target = dyn_cast<linalg::LinalgOp>(tiled->tiledOps.front());
        if (!target)
          continue;
      }
      rewriter.setInsertionPoint(target);
      Operation *before = target->getPrevNode();
      FailureOr<linalg::VectorizationResult> vectorized =
          linalg::vectorize(rewriter, target);
      if (failed(vectorized))
        continue;
      // A reduction whose combiner may reassociate (the flash lowering's
      // row max and row sums) keeps that freedom through its vectors.
      if (std::optional<arith::FastMathFlags> flags =
              reassociableCombiner(target)) {
        Block *block = target->getBlock();
        for (Operation *op = before ? before->getNextNode() : &block->front();
             op && op != target.getOperation(); op = op->getNextNode())
          if (auto reduction = dyn_cast<vector::MultiDimReductionOp>(op))
            reassociableRows.push_back({reduction, *flags});
      }
      rewriter.replaceOp(target, vectorized->replacements);
    }
    lowerReassociableRows(rewriter, reassociableRows);
    func.walk([&](scf::ForOp loop) { loop->removeAttr(kFullBlocksAttr); });
    if (!blockOps.empty()) {
      // Row vectors of shape [1, n] become [n]; row reductions become
      // horizontal vector.reduction (convert-vector-to-llvm has no lowering
      // of vector.multi_reduction).
      RewritePatternSet patterns(&getContext());
      vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
      vector::populateVectorMultiReductionLoweringPatterns(
          patterns, vector::VectorMultiReductionLowering::InnerReduction);
      vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
      // exp as a polynomial on vectors (libm would be called per lane).
      populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
        return name == "math.exp";
      });
      if (failed(applyPatternsGreedily(func, std::move(patterns))))
        func.emitWarning("mha-tile-and-vectorize: vector cleanup did not "
                         "converge");
    }

    // 4b. Every other exp (sigmoid, softmax outside attention, losses) and
    //     erf (GELU and its gradient) as polynomials: LLVM vectorizes their
    //     loops, where a libm call per element kept them scalar (3x faster
    //     on a [2048, 1024] bias + relu + sigmoid; erff was a fifth of the
    //     GPT example's training step; accuracy in
    //     Integration/CPU/exp-accuracy.test and gelu-accuracy.test).
    {
      RewritePatternSet patterns(&getContext());
      populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
        return name == "math.exp" || name == "math.erf";
      });
      if (failed(applyPatternsGreedily(func, std::move(patterns))))
        func.emitWarning("mha-tile-and-vectorize: exp approximation did not "
                         "converge");
    }

    // 5. Mixed-precision contractions (f16/bf16 operands, f32 accumulator)
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
