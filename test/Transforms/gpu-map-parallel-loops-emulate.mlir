// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-gpu-map-parallel-loops{block-size=128 convert=false}))' | FileCheck %s

// With convert=false (mha-lower-to-gpu{emulate}) the mapped loop nests stay
// loops over blocks and threads, which the host then runs in sequence.
// CHECK-LABEL: func.func @elementwise
// CHECK: scf.parallel (%[[BLOCK:.*]]) = {{.*}} {
// CHECK: scf.parallel (%[[THREAD:.*]]) = {{.*}} {
// CHECK: arith.addi %[[THREAD]], %[[BLOCK]]
// CHECK: scf.if
// CHECK: arith.remsi
// CHECK: arith.divsi
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
// CHECK: } {mapping = [#gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
// CHECK-NOT: gpu.launch
func.func @elementwise(%a: memref<?x32xf32>, %b: memref<?x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %n = memref.dim %a, %c0 : memref<?x32xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c32) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x32xf32>
    %y = arith.addf %x, %x : f32
    memref.store %y, %b[%i, %j] : memref<?x32xf32>
    scf.reduce
  }
  return
}
