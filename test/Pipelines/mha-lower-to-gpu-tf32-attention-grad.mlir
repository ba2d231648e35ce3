// mha-lower-to-gpu with tf32-matmuls=1: training's f32 attention (the
// forward with its log-sum-exp and the backward; causal, dynamic batch and
// lengths, depth 64) on the tensor-core kernels on TF32 roundings: three
// kernels, the forward (tiles of 64 queries x 64 keys), dQ (64 x 64) and
// dK/dV (64 keys x 32 queries). A warp's mma.sync m16n8k8 per tile: the
// forward 128 (Q.K^T, P.V), dQ 192 (dO.V^T, Q.K^T, dS.K: 8 x 8 each),
// dK/dV 128 (K.Q^T, V.dO^T, dS^T.Q, P^T.dO: 4 x 8 or 8 x 4 each): 448.
// A thread's roundings: the forward's 320; dQ's Q and dO once (64), then
// per tile V's and K's 128 each for the scores and dP, dS's 32 and K's 128
// again for dQ (480); dK/dV's K and V once (64), then per tile Q's and dO's
// 64 each, P's and dS's 16 each, and Q's and dO's 64 each again (352):
// 1152. D = rowsum(dO . O) reads dO and O unrounded (no more roundings).
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tf32-matmuls=1" -o %t.ptx
// RUN: grep -o "\.visible \.entry" %t.ptx | count 3
// RUN: grep -o "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32" %t.ptx | count 448
// RUN: grep -o "cvt.rna.tf32.f32" %t.ptx | count 1152
// RUN: not grep -q "mma.sync.aligned.m16n8k16" %t.ptx
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" -o %t0.ptx
// RUN: not grep -q "mma.sync" %t0.ptx
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a tf32-matmuls=1" | FileCheck %s --check-prefix=CUBIN90 %}
// CUBIN90: gpu.binary
func.func @f(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x64xf32>,
             %do: tensor<?x8x?x64xf32>) -> (tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>) {
  %o, %l = mha.attention_with_lse %q, %k, %v causal : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
  %g:3 = mha.attention_grad %q, %k, %v, %o, %l, %do causal
      : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?xf32>
  return %g#0, %g#1, %g#2 : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
}
