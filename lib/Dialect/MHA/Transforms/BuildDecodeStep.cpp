//===- BuildDecodeStep.cpp - Prefill and cached decoding -------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-build-decode-step: from a causal language model
// over whole sequences, the two functions a text generator calls, a prefill
// that also returns each attention's keys and values, and a decoding step
// that runs the model on new tokens only, attending over those cached keys
// and values.
//
// Why this is sound: every op the model may contain outside attention works
// position by position (row p of its result depends only on row p of its
// operands, with position-dependent values coming from mha.positions /
// mha.sinusoidal_positions, which take the offset); causal attention's row p
// depends on the keys and values of rows 0..p. So the rows of the new tokens
// come out the same as in a forward pass over the whole sequence, provided
// each attention sees the cached keys and values followed by the new ones.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Dialect/MHA/Transforms/Transforms.h"
#include "mha/Support/ArgumentNames.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHABUILDDECODESTEPPASS
#include "mha/Dialect/MHA/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;

namespace {
constexpr StringLiteral kPass = "mha-build-decode-step";

/// Whether row p of `op`'s results depends only on row p of its operands
/// (along the sequence axis), so the op may run on new positions alone.
bool isPositionWise(Operation *op) {
  return isa<DenseOp, DropoutOp, EmbeddingOp, PositionsOp, RotaryOp,
             SinusoidalPositionsOp, SplitHeadsOp, MergeHeadsOp, LayerNormOp,
             AddOp, SubOp, MulOp,
             ReluOp, GeluOp, SigmoidOp, TanhOp, GetParamOp, arith::ConstantOp,
             func::ReturnOp>(op);
}

/// The offset operand of the ops that place positions (mha.positions,
/// mha.sinusoidal_positions, mha.rotary); none for other ops.
std::optional<MutableOperandRange> offsetOperand(Operation *op) {
  if (auto positions = dyn_cast<PositionsOp>(op))
    return positions.getOffsetMutable();
  if (auto positions = dyn_cast<SinusoidalPositionsOp>(op))
    return positions.getOffsetMutable();
  if (auto rotary = dyn_cast<RotaryOp>(op))
    return rotary.getOffsetMutable();
  return std::nullopt;
}

/// The model function the pass works on: `name`, else mha.training's model,
/// else the only function.
func::FuncOp findModel(ModuleOp module, StringRef name) {
  if (name.empty()) {
    auto configs = module.getOps<TrainingOp>();
    if (!configs.empty())
      name = (*configs.begin()).getModel();
  }
  if (!name.empty()) {
    auto func = module.lookupSymbol<func::FuncOp>(name);
    if (!func)
      emitError(module.getLoc()) << kPass << ": no function @" << name;
    return func;
  }
  SmallVector<func::FuncOp> funcs;
  for (auto func : module.getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal() &&
        !func.getSymName().starts_with("__mha_"))
      funcs.push_back(func);
  if (funcs.size() != 1) {
    emitError(module.getLoc())
        << kPass
        << ": the module has no single public function and no mha.training; "
           "name the model with 'model='";
    return {};
  }
  return funcs.front();
}

/// Checks that `func` (inlined and fused) can be decoded with a cache and
/// returns its attention ops in program order.
FailureOr<SmallVector<AttentionOp>> checkDecodable(func::FuncOp func) {
  SmallVector<AttentionOp> attentions;
  WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
    if (op == func.getOperation())
      return WalkResult::advance();
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      if (!attention.getCausal() || attention.getMask()) {
        op->emitOpError() << kPass
                          << ": generation needs causal attention without a "
                             "mask (each token sees itself and the tokens "
                             "before it)";
        return WalkResult::interrupt();
      }
      // The sequence axis of keys and values (rank - 2) must be dynamic to
      // grow with the cache.
      auto key = cast<RankedTensorType>(attention.getKey().getType());
      if (!key.isDynamicDim(key.getRank() - 2)) {
        op->emitOpError() << kPass
                          << ": the keys' sequence length must be dynamic, "
                             "got "
                          << key;
        return WalkResult::interrupt();
      }
      attentions.push_back(attention);
      return WalkResult::advance();
    }
    if (auto offset = offsetOperand(op); offset && !offset->empty()) {
      op->emitOpError() << kPass << ": the model already offsets positions";
      return WalkResult::interrupt();
    }
    if (!isPositionWise(op)) {
      op->emitOpError()
          << kPass
          << ": generation with a key/value cache needs every op outside "
             "causal attention to work position by position; this one may "
             "mix positions";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  return attentions;
}

/// Clones `model` as `name`, with calls inlined and attention chains fused;
/// checks it and returns its attention ops.
FailureOr<std::pair<func::FuncOp, SmallVector<AttentionOp>>>
cloneForDecoding(OpBuilder &b, func::FuncOp model, StringRef name) {
  auto func = cast<func::FuncOp>(b.clone(*model.getOperation()));
  func.setSymName(name);
  func.setPublic();
  if (failed(inlineCalls(func, kPass)))
    return failure();
  RewritePatternSet patterns(func.getContext());
  populateMHAFuseAttentionPatterns(patterns);
  if (failed(applyPatternsGreedily(func, std::move(patterns))))
    return func.emitOpError() << kPass << ": attention fusion did not converge",
           failure();
  FailureOr<SmallVector<AttentionOp>> attentions = checkDecodable(func);
  if (failed(attentions))
    return failure();
  return std::make_pair(func, *attentions);
}

/// Appends `values` to the return of `func` and updates its type.
void appendResults(func::FuncOp func, ValueRange values) {
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  ret->insertOperands(ret->getNumOperands(), values);
  func.setFunctionType(FunctionType::get(func.getContext(),
                                         func.getArgumentTypes(),
                                         ret->getOperandTypes()));
}

struct MHABuildDecodeStepPass final
    : mha::impl::MHABuildDecodeStepPassBase<MHABuildDecodeStepPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp model = findModel(module, modelName);
    if (!model)
      return signalPassFailure();
    auto emitModelError = [&]() {
      return model.emitOpError() << kPass << ": ";
    };
    if (model.isExternal() || !model.getBody().hasOneBlock() ||
        model.getNumResults() != 1 || model.getNumArguments() != 1) {
      emitModelError() << "expects a single-block language model "
                          "@model(tokens) -> logits with one argument and "
                          "one result";
      return signalPassFailure();
    }
    auto tokens = dyn_cast<RankedTensorType>(model.getArgumentTypes()[0]);
    auto logits = dyn_cast<RankedTensorType>(model.getResultTypes()[0]);
    if (!tokens || tokens.getRank() != 2 ||
        !tokens.getElementType().isSignlessInteger() ||
        !tokens.isDynamicDim(1) || !logits || logits.getRank() != 3) {
      emitModelError() << "expects tokens [batch, ?] of integer ids and "
                          "logits [batch, seq, vocabulary], got "
                       << model.getFunctionType();
      return signalPassFailure();
    }

