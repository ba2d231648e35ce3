// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{pack-matmuls=0}))' -split-input-file | FileCheck %s
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{m-tile=4 n-tile=16 k-tile=8 pack-matmuls=0}))' -split-input-file | FileCheck %s --check-prefix=SMALL

// RUN: not mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{k-tile=1000000000}))' -split-input-file 2>&1 | FileCheck %s --check-prefix=HUGE
// HUGE: mha-tile-and-vectorize: tile sizes must lie in [1, 256], got m-tile=8 n-tile=32 k-tile=1000000000
// A dynamic row count: the row loop is peeled; full 8x32x16 tiles become
// vector.contract; the remainder tile (at most 7 rows, the bound of the
// peeled loop's last iteration) is a contraction of masked vectors of 7
// rows: reads padded with zeros, the write masked, no scalar loop.
// CHECK-LABEL: func.func @matmul_dynamic_rows
// CHECK: scf.for
// CHECK: scf.for
// CHECK-DAG: vector.transfer_read {{.*}} : tensor<8x16xf32>, vector<8x16xf32>
// CHECK-DAG: vector.transfer_read {{.*}} : tensor<16x32xf32>, vector<16x32xf32>
// CHECK: vector.contract {{.*}} : vector<8x16xf32>, vector<16x32xf32> into vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %[[REST:.*]] to %[[ROWS:.*]] step %c8
// CHECK: scf.for
// CHECK: %[[N:.*]] = affine.apply #{{.*}}(%{{.*}})[%[[ROWS]]]
// CHECK: %[[AMASK:.*]] = vector.create_mask %[[N]], %c16 : vector<7x16xi1>
// CHECK: %[[A:.*]] = vector.transfer_read %{{.*}}[%c0, %c0], %[[ZERO:.*]], %[[AMASK]] {in_bounds = [true, true]} : tensor<?x16xf32>, vector<7x16xf32>
// CHECK: %[[B:.*]] = vector.transfer_read {{.*}} : tensor<16x32xf32>, vector<16x32xf32>
// CHECK: %[[CMASK:.*]] = vector.create_mask %[[N]], %c32 : vector<7x32xi1>
// CHECK: %[[C:.*]] = vector.transfer_read %{{.*}}, %[[ZERO]], %[[CMASK]] {{.*}} : tensor<?x32xf32>, vector<7x32xf32>
// CHECK: %[[R:.*]] = vector.contract {{.*}} %[[A]], %[[B]], %[[C]] : vector<7x16xf32>, vector<16x32xf32> into vector<7x32xf32>
// CHECK: %[[WMASK:.*]] = vector.create_mask %[[N]], %c32 : vector<7x32xi1>
// CHECK: vector.transfer_write %[[R]], %{{.*}}, %[[WMASK]] {{.*}} : vector<7x32xf32>, tensor<?x32xf32>
// CHECK-NOT: linalg.matmul
// CHECK: return
// SMALL-LABEL: func.func @matmul_dynamic_rows
// SMALL: vector.contract {{.*}} : vector<4x8xf32>, vector<8x16xf32> into vector<4x16xf32>
func.func @matmul_dynamic_rows(%a: tensor<?x16xf32>, %b: tensor<16x512xf32>, %c: tensor<?x512xf32>) -> tensor<?x512xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<?x16xf32>, tensor<16x512xf32>) outs(%c : tensor<?x512xf32>) -> tensor<?x512xf32>
  return %0 : tensor<?x512xf32>
}

// -----

