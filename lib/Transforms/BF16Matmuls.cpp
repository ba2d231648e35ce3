//===- BF16Matmuls.cpp - Matrix products with bf16 operands ---------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the compute half of mixed-precision training and
// inference, weights, activations, their gradients and the optimizer's state
// staying f32:
// * mha-bf16-matmuls (the CPU): the f32 operands of a model's matrix
//   products are rounded to bf16 (to nearest even) and multiplied into the
//   same f32 accumulator, so the products run on bf16 hardware (AVX-512
//   BF16's dot products, see mha-tile-and-vectorize);
// * mha-bf16-attention (the GPU): attention, forward and backward, on f32
//   operands is computed on their bf16 roundings and its results widened
//   back to f32, so that the tensor-core kernels take it.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "llvm/ADT/SetVector.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHABF16MATMULSPASS
#define GEN_PASS_DEF_MHABF16ATTENTIONPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
/// `tensor` (floats) converted to `element`, element by element: rounded
/// to nearest even (narrower) or exactly (wider).
Value convertFloats(OpBuilder &b, Location loc, Value tensor, Type element) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, tensor);
  Value empty = tensor::EmptyOp::create(b, loc, sizes, element);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{empty.getType()}, ValueRange{tensor},
             ValueRange{empty}, ArrayRef<AffineMap>{identity, identity},
             iterators,
             [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
               Value converted =
                   element.getIntOrFloatBitWidth() <
                           type.getElementType().getIntOrFloatBitWidth()
                       ? arith::TruncFOp::create(nested, nestedLoc, element,
                                                 args[0])
                             .getResult()
                       : arith::ExtFOp::create(nested, nestedLoc, element,
                                               args[0])
                             .getResult();
               linalg::YieldOp::create(nested, nestedLoc, converted);
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
      // (A set: one transpose may be both operands.)
      llvm::SetVector<Operation *> replaced;
      for (Value input : op.getDpsInputs()) {
        // (round-before-transposes) A transposed operand rounded before its
        // transpose (the same values, half the bytes moved), which the
        // GPU's matmul kernel then reads in place.
        auto transpose = input.getDefiningOp<linalg::TransposeOp>();
        if (!roundBeforeTransposes || !transpose ||
            !transpose.hasPureTensorSemantics()) {
          inputs.push_back(convertFloats(b, loc, input, b.getBF16Type()));
          continue;
        }
        replaced.insert(transpose);
        Value rounded =
            convertFloats(b, loc, transpose.getInput(), b.getBF16Type());
        // (Its sizes from the rounded tensor's: the f32 transpose goes.)
        SmallVector<OpFoldResult> sizes;
        SmallVector<OpFoldResult> roundedSizes =
            tensor::getMixedSizes(b, loc, rounded);
        for (int64_t d : transpose.getPermutation())
          sizes.push_back(roundedSizes[d]);
        Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getBF16Type());
        inputs.push_back(linalg::TransposeOp::create(b, loc, rounded, empty,
                                                     transpose.getPermutation())
                             .getResult()[0]);
      }
      // Rebuilt: the body's block arguments take the new element type.
      Operation *product =
          isa<linalg::MatmulOp>(op)
              ? linalg::MatmulOp::create(b, loc, inputs, op.getDpsInits())
                    .getOperation()
              : linalg::BatchMatmulOp::create(b, loc, inputs,
                                              op.getDpsInits())
                    .getOperation();
      b.replaceOp(op, product->getResults());
      // The f32 transposes that nothing else reads.
      for (Operation *transpose : replaced)
        if (transpose->use_empty())
          b.eraseOp(transpose);
    }
  }
};

struct MHABF16AttentionPass final
    : mha::impl::MHABF16AttentionPassBase<MHABF16AttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (!isa<mha::AttentionOp, mha::AttentionWithLSEOp, mha::AttentionGradOp>(
              op) ||
          !getElementTypeOrSelf(op->getOperand(0).getType()).isF32())
        return;
      // (A mask's gradient in use stays f32: the additive mask would be
      // rounded, its gradient with it.)
      if (auto grad = dyn_cast<mha::AttentionGradOp>(op);
          grad && grad.getMaskGrad() && !grad.getMaskGrad().use_empty())
        return;
      ops.push_back(op);
    });
    OpBuilder b(&getContext());
    Type bf16 = b.getBF16Type(), f32 = b.getF32Type();
    for (Operation *op : ops) {
      Location loc = op->getLoc();
      b.setInsertionPoint(op);
      // Every f32 operand rounded (query, key, value, an additive mask; the
      // backward's output and its gradient), but the log-sum-exp.
      Value lse;
      if (auto grad = dyn_cast<mha::AttentionGradOp>(op))
        lse = grad.getLse();
      SmallVector<Value> operands;
      for (Value operand : op->getOperands())
        operands.push_back(
            operand != lse && getElementTypeOrSelf(operand.getType()).isF32()
                ? convertFloats(b, loc, operand, bf16)
                : operand);
      Operation *rounded = b.clone(*op);
      rounded->setOperands(operands);
      // Its results in bf16 but the forward's log-sum-exp, widened back.
      b.setInsertionPointAfter(rounded);
      for (auto [index, result] : llvm::enumerate(rounded->getResults())) {
        if (isa<mha::AttentionWithLSEOp>(op) && index == 1)
          continue;
        auto type = cast<RankedTensorType>(result.getType());
        result.setType(type.clone(bf16));
      }
      SmallVector<Value> results;
      for (auto [index, result] : llvm::enumerate(rounded->getResults()))
        results.push_back(getElementTypeOrSelf(result.getType()).isBF16() &&
                                  !op->getResult(index).use_empty()
                              ? convertFloats(b, loc, result, f32)
                              : result);
      for (auto [old, replacement] : llvm::zip(op->getResults(), results))
        if (!old.use_empty())
          old.replaceAllUsesWith(replacement);
      op->erase();
    }
  }
};
} // namespace
