// mha-gpu-attention-kernel-ops: an eligible mha.attention (f16/bf16, static
// depth a multiple of 16) becomes mha.gpu_attention on its
// operands' buffers, an eligible mha.attention_grad mha.gpu_attention_grad,
// after the host's size checks; every other one is left as it is.
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops="block-q=32 block-k=48" --split-input-file | FileCheck %s
// Each op left as it is is named with the reason, as a remark:
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops="block-q=32 block-k=48" --split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// REMARK: :82:8: remark: not on tensor cores: its operands are not f16 or bf16 (tf32, mha-run --gpu-f32-matmuls tf32, computes f32 attention on TF32 roundings; bf16-attention, mha-run --precision bf16, on bf16 roundings)
// REMARK: :83:8: remark: not on tensor cores: its depth is not a static multiple of 16
// REMARK: :84:8: remark: not on tensor cores: it has no batch dimension
// REMARK: :85:8: remark: not on tensor cores: its depths differ
// REMARK: :86:8: remark: not on tensor cores: its batch dimensions differ or broadcast
// REMARK: :87:12: remark: not on tensor cores: its operands are not f16 or bf16 (tf32, mha-run --gpu-f32-matmuls tf32, computes f32 attention on TF32 roundings; bf16-attention, mha-run --precision bf16, on bf16 roundings)
// REMARK: :180:11: remark: not on tensor cores: no tile fits its depth in shared memory and registers
// REMARK: :182:11: remark: not on tensor cores: it computes the mask's gradient
// REMARK: :184:11: remark: not on tensor cores: its operands are not f16 or bf16 (tf32, mha-run --gpu-f32-matmuls tf32
// RUN: mha-opt %s --mha-gpu-attention-kernel-ops --split-input-file | FileCheck %s --check-prefix=DERIVED

// Dynamic batch and lengths, causal, default scale 1/sqrt(64): the sizes
// are checked first (Q and K batch, K and V lengths, and no broadcasting of
// the batch), the result is a new buffer read back as a tensor.
// CHECK-LABEL: func.func @dynamic
// CHECK-SAME: (%[[Q:.*]]: tensor<?x4x?x64xbf16>, %[[K:.*]]: tensor<?x4x?x64xbf16>, %[[V:.*]]: tensor<?x4x?x64xbf16>)
// CHECK: cf.assert {{.*}}"{{.*}}gpu-attention-kernel-ops.mlir:{{[0-9]+}}:8: 'mha.attention' op: dimension 2 of 'key' does not match dimension 2 of 'value' at run time"
// CHECK: cf.assert {{.*}}dimension 0 of 'query' does not match dimension 0 of 'key'
// CHECK: cf.assert {{.*}}dimension 0 of 'query' does not match dimension 0 of 'value'
// CHECK-DAG: %[[QB:.*]] = bufferization.to_buffer %[[Q]] read_only : tensor<?x4x?x64xbf16> to memref<?x4x?x64xbf16>
// CHECK-DAG: %[[KB:.*]] = bufferization.to_buffer %[[K]] read_only
// CHECK-DAG: %[[VB:.*]] = bufferization.to_buffer %[[V]] read_only
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x4x?x64xbf16>
// CHECK: mha.gpu_attention %[[QB]], %[[KB]], %[[VB]], %[[OUT]] {block_k = 48 : i64, block_q = 32 : i64, causal, scale = 1.250000e-01 : f32}
// CHECK: %[[R:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<?x4x?x64xbf16> to tensor<?x4x?x64xbf16>
// CHECK: return %[[R]]
// CHECK-NOT: mha.attention
func.func @dynamic(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x4x?x64xbf16>, %v: tensor<?x4x?x64xbf16>) -> tensor<?x4x?x64xbf16> {
  %o = mha.attention %q, %k, %v causal : tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>
  return %o : tensor<?x4x?x64xbf16>
}

// -----

// Static sizes: no check; the given scale is kept; f16.
// CHECK-LABEL: func.func @static_f16
// CHECK-NOT: cf.assert
// CHECK: mha.gpu_attention %{{.*}} {block_k = 48 : i64, block_q = 32 : i64, scale = 5.000000e-01 : f32} : memref<2x3x16xf16>, memref<2x40x16xf16>, memref<2x40x16xf16>, memref<2x3x16xf16>
func.func @static_f16(%q: tensor<2x3x16xf16>, %k: tensor<2x40x16xf16>, %v: tensor<2x40x16xf16>) -> tensor<2x3x16xf16> {
  %o = mha.attention %q, %k, %v {scale = 0.5 : f32} : tensor<2x3x16xf16>, tensor<2x40x16xf16>, tensor<2x40x16xf16>
  return %o : tensor<2x3x16xf16>
}

