//===- GPUAlignSharedMemory.cpp - 16-byte aligned shared memory -----------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-gpu-align-shared-memory: each kernel's workgroup
// attributions get an `llvm.align`, which convert-gpu-to-nvvm gives the
// shared-memory global it makes of them (by default their element's
// alignment, too little for 16-byte stores and ldmatrix rows).
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAGPUALIGNSHAREDMEMORYPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
struct MHAGPUAlignSharedMemoryPass final
    : mha::impl::MHAGPUAlignSharedMemoryPassBase<MHAGPUAlignSharedMemoryPass> {
  using Base::Base;

  void runOnOperation() override {
    if (alignment <= 0 || !llvm::isPowerOf2_64(uint64_t(alignment))) {
      getOperation().emitError()
          << "mha-gpu-align-shared-memory: alignment must be a power of 2, "
             "not "
          << int64_t(alignment);
      return signalPassFailure();
    }
    StringRef name = LLVM::LLVMDialect::getAlignAttrName();
    Builder b(&getContext());
    for (auto func : getOperation().getOps<gpu::GPUFuncOp>())
      for (unsigned i = 0; i < func.getNumWorkgroupAttributions(); ++i) {
        auto current = dyn_cast_if_present<IntegerAttr>(
            func.getWorkgroupAttributionAttr(i, name));
        if (current && current.getInt() >= alignment)
          continue;
        func.setWorkgroupAttributionAttr(i, name,
                                         b.getI64IntegerAttr(alignment));
      }
  }
};
} // namespace
