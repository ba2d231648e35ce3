// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-strided-copies-to-loops))' -split-input-file | FileCheck %s
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-strided-copies-to-loops),convert-linalg-to-loops)' -split-input-file | FileCheck %s --check-prefix=LOOPS

// A copy between a tile of a larger buffer and a fresh one (what
// bufferization makes of a remainder tile) becomes linalg.copy, then loops.
// CHECK-LABEL: func.func @tile_copy
// CHECK-SAME: (%[[SRC:.*]]: memref<?x32xf32, strided<[64, 1], offset: ?>>, %[[DST:.*]]: memref<?x32xf32>)
// CHECK: linalg.copy ins(%[[SRC]] : memref<?x32xf32, strided<[64, 1], offset: ?>>) outs(%[[DST]] : memref<?x32xf32>)
// CHECK-NOT: memref.copy
// LOOPS-LABEL: func.func @tile_copy
// LOOPS: scf.for
// LOOPS: scf.for
// LOOPS: memref.load
// LOOPS: memref.store
// LOOPS-NOT: memref.copy
func.func @tile_copy(%src: memref<?x32xf32, strided<[64, 1], offset: ?>>, %dst: memref<?x32xf32>) {
  memref.copy %src, %dst : memref<?x32xf32, strided<[64, 1], offset: ?>> to memref<?x32xf32>
  return
}

// -----

// Both sides contiguous: left alone (finalize-memref-to-llvm makes a memcpy).
// CHECK-LABEL: func.func @negative_contiguous
// CHECK: memref.copy
// CHECK-NOT: linalg.copy
// LOOPS-LABEL: func.func @negative_contiguous
// LOOPS: memref.copy
func.func @negative_contiguous(%src: memref<?x32xf32>, %dst: memref<?x32xf32>) {
  memref.copy %src, %dst : memref<?x32xf32> to memref<?x32xf32>
  return
}

// -----

// Static, contiguous row-major strided layouts also lower to memcpy.
// CHECK-LABEL: func.func @negative_static_contiguous
// CHECK: memref.copy
// CHECK-NOT: linalg.copy
// LOOPS-LABEL: func.func @negative_static_contiguous
// LOOPS: memref.copy
func.func @negative_static_contiguous(%src: memref<4x32xf32, strided<[32, 1], offset: 64>>, %dst: memref<4x32xf32>) {
  memref.copy %src, %dst : memref<4x32xf32, strided<[32, 1], offset: 64>> to memref<4x32xf32>
  return
}