// Divisible static sizes: no remainder loop.
// CHECK-LABEL: func.func @batch_matmul_static
// CHECK: vector.contract {{.*}} : vector<1x8x16xf32>, vector<1x16x32xf32> into vector<1x8x32xf32>
// CHECK-NOT: linalg.batch_matmul
func.func @batch_matmul_static(%a: tensor<2x16x32xf32>, %b: tensor<2x32x64xf32>, %c: tensor<2x16x64xf32>) -> tensor<2x16x64xf32> {
  %0 = linalg.batch_matmul ins(%a, %b : tensor<2x16x32xf32>, tensor<2x32x64xf32>) outs(%c : tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// -----

// Other linalg ops are not touched.
// CHECK-LABEL: func.func @negative_elementwise
// CHECK-NOT: vector.
// CHECK: linalg.generic
#id = affine_map<(d0) -> (d0)>
func.func @negative_elementwise(%a: tensor<64xf32>) -> tensor<64xf32> {
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%a : tensor<64xf32>) outs(%a : tensor<64xf32>) {
  ^bb0(%x: f32, %y: f32):
    %s = arith.addf %x, %x : f32
    linalg.yield %s : f32
  } -> tensor<64xf32>
  return %0 : tensor<64xf32>
}

// -----

// bf16 operands with an f32 accumulator: the operand vectors are extended
// before the contraction (mixed-type contractions have no outer-product
// lowering), so accumulation stays in f32.
// CHECK-LABEL: func.func @batch_matmul_bf16
// CHECK-DAG: %[[A:.*]] = vector.transfer_read {{.*}} : tensor<1x8x16xbf16>, vector<1x8x16xbf16>
// CHECK-DAG: %[[B:.*]] = vector.transfer_read {{.*}} : tensor<1x16x32xbf16>, vector<1x16x32xbf16>
// CHECK-DAG: %[[AX:.*]] = arith.extf %[[A]] : vector<1x8x16xbf16> to vector<1x8x16xf32>
// CHECK-DAG: %[[BX:.*]] = arith.extf %[[B]] : vector<1x16x32xbf16> to vector<1x16x32xf32>
// CHECK: vector.contract {{.*}} %[[AX]], %[[BX]], %{{.*}} : vector<1x8x16xf32>, vector<1x16x32xf32> into vector<1x8x32xf32>
func.func @batch_matmul_bf16(%a: tensor<2x8x16xbf16>, %b: tensor<2x16x32xbf16>, %c: tensor<2x8x32xf32>) -> tensor<2x8x32xf32> {
  %0 = linalg.batch_matmul ins(%a, %b : tensor<2x8x16xbf16>, tensor<2x16x32xbf16>) outs(%c : tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
  return %0 : tensor<2x8x32xf32>
}


// -----

// exp outside attention blocks (here a sigmoid) becomes the same polynomial
// as inside them, not a libm call per element.
// CHECK-LABEL: func.func @sigmoid
// CHECK-NOT: math.exp
// CHECK: math.fma
// CHECK-NOT: math.exp
// CHECK: return
func.func @sigmoid(%x: tensor<?xf32>, %o: tensor<?xf32>) -> tensor<?xf32> {
  %one = arith.constant 1.0 : f32
  %0 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<?xf32>) outs(%o : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    %e = math.exp %n : f32
    %d = arith.addf %one, %e : f32
    %r = arith.divf %one, %d : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// erf (GELU) becomes a polynomial too, not a libm erff call per element.
// CHECK-LABEL: func.func @gelu_erf
// CHECK-NOT: math.erf
// CHECK: math.fma
// CHECK-NOT: math.erf
// CHECK: return
func.func @gelu_erf(%x: tensor<?xf32>, %o: tensor<?xf32>) -> tensor<?xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%x : tensor<?xf32>) outs(%o : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.erf %in : f32
    linalg.yield %e : f32
  } -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// A matrix transpose: 16 x 16 tiles, loops peeled, each full tile a read,
// a vector.transpose and a write; the partial tiles at the edges stay
// linalg.transpose. A transpose that keeps the innermost dimension (the
// rows are copied whole) is left alone.
// CHECK-LABEL: func.func @matrix_transpose
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK: %[[R:.*]] = vector.transfer_read {{.*}} : tensor<16x16xf32>, vector<16x16xf32>
// CHECK: %[[T:.*]] = vector.transpose %[[R]], [1, 0] : vector<16x16xf32> to vector<16x16xf32>
// CHECK: vector.transfer_write %[[T]]
// CHECK: linalg.transpose ins(%{{.*}} : tensor<5x16xf32>)
// CHECK-LABEL: func.func @rows_kept
// CHECK-NOT: vector.transpose
// CHECK: linalg.transpose
// CHECK-SAME: permutation = [1, 0, 2]
func.func @matrix_transpose(%x: tensor<37x53xf32>) -> tensor<53x37xf32> {
  %init = tensor.empty() : tensor<53x37xf32>
  %t = linalg.transpose ins(%x : tensor<37x53xf32>) outs(%init : tensor<53x37xf32>) permutation = [1, 0]
  return %t : tensor<53x37xf32>
}
func.func @rows_kept(%x: tensor<4x8x64xf32>) -> tensor<8x4x64xf32> {
  %init = tensor.empty() : tensor<8x4x64xf32>
  %t = linalg.transpose ins(%x : tensor<4x8x64xf32>) outs(%init : tensor<8x4x64xf32>) permutation = [1, 0, 2]
  return %t : tensor<8x4x64xf32>
}

// -----

// A dynamic reduction length: the main loop over K keeps its output tile
// as a loop-carried value (one read and one write around the loop); the
// peeled remainder, at most one step of at most 15 positions, keeps the
// tile's read and write inside (nothing to gain from hoisting them, and a
// loop without results is a kernel mha-outline-kernels outlines).
// CHECK-LABEL: func.func @matmul_dynamic_k
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c16 iter_args(%{{.*}} = %{{.*}}, %[[TILE:.*]] = %{{.*}}) -> (tensor<8x64xf32>, tensor<8x32xf32>)
// CHECK: vector.contract {{.*}} : vector<8x16xf32>, vector<16x32xf32> into vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16 iter_args(%{{.*}} = %{{.*}}) -> (tensor<8x64xf32>)
// CHECK: tensor.extract_slice
// CHECK: vector.contract {{.*}} : vector<8x15xf32>, vector<15x32xf32> into vector<8x32xf32>
// CHECK: tensor.insert_slice
func.func @matmul_dynamic_k(%a: tensor<8x?xf32>, %b: tensor<?x64xf32>, %c: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<8x?xf32>, tensor<?x64xf32>) outs(%c : tensor<8x64xf32>) -> tensor<8x64xf32>
  return %0 : tensor<8x64xf32>
}

// -----

// An empty matmul (a static size of 0: attention over an empty sequence)
// is left as it is: nothing to compute, and tiling or vectors would need a
// non-zero size.
// CHECK-LABEL: func.func @empty
// CHECK-NOT: scf.for
// CHECK-NOT: vector.
// CHECK: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<2x0x16xf32>, tensor<2x16x5xf32>)
func.func @empty(%a: tensor<2x0x16xf32>, %b: tensor<2x16x5xf32>, %c: tensor<2x0x5xf32>) -> tensor<2x0x5xf32> {
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x0x16xf32>, tensor<2x16x5xf32>) outs(%c : tensor<2x0x5xf32>) -> tensor<2x0x5xf32>
  return %r : tensor<2x0x5xf32>
}
