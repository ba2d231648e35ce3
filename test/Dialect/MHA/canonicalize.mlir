// RUN: mha-opt %s -canonicalize -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @merge_of_split
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x512xf32>)
// CHECK-NOT: mha.split_heads
// CHECK-NOT: mha.merge_heads
// CHECK: return %[[X]]
func.func @merge_of_split(%x: tensor<?x?x512xf32>) -> tensor<?x?x512xf32> {
  %h = mha.split_heads %x into 8 heads : tensor<?x?x512xf32>
  %m = mha.merge_heads %h : tensor<?x8x?x64xf32>
  return %m : tensor<?x?x512xf32>
}

// -----

// CHECK-LABEL: func.func @split_of_merge
// CHECK-SAME: (%[[H:.*]]: tensor<2x8x4x64xf32>)
// CHECK-NEXT: return %[[H]]
func.func @split_of_merge(%h: tensor<2x8x4x64xf32>) -> tensor<2x8x4x64xf32> {
  %m = mha.merge_heads %h : tensor<2x8x4x64xf32>
  %s = mha.split_heads %m into 8 heads : tensor<2x4x512xf32>
  return %s : tensor<2x8x4x64xf32>
}

// -----

// A different head count does not round-trip.
// CHECK-LABEL: func.func @negative_split_of_merge_other_heads
// CHECK: %[[M:.*]] = mha.merge_heads
// CHECK: mha.split_heads %[[M]] into 4 heads
func.func @negative_split_of_merge_other_heads(%h: tensor<2x8x4x64xf32>) -> tensor<2x4x4x128xf32> {
  %m = mha.merge_heads %h : tensor<2x8x4x64xf32>
  %s = mha.split_heads %m into 4 heads : tensor<2x4x512xf32>
  return %s : tensor<2x4x4x128xf32>
}

// -----

// CHECK-LABEL: func.func @unit_scale_untransposed_is_matmul
// CHECK-SAME: (%[[A:.*]]: tensor<4x3xf32>, %[[B:.*]]: tensor<3x5xf32>)
// CHECK: %[[R:.*]] = mha.matmul %[[A]], %[[B]] : tensor<4x3xf32>, tensor<3x5xf32>
// CHECK-NOT: mha.scaled_matmul
// CHECK: return %[[R]]
func.func @unit_scale_untransposed_is_matmul(%a: tensor<4x3xf32>, %b: tensor<3x5xf32>) -> tensor<4x5xf32> {
  %0 = mha.scaled_matmul %a, %b untransposed {scale = 1.0 : f32} : tensor<4x3xf32>, tensor<3x5xf32>
  return %0 : tensor<4x5xf32>
}

// -----

// The default scale is 1/sqrt(K), not 1: nothing to rewrite.
// CHECK-LABEL: func.func @negative_default_scale
// CHECK: mha.scaled_matmul %{{.*}}, %{{.*}} untransposed :
func.func @negative_default_scale(%a: tensor<4x3xf32>, %b: tensor<3x5xf32>) -> tensor<4x5xf32> {
  %0 = mha.scaled_matmul %a, %b untransposed : tensor<4x3xf32>, tensor<3x5xf32>
  return %0 : tensor<4x5xf32>
}

// -----

// With the key transposed there is no plain matmul to rewrite to.
// CHECK-LABEL: func.func @negative_unit_scale_transposed
// CHECK: mha.scaled_matmul %{{.*}}, %{{.*}} {scale = 1.000000e+00 : f32}
func.func @negative_unit_scale_transposed(%a: tensor<4x3xf32>, %b: tensor<5x3xf32>) -> tensor<4x5xf32> {
  %0 = mha.scaled_matmul %a, %b {scale = 1.0 : f32} : tensor<4x3xf32>, tensor<5x3xf32>
  return %0 : tensor<4x5xf32>
}

// -----

