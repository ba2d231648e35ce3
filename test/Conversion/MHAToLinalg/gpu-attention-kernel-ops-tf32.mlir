// mha-gpu-attention-kernel-ops{tf32}: f32 attention (static depth a multiple
// of 16) goes to the tensor-core kernels with tf32: mha.attention and
// training's forward (attention_with_lse) become mha.gpu_attention, the
// backward (attention_grad) mha.gpu_attention_grad, their tiles derived for
// f32 tiles (forward: 64 keys at depth 64, 32 at depth 128, for shared
// memory; backward: 64 keys and 64 queries at depth 32, 64 and 32 at depth
// 64, 64 and 16 at depth 80, none above, for registers). With
// tensor-cores=0, f16/bf16 ops are left as they are, without remarks.
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops="tf32 tensor-cores=0" --split-input-file | FileCheck %s
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops="tf32 tensor-cores=0" --split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// REMARK-NOT: remark
// REMARK: :42:8: remark: not on tensor cores: no tile of keys fits its depth in shared memory and registers
// REMARK: :43:8: remark: not on tensor cores: its depth is not a static multiple of 16
// REMARK: :69:11: remark: not on tensor cores: no tile fits its depth in shared memory and registers
// REMARK-NOT: remark
// Both kinds at once.
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops=tf32 --split-input-file | FileCheck %s --check-prefix=BOTH
// Without tf32, f32 attention is not taken.
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops --split-input-file | FileCheck %s --check-prefix=HALF

// CHECK-LABEL: func.func @f32
// CHECK: cf.assert {{.*}}dimension 2 of 'key' does not match dimension 2 of 'value' at run time
// CHECK: mha.gpu_attention %{{.*}} {block_k = 64 : i64, block_q = 64 : i64, causal, scale = 1.250000e-01 : f32, tf32} : memref<?x4x?x64xf32>
// CHECK: mha.gpu_attention %{{.*}} {block_k = 32 : i64, block_q = 64 : i64, scale = 0.0883883461 : f32, tf32} : memref<2x5x128xf32>
// CHECK: mha.gpu_attention %{{.*}} lse(%{{.*}} : memref<?x4x?xf32>) {block_k = 64 : i64, block_q = 64 : i64, scale = 1.250000e-01 : f32, tf32} : memref<?x4x?x64xf32>
// CHECK-NOT: mha.gpu_attention
// BOTH-LABEL: func.func @f32
// BOTH: mha.gpu_attention {{.*}}tf32} : memref<?x4x?x64xf32>
// BOTH: mha.gpu_attention {{.*}}tf32} : memref<2x5x128xf32>
// BOTH: mha.gpu_attention {{.*}}lse{{.*}}tf32} : memref<?x4x?x64xf32>
// BOTH-NOT: mha.gpu_attention
// HALF-LABEL: func.func @f32
// HALF-NOT: mha.gpu_attention
func.func @f32(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>,
               %x: tensor<2x5x128xf32>, %w: tensor<2x5x256xf32>, %u: tensor<2x5x24xf32>)
    -> (tensor<?x4x?x64xf32>, tensor<2x5x128xf32>, tensor<?x4x?x64xf32>, tensor<2x5x256xf32>, tensor<2x5x24xf32>) {
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

// The backward: the derived tiles at depths 32, 64 and 80; none fits at 96.
// CHECK-LABEL: func.func @grad
// CHECK: mha.gpu_attention_grad {{.*}} {block_rows = 64 : i64, key_tile = 64 : i64, query_tile = 64 : i64, scale = 0.176776692 : f32, tf32} : memref<2x5x32xf32>
// CHECK: mha.gpu_attention_grad {{.*}} {block_rows = 64 : i64, causal, key_tile = 64 : i64, query_tile = 32 : i64, scale = 1.250000e-01 : f32, tf32} : memref<2x5x64xf32>
// CHECK: mha.gpu_attention_grad {{.*}} {block_rows = 64 : i64, key_tile = 64 : i64, query_tile = 16 : i64, scale = 0.111803398 : f32, tf32} : memref<2x5x80xf32>
// CHECK: mha.attention_grad {{.*}} : tensor<2x5x96xf32>
// BOTH-LABEL: func.func @grad
// BOTH-COUNT-3: mha.gpu_attention_grad {{.*}}tf32}
// BOTH: mha.attention_grad
// HALF-LABEL: func.func @grad
// HALF-NOT: mha.gpu_attention_grad
func.func @grad(%a: tensor<2x5x32xf32>, %la: tensor<2x5xf32>, %b: tensor<2x5x64xf32>,
                %c: tensor<2x5x80xf32>, %d: tensor<2x5x96xf32>)
    -> (tensor<2x5x32xf32>, tensor<2x5x64xf32>, tensor<2x5x80xf32>, tensor<2x5x96xf32>) {
  %ga:3 = mha.attention_grad %a, %a, %a, %a, %la, %a
      : tensor<2x5x32xf32>, tensor<2x5x32xf32>, tensor<2x5x32xf32>, tensor<2x5x32xf32>, tensor<2x5xf32>
  %gb:3 = mha.attention_grad %b, %b, %b, %b, %la, %b causal
      : tensor<2x5x64xf32>, tensor<2x5x64xf32>, tensor<2x5x64xf32>, tensor<2x5x64xf32>, tensor<2x5xf32>
  %gc:3 = mha.attention_grad %c, %c, %c, %c, %la, %c
      : tensor<2x5x80xf32>, tensor<2x5x80xf32>, tensor<2x5x80xf32>, tensor<2x5x80xf32>, tensor<2x5xf32>
  %gd:3 = mha.attention_grad %d, %d, %d, %d, %la, %d
      : tensor<2x5x96xf32>, tensor<2x5x96xf32>, tensor<2x5x96xf32>, tensor<2x5x96xf32>, tensor<2x5xf32>
  return %ga#0, %gb#1, %gc#2, %gd#0 : tensor<2x5x32xf32>, tensor<2x5x64xf32>, tensor<2x5x80xf32>, tensor<2x5x96xf32>
}

// -----

// f16/bf16 attention: tensor-cores' (left alone with tensor-cores=0).
// CHECK-LABEL: func.func @half
// CHECK-NOT: mha.gpu_attention
// CHECK: mha.attention
// CHECK: mha.attention_grad
// BOTH-LABEL: func.func @half
// BOTH: mha.gpu_attention {{.*}} : memref<2x5x32xbf16>
// BOTH: mha.gpu_attention_grad {{.*}} : memref<2x5x32xbf16>
// HALF-LABEL: func.func @half
// HALF: mha.gpu_attention {{.*}} : memref<2x5x32xbf16>
// HALF: mha.gpu_attention_grad {{.*}} : memref<2x5x32xbf16>
func.func @half(%q: tensor<2x5x32xbf16>, %l: tensor<2x5xf32>) -> (tensor<2x5x32xbf16>, tensor<2x5x32xbf16>) {
  %o = mha.attention %q, %q, %q : tensor<2x5x32xbf16>, tensor<2x5x32xbf16>, tensor<2x5x32xbf16>
  %g:3 = mha.attention_grad %q, %q, %q, %q, %l, %q
      : tensor<2x5x32xbf16>, tensor<2x5x32xbf16>, tensor<2x5x32xbf16>, tensor<2x5x32xbf16>, tensor<2x5xf32>
  return %o, %g#0 : tensor<2x5x32xbf16>, tensor<2x5x32xbf16>
}
