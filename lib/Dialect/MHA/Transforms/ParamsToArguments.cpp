//===- ParamsToArguments.cpp - Parameters become function arguments -------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-params-to-arguments, which makes every function's
// dependence on the module's trainable parameters explicit in its signature.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAPARAMSTOARGUMENTSPASS
#include "mha/Dialect/MHA/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;

namespace {
struct MHAParamsToArgumentsPass final
    : mha::impl::MHAParamsToArgumentsPassBase<MHAParamsToArgumentsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<ParamOp> params(module.getOps<ParamOp>());
    if (params.empty())
      return;
    MLIRContext *ctx = &getContext();
    auto paramAttrName = StringAttr::get(ctx, "mha.param");

    // Functions with a body get the parameters as trailing arguments.
    DenseMap<StringAttr, unsigned> firstParamArg;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      unsigned first = func.getNumArguments();
      firstParamArg[func.getSymNameAttr()] = first;
      SmallVector<unsigned> indices(params.size(), first);
      SmallVector<Type> types;
      SmallVector<DictionaryAttr> attrs;
      SmallVector<Location> locs;
      for (ParamOp param : params) {
        types.push_back(param.getType());
        attrs.push_back(DictionaryAttr::get(
            ctx, NamedAttribute(paramAttrName,
                                FlatSymbolRefAttr::get(param.getSymNameAttr()))));
        locs.push_back(param.getLoc());
      }
      if (failed(func.insertArguments(indices, types, attrs, locs))) {
        func.emitOpError("could not append the parameter arguments");
        return signalPassFailure();
      }
    }

    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      unsigned first = firstParamArg[func.getSymNameAttr()];
      auto paramArg = [&](size_t index) {
        return func.getArgument(first + index);
      };
      DenseMap<StringAttr, size_t> paramIndex;
      for (auto [i, param] : llvm::enumerate(params))
        paramIndex[param.getSymNameAttr()] = i;

      func.walk([&](Operation *op) {
        if (auto get = dyn_cast<GetParamOp>(op)) {
          get.replaceAllUsesWith(
              paramArg(paramIndex.lookup(get.getNameAttr().getAttr())));
          get.erase();
        } else if (auto call = dyn_cast<func::CallOp>(op)) {
          // Callees with a body take the parameters too.
          if (!firstParamArg.count(call.getCalleeAttr().getAttr()))
            return;
          SmallVector<Value> operands(call.getOperands());
          for (size_t i = 0; i < params.size(); ++i)
            operands.push_back(paramArg(i));
          call->setOperands(operands);
        }
      });
    }
  }
};
} // namespace
