//===- Pipelines.cpp - Stages every mha pipeline shares -------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file builds the stages the CPU and GPU pipelines share (the front
// end from mha to linalg, and bufferization) and registers the pipelines.
//
//===----------------------------------------------------------------------===//

#include "mha/Pipelines/Pipelines.h"

#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <unistd.h>

using namespace mlir;

/// The host's L1 data cache, which the derived attention blocks fit; 32 KiB
/// where the C library does not say.
static int64_t hostL1DataCacheBytes() {
#ifdef _SC_LEVEL1_DCACHE_SIZE
  long size = sysconf(_SC_LEVEL1_DCACHE_SIZE);
  if (size > 0)
    return size;
#endif
  return 32 * 1024;
}

void mha::buildMHAFrontEnd(OpPassManager &pm, const FrontEndOptions &options) {
  pm.addPass(createMHAParamsToArgumentsPass());
  pm.addPass(createCanonicalizerPass());
  // Attention spelled out step by step (scaled_matmul, mask, softmax,
  // matmul) computed as one mha.attention: tiled, without the Sq x Sk
  // matrix, on the attention kernels (training's and generation's builders
  // fuse their own chains before differentiating or caching).
  pm.addPass(createMHAFuseAttentionPass());
  if (options.bf16Attention)
    pm.addNestedPass<func::FuncOp>(createMHABF16AttentionPass());
  if (options.tensorCoreAttention || options.tf32Attention) {
    MHAGPUAttentionKernelOpsPassOptions kernels;
    kernels.blockQ = options.tensorCoreBlockQ;
    kernels.blockK = options.tensorCoreBlockK;
    kernels.tensorCores = options.tensorCoreAttention;
    kernels.tf32 = options.tf32Attention;
    pm.addNestedPass<func::FuncOp>(createMHAGPUAttentionKernelOpsPass(kernels));
  }
  if (options.rowLoopAttention) {
    MHATileAttentionPassOptions tiling;
    tiling.blockQ = 1;
    tiling.blockK = 0; // the row's keys in one loop
    pm.addNestedPass<func::FuncOp>(createMHATileAttentionPass(tiling));
    // mha-tile-attention checked the whole op's sizes before tiling, on
    // the host; the tiles' loops run in GPU threads, which cannot report.
    MHAOnlineAttentionToLoopsPassOptions loops;
    loops.checkSizes = false;
    pm.addNestedPass<func::FuncOp>(createMHAOnlineAttentionToLoopsPass(loops));
    // The backward as two loops of a thread per row (query rows: dQ; key
    // rows: dK, dV).
    pm.addNestedPass<func::FuncOp>(createMHAAttentionGradToLoopsPass());
  }
  ConvertMHAToLinalgPassOptions toLinalg;
  toLinalg.flashAttention = options.flashAttention;
  toLinalg.attentionBlockQ = options.attentionBlockQ;
  toLinalg.attentionBlockK = options.attentionBlockK;
  toLinalg.l1CacheBytes = hostL1DataCacheBytes();
  pm.addPass(createConvertMHAToLinalgPass(toLinalg));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mha::buildMHABufferization(OpPassManager &pm) {
  // Results leave each function as fresh allocations the caller owns and
  // frees.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  // The ownership clones the deallocation inserts become alloc + copy.
  pm.addPass(createConvertBufferizationToMemRefPass());
}

void mha::registerMHAPipelines() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "mha-lower-to-cpu",
      "Lower an mha model to the LLVM dialect for the host CPU (tiled and "
      "vectorized matmuls, bufferized, deallocated)",
      buildMHALowerToCPUPipeline);
  PassPipelineRegistration<GPUPipelineOptions>(
      "mha-lower-to-gpu",
      "Lower an mha model to the LLVM dialect for the host with its kernels "
      "compiled for an NVIDIA GPU (buffers in GPU memory)",
      buildMHALowerToGPUPipeline);
  PassPipelineRegistration<GPUPipelineOptions>(
      "mha-gpu-kernels-to-llvm",
      "The second half of mha-lower-to-gpu: host code on device buffers "
      "with gpu.launch kernels to the LLVM dialect, the kernels compiled "
      "through NVVM",
      buildMHAGPUKernelsToLLVMPipeline);
}
