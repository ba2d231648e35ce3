// mha-gpu-lower-tensor-core-kernels on mha.gpu_attention with tf32: the
// tensor-core forward on f32 tiles, both products by mma.sync m16n8k8 on
// TF32 roundings (nvvm.convert.float.to.tf32, to nearest, ties away) of
// every element it reads: Q once, K by ldmatrix of 32-bit elements, P
// from the thread's own score accumulators in a permuted key order, V one
// element a load in the same order; and its emulation.
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels -canonicalize -cse | FileCheck %s
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels=emulate -canonicalize -cse | FileCheck %s --check-prefix=EMU

// Causal, 40 queries and 50 keys, depth 16, blocks of 32 queries (2 warps)
// and tiles of 16 keys: f32 tiles, rows padded by 4 elements (16 bytes).
// CHECK-LABEL: func.func @tf32
// CHECK: gpu.launch {{.*}} threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1) workgroup(%[[KS:.*]] : memref<16x20xf32, #gpu.address_space<workgroup>>, %[[VS:.*]] : memref<16x20xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[LANE:.*]] = arith.remui %[[T]], %c32
// CHECK: %[[G:.*]] = arith.divui %[[LANE]], %c4
// CHECK: %[[TT:.*]] = arith.remui %[[LANE]], %c4
// CHECK: %[[TWOT:.*]] = arith.muli %[[TT]], %c2
// The query's A registers, rows g and g + 8, columns t and t + 4 of each 8
// of depth, rounded once for the kernel.
// CHECK: %[[Q0:.*]] = memref.load %{{.*}}[%{{.*}}, %[[R0:.*]], %[[TT]]] : memref<2x40x16xf32>
// CHECK: %[[Q1:.*]] = memref.load %{{.*}}[%{{.*}}, %[[R1:.*]], %[[TT]]]
// CHECK: %[[Q2:.*]] = memref.load %{{.*}}[%{{.*}}, %[[R0]], %{{.*}}]
// CHECK: %[[Q3:.*]] = memref.load %{{.*}}[%{{.*}}, %[[R1]], %{{.*}}]
// CHECK: %[[A0:.*]] = nvvm.convert.float.to.tf32 %[[Q0]] {rnd = #nvvm.fp_rnd_mode<rna>}
// CHECK: %[[A1:.*]] = nvvm.convert.float.to.tf32 %[[Q1]]
// CHECK: %[[A2:.*]] = nvvm.convert.float.to.tf32 %[[Q2]]
// CHECK: %[[A3:.*]] = nvvm.convert.float.to.tf32 %[[Q3]]
// Copies of 4 elements (16 bytes) a cp.async.
// CHECK: nvgpu.device_async_copy %{{.*}}, %[[KS]][%{{.*}}, %{{.*}}], 4, %{{.*}} {bypassL1} : memref<2x50x16xf32> to memref<16x20xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// Scores: the key tile's B registers by ldmatrix of two 8 x 4 matrices
// (32-bit elements), rounded; two steps of 8 of depth per 8 keys.
// CHECK: nvgpu.ldmatrix %[[KS]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = false} : memref<16x20xf32, #gpu.address_space<workgroup>> -> vector<2x1xf32>
// CHECK: nvvm.convert.float.to.tf32
// CHECK: nvvm.convert.float.to.tf32
// CHECK: nvvm.mma.sync A[%[[A0]], %[[A1]], %[[A2]], %[[A3]]]  B[%{{.*}}, %{{.*}}]  C[{{.*}}]  {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<tf32>, multiplicandBPtxType = #nvvm.mma_type<tf32>, shape = #nvvm.shape<m = 16, n = 8, k = 8>}
// CHECK-COUNT-3: nvvm.mma.sync {{.*}}tf32{{.*}}k = 8
// The online softmax: a row's sum rescaled, then its probabilities of
// keys 2t and 2t + 1 (of the first 8).
// CHECK: arith.mulf %arg{{.*}}, %{{.*}} : f32
// CHECK-NEXT: arith.subf
// CHECK-NEXT: math.exp2
// CHECK-NEXT: %[[P00:.*]] = arith.select
// CHECK-NEXT: arith.addf
// CHECK-NEXT: arith.subf
// CHECK-NEXT: math.exp2
// CHECK-NEXT: %[[P01:.*]] = arith.select
// CHECK: arith.mulf %arg{{.*}}, %{{.*}} : f32
// CHECK-NEXT: arith.subf
// CHECK-NEXT: math.exp2
// CHECK-NEXT: %[[P10:.*]] = arith.select
// CHECK-NEXT: arith.addf
// CHECK-NEXT: arith.subf
// CHECK-NEXT: math.exp2
// CHECK-NEXT: %[[P11:.*]] = arith.select
// P.V: P's A registers in the permuted order (k t: key 2t, k t + 4: key
// 2t + 1; rows g, g + 8), rounded once; V's rows 2t and 2t + 1, column g,
// one element a load, rounded.
// CHECK: %[[PA0:.*]] = nvvm.convert.float.to.tf32 %[[P00]]
// CHECK-NEXT: %[[PA1:.*]] = nvvm.convert.float.to.tf32 %[[P10]]
// CHECK-NEXT: %[[PA2:.*]] = nvvm.convert.float.to.tf32 %[[P01]]
// CHECK-NEXT: %[[PA3:.*]] = nvvm.convert.float.to.tf32 %[[P11]]
// CHECK: %[[V0:.*]] = memref.load %[[VS]][%[[TWOT]], %[[G]]] : memref<16x20xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT: %[[V1:.*]] = memref.load %[[VS]][%{{.*}}, %[[G]]]
// CHECK-NEXT: %[[B0:.*]] = nvvm.convert.float.to.tf32 %[[V0]]
// CHECK-NEXT: %[[B1:.*]] = nvvm.convert.float.to.tf32 %[[V1]]
// CHECK-NEXT: nvvm.mma.sync A[%[[PA0]], %[[PA1]], %[[PA2]], %[[PA3]]]  B[%[[B0]], %[[B1]]]
// CHECK-COUNT-3: nvvm.mma.sync {{.*}}tf32{{.*}}k = 8
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// The output stored in f32, two elements (8 bytes) a store.
// CHECK: vector.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] {alignment = 8 : i64} : memref<2x40x16xf32>, vector<2xf32>
// CHECK: gpu.terminator
// Emulated: the same loads as gathers, the products by the emulated
// m16n8k8 on rounded lanes.
// EMU-LABEL: func.func private @__mha_emulated_block_0(
// EMU: call @__mha_emulated_gather_f32_64
// EMU: call @__mha_emulated_mma_tf32_f32_64
// EMU-LABEL: func.func @tf32(
// EMU: call @__mha_emulated_block_0
// EMU-NOT: gpu.
func.func @tf32(%q: memref<2x40x16xf32>, %k: memref<2x50x16xf32>, %o: memref<2x40x16xf32>) {
  mha.gpu_attention %q, %k, %k, %o {scale = 0.25 : f32, causal, block_q = 32, block_k = 16, tf32}
      : memref<2x40x16xf32>, memref<2x50x16xf32>, memref<2x50x16xf32>, memref<2x40x16xf32>
  return
}
