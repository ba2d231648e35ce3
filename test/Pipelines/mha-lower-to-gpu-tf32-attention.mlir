// mha-lower-to-gpu with tf32-matmuls=1: f32 attention (inference's
// mha.attention, causal, dynamic batch and lengths, depth 64) becomes the
// tensor-core forward on TF32 roundings, one kernel (tiles of 64 queries x
// 64 keys). Per tile of keys a warp issues 64 mma.sync m16n8k8 for Q.K^T
// (8 key steps x 8 depth steps) and 64 for P.V (8 output tiles x 8 key
// steps); a thread rounds 320 elements in all (Q's 32 once, then per tile
// K's 128 read by 64 ldmatrix, P's 32 and V's 128 read one 32-bit shared
// load each). Without it, f32 attention has no mma.sync (the per-row
// kernels on CUDA cores).
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tf32-matmuls=1" -o %t.ptx
// RUN: grep -o "\.visible \.entry" %t.ptx | count 1
// RUN: grep -o "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32" %t.ptx | count 128
// RUN: grep -o "cvt.rna.tf32.f32" %t.ptx | count 320
// RUN: grep -o "ldmatrix.sync.aligned.m8n8.x2.shared.b16" %t.ptx | count 64
// RUN: grep -o "ld.shared.b32" %t.ptx | count 128
// RUN: grep -q "cp.async.cg.shared.global \[%rd[0-9]*\], \[%rd[0-9]*\], 16" %t.ptx
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" -o %t0.ptx
// RUN: not grep -q "mma.sync" %t0.ptx
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a tf32-matmuls=1" | FileCheck %s --check-prefix=CUBIN90 %}
// CUBIN90: gpu.binary
func.func @f(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32> {
  %o = mha.attention %q, %k, %v causal : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}
