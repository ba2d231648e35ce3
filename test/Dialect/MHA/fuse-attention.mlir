// RUN: mha-opt %s -mha-fuse-attention -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @attention_plain
// CHECK-SAME: (%[[Q:.*]]: tensor<?x8x?x64xf32>, %[[K:.*]]: tensor<?x8x?x64xf32>, %[[V:.*]]: tensor<?x8x?x64xf32>)
// CHECK: %[[O:.*]] = mha.attention %[[Q]], %[[K]], %[[V]] : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
// CHECK-NOT: mha.softmax
// CHECK: return %[[O]]
func.func @attention_plain(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32> {
  %s = mha.scaled_matmul %q, %k : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
  %p = mha.softmax %s : tensor<?x8x?x?xf32>
  %o = mha.matmul %p, %v : tensor<?x8x?x?xf32>, tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}

// -----

// The scale is carried over; a positive axis naming the last one also fuses.
// CHECK-LABEL: func.func @attention_explicit_scale
// CHECK: mha.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 5.000000e-01 : f32}
func.func @attention_explicit_scale(%q: tensor<4x8xf32>, %k: tensor<6x8xf32>, %v: tensor<6x2xf32>) -> tensor<4x2xf32> {
  %s = mha.scaled_matmul %q, %k {scale = 0.5 : f32} : tensor<4x8xf32>, tensor<6x8xf32>
  %p = mha.softmax %s axis = 1 : tensor<4x6xf32>
  %o = mha.matmul %p, %v : tensor<4x6xf32>, tensor<6x2xf32>
  return %o : tensor<4x2xf32>
}

// -----

// CHECK-LABEL: func.func @attention_additive_mask
// CHECK-SAME: %[[M:[^:]*]]: tensor<1x1x4x4xf32>
// CHECK: mha.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<1x1x4x4xf32>) :
func.func @attention_additive_mask(%q: tensor<2x2x4x8xf32>, %k: tensor<2x2x4x8xf32>, %v: tensor<2x2x4x8xf32>, %m: tensor<1x1x4x4xf32>) -> tensor<2x2x4x8xf32> {
  %s = mha.scaled_matmul %q, %k : tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32>
  %a = mha.add %s, %m : tensor<2x2x4x4xf32>, tensor<1x1x4x4xf32>
  %p = mha.softmax %a : tensor<2x2x4x4xf32>
  %o = mha.matmul %p, %v : tensor<2x2x4x4xf32>, tensor<2x2x4x8xf32>
  return %o : tensor<2x2x4x8xf32>
}

// -----

// The mask may come first in the add.
// CHECK-LABEL: func.func @attention_mask_on_the_left
// CHECK-SAME: %[[M:[^:]*]]: tensor<4xf32>
// CHECK: mha.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : tensor<4xf32>) :
func.func @attention_mask_on_the_left(%q: tensor<4x8xf32>, %m: tensor<4xf32>) -> tensor<4x8xf32> {
  %s = mha.scaled_matmul %q, %q : tensor<4x8xf32>, tensor<4x8xf32>
  %a = mha.add %m, %s : tensor<4xf32>, tensor<4x4xf32>
  %p = mha.softmax %a : tensor<4x4xf32>
  %o = mha.matmul %p, %q : tensor<4x4xf32>, tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @attention_apply_mask_causal
// CHECK-SAME: %[[KEEP:[^:]*]]: tensor<?x1x1x?xi1>
// CHECK: mha.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[KEEP]] : tensor<?x1x1x?xi1>) causal :
func.func @attention_apply_mask_causal(%q: tensor<?x8x?x64xf32>, %keep: tensor<?x1x1x?xi1>) -> tensor<?x8x?x64xf32> {
  %s = mha.scaled_matmul %q, %q : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
  %m = mha.apply_mask %s mask(%keep : tensor<?x1x1x?xi1>) causal : tensor<?x8x?x?xf32>
  %p = mha.softmax %m : tensor<?x8x?x?xf32>
  %o = mha.matmul %p, %q : tensor<?x8x?x?xf32>, tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @negative_softmax_other_axis
// CHECK-NOT: mha.attention
// CHECK: mha.softmax %{{.*}} axis = 0
func.func @negative_softmax_other_axis(%q: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = mha.scaled_matmul %q, %q : tensor<4x8xf32>, tensor<4x8xf32>
  %p = mha.softmax %s axis = 0 : tensor<4x4xf32>
  %o = mha.matmul %p, %q : tensor<4x4xf32>, tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

// The probabilities are returned too: fusing would have to recompute them.
// CHECK-LABEL: func.func @negative_probabilities_used
// CHECK-NOT: mha.attention
// CHECK: mha.matmul
func.func @negative_probabilities_used(%q: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x4xf32>) {
  %s = mha.scaled_matmul %q, %q : tensor<4x8xf32>, tensor<4x8xf32>
  %p = mha.softmax %s : tensor<4x4xf32>
  %o = mha.matmul %p, %q : tensor<4x4xf32>, tensor<4x8xf32>
  return %o, %p : tensor<4x8xf32>, tensor<4x4xf32>
}

// -----

// CHECK-LABEL: func.func @negative_scores_used
// CHECK-NOT: mha.attention
func.func @negative_scores_used(%q: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x4xf32>) {
  %s = mha.scaled_matmul %q, %q : tensor<4x8xf32>, tensor<4x8xf32>
  %p = mha.softmax %s : tensor<4x4xf32>
  %o = mha.matmul %p, %q : tensor<4x4xf32>, tensor<4x8xf32>
  return %o, %s : tensor<4x8xf32>, tensor<4x4xf32>
}

// -----

// CHECK-LABEL: func.func @negative_masked_scores_used
// CHECK-NOT: mha.attention
func.func @negative_masked_scores_used(%q: tensor<4x8xf32>, %m: tensor<4x4xf32>) -> (tensor<4x8xf32>, tensor<4x4xf32>) {
  %s = mha.scaled_matmul %q, %q : tensor<4x8xf32>, tensor<4x8xf32>
  %a = mha.add %s, %m : tensor<4x4xf32>, tensor<4x4xf32>
  %p = mha.softmax %a : tensor<4x4xf32>
  %o = mha.matmul %p, %q : tensor<4x4xf32>, tensor<4x8xf32>
  return %o, %a : tensor<4x8xf32>, tensor<4x4xf32>
}

// -----

// The key is not transposed: this is not Q·Kᵀ.
// CHECK-LABEL: func.func @negative_untransposed_key
// CHECK-NOT: mha.attention
func.func @negative_untransposed_key(%q: tensor<4x8xf32>, %kt: tensor<8x4xf32>) -> tensor<4x8xf32> {
  %s = mha.scaled_matmul %q, %kt untransposed : tensor<4x8xf32>, tensor<8x4xf32>
  %p = mha.softmax %s : tensor<4x4xf32>
  %o = mha.matmul %p, %q : tensor<4x4xf32>, tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

// The "mask" broadcasts the scores to a larger shape: not attention.
// CHECK-LABEL: func.func @negative_mask_grows_scores
// CHECK-NOT: mha.attention
func.func @negative_mask_grows_scores(%q: tensor<4x8xf32>, %m: tensor<2x4x4xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %s = mha.scaled_matmul %q, %q : tensor<4x8xf32>, tensor<4x8xf32>
  %a = mha.add %s, %m : tensor<4x4xf32>, tensor<2x4x4xf32>
  %p = mha.softmax %a : tensor<2x4x4xf32>
  %o = mha.matmul %p, %v : tensor<2x4x4xf32>, tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

// A softmax of something other than scores.
// CHECK-LABEL: func.func @negative_no_scores
// CHECK-NOT: mha.attention
func.func @negative_no_scores(%x: tensor<4x4xf32>, %v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %p = mha.softmax %x : tensor<4x4xf32>
  %o = mha.matmul %p, %v : tensor<4x4xf32>, tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

// A zero-filling apply_mask is a gradient, not a mask.
// CHECK-LABEL: func.func @negative_zero_fill
// CHECK-NOT: mha.attention
func.func @negative_zero_fill(%q: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = mha.scaled_matmul %q, %q : tensor<4x8xf32>, tensor<4x8xf32>
  %m = mha.apply_mask %s causal zero_fill : tensor<4x4xf32>
  %p = mha.softmax %m : tensor<4x4xf32>
  %o = mha.matmul %p, %q : tensor<4x4xf32>, tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}
