//===- Autodiff.cpp - Reverse-mode differentiation of mha functions -------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-autodiff: for a function computing a scalar loss,
// it builds a function returning the loss and its gradients with respect to
// the module's parameters (and optionally the inputs). The gradient rules
// belong to the ops (DifferentiableOpInterface); this pass only orders them
// and sums the contributions of values used more than once.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Dialect/MHA/Transforms/Transforms.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/Inliner.h"
#include "mlir/Transforms/InliningUtils.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAAUTODIFFPASS
#include "mha/Dialect/MHA/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;

namespace {
bool isScalarLoss(func::FuncOp func) {
  if (func.isExternal() || func.getNumResults() != 1)
    return false;
  auto type = dyn_cast<RankedTensorType>(func.getResultTypes()[0]);
  return type && type.getRank() == 0 && isa<FloatType>(type.getElementType());
}

/// Zeros of a static-shaped float tensor type.
Value zerosOf(OpBuilder &b, Location loc, RankedTensorType type) {
  return arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(type, b.getFloatAttr(type.getElementType(), 0.0)));
}

/// Inlines every func.call in `func`, the calls in inlined bodies too. A
/// call to an external or multi-block function, or a chain of calls deeper
/// than any layer nesting (recursion), is an error at the call.
} // namespace

LogicalResult mha::inlineCalls(func::FuncOp func, StringRef who) {
  InlinerInterface interface(func.getContext());
  // The inliner's own way of moving a callee's blocks into the caller.
  InlinerConfig config;
  constexpr int kMaxDepth = 64;
  for (int depth = 0;; ++depth) {
    SmallVector<func::CallOp> calls;
    func.walk([&](func::CallOp call) { calls.push_back(call); });
    if (calls.empty())
      return success();
    for (func::CallOp call : calls) {
      if (depth == kMaxDepth)
        return call.emitOpError() << who << ": calls nested more than "
               << kMaxDepth << " deep (a recursive layer?)";
      auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
          call, call.getCalleeAttr());
      if (!callee || callee.isExternal() || !callee.getBody().hasOneBlock())
        return call.emitOpError()
               << who
               << " can only inline calls to functions with a single-block "
                  "body";
      if (failed(inlineCall(interface, config.getCloneCallback(),
                            cast<CallOpInterface>(call.getOperation()),
                            cast<CallableOpInterface>(callee.getOperation()),
                            &callee.getBody())))
        return call.emitOpError() << who << " could not inline this call";
      call.erase();
    }
  }
}

