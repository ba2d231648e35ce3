// RUN: mha-opt %s -mha-outline-kernels -split-input-file | FileCheck %s
// RUN: mha-opt %s -mha-outline-kernels -duplicate-function-elimination -split-input-file | FileCheck %s --check-prefix=DEDUP

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// Two register-block loops that differ only in their trip counts and in the
// shapes and strides of their matrices: each becomes a call of a function
// with dynamic memref arguments (unit innermost strides kept), and the two
// functions are one after deduplication. A kernel has internal linkage.

// CHECK-LABEL: func.func private @__mha_kernel_0
// CHECK-SAME: (%[[LB:.*]]: index, %[[UB:.*]]: index, %[[A:.*]]: memref<?x?xf32, strided<[?, 1], offset: ?>>, %[[B:.*]]: memref<?x?xf32, strided<[?, 1], offset: ?>>, %[[C:.*]]: memref<?x?xf32, strided<[?, 1], offset: ?>>)
// CHECK-SAME: attributes {llvm.linkage = #llvm.linkage<internal>}
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// The output tile's read and write leave the loop (the accumulators stay
// in registers over the reduction).
// CHECK: %[[ACC:.*]] = vector.transfer_read %[[C]][%[[C0]], %[[C0]]]
// CHECK: %[[R:.*]] = scf.for %[[K:.*]] = %[[LB]] to %[[UB]] step %[[C16]] iter_args(%[[X:.*]] = %[[ACC]])
// CHECK: memref.subview %[[A]][0, %[[K]]] [8, 16] [1, 1] : memref<?x?xf32, strided<[?, 1], offset: ?>> to memref<8x16xf32, strided<[?, 1], offset: ?>>
// CHECK: vector.transfer_read %{{.*}}[%[[C0]], %[[C0]]]
// CHECK: %[[Y:.*]] = vector.contract {{.*}} %[[X]]
// CHECK: scf.yield %[[Y]]
// CHECK: vector.transfer_write %[[R]], %[[C]][%[[C0]], %[[C0]]]
// CHECK: return
// CHECK-LABEL: func.func private @__mha_kernel_1
// CHECK-LABEL: func.func @two
// CHECK-SAME: (%[[A0:.*]]: memref<8x64xf32>, %[[B0:.*]]: memref<64x32xf32>, %[[CC0:.*]]: memref<8x32xf32>, %[[A1:[^:]*]]: memref<8x?xf32, {{.*}}>, %[[B1:.*]]: memref<?x32xf32>, %[[CC1:.*]]: memref<8x32xf32, strided<[128, 1]>>, %[[N:.*]]: index)
// CHECK-NOT: scf.for
// CHECK: %[[CA:.*]] = memref.cast %[[A0]] : memref<8x64xf32> to memref<?x?xf32, strided<[?, 1], offset: ?>>
// CHECK: call @__mha_kernel_0(%{{.*}}, %{{.*}}, %[[CA]], %{{.*}}, %{{.*}})
// CHECK: call @__mha_kernel_1(%{{.*}}, %[[N]],