// -----

// The forward of training: the output and each row's log-sum-exp (f32), two
// new buffers.
// CHECK-LABEL: func.func @with_lse
// CHECK: %[[O:.*]] = memref.alloc() : memref<2x4x40x32xbf16>
// CHECK: %[[L:.*]] = memref.alloc() : memref<2x4x40xf32>
// CHECK: mha.gpu_attention %{{.*}}, %{{.*}}, %{{.*}}, %[[O]] lse(%[[L]] : memref<2x4x40xf32>) {block_k = 48 : i64, block_q = 32 : i64, causal, scale = 0.176776692 : f32}
// CHECK-DAG: bufferization.to_tensor %[[O]] restrict writable
// CHECK-DAG: bufferization.to_tensor %[[L]] restrict writable
// CHECK-NOT: mha.attention_with_lse
func.func @with_lse(%q: tensor<2x4x40x32xbf16>) -> (tensor<2x4x40x32xbf16>, tensor<2x4x40xf32>) {
  %o, %l = mha.attention_with_lse %q, %q, %q causal : tensor<2x4x40x32xbf16>, tensor<2x4x40x32xbf16>, tensor<2x4x40x32xbf16>
  return %o, %l : tensor<2x4x40x32xbf16>, tensor<2x4x40xf32>
}

// -----

// Left to the rest of the pipeline: f32, a depth not a multiple of 16, no
// batch dimension, a value depth other than the query's, a key and value
// broadcast along the batch (a static 1 against the query's dynamic size:
// the kernel indexes every operand by the query's batch position); an f32
// attention_with_lse.
// CHECK-LABEL: func.func @ineligible
// CHECK-NOT: mha.gpu_attention
// CHECK-COUNT-5: mha.attention
// CHECK: mha.attention_with_lse
func.func @ineligible(%q32: tensor<2x8x16xf32>, %q: tensor<2x8x16xbf16>,
                      %q24: tensor<2x8x24xbf16>, %q2: tensor<8x16xbf16>, %v32: tensor<2x8x32xbf16>,
                      %qd: tensor<?x8x16xbf16>, %k1: tensor<1x8x16xbf16>)
    -> (tensor<2x8x16xf32>, tensor<2x8x24xbf16>, tensor<8x16xbf16>, tensor<2x8x32xbf16>, tensor<1x8x16xbf16>) {
  %a = mha.attention %q32, %q32, %q32 : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
  %c = mha.attention %q24, %q24, %q24 : tensor<2x8x24xbf16>, tensor<2x8x24xbf16>, tensor<2x8x24xbf16>
  %d = mha.attention %q2, %q2, %q2 : tensor<8x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>
  %e = mha.attention %q, %q, %v32 : tensor<2x8x16xbf16>, tensor<2x8x16xbf16>, tensor<2x8x32xbf16>
  %g = mha.attention %qd, %k1, %k1 : tensor<?x8x16xbf16>, tensor<1x8x16xbf16>, tensor<1x8x16xbf16>
  %f, %l = mha.attention_with_lse %q32, %q32, %q32 : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
  return %a, %c, %d, %e, %g : tensor<2x8x16xf32>, tensor<2x8x24xbf16>, tensor<8x16xbf16>, tensor<2x8x32xbf16>, tensor<1x8x16xbf16>
}

// -----

// A mask (here a dynamic key-padding one, broadcast over heads and
// queries): checked against the scores' sizes on the host, then read by the
// kernel from its buffer.
// CHECK-LABEL: func.func @masked
// CHECK: cf.assert {{.*}}mask
// CHECK: %[[M:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x1x1x?xi1> to memref<?x1x1x?xi1>
// CHECK: mha.gpu_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]] : memref<?x1x1x?xi1>) {block_k = 48 : i64, block_q = 32 : i64, scale = 2.500000e-01 : f32}
func.func @masked(%q: tensor<?x4x?x16xbf16>, %m: tensor<?x1x1x?xi1>) -> tensor<?x4x?x16xbf16> {
  %o = mha.attention %q, %q, %q mask(%m : tensor<?x1x1x?xi1>) : tensor<?x4x?x16xbf16>, tensor<?x4x?x16xbf16>, tensor<?x4x?x16xbf16>
  return %o : tensor<?x4x?x16xbf16>
}

