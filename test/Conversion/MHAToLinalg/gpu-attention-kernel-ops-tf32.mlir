// mha-gpu-attention-kernel-ops{tf32}: an f32 mha.attention (static depth a
// multiple of 16) becomes mha.gpu_attention with tf32, its tile derived
// for f32 tiles (64 keys at depth 64, 32 at depth 128: shared memory);
// training's forward (attention_with_lse) and the backward stay in f32.
// With tensor-cores=0, f16/bf16 ops are left as they are, without remarks.
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops="tf32 tensor-cores=0" --split-input-file | FileCheck %s
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops="tf32 tensor-cores=0" --split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// REMARK-NOT: remark
// REMARK: :37:12: remark: not on tensor cores: TF32 is for inference's attention: training's backward recomputes the scores in f32 from this forward's log-sum-exp
// REMARK: :38:8: remark: not on tensor cores: no tile of keys fits its depth in shared memory and registers
// REMARK: :39:8: remark: not on tensor cores: its depth is not a static multiple of 16
// REMARK-NOT: remark
// Both kinds at once.
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops=tf32 --split-input-file | FileCheck %s --check-prefix=BOTH
// Without tf32, f32 attention is not taken.
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops --split-input-file | FileCheck %s --check-prefix=HALF

// CHECK-LABEL: func.func @f32
// CHECK: cf.assert {{.*}}dimension 2 of 'key' does not match dimension 2 of 'value' at run time
// CHECK: mha.gpu_attention %{{.*}} {block_k = 64 : i64, block_q = 64 : i64, causal, scale = 1.250000e-01 : f32, tf32} : memref<?x4x?x64xf32>
// CHECK: mha.gpu_attention %{{.*}} {block_k = 32 : i64, block_q = 64 : i64, scale = 0.0883883461 : f32, tf32} : memref<2x5x128xf32>
// CHECK-NOT: mha.gpu_attention
// BOTH-LABEL: func.func @f32
// BOTH: mha.gpu_attention {{.*}}tf32} : memref<?x4x?x64xf32>
// BOTH: mha.gpu_attention {{.*}}tf32} : memref<2x5x128xf32>
// BOTH-NOT: mha.gpu_attention
// HALF-LABEL: func.func @f32
// HALF-NOT: mha.gpu_attention
func.func @f32(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
               %x: tensor<2x5x128xf32>, %w: tensor<2x5x256xf32>, %u: tensor<2x5x24xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<2x5x128xf32>, tensor<?x4x?x64xf32>, tensor<2x5x256xf32>, tensor<2x5x24xf32>) {
  // CHECK: mha.attention_with_lse
  // CHECK: mha.attention %{{.*}} : tensor<2x5x256xf32>
  // CHECK: mha.attention %{{.*}} : tensor<2x5x24xf32>
  %o = mha.attention %q, %k, %v causal : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>
  %p = mha.attention %x, %x, %x : tensor<2x5x128xf32>, tensor<2x5x128xf32>, tensor<2x5x128xf32>
  %r, %l = mha.attention_with_lse %q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>
  %s = mha.attention %w, %w, %w : tensor<2x5x256xf32>, tensor<2x5x256xf32>, tensor<2x5x256xf32>
  %t = mha.attention %u, %u, %u : tensor<2x5x24xf32>, tensor<2x5x24xf32>, tensor<2x5x24xf32>
  return %o, %p, %r, %s, %t : tensor<?x4x?x64xf32>, tensor<2x5x128xf32>, tensor<?x4x?x64xf32>, tensor<2x5x256xf32>, tensor<2x5x24xf32>
}

// -----

// f16/bf16 attention and every backward: tensor-cores' (left alone with
// tensor-cores=0).
// CHECK-LABEL: func.func @half
// CHECK-NOT: mha.gpu_attention
// CHECK: mha.attention
// CHECK: mha.attention_grad
// BOTH-LABEL: func.func @half
// BOTH: mha.gpu_attention {{.*}} : memref<2x5x32xbf16>
// BOTH: mha.attention_grad
// HALF-LABEL: func.func @half
// HALF: mha.gpu_attention {{.*}} : memref<2x5x32xbf16>
func.func @half(%q: tensor<2x5x32xbf16>, %x: tensor<2x5x32xf32>, %l: tensor<2x5xf32>) -> (tensor<2x5x32xbf16>, tensor<2x5x32xf32>) {
  %o = mha.attention %q, %q, %q : tensor<2x5x32xbf16>, tensor<2x5x32xbf16>, tensor<2x5x32xbf16>
  %g:3 = mha.attention_grad %x, %x, %x, %x, %l, %x
      : tensor<2x5x32xf32>, tensor<2x5x32xf32>, tensor<2x5x32xf32>, tensor<2x5x32xf32>, tensor<2x5xf32>
  return %o, %g#0 : tensor<2x5x32xbf16>, tensor<2x5x32xf32>
}
