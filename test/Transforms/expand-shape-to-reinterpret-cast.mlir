// RUN: mha-opt %s -mha-expand-shape-to-reinterpret-cast -split-input-file | FileCheck %s

// Row-major strides: static 512 and 1, dynamic d1 * 512.
// CHECK-LABEL: func.func @dynamic_expand
// CHECK-SAME: (%[[A:.*]]: memref<?x512xf32>, %[[D0:.*]]: index, %[[D1:.*]]: index)
// CHECK: %[[C512:.*]] = arith.constant 512 : index
// CHECK: %[[S0:.*]] = arith.muli %[[D1]], %[[C512]] : index
// CHECK: memref.reinterpret_cast %[[A]] to offset: [0], sizes: [%[[D0]], %[[D1]], 512], strides: [%[[S0]], 512, 1] : memref<?x512xf32> to memref<?x?x512xf32>
// CHECK-NOT: memref.expand_shape
func.func @dynamic_expand(%a: memref<?x512xf32>, %d0: index, %d1: index) -> memref<?x?x512xf32> {
  %e = memref.expand_shape %a [[0, 1], [2]] output_shape [%d0, %d1, 512] : memref<?x512xf32> into memref<?x?x512xf32>
  return %e : memref<?x?x512xf32>
}

// -----

// A strided (non-contiguous) source is left alone.
// CHECK-LABEL: func.func @negative_strided_source
// CHECK: memref.expand_shape
func.func @negative_strided_source(%a: memref<8x4xf32, strided<[8, 2]>>) -> memref<2x4x4xf32, strided<[32, 8, 2]>> {
  %e = memref.expand_shape %a [[0, 1], [2]] output_shape [2, 4, 4] : memref<8x4xf32, strided<[8, 2]>> into memref<2x4x4xf32, strided<[32, 8, 2]>>
  return %e : memref<2x4x4xf32, strided<[32, 8, 2]>>
}
