// RUN: mha-opt %s -mha-decompose-attention -split-input-file | FileCheck %s
// RUN: mha-opt %s -mha-decompose-attention -mha-fuse-attention -split-input-file | FileCheck %s --check-prefix=ROUNDTRIP

// CHECK-LABEL: func.func @attention_plain
// CHECK-SAME: (%[[Q:.*]]: tensor<?x8x?x64xf32>, %[[K:.*]]: tensor<?x8x?x64xf32>, %[[V:.*]]: tensor<?x8x?x32xf32>)
// CHECK: %[[S:.*]] = mha.scaled_matmul %[[Q]], %[[K]] : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
// CHECK-NOT: mha.apply_mask
// CHECK: %[[P:.*]] = mha.softmax %[[S]] : tensor<?x8x?x?xf32>
// CHECK: %[[O:.*]] = mha.matmul %[[P]], %[[V]] : tensor<?x8x?x?xf32>, tensor<?x8x?x32xf32>
// CHECK: return %[[O]]
// ROUNDTRIP-LABEL: func.func @attention_plain
// ROUNDTRIP: mha.attention
// ROUNDTRIP-NOT: mha.softmax
func.func @attention_plain(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x32xf32>) -> tensor<?x8x?x32xf32> {
  %o = mha.attention %q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32>
  return %o : tensor<?x8x?x32xf32>
}

// -----

// CHECK-LABEL: func.func @attention_masked_causal_scaled
// CHECK-SAME: %[[KEEP:[^:]*]]: tensor<2x1x1x4xi1>
// CHECK: %[[S:.*]] = mha.scaled_matmul %{{.*}}, %{{.*}} {scale = 2.500000e-01 : f32}
// CHECK: %[[M:.*]] = mha.apply_mask %[[S]] mask(%[[KEEP]] : tensor<2x1x1x4xi1>) causal : tensor<2x2x4x4xf32>
// CHECK: %[[P:.*]] = mha.softmax %[[M]]
// CHECK: mha.matmul %[[P]], %{{.*}}
// ROUNDTRIP-LABEL: func.func @attention_masked_causal_scaled
// ROUNDTRIP: mha.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x1x1x4xi1>) causal {scale = 2.500000e-01 : f32}
func.func @attention_masked_causal_scaled(%q: tensor<2x2x4x8xf32>, %keep: tensor<2x1x1x4xi1>) -> tensor<2x2x4x8xf32> {
  %o = mha.attention %q, %q, %q mask(%keep : tensor<2x1x1x4xi1>) causal {scale = 0.25 : f32} : tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32>, tensor<2x2x4x8xf32>
  return %o : tensor<2x2x4x8xf32>
}

// -----

// Nothing else is touched.
// CHECK-LABEL: func.func @negative_no_attention
// CHECK-NEXT: mha.softmax
// CHECK-NEXT: return
func.func @negative_no_attention(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %p = mha.softmax %x : tensor<4x4xf32>
  return %p : tensor<4x4xf32>
}
