//===- BuildTrainStep.cpp - Training step from mha.training ---------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-build-train-step: the loss, evaluation and
// training-step functions a driver calls to train the module's model as its
// mha.training configuration says.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Dialect/MHA/Transforms/Transforms.h"
#include "mha/Support/ArgumentNames.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHABUILDTRAINSTEPPASS
#include "mha/Dialect/MHA/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;

namespace {
/// The labels' type for `loss` on predictions of type `pred`.
RankedTensorType labelType(LossKind loss, RankedTensorType pred) {
  if (loss != LossKind::CrossEntropy)
    return pred;
  return RankedTensorType::get(pred.getShape().drop_back(),
                               IntegerType::get(pred.getContext(), 64));
}

/// Builds `@name(model inputs..., labels) -> (loss, predictions)` by cloning
/// the model's body and appending the loss.
func::FuncOp buildLossFunction(OpBuilder &b, func::FuncOp model,
                               TrainingOp config, StringRef name) {
  LossKind loss = config.getLoss();
  Location loc = model.getLoc();
  auto pred = cast<RankedTensorType>(model.getResultTypes()[0]);
  SmallVector<Type> inputs(model.getArgumentTypes());
  inputs.push_back(labelType(loss, pred));
  auto func = func::FuncOp::create(
      b, loc, name,
      b.getFunctionType(inputs, {RankedTensorType::get({}, pred.getElementType()),
                                 pred}));
  Block *body = func.addEntryBlock();
  IRMapping mapping;
  for (auto [from, to] : llvm::zip(model.getArguments(), body->getArguments()))
    mapping.map(from, to);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(body);
  Block &modelBody = model.getBody().front();
  for (Operation &op : modelBody.without_terminator())
    b.clone(op, mapping);
  Value prediction =
      mapping.lookup(modelBody.getTerminator()->getOperand(0));
  Value labels = body->getArguments().back();
  Value value;
  switch (loss) {
  case LossKind::BCE:
    value = BCELossOp::create(b, loc, prediction, labels, UnitAttr());
    break;
  case LossKind::BCEWithLogits:
    value = BCELossOp::create(b, loc, prediction, labels, b.getUnitAttr());
    break;
  case LossKind::MSE:
    value = MSELossOp::create(b, loc, prediction, labels);
    break;
  case LossKind::CrossEntropy:
    value = CrossEntropyOp::create(b, loc, prediction, labels,
                                   config.getIgnoreIndexAttr());
    break;
  }
  func::ReturnOp::create(b, loc, ValueRange{value, prediction});
  return func;
}

struct MHABuildTrainStepPass final
    : mha::impl::MHABuildTrainStepPassBase<MHABuildTrainStepPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto configs = module.getOps<TrainingOp>();
    if (configs.empty()) {
      module.emitError("mha-build-train-step: the module has no mha.training");
      return signalPassFailure();
    }
    TrainingOp config = *configs.begin();
    auto model = module.lookupSymbol<func::FuncOp>(config.getModel());
    if (!model || model.isExternal() || !model.getBody().hasOneBlock() ||
        model.getNumResults() != 1) {
      config.emitOpError("'model' must be a single-block function with one "
                         "result");
      return signalPassFailure();
    }
    SmallVector<ParamOp> params(module.getOps<ParamOp>());
    OpBuilder b(&getContext());
    b.setInsertionPointToEnd(module.getBody());
    Location loc = config.getLoc();

