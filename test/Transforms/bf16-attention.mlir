// mha-bf16-attention: f32 attention, forward and backward, computed on the
// bf16 roundings of its operands (to nearest even: arith.truncf), its
// results widened back to f32 (arith.extf); the log-sum-exp stays f32 (a
// result of the forward, an operand of the backward), a boolean mask as
// it is, an additive one rounded. Ops already in bf16/f16, and a backward
// whose mask gradient is used, are left alone.
// RUN: mha-opt %s --mha-bf16-attention | FileCheck %s

// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x40x64xf32> {{.*}}, %[[M:[^:]*]]: tensor<40x40xi1>
// CHECK: %[[QB:.*]] = linalg.generic {{.*}} ins(%[[Q]] : tensor<2x4x40x64xf32>) outs(%{{.*}} : tensor<2x4x40x64xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: %[[O:.*]] = mha.attention %[[QB]], %{{.*}}, %{{.*}} mask(%[[M]] : tensor<40x40xi1>) causal : tensor<2x4x40x64xbf16>
// CHECK: %[[OF:.*]] = linalg.generic {{.*}} ins(%[[O]] : tensor<2x4x40x64xbf16>) outs(%{{.*}} : tensor<2x4x40x64xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: return %[[OF]]
func.func @forward(%q: tensor<2x4x40x64xf32>, %m: tensor<40x40xi1>) -> tensor<2x4x40x64xf32> {
  %o = mha.attention %q, %q, %q mask(%m : tensor<40x40xi1>) causal : tensor<2x4x40x64xf32>, tensor<2x4x40x64xf32>, tensor<2x4x40x64xf32>
  return %o : tensor<2x4x40x64xf32>
}

// Training's pair: the forward's log-sum-exp is used as it is (f32); the
// backward's operands but the log-sum-exp rounded, its three gradients
// widened; an additive mask rounded.
// CHECK-LABEL: func.func @training
// CHECK: %[[O:[^ ]*]], %[[L:[^ ]*]] = mha.attention_with_lse {{.*}} : tensor<2x40x32xbf16>
// CHECK: %[[OF:.*]] = linalg.generic {{.*}} ins(%[[O]] : tensor<2x40x32xbf16>)
// CHECK: %[[BIAS:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<40x40xf32>) outs(%{{.*}} : tensor<40x40xbf16>)
// CHECK: = mha.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[L]], %{{.*}} mask(%[[BIAS]] : tensor<40x40xbf16>) : tensor<2x40x32xbf16>, tensor<2x40x32xbf16>, tensor<2x40x32xbf16>, tensor<2x40x32xbf16>, tensor<2x40xf32>
// CHECK-COUNT-3: arith.extf %{{.*}} : bf16 to f32
// CHECK: return %[[OF]], %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>
func.func @training(%q: tensor<2x40x32xf32>, %do: tensor<2x40x32xf32>, %bias: tensor<40x40xf32>)
    -> (tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>) {
  %o, %l = mha.attention_with_lse %q, %q, %q mask(%bias : tensor<40x40xf32>) : tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>
  %g:3 = mha.attention_grad %q, %q, %q, %o, %l, %do mask(%bias : tensor<40x40xf32>)
      : tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40xf32>
  return %o, %g#0, %g#1, %g#2 : tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>, tensor<2x40x32xf32>
}

// Left alone: bf16 already; a backward whose additive mask's gradient is
// used.
// CHECK-LABEL: func.func @left
// CHECK-NOT: linalg.generic
// CHECK: mha.attention %{{.*}} : tensor<2x8x16xbf16>
// CHECK: mha.attention_grad {{.*}} mask_grad tensor<8x8xf32>
func.func @left(%h: tensor<2x8x16xbf16>, %q: tensor<2x8x16xf32>, %l: tensor<2x8xf32>, %bias: tensor<8x8xf32>)
    -> (tensor<2x8x16xbf16>, tensor<8x8xf32>) {
  %o = mha.attention %h, %h, %h : tensor<2x8x16xbf16>, tensor<2x8x16xbf16>, tensor<2x8x16xbf16>
  %g:4 = mha.attention_grad %q, %q, %q, %q, %l, %q mask(%bias : tensor<8x8xf32>)
      : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xf32>, mask_grad tensor<8x8xf32>
  return %o, %g#3 : tensor<2x8x16xbf16>, tensor<8x8xf32>
}