// CHECK-LABEL: func.func @add_zero
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @add_zero(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %z = arith.constant dense<0.0> : tensor<4xf32>
  %0 = mha.add %z, %x : tensor<4xf32>, tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @mul_one
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @mul_one(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %one = arith.constant dense<1.0> : tensor<2x4xf32>
  %0 = mha.mul %x, %one : tensor<2x4xf32>, tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Adding zeros of a larger shape broadcasts x: not the identity.
// CHECK-LABEL: func.func @negative_add_zero_broadcasts
// CHECK: mha.add
func.func @negative_add_zero_broadcasts(%x: tensor<4xf32>) -> tensor<2x4xf32> {
  %z = arith.constant dense<0.0> : tensor<2x4xf32>
  %0 = mha.add %x, %z : tensor<4xf32>, tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @negative_mul_two
// CHECK: mha.mul
func.func @negative_mul_two(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c = arith.constant dense<2.0> : tensor<4xf32>
  %0 = mha.mul %x, %c : tensor<4xf32>, tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @reduce_unit_dims_kept
// CHECK-SAME: (%[[X:.*]]: tensor<2x1x4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @reduce_unit_dims_kept(%x: tensor<2x1x4xf32>) -> tensor<2x1x4xf32> {
  %0 = mha.reduce mean %x dims = [1] keep_dims : tensor<2x1x4xf32>
  return %0 : tensor<2x1x4xf32>
}

// -----

// CHECK-LABEL: func.func @negative_reduce_dropped_dim
// CHECK: mha.reduce sum
func.func @negative_reduce_dropped_dim(%x: tensor<2x1x4xf32>) -> tensor<2x4xf32> {
  %0 = mha.reduce sum %x dims = [1] : tensor<2x1x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @apply_mask_nothing
// CHECK-SAME: (%[[S:.*]]: tensor<4x4xf32>)
// CHECK-NEXT: return %[[S]]
func.func @apply_mask_nothing(%s: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = mha.apply_mask %s : tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// CHECK-LABEL: func.func @negative_apply_mask_causal
// CHECK: mha.apply_mask %{{.*}} causal
func.func @negative_apply_mask_causal(%s: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = mha.apply_mask %s causal : tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// CHECK-LABEL: func.func @sub_zero
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @sub_zero(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %z = arith.constant dense<0.0> : tensor<4xf32>
  %0 = mha.sub %x, %z : tensor<2x4xf32>, tensor<4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// 0 - x is not x.
// CHECK-LABEL: func.func @negative_zero_minus
// CHECK: mha.sub
func.func @negative_zero_minus(%x: tensor<4xf32>) -> tensor<4xf32> {
  %z = arith.constant dense<0.0> : tensor<4xf32>
  %0 = mha.sub %z, %x : tensor<4xf32>, tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @identity_transpose_and_reduce_to
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>)
// CHECK-NEXT: return %[[X]], %[[X]]
func.func @identity_transpose_and_reduce_to(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %0 = mha.transpose %x perm = [0, 1] : tensor<2x4xf32>
  %1 = mha.reduce_to %x like %x : tensor<2x4xf32>, tensor<2x4xf32>
  return %0, %1 : tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @negative_real_transpose
// CHECK: mha.transpose
// CHECK: mha.reduce_to
func.func @negative_real_transpose(%x: tensor<2x4xf32>, %b: tensor<4xf32>) -> (tensor<4x2xf32>, tensor<4xf32>) {
  %0 = mha.transpose %x perm = [1, 0] : tensor<2x4xf32>
  %1 = mha.reduce_to %x like %b : tensor<2x4xf32>, tensor<4xf32>
  return %0, %1 : tensor<4x2xf32>, tensor<4xf32>
}

// -----

// A mask gradient nobody uses is dropped; a used one is kept.
// CHECK-LABEL: func.func @attention_grad_unused_mask_grad
// CHECK: mha.attention_grad {{.*}} mask(%{{.*}} : tensor<4x4xf32>) : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>{{$}}
// CHECK: mha.attention_grad {{.*}}, mask_grad tensor<4x4xf32>
func.func @attention_grad_unused_mask_grad(%q: tensor<2x4x8xf32>, %lse: tensor<2x4xf32>, %bias: tensor<4x4xf32>)
    -> (tensor<2x4x8xf32>, tensor<4x4xf32>) {
  %dq, %dk, %dv, %dm = mha.attention_grad %q, %q, %q, %q, %lse, %q mask(%bias : tensor<4x4xf32>) : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>, mask_grad tensor<4x4xf32>
  %dq2, %dk2, %dv2, %dm2 = mha.attention_grad %q, %q, %q, %q, %lse, %q mask(%bias : tensor<4x4xf32>) causal : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>, mask_grad tensor<4x4xf32>
  return %dq, %dm2 : tensor<2x4x8xf32>, tensor<4x4xf32>
}

// -----

// Dropout without a key (outside training) or with rate 0 is the identity;
// with a key it stays.
// CHECK-LABEL: func.func @dropout_folds
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x8xf32>, %[[K:[^:]*]]: tensor<i64>)
// CHECK: %[[D:.*]] = mha.dropout %[[X]] rate = 5.000000e-01 key(%[[K]] : tensor<i64>)
// CHECK-NOT: mha.dropout
// CHECK: return %[[X]], %[[X]], %[[D]]
func.func @dropout_folds(%x: tensor<?x8xf32>, %k: tensor<i64>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = mha.dropout %x rate = 5.000000e-01 : tensor<?x8xf32>
  %b = mha.dropout %x rate = 0.000000e+00 key(%k : tensor<i64>) : tensor<?x8xf32>
  %c = mha.dropout %x rate = 5.000000e-01 key(%k : tensor<i64>) : tensor<?x8xf32>
  return %a, %b, %c : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}
