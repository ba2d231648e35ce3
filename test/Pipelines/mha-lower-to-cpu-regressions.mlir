// Shapes that once broke mha-lower-to-cpu, each lowered completely to the
// LLVM dialect (the pipeline ends in mha-verify-llvm-lowering, so a leftover
// op, a stack allocation in a loop or an unknown external call would fail it).
//
// RUN: mha-opt %s -split-input-file -mha-lower-to-cpu | FileCheck %s

// A static sequence length with a dynamic batch: the remainder tile's copy
// was a call to memrefCopy, which the JIT cannot resolve.
// CHECK-LABEL: llvm.func @dense_dynamic_batch_static_seq
// CHECK-NOT: memrefCopy
// CHECK: llvm.return
func.func @dense_dynamic_batch_static_seq(%x: tensor<?x16x16xf32>, %w: tensor<16x64xf32>) -> tensor<?x16x64xf32> {
  %y = mha.dense %x, %w : tensor<?x16x16xf32>, tensor<16x64xf32>
  return %y : tensor<?x16x64xf32>
}

// -----

// bf16 batched matmul: the register tiles are read as bf16, extended to f32
// and accumulated in f32 (the contraction was left half-converted before).
// CHECK-LABEL: llvm.func @batch_matmul_bf16
// CHECK: llvm.fpext %{{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: llvm.intr.fmuladd
// CHECK: llvm.fptrunc %{{.*}} : f32 to bf16
func.func @batch_matmul_bf16(%a: tensor<2x8x16xbf16>, %b: tensor<2x16x32xbf16>) -> tensor<2x8x32xbf16> {
  %y = mha.matmul %a, %b : tensor<2x8x16xbf16>, tensor<2x16x32xbf16>
  return %y : tensor<2x8x32xbf16>
}

// -----

// Vector tiles live in registers: no stack buffer in the tile loops.
// CHECK-LABEL: llvm.func @dense_tiles
// CHECK-NOT: llvm.alloca
// CHECK: llvm.return
func.func @dense_tiles(%x: tensor<?x?x16xf32>, %w: tensor<16x512xf32>) -> tensor<?x?x512xf32> {
  %y = mha.dense %x, %w : tensor<?x?x16xf32>, tensor<16x512xf32>
  return %y : tensor<?x?x512xf32>
}

// -----

// Batch elements of the flash lowering run in parallel: scf.forall becomes
// an OpenMP parallel loop (num_threads from the threads option; threads=1
// keeps sequential code, tested in mha-lower-to-cpu-threads.mlir).
// CHECK-LABEL: llvm.func @attention_parallel
// CHECK: omp.parallel
// CHECK: omp.wsloop
// CHECK: omp.loop_nest
func.func @attention_parallel(%q: tensor<2x4x40x16xf32>) -> tensor<2x4x40x16xf32> {
  %o = mha.attention %q, %q, %q : tensor<2x4x40x16xf32>, tensor<2x4x40x16xf32>, tensor<2x4x40x16xf32>
  return %o : tensor<2x4x40x16xf32>
}
