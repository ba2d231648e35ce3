// RUN: mha-opt %s -convert-mha-to-linalg="flash-attention=false" -split-input-file | FileCheck %s
// (attention_with_lse decomposed here; its flash lowering is in flash-attention.mlir.)

// CHECK-LABEL: func.func @reduce_to
// CHECK: %[[R:.*]] = linalg.reduce ins(%{{.*}} : tensor<2x3x4xf32>) outs(%{{.*}} : tensor<4xf32>) dimensions = [0, 1]
// CHECK: return %[[R]]
func.func @reduce_to(%g: tensor<2x3x4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = mha.reduce_to %g like %b : tensor<2x3x4xf32>, tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// CHECK-DAG: #[[$IN:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @broadcast_to_average
// CHECK: %[[N:.*]] = arith.sitofp %{{.*}} : i64 to f32
// CHECK: linalg.generic {indexing_maps = [#[[$IN]], #{{.*}}]
// CHECK: arith.divf %{{.*}}, %[[N]] : f32
func.func @broadcast_to_average(%x: tensor<4xf32>, %like: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  %0 = mha.broadcast_to %x like %like dims = [0, 1] average : tensor<4xf32>, tensor<?x?x4xf32>
  return %0 : tensor<?x?x4xf32>
}

// -----

// CHECK-LABEL: func.func @dense_weight_grad
// CHECK: %[[X:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<?x?x16xf32> into tensor<?x16xf32>
// CHECK: %[[XT:.*]] = linalg.transpose ins(%[[X]] : tensor<?x16xf32>) outs(%{{.*}} : tensor<16x?xf32>) permutation = [1, 0]
// CHECK: linalg.matmul ins(%[[XT]], %{{.*}} : tensor<16x?xf32>, tensor<?x8xf32>) outs(%{{.*}} : tensor<16x8xf32>)
func.func @dense_weight_grad(%x: tensor<?x?x16xf32>, %dy: tensor<?x?x8xf32>) -> tensor<16x8xf32> {
  %0 = mha.dense_weight_grad %x, %dy : tensor<?x?x16xf32>, tensor<?x?x8xf32>
  return %0 : tensor<16x8xf32>
}

// -----

// The backward recomputes P = exp(S - lse) (zero where S is -inf) and never
// reads a stored probability matrix: its only Sq x Sk values come from Q·Kᵀ.
// CHECK-LABEL: func.func @attention_grad
// CHECK: linalg.batch_matmul
// CHECK: linalg.generic
// CHECK: arith.cmpf oeq
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.select
// CHECK: linalg.transpose
// CHECK: linalg.batch_matmul
func.func @attention_grad(%q: tensor<2x4x8xf32>, %o: tensor<2x4x8xf32>, %lse: tensor<2x4xf32>) -> (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>) {
  %dq, %dk, %dv = mha.attention_grad %q, %q, %q, %o, %lse, %o causal : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>
  return %dq, %dk, %dv : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @attention_with_lse
// CHECK: math.log
// CHECK: linalg.batch_matmul
func.func @attention_with_lse(%q: tensor<2x4x8xf32>) -> (tensor<2x4x8xf32>, tensor<2x4xf32>) {
  %o, %lse = mha.attention_with_lse %q, %q, %q : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
  return %o, %lse : tensor<2x4x8xf32>, tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @loss_grads
// CHECK: %[[G:.*]] = tensor.extract %{{.*}}[] : tensor<f32>
// CHECK: arith.divf %[[G]], %{{.*}} : f32
// CHECK: cf.assert %{{.*}}, "{{.*}}: 'mha.cross_entropy_grad' op: a label lies outside [0, the number of classes = 3) at run time"
// CHECK: linalg.index 1
func.func @loss_grads(%p: tensor<?x1xf32>, %y: tensor<?x1xf32>, %g: tensor<f32>, %l: tensor<?x3xf32>, %c: tensor<?xi64>) -> (tensor<?x1xf32>, tensor<?x3xf32>) {
  %0 = mha.bce_loss_grad %p, %y, %g : tensor<?x1xf32>, tensor<?x1xf32>, tensor<f32>
  %1 = mha.cross_entropy_grad %l, %c, %g : tensor<?x3xf32>, tensor<?xi64>, tensor<f32>
  return %0, %1 : tensor<?x1xf32>, tensor<?x3xf32>
}

// -----

// Adam: bias corrections from the step count, then one element-wise update
// producing the parameter and both moments.
// CHECK-LABEL: func.func @adam_update
// CHECK: %[[T:.*]] = tensor.extract %{{.*}}[] : tensor<f32>
// CHECK: math.powf %{{.*}}, %[[T]] : f32
// CHECK: math.powf %{{.*}}, %[[T]] : f32
// CHECK: linalg.generic
// CHECK-SAME: outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>)
// CHECK: math.sqrt
// CHECK: linalg.yield %{{.*}}, %{{.*}}, %{{.*}} : f32, f32, f32
func.func @adam_update(%p: tensor<4x2xf32>, %g: tensor<4x2xf32>, %t: tensor<f32>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>) {
  %a:3 = mha.optimizer_update %p, %g, %p, %p, %t <adam, learning_rate = 0.001> : tensor<4x2xf32>, tensor<f32>
  return %a#0, %a#1, %a#2 : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>
}

// -----

// dx = (g - mean(g) - x̂ mean(g x̂)) / σ; dγ and dβ sum over the rows.
// CHECK-LABEL: func.func @layer_norm_grad
// CHECK: math.rsqrt
// CHECK: linalg.reduce ins(%{{.*}} : tensor<?x8xf32>) outs(%{{.*}} : tensor<8xf32>) dimensions = [0]
// CHECK: linalg.reduce ins(%{{.*}} : tensor<?x8xf32>) outs(%{{.*}} : tensor<8xf32>) dimensions = [0]
func.func @layer_norm_grad(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %dy: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %dx, %dg, %db = mha.layer_norm_grad %x, %g, %dy : tensor<?x8xf32>, tensor<8xf32>
  return %dx, %dg, %db : tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>
}

// -----

// CHECK-LABEL: func.func @reduce_max_grad
// CHECK: linalg.generic
// CHECK: arith.cmpf oeq
// CHECK: arith.select
func.func @reduce_max_grad(%x: tensor<2x4xf32>, %m: tensor<2xf32>, %dm: tensor<2xf32>) -> tensor<2x4xf32> {
  %0 = mha.reduce_max_grad %x, %m, %dm dims = [1] : tensor<2x4xf32>, tensor<2xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// The mask's gradient zeroes masked entries instead of setting -inf.
// CHECK-LABEL: func.func @apply_mask_zero_fill
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: arith.select %{{.*}}, %[[ZERO]], %{{.*}} : f32
func.func @apply_mask_zero_fill(%g: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = mha.apply_mask %g causal zero_fill : tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// The additive mask's gradient is dS reduced over the batch (the mask is
// [Sq, Sk]); without an explicit scale and with a dynamic depth, 1/sqrt(D)
// is read at run time.
// CHECK-LABEL: func.func @attention_grad_mask_dynamic_depth
// CHECK: %[[D:.*]] = tensor.dim %{{.*}}, %c2{{.*}} : tensor<2x4x?xf32>
// CHECK: math.rsqrt
// CHECK: linalg.reduce
// CHECK: dimensions = [0]
// CHECK: return %{{.*}}, %{{.*}} : tensor<2x4x?xf32>, tensor<4x4xf32>
func.func @attention_grad_mask_dynamic_depth(%q: tensor<2x4x?xf32>, %o: tensor<2x4x?xf32>, %lse: tensor<2x4xf32>, %bias: tensor<4x4xf32>) -> (tensor<2x4x?xf32>, tensor<4x4xf32>) {
  %dq, %dk, %dv, %db = mha.attention_grad %q, %q, %q, %o, %lse, %o mask(%bias : tensor<4x4xf32>) : tensor<2x4x?xf32>, tensor<2x4x?xf32>, tensor<2x4x?xf32>, tensor<2x4x?xf32>, tensor<2x4xf32>, mask_grad tensor<4x4xf32>
  return %dq, %db : tensor<2x4x?xf32>, tensor<4x4xf32>
}

// -----

// embedding_grad: sizes and ids checked, ids and gradient rows flattened to
// [N] and [N, D], then one loop adds each gradient row into the row of its
// id in a zero table, in order.
// CHECK-LABEL: func.func @embedding_grad
// CHECK-SAME: (%[[T:[^:]*]]: tensor<50x8xf32>{{.*}}, %[[IDS:[^:]*]]: tensor<?x3xi64>{{.*}}, %[[DY:[^:]*]]: tensor<?x3x8xf32>
// CHECK: cf.assert %{{.*}}, "{{.*}}dimension 0 of 'ids' does not match dimension 0 of 'result_grad' at run time"
// CHECK: cf.assert %{{.*}}, "{{.*}}'mha.embedding_grad' op: a token id lies outside [0, the table's row count = 50) at run time"
// CHECK: %[[FLATIDS:.*]] = tensor.collapse_shape %[[IDS]] {{\[}}[0, 1]] : tensor<?x3xi64> into tensor<?xi64>
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[DY]] {{\[}}[0, 1], [2]] : tensor<?x3x8xf32> into tensor<?x8xf32>
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<50x8xf32>
// CHECK: %[[R:.*]] = scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[ZERO]])
// CHECK: %[[ID:.*]] = tensor.extract %[[FLATIDS]][%[[N]]]
// CHECK: %[[IDX:.*]] = arith.index_cast %[[ID]] : i64 to index
// CHECK: %[[G:.*]] = tensor.extract_slice %[[ROWS]][%[[N]], 0] [1, 8] [1, 1]
// CHECK: %[[CUR:.*]] = tensor.extract_slice %[[ACC]][%[[IDX]], 0] [1, 8] [1, 1]
// CHECK: %[[SUM:.*]] = linalg.add ins(%[[CUR]], %[[G]] : tensor<1x8xf32>, tensor<1x8xf32>)
// CHECK: tensor.insert_slice %[[SUM]] into %[[ACC]][%[[IDX]], 0] [1, 8] [1, 1]
// CHECK: return %[[R]]
func.func @embedding_grad(%table: tensor<50x8xf32>, %ids: tensor<?x3xi64>, %dy: tensor<?x3x8xf32>) -> tensor<50x8xf32> {
  %g = mha.embedding_grad %table, %ids, %dy : tensor<50x8xf32>, tensor<?x3xi64>, tensor<?x3x8xf32>
  return %g : tensor<50x8xf32>
}