    OpBuilder b(&getContext());
    b.setInsertionPointToEnd(module.getBody());
    // The prefill: the model, also returning each attention's keys and
    // values.
    auto prefill = cloneForDecoding(b, model, "__mha_prefill");
    if (failed(prefill))
      return signalPassFailure();
    SmallVector<Value> cache;
    for (AttentionOp attention : prefill->second) {
      cache.push_back(attention.getKey());
      cache.push_back(attention.getValue());
    }
    appendResults(prefill->first, cache);

    // The decoding step: new tokens after `offset` cached ones.
    auto decode = cloneForDecoding(b, model, "__mha_decode");
    if (failed(decode))
      return signalPassFailure();
    func::FuncOp step = decode->first;
    Location loc = model.getLoc();
    // New arguments, named for drivers and diagnostics.
    auto addArgument = [&](Type type, const Twine &name) {
      unsigned index = step.getNumArguments();
      (void)step.insertArgument(
          index, type,
          b.getDictionaryAttr(b.getNamedAttr(kArgumentNameAttr,
                                             b.getStringAttr(name))),
          loc);
      return step.getArgument(index);
    };
    Value offset =
        addArgument(RankedTensorType::get({}, b.getI64Type()), "offset");
    SmallVector<Value> newCache;
    for (auto [i, attention] : llvm::enumerate(decode->second)) {
      Value keyCache = addArgument(attention.getKey().getType(),
                                   "key_cache" + Twine(i));
      Value valueCache = addArgument(attention.getValue().getType(),
                                     "value_cache" + Twine(i));
      b.setInsertionPoint(attention);
      int64_t axis =
          cast<RankedTensorType>(attention.getKey().getType()).getRank() - 2;
      Value keys = tensor::ConcatOp::create(
          b, attention.getLoc(), axis, ValueRange{keyCache, attention.getKey()});
      Value values = tensor::ConcatOp::create(
          b, attention.getLoc(), axis,
          ValueRange{valueCache, attention.getValue()});
      attention.getKeyMutable().assign(keys);
      attention.getValueMutable().assign(values);
      // One new query sees every cached key and itself.
      attention.setCausal(false);
      newCache.push_back(keys);
      newCache.push_back(values);
    }
    step.walk([&](Operation *op) {
      if (auto operand = offsetOperand(op))
        operand->assign(offset);
    });
    appendResults(step, newCache);
  }
};
} // namespace
