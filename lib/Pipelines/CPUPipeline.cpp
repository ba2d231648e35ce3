//===- CPUPipeline.cpp - The mha-lower-to-cpu pipeline --------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file builds and registers mha-lower-to-cpu, from the mha dialect to the
// LLVM dialect for the host CPU.
//
//===----------------------------------------------------------------------===//

#include "mha/Pipelines/Pipelines.h"

#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mha::buildMHALowerToCPUPipeline(OpPassManager &pm,
                                     const CPUPipelineOptions &options) {
  FrontEndOptions frontEnd;
  frontEnd.flashAttention = options.flashAttention;
  frontEnd.attentionBlockQ = options.attentionBlockQ;
  frontEnd.attentionBlockK = options.attentionBlockK;
  buildMHAFrontEnd(pm, frontEnd);
  if (options.bf16Matmuls)
    pm.addNestedPass<func::FuncOp>(createMHABF16MatmulsPass());

  // Register-block tiling and vectorization of the matmul-like ops.
  if (options.vectorize) {
    MHATileAndVectorizePassOptions tiling;
    tiling.mTile = options.mTile;
    tiling.nTile = options.nTile;
    tiling.kTile = options.kTile;
    tiling.packMatmuls = options.packMatmuls;
    tiling.blockM = options.blockM;
    tiling.blockK = options.blockK;
    tiling.bf16Dot = options.avx512BF16;
    // Matmuls split into row blocks for every core, unless sequential.
    tiling.parallelRows = options.threads == 1 ? 0 : options.parallelRows;
    pm.addNestedPass<func::FuncOp>(createMHATileAndVectorizePass(tiling));
    pm.addPass(createCanonicalizerPass());
  }

  buildMHABufferization(pm);

  // Parallel loops (batch elements of the flash lowering) on every core
  // through OpenMP (libomp), or sequential with threads=1.
  if (options.threads == 1) {
    pm.addNestedPass<func::FuncOp>(createForallToForLoopPass());
  } else {
    pm.addNestedPass<func::FuncOp>(createForallToParallelLoopPass());
    ConvertSCFToOpenMPPassOptions openMP;
    openMP.numThreads = options.threads;
    pm.addPass(createConvertSCFToOpenMPPass(openMP));
    // Inlines the memref.alloca_scope it wraps loop bodies in (they hold no
    // stack allocation), which would not survive scf-to-cf.
    pm.addPass(createCanonicalizerPass());
  }
  // One function per distinct register-block kernel, called by every matmul
  // that uses it: code generation sees each kernel once. (After the OpenMP
  // conversion: a call would keep the memref.alloca_scope it wraps loop
  // bodies in from being inlined.)
  if (options.vectorize && options.outlineKernels) {
    pm.addPass(createMHAOutlineKernelsPass());
    pm.addPass(func::createDuplicateFunctionEliminationPass());
  }

  // Loops and vectors -> LLVM.
  // Strided copies (of tiles) as loops: the JIT has no memrefCopy.
  pm.addNestedPass<func::FuncOp>(createMHAStridedCopiesToLoopsPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addNestedPass<func::FuncOp>(vector::createLowerVectorMaskPass());
  pm.addPass(createMHAAssertsToRuntimeErrorsPass());
  // Fully unrolled: n-D transfers become 1-D ones on registers, not loops
  // over a stack buffer (scf.for is an allocation scope, so those buffers
  // would be allocated afresh on every iteration without being released).
  VectorTransferToSCFOptions vectorToSCF;
  vectorToSCF.enableFullUnroll();
  pm.addPass(createConvertVectorToSCFPass(vectorToSCF));
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createMHAExpandShapeToReinterpretCastPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.vectorContractLowering =
      vector::VectorContractLowering::OuterProduct;
  // 16 x 16 blocks of matrix transposes (mha-tile-and-vectorize) by
  // shuffles in registers; other shapes element by element.
  vectorToLLVM.vectorTransposeLowering =
      vector::VectorTransposeLowering::Shuffle16x16;
  // AVX-512 BF16 dot products (bf16-dot-products) as LLVM intrinsics.
  vectorToLLVM.x86Vector = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  // Fail here, at the op, rather than in translation, linking or at run time.
  pm.addPass(createMHAVerifyLLVMLoweringPass());
}