// -----

// Derived tiles of keys (block-k=0, the default): the largest of 64, 32, 16
// that fits a block's shared memory and a thread's registers at the depth:
// 64 keys at depth 128, 32 at depth 256 (64 would take 67584 bytes of
// shared memory); at depth 512 none fits and the op stays.
// DERIVED-LABEL: func.func @derived
// DERIVED: mha.gpu_attention {{.*}} {block_k = 64 : i64, block_q = 64 : i64, scale = {{.*}}} : memref<2x8x128xbf16>
// DERIVED: mha.gpu_attention {{.*}} {block_k = 32 : i64, block_q = 64 : i64, scale = {{.*}}} : memref<2x8x256xbf16>
// DERIVED: mha.attention {{.*}} : tensor<2x8x512xbf16>
func.func @derived(%a: tensor<2x8x128xbf16>, %b: tensor<2x8x256xbf16>, %c: tensor<2x8x512xbf16>)
    -> (tensor<2x8x128xbf16>, tensor<2x8x256xbf16>, tensor<2x8x512xbf16>) {
  %x = mha.attention %a, %a, %a : tensor<2x8x128xbf16>, tensor<2x8x128xbf16>, tensor<2x8x128xbf16>
  %y = mha.attention %b, %b, %b : tensor<2x8x256xbf16>, tensor<2x8x256xbf16>, tensor<2x8x256xbf16>
  %z = mha.attention %c, %c, %c : tensor<2x8x512xbf16>, tensor<2x8x512xbf16>, tensor<2x8x512xbf16>
  return %x, %y, %z : tensor<2x8x128xbf16>, tensor<2x8x256xbf16>, tensor<2x8x512xbf16>
}

// -----

// The backward: dynamic batch and lengths, causal, default scale 1/sqrt(64):
// attention's checks and those of O, dO and lse against the query and
// value, then read-only buffers of the six operands, new buffers for dQ (the
// query's sizes), dK and dV (the key's and value's), the backward's tiles
// derived from the depth (not the forward's options): 64 rows a block, 64
// keys and 64 queries a tile at depth 64.
// CHECK-LABEL: func.func @grad_dynamic
// CHECK-SAME: (%[[Q:.*]]: tensor<?x4x?x64xbf16>, %[[K:.*]]: tensor<?x4x?x64xbf16>, %[[O:.*]]: tensor<?x4x?x64xbf16>, %[[L:.*]]: tensor<?x4x?xf32>, %[[DO:.*]]: tensor<?x4x?x64xbf16>)
// CHECK: cf.assert {{.*}}'mha.attention_grad' op: dimension 2 of 'key' does not match dimension 2 of 'value' at run time
// CHECK: cf.assert {{.*}}dimension 2 of 'result' does not match dimension 2 of 'query'
// CHECK: cf.assert {{.*}}dimension 2 of 'result_grad' does not match dimension 2 of 'query'
// CHECK: cf.assert {{.*}}dimension 2 of 'lse' does not match dimension 2 of 'query'
// CHECK: cf.assert {{.*}}dimension 0 of 'lse' does not match dimension 0 of 'query'
// CHECK-DAG: %[[QB:.*]] = bufferization.to_buffer %[[Q]] read_only
// CHECK-DAG: %[[KB:.*]] = bufferization.to_buffer %[[K]] read_only
// CHECK-DAG: %[[OB:.*]] = bufferization.to_buffer %[[O]] read_only
// CHECK-DAG: %[[LB:.*]] = bufferization.to_buffer %[[L]] read_only : tensor<?x4x?xf32> to memref<?x4x?xf32>
// CHECK-DAG: %[[DOB:.*]] = bufferization.to_buffer %[[DO]] read_only
// CHECK: %[[DQ:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x4x?x64xbf16>
// CHECK: %[[DK:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x4x?x64xbf16>
// CHECK: %[[DV:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x4x?x64xbf16>
// CHECK: mha.gpu_attention_grad %[[QB]], %[[KB]], %{{.*}}, %[[OB]], %[[LB]], %[[DOB]], %[[DQ]], %[[DK]], %[[DV]] {block_rows = 64 : i64, causal, key_tile = 64 : i64, query_tile = 64 : i64, scale = 1.250000e-01 : f32}
// CHECK-DAG: bufferization.to_tensor %[[DQ]] restrict writable
// CHECK-DAG: bufferization.to_tensor %[[DK]] restrict writable
// CHECK-DAG: bufferization.to_tensor %[[DV]] restrict writable
// CHECK-NOT: mha.attention_grad
func.func @grad_dynamic(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x4x?x64xbf16>, %o: tensor<?x4x?x64xbf16>,
                        %l: tensor<?x4x?xf32>, %do: tensor<?x4x?x64xbf16>)
    -> (tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>) {
  %g:3 = mha.attention_grad %q, %k, %k, %o, %l, %do causal
      : tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>
  return %g#0, %g#1, %g#2 : tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>, tensor<?x4x?x64xbf16>
}

