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

// -----

// Mixed static and dynamic batch dimensions: the lowering sized the product
// from the dynamic lhs and left an unresolved materialization to the
// static result type (issue 11); now a checked tensor.cast.
// CHECK-LABEL: llvm.func @mixed_batch
// CHECK: llvm.call @mha_runtime_error
// CHECK: llvm.return
func.func @mixed_batch(%a: tensor<?x2x3xf32>, %b: tensor<5x3x4xf32>) -> tensor<5x2x4xf32> {
  %c = mha.matmul %a, %b : tensor<?x2x3xf32>, tensor<5x3x4xf32>
  return %c : tensor<5x2x4xf32>
}

// -----

// Zero-size dimensions: dense over [?, 0, 8] rows broke the reshape to a
// matrix ("collapsed dim must be dynamic if and only if reassociation group
// is dynamic"); matmul, softmax, layer_norm and gelu lower too.
// CHECK-LABEL: llvm.func @zero_rows
// CHECK: llvm.return
func.func @zero_rows(%x: tensor<?x0x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<?x0x4xf32> {
  %y = mha.dense %x, %w, %b : tensor<?x0x8xf32>, tensor<8x4xf32>, tensor<4xf32>
  return %y : tensor<?x0x4xf32>
}
// CHECK-LABEL: llvm.func @zero_batch
// CHECK: llvm.return
func.func @zero_batch(%a: tensor<0x3x8xf32>, %b: tensor<0x8x4xf32>, %g: tensor<4xf32>) -> tensor<0x3x4xf32> {
  %c = mha.matmul %a, %b : tensor<0x3x8xf32>, tensor<0x8x4xf32>
  %s = mha.softmax %c : tensor<0x3x4xf32>
  %l = mha.layer_norm %s, %g, %g : tensor<0x3x4xf32>, tensor<4xf32>, tensor<4xf32>
  %e = mha.gelu %l : tensor<0x3x4xf32>
  return %e : tensor<0x3x4xf32>
}
