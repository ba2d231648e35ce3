//===- OptimizerToLinalg.cpp - Optimizer updates --------------------------===//
//----------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Patterns of convert-mha-to-linalg for optimizer_update (SGD with momentum,
// Adam, AdamW): one linalg.generic per parameter producing the new parameter
// and optimizer state.
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
struct OptimizerUpdateLowering final : MHAPattern<OptimizerUpdateOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(OptimizerUpdateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OptimizerAttr opt = op.getOptimizer();
    auto value = [](FloatAttr attr, double fallback) {
      return attr ? attr.getValueAsDouble() : fallback;
    };
    OptimizerKind kind = opt.getKind();
    double lr = opt.getLearningRate().getValueAsDouble();
    double momentum = value(opt.getMomentum(), 0.0);
    double beta1 = value(opt.getBeta1(), 0.9),
           beta2 = value(opt.getBeta2(), 0.999);
    double eps = value(opt.getEpsilon(), 1e-7);
    double decay =
        value(opt.getWeightDecay(), kind == OptimizerKind::AdamW ? 0.01 : 0.0);
    Type elementType = op.getParam().getType().getElementType();
    Value p = toF32(rewriter, loc, adaptor.getParam());
    Value g = toF32(rewriter, loc, adaptor.getGrad());
    Value m = toF32(rewriter, loc, adaptor.getFirstMoment());
    Value v = toF32(rewriter, loc, adaptor.getSecondMoment());
    // Bias corrections 1 - beta^t, computed once.
    Value t = tensor::ExtractOp::create(rewriter, loc, adaptor.getStep(),
                                        ValueRange{});
    auto correction = [&](double beta) -> Value {
      Value pow =
          math::PowFOp::create(rewriter, loc, f32Const(rewriter, loc, beta), t);
      return arith::SubFOp::create(rewriter, loc, f32Const(rewriter, loc, 1.0),
                                   pow);
    };
    Value c1, c2;
    if (kind != OptimizerKind::SGD) {
      c1 = correction(beta1);
      c2 = correction(beta2);
    }
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, p);
    int64_t rank = sizes.size();
    SmallVector<Value> inits;
    for (int i = 0; i < 3; ++i)
      inits.push_back(emptyTensor(rewriter, loc, sizes, f32(rewriter)));
    SmallVector<AffineMap> maps(7, rewriter.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange(ValueRange(inits)), ValueRange{p, g, m, v},
        inits, maps, iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          auto cst = [&](double x) { return f32Const(b, l, x); };
          auto mul = [&](Value x, Value y) {
            return arith::MulFOp::create(b, l, x, y).getResult();
          };
          auto add = [&](Value x, Value y) {
            return arith::AddFOp::create(b, l, x, y).getResult();
          };
          auto sub = [&](Value x, Value y) {
            return arith::SubFOp::create(b, l, x, y).getResult();
          };
          Value pp = args[0], gg = args[1], mm = args[2], vv = args[3];
          if (kind != OptimizerKind::AdamW && decay != 0.0)
            gg = add(gg, mul(cst(decay), pp));
          if (kind == OptimizerKind::SGD) {
            Value m2 = add(mul(cst(momentum), mm), gg);
            Value p2 = sub(pp, mul(cst(lr), m2));
            linalg::YieldOp::create(b, l, ValueRange{p2, m2, vv});
            return;
          }
          Value m2 = add(mul(cst(beta1), mm), mul(cst(1.0 - beta1), gg));
          Value v2 =
              add(mul(cst(beta2), vv), mul(cst(1.0 - beta2), mul(gg, gg)));
          Value mHat = arith::DivFOp::create(b, l, m2, c1);
          Value vHat = arith::DivFOp::create(b, l, v2, c2);
          Value update = arith::DivFOp::create(
              b, l, mHat, add(math::SqrtOp::create(b, l, vHat), cst(eps)));
          if (kind == OptimizerKind::AdamW && decay != 0.0)
            update = add(update, mul(cst(decay), pp));
          Value p2 = sub(pp, mul(cst(lr), update));
          linalg::YieldOp::create(b, l, ValueRange{p2, m2, v2});
        });
    SmallVector<Value> results;
    for (Value r : generic.getResults())
      results.push_back(castElements(rewriter, loc, r, elementType));
    replaceOpCasting(rewriter, op, results);
    return success();
  }
};
} // namespace

void mha::populateMHAOptimizerToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<OptimizerUpdateLowering>(patterns.getContext());
}
