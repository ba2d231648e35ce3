//===- ElementwiseToLinalg.cpp - Element-wise ops and their gradients -----===//
//-------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Patterns of convert-mha-to-linalg for add, sub, mul (NumPy broadcasting),
// relu, gelu, sigmoid, tanh, relu_grad and gelu_grad: linalg.generic bodies
// computed in f32.
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
/// Lowers a broadcasting binary op with `combine` applied in f32.
template <typename OpTy, typename ArithOp>
struct BinaryLowering final : MHAPattern<OpTy> {
  using MHAPattern<OpTy>::MHAPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename MHAPattern<OpTy>::OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    checkBroadcast(rewriter, op, resultType.getRank(),
                   {{lhs, "lhs"}, {rhs, "rhs"}});
    SmallVector<OpFoldResult> sizes =
        broadcastSizes(rewriter, loc, resultType, {lhs, rhs});
    Type elementType = resultType.getElementType();
    bool isF32 = elementType.isF32();
    Value result =
        buildGeneric(rewriter, loc, sizes, elementType, {lhs, rhs},
                     {broadcastMap(rewriter, tensorType(lhs).getShape(),
                                   resultType.getShape()),
                      broadcastMap(rewriter, tensorType(rhs).getShape(),
                                   resultType.getShape())},
                     [&](OpBuilder &b, Location l, ValueRange args) -> Value {
                       if (isF32)
                         return ArithOp::create(b, l, args[0], args[1]);
                       Value x = arith::ExtFOp::create(b, l, f32(b), args[0]);
                       Value y = arith::ExtFOp::create(b, l, f32(b), args[1]);
                       Value r = ArithOp::create(b, l, x, y);
                       return arith::TruncFOp::create(b, l, elementType, r);
                     });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

/// Lowers a unary element-wise op whose f32 body is `Derived::compute`.
template <typename OpTy, typename Derived>
struct UnaryLowering : MHAPattern<OpTy> {
  using MHAPattern<OpTy>::MHAPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename MHAPattern<OpTy>::OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Value result = mapElements(
        rewriter, loc, adaptor.getInput(), elementType,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value x = args[0];
          if (!elementType.isF32())
            x = arith::ExtFOp::create(b, l, f32(b), x);
          Value y = static_cast<const Derived *>(this)->compute(op, b, l, x);
          if (!elementType.isF32())
            y = arith::TruncFOp::create(b, l, elementType, y);
          return y;
        });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

struct ReluLowering final : UnaryLowering<ReluOp, ReluLowering> {
  using UnaryLowering::UnaryLowering;
  Value compute(ReluOp, OpBuilder &b, Location l, Value x) const {
    return arith::MaximumFOp::create(b, l, x, f32Const(b, l, 0.0));
  }
};

struct SigmoidLowering final : UnaryLowering<SigmoidOp, SigmoidLowering> {
  using UnaryLowering::UnaryLowering;
  Value compute(SigmoidOp, OpBuilder &b, Location l, Value x) const {
    // 1 / (1 + exp(-x)): exp overflows to +inf for very negative x and the
    // quotient correctly becomes 0.
    Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
    Value d = arith::AddFOp::create(b, l, f32Const(b, l, 1.0), e);
    return arith::DivFOp::create(b, l, f32Const(b, l, 1.0), d);
  }
};

struct TanhLowering final : UnaryLowering<TanhOp, TanhLowering> {
  using UnaryLowering::UnaryLowering;
  Value compute(TanhOp, OpBuilder &b, Location l, Value x) const {
    return math::TanhOp::create(b, l, x);
  }
};

struct GeluLowering final : UnaryLowering<GeluOp, GeluLowering> {
  using UnaryLowering::UnaryLowering;
  Value compute(GeluOp op, OpBuilder &b, Location l, Value x) const {
    Value half = arith::MulFOp::create(b, l, x, f32Const(b, l, 0.5));
    Value inner;
    if (op.getApproximate()) {
      // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
      Value x3 =
          arith::MulFOp::create(b, l, x, arith::MulFOp::create(b, l, x, x));
      Value poly = arith::AddFOp::create(
          b, l, x, arith::MulFOp::create(b, l, x3, f32Const(b, l, 0.044715)));
      inner = math::TanhOp::create(
          b, l,
          arith::MulFOp::create(b, l, poly,
                                f32Const(b, l, std::sqrt(2.0 / M_PI))));
    } else {
      inner = math::ErfOp::create(
          b, l, arith::MulFOp::create(b, l, x, f32Const(b, l, M_SQRT1_2)));
    }
    Value onePlus = arith::AddFOp::create(b, l, f32Const(b, l, 1.0), inner);
    return arith::MulFOp::create(b, l, half, onePlus);
  }
};

/// Lowers an element-wise gradient op `f(x, dy)` computed in f32.
template <typename OpTy> struct ElementwiseGradLowering : MHAPattern<OpTy> {
  using MHAPattern<OpTy>::MHAPattern;
  virtual Value compute(OpTy op, OpBuilder &b, Location l, Value x,
                        Value dy) const = 0;
  LogicalResult
  matchAndRewrite(OpTy op, typename MHAPattern<OpTy>::OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getType().getElementType();
    Value result = mapElements(
        rewriter, loc, {adaptor.getInput(), adaptor.getResultGrad()},
        elementType, [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value x = args[0], dy = args[1];
          if (!elementType.isF32()) {
            x = arith::ExtFOp::create(b, l, f32(b), x);
            dy = arith::ExtFOp::create(b, l, f32(b), dy);
          }
          Value r = compute(op, b, l, x, dy);
          if (!elementType.isF32())
            r = arith::TruncFOp::create(b, l, elementType, r);
          return r;
        });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};

struct ReluGradLowering final : ElementwiseGradLowering<ReluGradOp> {
  using ElementwiseGradLowering::ElementwiseGradLowering;
  Value compute(ReluGradOp, OpBuilder &b, Location l, Value x,
                Value dy) const override {
    Value positive = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x,
                                           f32Const(b, l, 0.0));
    return arith::SelectOp::create(b, l, positive, dy, f32Const(b, l, 0.0));
  }
};

struct GeluGradLowering final : ElementwiseGradLowering<GeluGradOp> {
  using ElementwiseGradLowering::ElementwiseGradLowering;
  Value compute(GeluGradOp op, OpBuilder &b, Location l, Value x,
                Value dy) const override {
    auto mul = [&](Value u, Value v) {
      return arith::MulFOp::create(b, l, u, v).getResult();
    };
    auto add = [&](Value u, Value v) {
      return arith::AddFOp::create(b, l, u, v).getResult();
    };
    Value half = f32Const(b, l, 0.5), one = f32Const(b, l, 1.0);
    Value derivative;
    if (op.getApproximate()) {
      // d/dx [x/2 (1 + tanh(u))], u = c (x + 0.044715 x^3)
      Value c = f32Const(b, l, std::sqrt(2.0 / M_PI));
      Value x2 = mul(x, x);
      Value u = mul(c, add(x, mul(f32Const(b, l, 0.044715), mul(x2, x))));
      Value t = math::TanhOp::create(b, l, u);
      Value du = mul(c, add(one, mul(f32Const(b, l, 3 * 0.044715), x2)));
      Value sech2 = arith::SubFOp::create(b, l, one, mul(t, t));
      derivative =
          add(mul(half, add(one, t)), mul(mul(half, x), mul(sech2, du)));
    } else {
      // Phi(x) + x phi(x)
      Value cdf =
          mul(half, add(one, math::ErfOp::create(
                                 b, l, mul(x, f32Const(b, l, M_SQRT1_2)))));
      Value pdf =
          mul(f32Const(b, l, 1.0 / std::sqrt(2.0 * M_PI)),
              math::ExpOp::create(b, l, mul(f32Const(b, l, -0.5), mul(x, x))));
      derivative = add(cdf, mul(x, pdf));
    }
    return mul(dy, derivative);
  }
};
/// Dropout with a key: each element's keep decision is a counter-based hash
/// of (key, stream, row-major index), SplitMix64's finalizer, whose top 24
/// bits are compared with rate * 2^24. Without a key, the identity.
struct DropoutLowering final : MHAPattern<DropoutOp> {
  using MHAPattern::MHAPattern;
  LogicalResult
  matchAndRewrite(DropoutOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    double rate = op.getRate().convertToDouble();
    if (!adaptor.getKey() || rate == 0.0) {
      rewriter.replaceOp(op, adaptor.getInput());
      return success();
    }
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto type = cast<RankedTensorType>(input.getType());
    Type elementType = type.getElementType();
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, input);
    SmallVector<Value> dims;
    for (OpFoldResult size : sizes)
      dims.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, size));
    // The op's base state: key * golden + stream * C.
    auto i64 = [&](OpBuilder &b, Location l, uint64_t v) -> Value {
      return arith::ConstantIntOp::create(b, l, int64_t(v), 64);
    };
    Value key =
        tensor::ExtractOp::create(rewriter, loc, adaptor.getKey(), ValueRange{});
    int64_t stream = op.getStream() ? int64_t(*op.getStream()) : 0;
    Value base = arith::AddIOp::create(
        rewriter, loc,
        arith::MulIOp::create(rewriter, loc, key,
                              i64(rewriter, loc, 0x9E3779B97F4A7C15ull)),
        i64(rewriter, loc, uint64_t(stream) * 0xD1B54A32D192ED03ull));
    uint64_t threshold = uint64_t(std::llround(rate * double(1 << 24)));
    double scale = 1.0 / (1.0 - rate);
    Value result = mapElements(
        rewriter, loc, input, elementType,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          // The row-major index of this element.
          Value index = linalg::IndexOp::create(b, l, 0);
          for (int64_t d = 1; d < type.getRank(); ++d)
            index = arith::AddIOp::create(
                b, l, arith::MulIOp::create(b, l, index, dims[d]),
                linalg::IndexOp::create(b, l, d));
          Value z = arith::AddIOp::create(
              b, l, base,
              arith::MulIOp::create(
                  b, l, arith::IndexCastOp::create(b, l, b.getI64Type(), index),
                  i64(b, l, 0x9E3779B97F4A7C15ull)));
          auto mix = [&](Value v, int shift, uint64_t factor) {
            Value shifted = arith::ShRUIOp::create(b, l, v, i64(b, l, shift));
            return arith::MulIOp::create(
                b, l, arith::XOrIOp::create(b, l, v, shifted),
                i64(b, l, factor));
          };
          z = mix(z, 30, 0xBF58476D1CE4E5B9ull);
          z = mix(z, 27, 0x94D049BB133111EBull);
          z = arith::XOrIOp::create(
              b, l, z, arith::ShRUIOp::create(b, l, z, i64(b, l, 31)));
          Value draw = arith::ShRUIOp::create(b, l, z, i64(b, l, 40));
          Value keep = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge,
                                             draw, i64(b, l, threshold));
          Value x = args[0];
          if (!elementType.isF32())
            x = arith::ExtFOp::create(b, l, f32(b), x);
          Value kept = arith::MulFOp::create(b, l, x, f32Const(b, l, scale));
          Value y = arith::SelectOp::create(b, l, keep, kept,
                                            f32Const(b, l, 0.0));
          if (!elementType.isF32())
            y = arith::TruncFOp::create(b, l, elementType, y);
          return y;
        });
    replaceOpCasting(rewriter, op, result);
    return success();
  }
};
} // namespace

void mha::populateMHAElementwiseToLinalgPatterns(RewritePatternSet &patterns) {
  patterns
      .add<BinaryLowering<AddOp, arith::AddFOp>,
           BinaryLowering<SubOp, arith::SubFOp>,
           BinaryLowering<MulOp, arith::MulFOp>, ReluLowering, SigmoidLowering,
           TanhLowering, GeluLowering, ReluGradLowering, GeluGradLowering,
           DropoutLowering>(
          patterns.getContext());
}