FailureOr<func::FuncOp> mha::buildGradientFunction(func::FuncOp forward,
                                                   ArrayRef<ParamOp> params,
                                                   bool wrtInputs) {
  MLIRContext *ctx = forward.getContext();
  if (!forward.getBody().hasOneBlock()) {
    forward.emitOpError("mha-autodiff needs a single-block function");
    return failure();
  }
  auto grad = cast<func::FuncOp>(forward->clone());
  grad.setSymName((forward.getSymName() + "_grad").str());
  grad->setAttr("mha.gradient_of", FlatSymbolRefAttr::get(forward));
  OpBuilder builder(ctx);
  builder.setInsertionPointAfter(forward);
  builder.insert(grad);
  // Layers written as functions: the gradient function gets their bodies
  // inlined (the forward function keeps its calls).
  if (failed(inlineCalls(grad, "mha-autodiff"))) {
    grad.erase();
    return failure();
  }

  // Attention keeps its row statistics for the backward pass.
  SmallVector<AttentionOp> attentions;
  grad.walk([&](AttentionOp op) { attentions.push_back(op); });
  for (AttentionOp op : attentions) {
    builder.setInsertionPoint(op);
    auto withLse = AttentionWithLSEOp::create(
        builder, op.getLoc(), op.getQuery(), op.getKey(), op.getValue(),
        op.getMask(), op.getScaleAttr(), op.getCausalAttr());
    op.replaceAllUsesWith(withLse.getResult());
    op.erase();
  }

  Block &block = grad.getBody().front();
  auto ret = cast<func::ReturnOp>(block.getTerminator());
  Value loss = ret.getOperand(0);
  SmallVector<Operation *> forwardOps;
  for (Operation &op : block.without_terminator())
    forwardOps.push_back(&op);

  builder.setInsertionPoint(ret);
  Location loc = ret.getLoc();
  DenseMap<Value, Value> grads;
  auto accumulate = [&](Value value, Value g) {
    Value &slot = grads[value];
    slot = slot ? AddOp::create(builder, loc, slot, g).getResult() : g;
  };
  auto lossType = cast<RankedTensorType>(loss.getType());
  grads[loss] = arith::ConstantOp::create(
      builder, loc,
      DenseElementsAttr::get(
          lossType, builder.getFloatAttr(lossType.getElementType(), 1.0)));

  llvm::StringMap<Value> paramGrads;
  for (Operation *op : llvm::reverse(forwardOps)) {
    SmallVector<Value> resultGrads;
    bool any = false;
    for (Value r : op->getResults()) {
      resultGrads.push_back(grads.lookup(r));
      any |= static_cast<bool>(resultGrads.back());
    }
    if (!any)
      continue;
    if (auto get = dyn_cast<GetParamOp>(op)) {
      Value &slot = paramGrads[get.getName()];
      slot = slot ? AddOp::create(builder, loc, slot, resultGrads[0]).getResult()
                  : resultGrads[0];
      continue;
    }
    if (isa<arith::ConstantOp>(op))
      continue;
    auto rule = dyn_cast<DifferentiableOpInterface>(op);
    if (!rule) {
      op->emitOpError("has no gradient rule (needed by mha-autodiff for @")
          << forward.getSymName() << ")";
      grad.erase();
      return failure();
    }
    // A result that does not influence the loss contributes nothing; rules
    // of single-result ops never see a null gradient.
    SmallVector<Value> operandGrads;
    if (failed(rule.buildGradients(builder, resultGrads, operandGrads))) {
      grad.erase();
      return failure();
    }
    // Each gradient takes its operand's exact type: a rule may infer a less
    // static one (a dynamic input dimension makes dense_weight_grad's rows
    // dynamic even when the weight is static), which a tensor.cast refines.
    // A rule that gives an incompatible type is a bug in that rule: an
    // error, never an op built on mismatched types.
    for (auto [i, pair] :
         llvm::enumerate(llvm::zip(op->getOperands(), operandGrads))) {
      auto [operand, g] = pair;
      if (!g)
        continue;
      if (g.getType() != operand.getType()) {
        auto want = dyn_cast<RankedTensorType>(operand.getType());
        auto have = dyn_cast<RankedTensorType>(g.getType());
        if (!want || !have ||
            want.getElementType() != have.getElementType() ||
            failed(verifyCompatibleShape(want, have))) {
          op->emitOpError("gradient rule gave ")
              << g.getType() << " for operand #" << i << " of type "
              << operand.getType() << " (mha-autodiff for @"
              << forward.getSymName() << "); please report this bug";
          grad.erase();
          return failure();
        }
        g = tensor::CastOp::create(builder, loc, want, g);
      }
      accumulate(operand, g);
    }
  }

  SmallVector<Value> results = {loss};
  for (ParamOp param : params) {
    Value g = paramGrads.lookup(param.getSymName());
    results.push_back(g ? g : zerosOf(builder, loc, param.getTensorType()));
  }
  if (wrtInputs) {
    for (BlockArgument arg : block.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      if (!type || !isa<FloatType>(type.getElementType()))
        continue;
      Value g = grads.lookup(arg);
      if (!g) {
        // A real zero broadcast to the argument's shape (x * 0 would turn
        // an infinite input, such as a -inf mask entry, into NaN).
        auto zero = RankedTensorType::get({}, type.getElementType());
        g = BroadcastToOp::create(
            builder, loc, type,
            arith::ConstantOp::create(
                builder, loc,
                DenseElementsAttr::get(
                    zero, builder.getFloatAttr(type.getElementType(), 0.0))),
            arg,
            builder.getDenseI64ArrayAttr(
                llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()))),
            /*average=*/UnitAttr());
      }
      results.push_back(g);
    }
  }
  func::ReturnOp::create(builder, loc, results);
  ret.erase();
  grad.setFunctionType(FunctionType::get(
      ctx, grad.getArgumentTypes(), ValueRange(results).getTypes()));
  return grad;
}

namespace {
struct MHAAutodiffPass final
    : mha::impl::MHAAutodiffPassBase<MHAAutodiffPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<ParamOp> params(module.getOps<ParamOp>());
    SmallVector<func::FuncOp> targets;
    if (functions.empty()) {
      for (auto func : module.getOps<func::FuncOp>())
        if (isScalarLoss(func) && !func->hasAttr("mha.gradient_of"))
          targets.push_back(func);
    } else {
      for (const std::string &name : functions) {
        auto func = module.lookupSymbol<func::FuncOp>(name);
        if (!func) {
          module.emitError("mha-autodiff: no function @") << name;
          return signalPassFailure();
        }
        if (!isScalarLoss(func)) {
          func.emitOpError("mha-autodiff needs a function returning one "
                           "rank-0 float tensor (a loss)");
          return signalPassFailure();
        }
        targets.push_back(func);
      }
    }
    for (func::FuncOp func : targets)
      if (failed(buildGradientFunction(func, params, wrtInputs)))
        return signalPassFailure();
  }
};
} // namespace
