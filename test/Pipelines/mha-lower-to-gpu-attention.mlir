// The attention forward on the GPU through its tiled form: mha-tile-attention
// with one query per tile and all keys in it, then
// mha-online-attention-to-loops, so the parallel loop over (batch, head,
// query row) becomes the threads of one kernel whose body loops over the
// keys (the online softmax with one key per step) and never holds an
// Sq x Sk matrix. In the PTX, the rows' vectors are registers: no local
// (stack) memory.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" --mlir-print-ir-after=mha-gpu-map-parallel-loops -o /dev/null 2>&1 | FileCheck %s
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" | FileCheck %s --check-prefix=PTX
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" | FileCheck %s --check-prefix=NOLOCAL
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a" | FileCheck %s --check-prefix=CUBIN %}

// CHECK-LABEL: func.func @f
// No buffer of the scores (4 x 37 x 45 floats per batch element) anywhere.
// CHECK-NOT: memref<2x4x37x45xf32>
// The kernel of the attention: one thread per (batch, head, query row),
// its query row and accumulator row vectors in registers, the keys in a
// loop that stops at the row's last visible key (causal: min(row + 1, 45)),
// each key's and value's row one vector read, aligned to 16 bytes (rows of
// 16 floats in buffers from gpu.alloc), so 16 bytes per load instruction.
// CHECK: gpu.launch blocks
// CHECK: %[[QROW:.*]] = vector.load {{.*}} {alignment = 16 : i64} : {{.*}}, vector<16xf32>
// CHECK: %[[AROW:.*]] = vector.load {{.*}} {alignment = 16 : i64} : {{.*}}, vector<16xf32>
// CHECK: %[[END:.*]] = arith.minsi %{{.*}}, %c45
// CHECK: %[[KEYS:.*]]:3 = scf.for %{{.*}} = %{{.*}} to %[[END]] step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %[[AROW]]) -> (f32, f32, vector<16xf32>)
// CHECK: %[[KROW:.*]] = vector.load {{.*}} {alignment = 16 : i64} : {{.*}}, vector<16xf32>
// CHECK: arith.mulf %[[QROW]], %[[KROW]]
// CHECK: vector.reduction <add>
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: math.exp
// CHECK: vector.fma
// CHECK: vector.store %[[KEYS]]#2, {{.*}} {alignment = 16 : i64}
// CHECK: gpu.terminator
// CHECK-NOT: memref<2x4x37x45xf32>
// CHECK: return
// PTX: gpu.binary @mha_kernels
// PTX-SAME: .entry f_kernel
// PTX-SAME: ld.global.v4
// NOLOCAL-NOT: .local
// CUBIN: gpu.binary @mha_kernels [#gpu.object<#nvvm.target<chip = "sm_90a"{{.*}}bin = "\7FELF
func.func @f(%q: tensor<2x4x37x16xf32>, %k: tensor<2x4x45x16xf32>, %v: tensor<2x4x45x16xf32>) -> tensor<2x4x37x16xf32> {
  %o = mha.attention %q, %k, %v causal : tensor<2x4x37x16xf32>, tensor<2x4x45x16xf32>, tensor<2x4x45x16xf32>
  return %o : tensor<2x4x37x16xf32>
}