    // Evaluation: loss and predictions.
    func::FuncOp eval =
        buildLossFunction(b, model, config, "__mha_eval");
    // The loss alone, differentiated.
    func::FuncOp loss =
        buildLossFunction(b, model, config, "__mha_loss");
    auto lossRet = cast<func::ReturnOp>(loss.getBody().front().getTerminator());
    Value predInLoss = lossRet.getOperand(1);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(lossRet);
      func::ReturnOp::create(b, loc, lossRet.getOperand(0));
      lossRet.erase();
    }
    loss.setFunctionType(b.getFunctionType(
        loss.getArgumentTypes(), {loss.getResultTypes()[0]}));
    (void)predInLoss;
    // Dropout is active in training only: the loss takes a key after the
    // labels, and each dropout op (layers inlined first, so that every call
    // draws its own) gets it and its own stream.
    if (failed(inlineCalls(loss, "mha-build-train-step")))
      return signalPassFailure();
    SmallVector<DropoutOp> dropouts;
    loss.walk([&](DropoutOp op) { dropouts.push_back(op); });
    if (!dropouts.empty()) {
      unsigned index = loss.getNumArguments();
      (void)loss.insertArgument(
          index, RankedTensorType::get({}, b.getI64Type()),
          b.getDictionaryAttr(b.getNamedAttr(kArgumentNameAttr,
                                             b.getStringAttr("dropout_key"))),
          loc);
      for (auto [stream, op] : llvm::enumerate(dropouts)) {
        op.getKeyMutable().assign(loss.getArgument(index));
        op.setStreamAttr(b.getI64IntegerAttr(int64_t(stream)));
      }
    }
    // Fused attention differentiates through mha.attention_grad, which keeps
    // only row statistics: fuse the chains first.
    {
      RewritePatternSet patterns(&getContext());
      populateMHAFuseAttentionPatterns(patterns);
      if (failed(applyPatternsGreedily(loss, std::move(patterns)))) {
        loss.emitOpError("attention fusion did not converge");
        return signalPassFailure();
      }
    }
    FailureOr<func::FuncOp> grad =
        buildGradientFunction(loss, params, /*wrtInputs=*/false);
    if (failed(grad))
      return signalPassFailure();

    Type stepType = RankedTensorType::get({}, b.getF32Type());
    // The update of every parameter from its gradient, inserted before
    // `ret`: (new parameters..., new m..., new v...).
    auto emitUpdates = [&](func::ReturnOp ret, Value stepArg, ValueRange m,
                           ValueRange v, ValueRange grads) {
      b.setInsertionPoint(ret);
      SmallVector<Value> newParams, newM, newV;
      for (auto [i, param] : llvm::enumerate(params)) {
        Value value = GetParamOp::create(b, loc, param.getType(),
                                         param.getSymNameAttr().getValue());
        auto update = OptimizerUpdateOp::create(b, loc, value, grads[i], m[i],
                                                v[i], stepArg,
                                                config.getOptimizer());
        newParams.push_back(update.getNewParam());
        newM.push_back(update.getNewFirstMoment());
        newV.push_back(update.getNewSecondMoment());
      }
      SmallVector<Value> results = std::move(newParams);
      results.append(newM);
      results.append(newV);
      return results;
    };
    auto replaceReturn = [&](func::FuncOp fn, func::ReturnOp ret,
                             ValueRange results) {
      b.setInsertionPoint(ret);
      func::ReturnOp::create(b, loc, results);
      ret.erase();
      fn.setFunctionType(
          b.getFunctionType(fn.getBody().front().getArgumentTypes(),
                            ValueRange(results).getTypes()));
    };
    auto appendArguments = [&](func::FuncOp fn, ArrayRef<Type> types) {
      for (Type type : types)
        (void)fn.insertArgument(fn.getNumArguments(), type, DictionaryAttr(),
                                loc);
    };
    SmallVector<Type> moments;
    for (int moment = 0; moment < 2; ++moment)
      for (ParamOp p : params)
        moments.push_back(p.getType());

    // The gradient function with the predictions (the loss op's first
    // operand) next to the loss.
    func::FuncOp step = grad->clone();
    step->removeAttr("mha.gradient_of");
    b.insert(step);
    Block &body = step.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    Value prediction = ret.getOperand(0).getDefiningOp()->getOperand(0);
    ValueRange grads = ret.getOperands().drop_front();
    if (splitUpdate) {
      // Data-parallel training: the driver combines the gradients of
      // `__mha_grad_step` across workers and passes them to
      // `__mha_apply_update`.
      step.setSymName("__mha_grad_step");
      SmallVector<Value> results = {ret.getOperand(0), prediction};
      results.append(grads.begin(), grads.end());
      replaceReturn(step, ret, results);

      SmallVector<Type> inputs = {stepType};
      inputs.append(moments);
      for (ParamOp p : params)
        inputs.push_back(p.getType());
      b.setInsertionPointToEnd(module.getBody());
      auto apply = func::FuncOp::create(b, loc, "__mha_apply_update",
                                        b.getFunctionType(inputs, {}));
      Block *applyBody = apply.addEntryBlock();
      b.setInsertionPointToEnd(applyBody);
      auto applyRet = func::ReturnOp::create(b, loc, ValueRange());
      size_t n = params.size();
      ValueRange args = applyBody->getArguments();
      SmallVector<Value> updated =
          emitUpdates(applyRet, args[0], args.slice(1, n),
                      args.slice(1 + n, n), args.slice(1 + 2 * n, n));
      replaceReturn(apply, applyRet, updated);
    } else {
      // One function: forward, backward and update.
      step.setSymName("__mha_train_step");
      unsigned numInputs = step.getNumArguments();
      SmallVector<Type> extra = {stepType};
      extra.append(moments);
      appendArguments(step, extra);
      size_t n = params.size();
      ValueRange args = body.getArguments();
      SmallVector<Value> results = {ret.getOperand(0), prediction};
      results.append(emitUpdates(ret, args[numInputs],
                                 args.slice(numInputs + 1, n),
                                 args.slice(numInputs + 1 + n, n), grads));
      replaceReturn(step, ret, results);
    }
    grad->erase();
    (void)eval;
  }
};
} // namespace
