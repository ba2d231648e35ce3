//===- GPUMergeKernelModules.cpp - One gpu.module for every kernel --------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-gpu-merge-kernel-modules: the outlined kernels,
// one gpu.module each, move into a single module, so that a model's kernels
// are compiled and loaded once.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAGPUMERGEKERNELMODULESPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
constexpr llvm::StringLiteral kMergedModule = "mha_kernels";

struct MHAGPUMergeKernelModulesPass final
    : mha::impl::MHAGPUMergeKernelModulesPassBase<
          MHAGPUMergeKernelModulesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> kernelModules(
        module.getOps<gpu::GPUModuleOp>());
    if (kernelModules.size() < 2)
      return;
    // Modules with target attributes or anything but kernels are left
    // alone (none come out of outlining).
    for (gpu::GPUModuleOp kernels : kernelModules)
      if (kernels.getTargetsAttr())
        return;

    OpBuilder b(kernelModules.front());
    auto merged =
        gpu::GPUModuleOp::create(b, module.getLoc(), kMergedModule);
    SymbolTable mergedSymbols(merged);
    // (module, function) -> the function's name in the merged module.
    llvm::StringMap<llvm::StringMap<StringAttr>> renamed;
    for (gpu::GPUModuleOp kernels : kernelModules) {
      for (Operation &op :
           llvm::make_early_inc_range(kernels.getBody()->without_terminator())) {
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        StringAttr oldName = symbol ? symbol.getNameAttr() : StringAttr();
        op.remove();
        // Named after its module (unique at the top level); the symbol
        // table renames any clash.
        if (symbol && isa<gpu::GPUFuncOp>(op))
          symbol.setName(kernels.getSymNameAttr());
        StringAttr newName = mergedSymbols.insert(&op);
        if (oldName)
          renamed[kernels.getSymName()][oldName.getValue()] = newName;
      }
      kernels.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      SymbolRefAttr kernel = launch.getKernel();
      auto moduleIt = renamed.find(kernel.getRootReference().getValue());
      if (moduleIt == renamed.end())
        return;
      auto functionIt =
          moduleIt->second.find(kernel.getLeafReference().getValue());
      if (functionIt == moduleIt->second.end())
        return;
      launch.setKernelAttr(SymbolRefAttr::get(
          StringAttr::get(&getContext(), kMergedModule),
          {FlatSymbolRefAttr::get(functionIt->second)}));
    });
  }
};
} // namespace
