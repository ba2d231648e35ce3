// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{parallel-rows=64 pack-matmuls=0}))' -split-input-file | FileCheck %s
// RUN: not mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{parallel-rows=12}))' -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: mha-tile-and-vectorize: parallel-rows must be 0 or a positive multiple of m-tile

// Blocks of 64 output rows in an scf.forall, each tiled into register
// blocks and vectorized.
// CHECK-LABEL: func.func @rows
// CHECK: scf.forall (%[[I:.*]]) = (0) to (256) step (64)
// CHECK: tensor.extract_slice %{{.*}}[%[[I]], 0] [64, 128] [1, 1]
// CHECK: scf.for
// CHECK: vector.contract
// CHECK: tensor.parallel_insert_slice
func.func @rows(%a: tensor<256x128xf32>, %b: tensor<128x64xf32>) -> tensor<256x64xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<256x64xf32>
  %c = linalg.fill ins(%z : f32) outs(%e : tensor<256x64xf32>) -> tensor<256x64xf32>
  %r = linalg.matmul ins(%a, %b : tensor<256x128xf32>, tensor<128x64xf32>) outs(%c : tensor<256x64xf32>) -> tensor<256x64xf32>
  return %r : tensor<256x64xf32>
}

// -----

// Few rows (a weight gradient: as many rows as input features): blocks of
// 4 x n-tile = 128 columns instead.
// CHECK-LABEL: func.func @columns
// CHECK: scf.forall (%[[J:.*]]) = (0) to (512) step (128)
// CHECK: tensor.extract_slice %{{.*}}[0, %[[J]]] [128, 128] [1, 1]
func.func @columns(%a: tensor<16x128xf32>, %b: tensor<128x512xf32>, %c: tensor<16x512xf32>) -> tensor<16x512xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<16x128xf32>, tensor<128x512xf32>) outs(%c : tensor<16x512xf32>) -> tensor<16x512xf32>
  return %r : tensor<16x512xf32>
}

// -----

// Too small to share, or already inside a parallel loop: no scf.forall.
// CHECK-LABEL: func.func @small
// CHECK-NOT: scf.forall (
// CHECK: vector.contract
func.func @small(%a: tensor<16x16xf32>, %b: tensor<16x32xf32>, %c: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<16x16xf32>, tensor<16x32xf32>) outs(%c : tensor<16x32xf32>) -> tensor<16x32xf32>
  return %r : tensor<16x32xf32>
}

// -----

// CHECK-LABEL: func.func @nested
// CHECK: scf.forall (
// CHECK-NOT: scf.forall (
// CHECK: return
func.func @nested(%a: tensor<4x256x16xf32>, %b: tensor<16x32xf32>, %c: tensor<4x256x32xf32>) -> tensor<4x256x32xf32> {
  %r = scf.forall (%i) in (4) shared_outs(%o = %c) -> tensor<4x256x32xf32> {
    %ai = tensor.extract_slice %a[%i, 0, 0] [1, 256, 16] [1, 1, 1] : tensor<4x256x16xf32> to tensor<256x16xf32>
    %oi = tensor.extract_slice %o[%i, 0, 0] [1, 256, 32] [1, 1, 1] : tensor<4x256x32xf32> to tensor<256x32xf32>
    %m = linalg.matmul ins(%ai, %b : tensor<256x16xf32>, tensor<16x32xf32>) outs(%oi : tensor<256x32xf32>) -> tensor<256x32xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %m into %o[%i, 0, 0] [1, 256, 32] [1, 1, 1] : tensor<256x32xf32> into tensor<4x256x32xf32>
    }
  }
  return %r : tensor<4x256x32xf32>
}