// DEDUP-LABEL: func.func private @__mha_kernel_0
// DEDUP-NOT: func.func private
// DEDUP-LABEL: func.func @two
// DEDUP: call @__mha_kernel_0(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// DEDUP: call @__mha_kernel_0(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
func.func @two(%a: memref<8x64xf32>, %b: memref<64x32xf32>, %c: memref<8x32xf32>,
               %a2: memref<8x?xf32, strided<[?, 1], offset: ?>>, %b2: memref<?x32xf32>,
               %c2: memref<8x32xf32, strided<[128, 1]>>, %n: index) {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %f0 = arith.constant 0.0 : f32
  scf.for %k = %c0 to %c64 step %c16 {
    %sa = memref.subview %a[0, %k] [8, 16] [1, 1] : memref<8x64xf32> to memref<8x16xf32, strided<[64, 1], offset: ?>>
    %sb = memref.subview %b[%k, 0] [16, 32] [1, 1] : memref<64x32xf32> to memref<16x32xf32, strided<[32, 1], offset: ?>>
    %va = vector.transfer_read %sa[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x16xf32, strided<[64, 1], offset: ?>>, vector<8x16xf32>
    %vb = vector.transfer_read %sb[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<16x32xf32, strided<[32, 1], offset: ?>>, vector<16x32xf32>
    %vc = vector.transfer_read %c[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x32xf32>, vector<8x32xf32>
    %r = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %va, %vb, %vc : vector<8x16xf32>, vector<16x32xf32> into vector<8x32xf32>
    vector.transfer_write %r, %c[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<8x32xf32>
  }
  scf.for %k = %c0 to %n step %c16 {
    %sa = memref.subview %a2[0, %k] [8, 16] [1, 1] : memref<8x?xf32, strided<[?, 1], offset: ?>> to memref<8x16xf32, strided<[?, 1], offset: ?>>
    %sb = memref.subview %b2[%k, 0] [16, 32] [1, 1] : memref<?x32xf32> to memref<16x32xf32, strided<[32, 1], offset: ?>>
    %va = vector.transfer_read %sa[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x16xf32, strided<[?, 1], offset: ?>>, vector<8x16xf32>
    %vb = vector.transfer_read %sb[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<16x32xf32, strided<[32, 1], offset: ?>>, vector<16x32xf32>
    %vc = vector.transfer_read %c2[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x32xf32, strided<[128, 1]>>, vector<8x32xf32>
    %r = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %va, %vb, %vc : vector<8x16xf32>, vector<16x32xf32> into vector<8x32xf32>
    vector.transfer_write %r, %c2[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<8x32xf32, strided<[128, 1]>>
  }
  return
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// Left in place: a loop carrying values, a loop with a nested loop, a loop
// with an op that is not register-block work, and a loop without a
// contraction.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: call
// CHECK-COUNT-4: scf.for
// CHECK-NOT: call
func.func @kept(%a: memref<8x64xf32>, %b: memref<64x32xf32>, %c: memref<8x32xf32>, %d: memref<8x32xf32>) -> vector<8x32xf32> {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %f0 = arith.constant 0.0 : f32
  %acc0 = vector.transfer_read %c[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x32xf32>, vector<8x32xf32>
  %acc = scf.for %k = %c0 to %c64 step %c16 iter_args(%acc1 = %acc0) -> vector<8x32xf32> {
    %sa = memref.subview %a[0, %k] [8, 16] [1, 1] : memref<8x64xf32> to memref<8x16xf32, strided<[64, 1], offset: ?>>
    %sb = memref.subview %b[%k, 0] [16, 32] [1, 1] : memref<64x32xf32> to memref<16x32xf32, strided<[32, 1], offset: ?>>
    %va = vector.transfer_read %sa[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x16xf32, strided<[64, 1], offset: ?>>, vector<8x16xf32>
    %vb = vector.transfer_read %sb[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<16x32xf32, strided<[32, 1], offset: ?>>, vector<16x32xf32>
    %r = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %va, %vb, %acc1 : vector<8x16xf32>, vector<16x32xf32> into vector<8x32xf32>
    scf.yield %r : vector<8x32xf32>
  }
  scf.for %i = %c0 to %c64 step %c16 {
    scf.for %k = %c0 to %c64 step %c16 {
      %sa = memref.subview %a[0, %k] [8, 16] [1, 1] : memref<8x64xf32> to memref<8x16xf32, strided<[64, 1], offset: ?>>
      %va = vector.transfer_read %sa[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x16xf32, strided<[64, 1], offset: ?>>, vector<8x16xf32>
      %vb = vector.transfer_read %b[%k, %c0], %f0 {in_bounds = [true, true]} : memref<64x32xf32>, vector<16x32xf32>
      %vc = vector.transfer_read %c[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x32xf32>, vector<8x32xf32>
      %r = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %va, %vb, %vc : vector<8x16xf32>, vector<16x32xf32> into vector<8x32xf32>
      memref.copy %c, %d : memref<8x32xf32> to memref<8x32xf32>
      vector.transfer_write %r, %c[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<8x32xf32>
    }
  }
  scf.for %k = %c0 to %c64 step %c16 {
    %vc = vector.transfer_read %c[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x32xf32>, vector<8x32xf32>
    %s = arith.addf %vc, %vc : vector<8x32xf32>
    vector.transfer_write %s, %d[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<8x32xf32>
  }
  return %acc : vector<8x32xf32>
}

// -----

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// Also kernels: a remainder register block (masked reads of at most 15 of
// the reduction's positions; a loop of at most one step, not hoisted by
// mha-tile-and-vectorize), and a row of 16 x 16 transpose blocks.
// CHECK-LABEL: func.func private @__mha_kernel_0
// CHECK: scf.for
// CHECK: vector.create_mask
// CHECK: vector.transfer_read {{.*}} : memref<8x?xf32, strided<[?, 1], offset: ?>>, vector<8x15xf32>
// CHECK: vector.contract
// CHECK-LABEL: func.func private @__mha_kernel_1
// CHECK: scf.for
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<16x16xf32> to vector<16x16xf32>
// CHECK-LABEL: func.func @remainder_and_transpose
// CHECK-NOT: scf.for
// CHECK: call @__mha_kernel_0(
// CHECK-NOT: scf.for
// CHECK: call @__mha_kernel_1(
// CHECK-NOT: scf.for
// CHECK: return
func.func @remainder_and_transpose(%a: memref<8x?xf32>, %b: memref<?x32xf32>, %c: memref<8x32xf32>,
                                   %x: memref<16x64xf32>, %y: memref<64x16xf32>, %start: index, %n: index) {
  %c0 = arith.constant 0 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %f0 = arith.constant 0.0 : f32
  scf.for %k = %start to %n step %c16 {
    %rest = affine.apply affine_map<(d0)[s0] -> (s0 - d0)>(%k)[%n]
    %sa = memref.subview %a[0, %k] [8, %rest] [1, 1] : memref<8x?xf32> to memref<8x?xf32, strided<[?, 1], offset: ?>>
    %sb = memref.subview %b[%k, 0] [%rest, 32] [1, 1] : memref<?x32xf32> to memref<?x32xf32, strided<[32, 1], offset: ?>>
    %ma = vector.create_mask %c8, %rest : vector<8x15xi1>
    %va = vector.transfer_read %sa[%c0, %c0], %f0, %ma {in_bounds = [true, true]} : memref<8x?xf32, strided<[?, 1], offset: ?>>, vector<8x15xf32>
    %mb = vector.create_mask %rest, %c32 : vector<15x32xi1>
    %vb = vector.transfer_read %sb[%c0, %c0], %f0, %mb {in_bounds = [true, true]} : memref<?x32xf32, strided<[32, 1], offset: ?>>, vector<15x32xf32>
    %vc = vector.transfer_read %c[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<8x32xf32>, vector<8x32xf32>
    %r = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %va, %vb, %vc : vector<8x15xf32>, vector<15x32xf32> into vector<8x32xf32>
    vector.transfer_write %r, %c[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<8x32xf32>
  }
  scf.for %j = %c0 to %c64 step %c16 {
    %sx = memref.subview %x[0, %j] [16, 16] [1, 1] : memref<16x64xf32> to memref<16x16xf32, strided<[64, 1], offset: ?>>
    %sy = memref.subview %y[%j, 0] [16, 16] [1, 1] : memref<64x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
    %v = vector.transfer_read %sx[%c0, %c0], %f0 {in_bounds = [true, true]} : memref<16x16xf32, strided<[64, 1], offset: ?>>, vector<16x16xf32>
    %t = vector.transpose %v, [1, 0] : vector<16x16xf32> to vector<16x16xf32>
    vector.transfer_write %t, %sy[%c0, %c0] {in_bounds = [true, true]} : vector<16x16xf32>, memref<16x16xf32, strided<[16, 1], offset: ?>>
  }
  return
}
