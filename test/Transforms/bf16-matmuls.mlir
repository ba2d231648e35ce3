// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-bf16-matmuls))' | FileCheck %s
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
