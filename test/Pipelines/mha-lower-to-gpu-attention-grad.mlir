// The attention backward on the GPU (mha-attention-grad-to-loops in
// mha-lower-to-gpu): a kernel of one thread per query row (dQ, and D = dO·O
// per row) and two of a thread per key row (dV; dK), each looping over the
// other side's rows with its gradient row in registers. No Sq x Sk buffer
// (4 x 37 x 45 scores per batch element) exists, forward or backward.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" --mlir-print-ir-after=mha-gpu-map-parallel-loops -o /dev/null 2>&1 | FileCheck %s
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a" | FileCheck %s --check-prefix=CUBIN %}

// CHECK-LABEL: func.func @f
// CHECK-NOT: x37x45x
// The query rows' kernel: dQ accumulated over the keys j <= i.
// CHECK: gpu.launch blocks
// CHECK: %[[DQ:.*]] = scf.for {{.*}} -> (vector<16xf32>)
// CHECK: vector.fma
// CHECK: scf.yield
// CHECK: vector.store %{{.*}} {alignment = 16 : i64}
// CHECK: gpu.terminator
// The key rows' kernels: dV, then dK, each accumulated over the queries
// i >= j (one gradient row a thread: fewer rows in registers).
// CHECK: gpu.launch blocks
// CHECK: scf.for {{.*}} -> (vector<16xf32>)
// CHECK: vector.fma
// CHECK-NOT: vector.fma
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks
// CHECK: scf.for {{.*}} -> (vector<16xf32>)
// CHECK: vector.fma
// CHECK-NOT: vector.fma
// CHECK: gpu.terminator
// CHECK-NOT: x37x45x
// CHECK: return
// CUBIN: gpu.binary @mha_kernels [#gpu.object<#nvvm.target<chip = "sm_90a"{{.*}}bin = "\7FELF
func.func @f(%q: tensor<2x4x37x16xf32>, %k: tensor<2x4x45x16xf32>, %v: tensor<2x4x45x16xf32>, %do: tensor<2x4x37x16xf32>)
    -> (tensor<2x4x37x16xf32>, tensor<2x4x45x16xf32>, tensor<2x4x45x16xf32>) {
  %o, %l = mha.attention_with_lse %q, %k, %v causal : tensor<2x4x37x16xf32>, tensor<2x4x45x16xf32>, tensor<2x4x45x16xf32>
  %g:3 = mha.attention_grad %q, %k, %v, %o, %l, %do causal
      : tensor<2x4x37x16xf32>, tensor<2x4x45x16xf32>, tensor<2x4x45x16xf32>, tensor<2x4x37x16xf32>, tensor<2x4x37xf32>
  return %g#0, %g#1, %g#2 : tensor<2x4x37x16xf32>, tensor<2x4x45x16xf32>, tensor<2x4x45x16xf32>
}
