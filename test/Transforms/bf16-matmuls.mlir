// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-bf16-matmuls))' | FileCheck %s
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-bf16-matmuls{round-before-transposes}))' | FileCheck %s --check-prefix=BEFORE
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-bf16-matmuls))' | mha-opt -pass-pipeline='builtin.module(func.func(mha-bf16-matmuls))' | FileCheck %s --check-prefix=TWICE

// Both operands of a model's matmul are rounded to bf16 (arith.truncf, to
// nearest even) into fresh tensors of their (dynamic) sizes; the product keeps
// its f32 accumulator and result.
// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%[[A:[^ ]+]]: tensor<?x16xf32>, %[[B:[^ ]+]]: tensor<16x32xf32>, %[[C:[^ ]+]]: tensor<?x32xf32>)
// CHECK: %[[ROWS:.*]] = tensor.dim %[[A]], %{{.*}} : tensor<?x16xf32>
// CHECK: %[[AE:.*]] = tensor.empty(%[[ROWS]]) : tensor<?x16xbf16>
// CHECK: %[[AH:.*]] = linalg.generic {{.*}} ins(%[[A]] : tensor<?x16xf32>) outs(%[[AE]] : tensor<?x16xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: %[[BH:.*]] = linalg.generic {{.*}} ins(%[[B]] : tensor<16x32xf32>) outs(%{{.*}} : tensor<16x32xbf16>)
// CHECK: %[[R:.*]] = linalg.matmul ins(%[[AH]], %[[BH]] : tensor<?x16xbf16>, tensor<16x32xbf16>) outs(%[[C]] : tensor<?x32xf32>) -> tensor<?x32xf32>
// CHECK: return %[[R]]
// Applied again, nothing changes: the operands are bf16 already.
// TWICE-LABEL: func.func @matmul
// TWICE-COUNT-2: arith.truncf
// TWICE-NOT: arith.truncf
// TWICE: return
func.func @matmul(%a: tensor<?x16xf32>, %b: tensor<16x32xf32>, %c: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<?x16xf32>, tensor<16x32xf32>) outs(%c : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}

// CHECK-LABEL: func.func @batch_matmul
// CHECK: %[[AH:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<2x8x16xbf16>)
// CHECK: %[[BH:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<2x16x4xbf16>)
// CHECK: linalg.batch_matmul ins(%[[AH]], %[[BH]] : tensor<2x8x16xbf16>, tensor<2x16x4xbf16>) outs(%{{.*}} : tensor<2x8x4xf32>)
func.func @batch_matmul(%a: tensor<2x8x16xf32>, %b: tensor<2x16x4xf32>, %c: tensor<2x8x4xf32>) -> tensor<2x8x4xf32> {
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x8x16xf32>, tensor<2x16x4xf32>) outs(%c : tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
  return %r : tensor<2x8x4xf32>
}

// Left alone: products inside a loop (the blocks of a fused lowering, such
// as flash attention's), products with other element types, and matmuls
// with their own indexing maps.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: arith.truncf
// CHECK: return
func.func @untouched(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %c: tensor<8x32xf32>,
                     %h: tensor<8x16xbf16>, %g: tensor<16x32xbf16>, %bt: tensor<32x16xf32>, %n: index)
    -> (tensor<8x32xf32>, tensor<8x32xf32>, tensor<8x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %loop = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %c) -> (tensor<8x32xf32>) {
    %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
    scf.yield %p : tensor<8x32xf32>
  }
  %half = linalg.matmul ins(%h, %g : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%c : tensor<8x32xf32>) -> tensor<8x32xf32>
  %mapped = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %bt : tensor<8x16xf32>, tensor<32x16xf32>) outs(%c : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %loop, %half, %mapped : tensor<8x32xf32>, tensor<8x32xf32>, tensor<8x32xf32>
}

// A transposed operand: by default rounded after its transpose (the CPU's
// tile-and-vectorize tiles f32 transposes); with round-before-transposes
// (the GPU's pipeline) rounded before it: the transpose moves bf16 (the
// same values, half the bytes), its sizes from the rounded tensor, the f32
// transpose gone; it stays the matmul's operand (which the GPU's
// tensor-core matmul kernel reads in place).
// CHECK-LABEL: func.func @transposed
// CHECK: %[[AT:.*]] = linalg.transpose ins(%{{.*}} : tensor<16x?xf32>)
// CHECK: %[[AH:.*]] = linalg.generic {{.*}} ins(%[[AT]] : tensor<?x16xf32>) outs(%{{.*}} : tensor<?x16xbf16>)
// CHECK: linalg.matmul ins(%[[AH]], %{{.*}} : tensor<?x16xbf16>, tensor<16x32xbf16>)
// BEFORE-LABEL: func.func @transposed
// BEFORE-SAME: (%[[A:[^ ]+]]: tensor<16x?xf32>, %[[B:[^ ]+]]: tensor<16x32xf32>, %[[C:[^ ]+]]: tensor<?x32xf32>)
// BEFORE-NOT: linalg.transpose
// BEFORE: %[[AH:.*]] = linalg.generic {{.*}} ins(%[[A]] : tensor<16x?xf32>) outs(%{{.*}} : tensor<16x?xbf16>)
// BEFORE-NOT: linalg.transpose
// BEFORE: %[[M:.*]] = tensor.dim %[[AH]], %c1
// BEFORE: tensor.empty(%[[M]]) : tensor<?x16xbf16>
// BEFORE: %[[AT:.*]] = linalg.transpose ins(%[[AH]] : tensor<16x?xbf16>) outs(%{{.*}} : tensor<?x16xbf16>) permutation = [1, 0]
// BEFORE: %[[BH:.*]] = linalg.generic {{.*}} ins(%[[B]] : tensor<16x32xf32>)
// BEFORE: linalg.matmul ins(%[[AT]], %[[BH]] : tensor<?x16xbf16>, tensor<16x32xbf16>) outs(%[[C]] : tensor<?x32xf32>)
func.func @transposed(%a: tensor<16x?xf32>, %b: tensor<16x32xf32>, %c: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %c1 = arith.constant 1 : index
  %m = tensor.dim %a, %c1 : tensor<16x?xf32>
  %e = tensor.empty(%m) : tensor<?x16xf32>
  %at = linalg.transpose ins(%a : tensor<16x?xf32>) outs(%e : tensor<?x16xf32>) permutation = [1, 0]
  %r = linalg.matmul ins(%at, %b : tensor<?x16xf32>, tensor<16x32xf32>) outs(%c : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}

// One transpose as both operands: rounded once, the f32 transpose erased
// once.
// BEFORE-LABEL: func.func @same_transpose
// BEFORE: %[[AH:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<8x8xbf16>)
// BEFORE: %[[T1:.*]] = linalg.transpose ins(%[[AH]]
// BEFORE: %[[AH2:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<8x8xbf16>)
// BEFORE: %[[T2:.*]] = linalg.transpose ins(%[[AH2]]
// BEFORE: linalg.matmul ins(%[[T1]], %[[T2]] : tensor<8x8xbf16>, tensor<8x8xbf16>)
// BEFORE-NOT: linalg.transpose
// BEFORE: return
func.func @same_transpose(%a: tensor<8x8xf32>, %c: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %e = tensor.empty() : tensor<8x8xf32>
  %at = linalg.transpose ins(%a : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) permutation = [1, 0]
  %r = linalg.matmul ins(%at, %at : tensor<8x8xf32>, tensor<8x8xf32>) outs(%c : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %r : tensor<8x8xf32>
}
