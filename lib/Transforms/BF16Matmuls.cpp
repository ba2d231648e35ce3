//===- BF16Matmuls.cpp - Matrix products with bf16 operands ---------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-bf16-matmuls, the compute half of mixed-precision
// training and inference: the f32 operands of a model's matrix products are
// rounded to bf16 (to nearest even) and multiplied into the same f32
// accumulator, so the products run on bf16 hardware (AVX-512 BF16's dot
// products, see mha-tile-and-vectorize) while weights, activations, their
// gradients and the optimizer's state stay f32.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/LoopLikeInterface.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHABF16MATMULSPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
/// `tensor` (f32) rounded to bf16, element by element.
Value roundToBF16(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  Type bf16 = b.getBF16Type();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, tensor);
  Value empty = tensor::EmptyOp::create(b, loc, sizes, bf16);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{empty.getType()}, ValueRange{tensor},
             ValueRange{empty}, ArrayRef<AffineMap>{identity, identity},
             iterators,
             [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
               Value rounded =
                   arith::TruncFOp::create(nested, nestedLoc, bf16, args[0]);
               linalg::YieldOp::create(nested, nestedLoc, rounded);
             })
      .getResult(0);
}

struct MHABF16MatmulsPass final
    : mha::impl::MHABF16MatmulsPassBase<MHABF16MatmulsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> products;
    getOperation().walk([&](linalg::LinalgOp op) {
      // A model's layers, not the tiles of a fused lowering (the flash
      // attention's block loops keep their f32 products).
      if (!isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op) ||
          !op.hasPureTensorSemantics() || op.hasUserDefinedMaps() ||
          op->getParentOfType<LoopLikeOpInterface>())
        return;
      auto allF32 = llvm::all_of(op->getOperands(), [](Value v) {
        return getElementTypeOrSelf(v.getType()).isF32();
      });
      if (allF32)
        products.push_back(op);
    });
    IRRewriter b(&getContext());
    for (linalg::LinalgOp op : products) {
      b.setInsertionPoint(op);
      Location loc = op.getLoc();
      SmallVector<Value> inputs;
      for (Value input : op.getDpsInputs())
        inputs.push_back(roundToBF16(b, loc, input));
      // Rebuilt: the body's block arguments take the new element type.
      Operation *product =
          isa<linalg::MatmulOp>(op)
              ? linalg::MatmulOp::create(b, loc, inputs, op.getDpsInits())
                    .getOperation()
              : linalg::BatchMatmulOp::create(b, loc, inputs,
                                              op.getDpsInits())
                    .getOperation();
      b.replaceOp(op, product->getResults());
    }
  }
};
} // namespace
