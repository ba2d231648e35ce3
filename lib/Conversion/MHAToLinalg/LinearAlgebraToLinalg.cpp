//===- LinearAlgebraToLinalg.cpp - Dense layers and matrix products -------===//
//---------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Patterns of convert-mha-to-linalg for dense, matmul, scaled_matmul and
// dense_weight_grad: named linalg matmuls (batch dimensions collapsed), with
// f32 accumulation.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "mha/Conversion/MHAToLinalg/MHAToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::mha;
using namespace mlir::mha::detail;

namespace {
struct DenseLowering final : MHAPattern<DenseOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(DenseOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput(), weight = adaptor.getWeight();
    auto inputType = tensorType(input);
    int64_t rank = inputType.getRank();
    checkSameSize(rewriter, op, input, rank - 1, "input", weight, 0, "weight");
    if (Value bias = adaptor.getBias())
      checkSameSize(rewriter, op, bias, 0, "bias", weight, 1, "weight");
    // No rows (a static zero among the leading dimensions): the result has
    // no elements; reshaping [?, 0, in] to a matrix would fold the rows to a
    // static 0 that the reshape's dynamic group contradicts.
    if (llvm::is_contained(inputType.getShape().drop_back(), 0)) {
      SmallVector<OpFoldResult> outSizes = sizesOf(rewriter, loc, input);
      outSizes.back() = sizeOf(rewriter, loc, weight, 1);
      replaceOpCasting(
          rewriter, op,
          emptyTensor(rewriter, loc, outSizes,
                      cast<RankedTensorType>(op.getType()).getElementType()));
      return success();
    }
    // View the input as a matrix [rows, in].
    Value matrix = input;
    SmallVector<ReassociationIndices> groups;
    if (rank == 1) {
      groups = {{0, 1}};
      matrix = tensor::ExpandShapeOp::create(
          rewriter, loc,
          RankedTensorType::get({1, inputType.getDimSize(0)},
                                inputType.getElementType()),
          input, groups);
    } else if (rank > 2) {
      groups.resize(1);
      for (int64_t d = 0; d < rank - 1; ++d)
        groups[0].push_back(d);
      groups.push_back({rank - 1});
      matrix = tensor::CollapseShapeOp::create(rewriter, loc, input, groups);
    }
    SmallVector<OpFoldResult> sizes = {sizeOf(rewriter, loc, matrix, 0),
                                       sizeOf(rewriter, loc, weight, 1)};
    // The accumulator starts from the broadcast bias (or zeros).
    Value init;
    if (Value bias = adaptor.getBias()) {
      Value empty = emptyTensor(rewriter, loc, sizes, f32(rewriter));
      init =
          linalg::BroadcastOp::create(rewriter, loc, toF32(rewriter, loc, bias),
                                      empty, ArrayRef<int64_t>{0})
              .getResult()[0];
    } else {
      init = filledTensor(rewriter, loc, sizes, f32(rewriter),
                          f32Const(rewriter, loc, 0.0));
    }
    Value product = linalg::MatmulOp::create(rewriter, loc,
                                             ValueRange{matrix, weight}, init)
                        .getResult(0);
    auto resultType = cast<RankedTensorType>(op.getType());
    Value result =
        castElements(rewriter, loc, product, resultType.getElementType());
    if (rank == 1) {
      result = tensor::CollapseShapeOp::create(rewriter, loc, resultType,
                                               result, groups);
    } else if (rank > 2) {
      SmallVector<OpFoldResult> outSizes = sizesOf(rewriter, loc, input);
      outSizes.back() = sizeOf(rewriter, loc, weight, 1);
      result = tensor::ExpandShapeOp::create(rewriter, loc, resultType, result,
                                             groups, outSizes);
    }
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

struct MatmulLowering final : MHAPattern<MatmulOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto resultType = cast<RankedTensorType>(op.getType());
    checkMatmulSizes(rewriter, op, adaptor.getLhs(), adaptor.getRhs());
    Value product = buildMatmul(rewriter, op.getLoc(), adaptor.getLhs(),
                                adaptor.getRhs(), resultType);
    replaceOpCasting(rewriter, op, castElements(rewriter, op.getLoc(), product,
                                        resultType.getElementType()));
    return success();
  }
};

struct ScaledMatmulLowering final : MHAPattern<ScaledMatmulOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(ScaledMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    if (!op.getUntransposed())
      rhs = transposeLastTwo(rewriter, loc, rhs);
    checkMatmulSizes(rewriter, op, lhs, rhs);
    Value product = buildMatmul(rewriter, loc, lhs, rhs, resultType);
    // scale, or 1/sqrt(K) read at run time when K is dynamic.
    Value scale = defaultScaleOr(rewriter, loc, lhs, op.getScaleAttr());
    Value scaled = mapElements(
        rewriter, loc, product, f32(rewriter),
        [&](OpBuilder &b, Location l, ValueRange args) {
          return arith::MulFOp::create(b, l, args[0], scale).getResult();
        });
    replaceOpCasting(rewriter,
        op, castElements(rewriter, loc, scaled, resultType.getElementType()));
    return success();
  }
};

struct DenseWeightGradLowering final : MHAPattern<DenseWeightGradOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(DenseWeightGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto asMatrix = [&](Value v) -> Value {
      auto type = tensorType(v);
      int64_t rank = type.getRank();
      if (rank == 2)
        return v;
      if (rank == 1)
        return tensor::ExpandShapeOp::create(
            rewriter, loc,
            RankedTensorType::get({1, type.getDimSize(0)},
                                  type.getElementType()),
            v, SmallVector<ReassociationIndices>{{0, 1}});
      SmallVector<ReassociationIndices> groups(1);
      for (int64_t d = 0; d < rank - 1; ++d)
        groups[0].push_back(d);
      groups.push_back({rank - 1});
      return tensor::CollapseShapeOp::create(rewriter, loc, v, groups);
    };
    Value x = asMatrix(adaptor.getInput());
    Value dy = asMatrix(adaptor.getResultGrad());
    for (int64_t d = 0, e = tensorType(adaptor.getInput()).getRank() - 1; d < e;
         ++d)
      checkSameSize(rewriter, op, adaptor.getInput(), d, "input",
                    adaptor.getResultGrad(), d, "result_grad");
    Value xT = transposeLastTwo(rewriter, loc, x);
    Value product = buildMatmul(
        rewriter, loc, xT, dy,
        RankedTensorType::get(cast<RankedTensorType>(op.getType()).getShape(),
                              f32(rewriter)));
    replaceOpCasting(rewriter, op, castElements(rewriter, loc, product,
                                        op.getType().getElementType()));
    return success();
  }
};
} // namespace

void mha::populateMHALinearAlgebraToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DenseLowering, MatmulLowering, ScaledMatmulLowering,
               DenseWeightGradLowering>(patterns.getContext());
}
