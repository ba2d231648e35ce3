// The attention forward on the GPU through its tiled form: mha-tile-attention
// with one query per tile and all keys in it, then
// mha-online-attention-to-loops, so the parallel loop over (batch, head,
// query row) becomes the threads of one kernel whose body loops over the
// keys (the online softmax with one key per step) and never holds an
// Sq x Sk matrix.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" --mlir-print-ir-after=mha-gpu-map-parallel-loops -o /dev/null 2>&1 | FileCheck %s
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" | FileCheck %s --check-prefix=PTX
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a" | FileCheck %s --check-prefix=CUBIN %}

// CHECK-LABEL: func.func @f
// No buffer of the scores (4 x 37 x 45 floats per batch element) anywhere.
// CHECK-NOT: memref<2x4x37x45xf32>
// The kernel of the attention: one thread per (batch, head, query row),
// the keys in a loop, the depth in loops inside it.
// CHECK: gpu.launch blocks
// CHECK: scf.for %{{.*}} = %{{.*}} to %c45 step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32)
// CHECK: scf.for %{{.*}} = %{{.*}} to %c16 step %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (f32)
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: math.exp
// CHECK: scf.for %{{.*}} = %{{.*}} to %c16 step
// CHECK-NOT: memref<2x4x37x45xf32>
// CHECK: return
// PTX: gpu.binary @mha_kernels
// PTX-SAME: .entry f_kernel
// CUBIN: gpu.binary @mha_kernels [#gpu.object<#nvvm.target<chip = "sm_90a"{{.*}}bin = "\7FELF
func.func @f(%q: tensor<2x4x37x16xf32>, %k: tensor<2x4x45x16xf32>, %v: tensor<2x4x45x16xf32>) -> tensor<2x4x37x16xf32> {
  %o = mha.attention %q, %k, %v causal : tensor<2x4x37x16xf32>, tensor<2x4x45x16xf32>, tensor<2x4x45x16xf32>
  return %o : tensor<2x4x37x16xf32>
}
