//===- InitAll.h - Register every mha dialect and pass ----------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// One place that lists what the mha project contributes to a registry, so
// mha-opt, mha-run and tests register the same things.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_INITALL_H
#define MHA_INITALL_H

#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/IR/MHADialect.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Pipelines/Pipelines.h"
#include "mha/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"

namespace mlir {
namespace mha {

/// Adds the mha project's dialects to `registry`.
inline void registerAllMHADialects(DialectRegistry &registry) {
  registry.insert<MHADialect>();
}

/// Adds the translations to LLVM IR of what the pipelines emit: the LLVM
/// dialect, OpenMP (the CPU's parallel loops), and the GPU and NVVM dialects
/// (mha-lower-to-gpu's kernels, serialized by gpu-module-to-binary, and the
/// host code that launches them).
inline void registerAllMHATranslations(DialectRegistry &registry) {
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  registerNVVMDialectTranslation(registry);
}

/// Registers the mha project's passes and pipelines with the global
/// registries.
inline void registerAllMHAPasses() {
  registerMHAPasses();
  registerMHAConversionPasses();
  registerMHACodegenPasses();
  registerMHAPipelines();
}

} // namespace mha
} // namespace mlir

#endif // MHA_INITALL_H
