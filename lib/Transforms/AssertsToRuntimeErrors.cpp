//===- AssertsToRuntimeErrors.cpp - Failed checks become host errors ------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-asserts-to-runtime-errors: cf.assert becomes a
// guarded call to the host's mha_runtime_error, so a run-time size mismatch is
// reported by the driver as an error rather than aborting the process.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAASSERTSTORUNTIMEERRORSPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
struct MHAAssertsToRuntimeErrorsPass final
    : mha::impl::MHAAssertsToRuntimeErrorsPassBase<
          MHAAssertsToRuntimeErrorsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<cf::AssertOp> asserts;
    module.walk([&](cf::AssertOp op) { asserts.push_back(op); });
    if (asserts.empty())
      return;
    // A GPU kernel cannot call the host's error report: a check that ended
    // up in one is a pipeline defect, named here rather than by ptxas.
    bool inKernel = false;
    for (cf::AssertOp op : asserts) {
      if (!op->getParentOfType<gpu::LaunchOp>() &&
          !op->getParentOfType<gpu::GPUFuncOp>())
        continue;
      op.emitError("mha-asserts-to-runtime-errors: a run-time check inside "
                   "a GPU kernel cannot be reported (checks belong on the "
                   "host, before the launch): ")
          << op.getMsg();
      inKernel = true;
    }
    if (inKernel)
      return signalPassFailure();

    MLIRContext *ctx = &getContext();
    OpBuilder builder(ctx);
    auto ptrType = LLVM::LLVMPointerType::get(ctx);
    if (!module.lookupSymbol(mha::kRuntimeErrorFunction)) {
      builder.setInsertionPointToStart(module.getBody());
      auto decl = func::FuncOp::create(builder, module.getLoc(),
                                       mha::kRuntimeErrorFunction,
                                       builder.getFunctionType({ptrType}, {}));
      decl.setPrivate();
    }

    for (auto [index, op] : llvm::enumerate(asserts)) {
      builder.setInsertionPoint(op);
      Location loc = op.getLoc();
      Value one = arith::ConstantIntOp::create(builder, loc, 1, 1);
      Value failed = arith::XOrIOp::create(builder, loc, op.getArg(), one);
      auto ifOp = scf::IfOp::create(builder, loc, failed, /*withElse=*/false);
      builder.setInsertionPointToStart(ifOp.thenBlock());
      std::string name = "__mha_check_" + std::to_string(index);
      std::string text = op.getMsg().str();
      text.push_back('\0');
      Value message = LLVM::createGlobalString(loc, builder, name, text,
                                               LLVM::Linkage::Internal);
      func::CallOp::create(builder, loc, mha::kRuntimeErrorFunction,
                           TypeRange{}, ValueRange{message});
      op.erase();
    }
  }
};
} // namespace
