//===- GPUPipeline.cpp - The mha-lower-to-gpu pipeline --------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file builds mha-lower-to-gpu: from the mha dialect to host code in
// the LLVM dialect that runs the model's kernels on an NVIDIA GPU through
// MLIR's GPU runtime calls (mgpu*), the kernels compiled through NVVM.
//
//===----------------------------------------------------------------------===//

#include "mha/Pipelines/Pipelines.h"

#include "mha/Conversion/Passes.h"
#include "mha/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>

using namespace mlir;

/// The CUDA toolkit the kernels are compiled with: `option`, else the
/// usual environment variables, else /usr/local/cuda.
static std::string cudaToolkitPath(llvm::StringRef option) {
  if (!option.empty())
    return option.str();
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *value = std::getenv(variable); value && *value)
      return value;
  return "/usr/local/cuda";
}

/// Host code -> LLVM, as on the CPU (memref before arith, so that sizes read
/// at constant dimensions stay loads from the descriptor); GPU operations
/// become MLIR's runtime calls (mgpu*).
static void addHostLowering(OpPassManager &pm) {
  pm.addPass(mha::createMHAExpandShapeToReinterpretCastPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createGpuToLLVMConversionPass());
  // Vectors: the attention rows' registers (in kernels, convert-gpu-to-nvvm
  // lowers them; emulated, they are host code).
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mha::buildMHALowerToGPUPipeline(OpPassManager &pm,
                                     const GPUPipelineOptions &options) {
  // The same front end and buffers as the CPU's. The attention forward
  // through its tiled form, one query row per parallel iteration (a thread)
  // with its keys in a loop (no Sq x Sk matrix); its backward through its
  // decomposition.
  FrontEndOptions frontEnd;
  frontEnd.flashAttention = false;
  frontEnd.rowLoopAttention = true;
  frontEnd.tensorCoreAttention = options.tensorCores;
  frontEnd.tf32Attention = options.tf32Matmuls;
  frontEnd.tensorCoreBlockQ = options.attentionBlockQ;
  frontEnd.tensorCoreBlockK = options.attentionBlockK;
  frontEnd.bf16Attention = options.bf16Attention;
  buildMHAFrontEnd(pm, frontEnd);
  if (options.bf16Matmuls) {
    // Transposed operands rounded first: the matmul kernel reads them in
    // place.
    mha::MHABF16MatmulsPassOptions rounding;
    rounding.roundBeforeTransposes = true;
    pm.addNestedPass<func::FuncOp>(mha::createMHABF16MatmulsPass(rounding));
  }
  // f16/bf16 products (those of bf16-matmuls too) to the tensor-core
  // matmul kernel, f32 ones to the tiled one on CUDA cores (tf32-matmuls:
  // to the tensor-core one, rounded to TF32).
  if (options.tensorCores || options.f32MatmulKernel || options.tf32Matmuls) {
    mha::MHAGPUMatmulKernelOpsPassOptions matmuls;
    matmuls.tensorCores = options.tensorCores;
    matmuls.f32 = options.f32MatmulKernel;
    matmuls.tf32 = options.tf32Matmuls;
    pm.addNestedPass<func::FuncOp>(
        mha::createMHAGPUMatmulKernelOpsPass(matmuls));
  }
  buildMHABufferization(pm);
  // The tiled form's scf.forall over (batch position, query row).
  pm.addNestedPass<func::FuncOp>(createForallToParallelLoopPass());

  // Every linalg op a parallel loop nest; buffers in device memory; each
  // outermost parallel loop one kernel launch.
  pm.addNestedPass<func::FuncOp>(createMHAStridedCopiesToLoopsPass());
  pm.addNestedPass<func::FuncOp>(createLinalgGeneralizeNamedOpsPass());
  pm.addNestedPass<func::FuncOp>(createMHAGPUReductionsInnermostPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createCanonicalizerPass());
  // Emulated too: the host code, its copies and its device buffers are the
  // GPU's (the emulated runtime's device memory is host memory).
  pm.addPass(createMHAGPUDeviceBuffersPass());
  // mha.gpu_attention (tensor-cores) on device buffers -> its kernel (or,
  // emulated, its blocks in sequence with their threads as vector lanes).
  MHAGPULowerTensorCoreKernelsPassOptions kernels;
  kernels.emulate = options.emulate;
  pm.addPass(createMHAGPULowerTensorCoreKernelsPass(kernels));
  MHAGPUMapParallelLoopsPassOptions mapping;
  mapping.blockSize = options.blockSize;
  mapping.convert = !options.emulate;
  pm.addNestedPass<func::FuncOp>(createMHAGPUMapParallelLoopsPass(mapping));
  buildMHAGPUKernelsToLLVMPipeline(pm, options);
}

void mha::buildMHAGPUKernelsToLLVMPipeline(OpPassManager &pm,
                                           const GPUPipelineOptions &options) {
  pm.addPass(createMHAAssertsToRuntimeErrorsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());
  if (options.emulate) {
    // The mapped loop nests (grid of blocks, threads with their bounds
    // checks) run in sequence on the host; allocations and copies call the
    // runtime (mgpu*), which mha-run emulates over host memory.
    pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
    pm.addPass(createSCFToControlFlowPass());
    addHostLowering(pm);
    pm.addPass(createMHAVerifyLLVMLoweringPass());
    return;
  }
  // Constants and index computations into the kernels that use them (not
  // kernel arguments): ptxas folds them (shifts for multiplications, fewer
  // registers).
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  // One module of kernels: compiled once (ptxas), loaded once.
  pm.addPass(createMHAGPUMergeKernelModulesPass());
  // Shared-memory tiles aligned for 16-byte stores and ldmatrix.
  pm.addNestedPass<gpu::GPUModuleOp>(createMHAGPUAlignSharedMemoryPass());
  // Allocations, copies and launches in order on one stream.
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  pm.addPass(createSCFToControlFlowPass());

  // Kernels -> NVVM, for the chosen chip.
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  pm.addPass(createGpuNVVMAttachTarget(target));
  // The attention kernels' nvgpu ops (ldmatrix, cp.async), then the rest.
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertNVGPUToNVVMPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps());
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCSEPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createReconcileUnrealizedCastsPass());
  addHostLowering(pm);

  // Each kernel module compiled and embedded (cubin by ptxas, or PTX).
  GpuModuleToBinaryPassOptions toBinary;
  switch (options.format) {
  case GPUBinaryFormat::Cubin:
    toBinary.compilationTarget = "bin";
    break;
  case GPUBinaryFormat::PTX:
    toBinary.compilationTarget = "isa";
    break;
  case GPUBinaryFormat::Fatbin:
    toBinary.compilationTarget = "fatbin";
    break;
  }
  toBinary.toolkitPath = cudaToolkitPath(options.cudaPath);
  pm.addPass(createGpuModuleToBinaryPass(toBinary));
  pm.addPass(createMHAVerifyLLVMLoweringPass());
}