// -----

// The backward's derived tiles by depth (the dQ kernel's tile of keys, the
// dK/dV kernel's tile of queries: the largest of 64, 32, 16 within shared
// memory and the registers' estimate): 64 and 64 at depth 32, 64 and 16 at
// depth 128; none at depth 256 (the op stays). A boolean mask is passed on;
// an additive mask whose gradient is used, and f32 operands, stay.
// CHECK-LABEL: func.func @grad_ops
// CHECK: mha.gpu_attention_grad {{.*}} mask(%{{.*}} : memref<2x1x1x8xi1>) {block_rows = 64 : i64, key_tile = 64 : i64, query_tile = 64 : i64, scale = {{.*}}} : memref<2x4x8x32xbf16>
// CHECK: mha.gpu_attention_grad {{.*}} {block_rows = 64 : i64, key_tile = 64 : i64, query_tile = 16 : i64, scale = {{.*}}} : memref<2x8x128xf16>
// CHECK: mha.attention_grad {{.*}} : tensor<2x8x256xbf16>
// CHECK: mha.attention_grad {{.*}} mask({{.*}}) {{.*}} mask_grad tensor<8x8xbf16>
// CHECK: mha.attention_grad {{.*}} : tensor<2x8x16xf32>
func.func @grad_ops(%a: tensor<2x4x8x32xbf16>, %la: tensor<2x4x8xf32>, %m: tensor<2x1x1x8xi1>,
                    %b: tensor<2x8x128xf16>, %c: tensor<2x8x256xbf16>, %l: tensor<2x8xf32>,
                    %d: tensor<2x8x16xbf16>, %bias: tensor<8x8xbf16>, %e: tensor<2x8x16xf32>)
    -> (tensor<2x4x8x32xbf16>, tensor<2x8x128xf16>, tensor<2x8x256xbf16>, tensor<8x8xbf16>, tensor<2x8x16xf32>) {
  %ga:3 = mha.attention_grad %a, %a, %a, %a, %la, %a mask(%m : tensor<2x1x1x8xi1>)
      : tensor<2x4x8x32xbf16>, tensor<2x4x8x32xbf16>, tensor<2x4x8x32xbf16>, tensor<2x4x8x32xbf16>, tensor<2x4x8xf32>
  %gb:3 = mha.attention_grad %b, %b, %b, %b, %l, %b
      : tensor<2x8x128xf16>, tensor<2x8x128xf16>, tensor<2x8x128xf16>, tensor<2x8x128xf16>, tensor<2x8xf32>
  %gc:3 = mha.attention_grad %c, %c, %c, %c, %l, %c
      : tensor<2x8x256xbf16>, tensor<2x8x256xbf16>, tensor<2x8x256xbf16>, tensor<2x8x256xbf16>, tensor<2x8xf32>
  %gd:4 = mha.attention_grad %d, %d, %d, %d, %l, %d mask(%bias : tensor<8x8xbf16>)
      : tensor<2x8x16xbf16>, tensor<2x8x16xbf16>, tensor<2x8x16xbf16>, tensor<2x8x16xbf16>, tensor<2x8xf32>, mask_grad tensor<8x8xbf16>
  %ge:3 = mha.attention_grad %e, %e, %e, %e, %l, %e
      : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xf32>
  return %ga#0, %gb#1, %gc#2, %gd#3, %ge#0 : tensor<2x4x8x32xbf16>, tensor<2x8x128xf16>, tensor<2x8x256xbf16>, tensor<8x8xbf16>, tensor<2x8x16xf32>
}
