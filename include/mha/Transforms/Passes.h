//===- Passes.h - mha code generation passes --------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the target-level passes on linalg/vector IR.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_TRANSFORMS_PASSES_H
#define MHA_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace mha {

/// The host function that mha-asserts-to-runtime-errors calls on a failed
/// check: `void mha_runtime_error(const char *message)`.
constexpr const char *kRuntimeErrorFunction = "mha_runtime_error";

/// The prefix of MLIR's GPU runtime functions (`mgpuLaunchKernel`, ...),
/// which the host code of mha-lower-to-gpu calls.
constexpr const char *kGPURuntimePrefix = "mgpu";

/// Marks, in mha-lower-to-gpu, a function that runs on the host on host
/// buffers (the deallocation's bookkeeping helper):
/// mha-gpu-map-parallel-loops leaves it alone.
constexpr const char *kHostFunctionAttr = "mha.host";

/// On a public function (`array<i64: ...>`), in mha-lower-to-gpu: the
/// arguments that are already in device memory, and the results left there
/// (fresh device buffers the caller owns and frees through the GPU
/// runtime), by position after mha-params-to-arguments. mha-run keeps a
/// training step's parameters and optimizer state on the device this way;
/// mha-gpu-device-buffers implements it.
constexpr const char *kDeviceResidentArgumentsAttr =
    "mha.device_resident_arguments";
constexpr const char *kDeviceResidentResultsAttr =
    "mha.device_resident_results";

/// Whether the host that JIT-compiles lowered modules (mha-run, the tests,
/// the benchmarks) provides the external function `name`: the allocator,
/// the C math library (what math-to-libm emits), kRuntimeErrorFunction and
/// MLIR's GPU runtime (kGPURuntimePrefix). mha-verify-llvm-lowering rejects calls to anything else.
bool isHostRuntimeFunction(llvm::StringRef name);

#define GEN_PASS_DECL
#include "mha/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "mha/Transforms/Passes.h.inc"

} // namespace mha
} // namespace mlir

#endif // MHA_TRANSFORMS_PASSES_H
