// RUN: mha-opt %s -split-input-file -convert-mha-to-linalg="attention-block-q=32 attention-block-k=32" -canonicalize -mha-tile-and-vectorize | FileCheck %s

// The flash lowering's block loops (marked mha.peel) are peeled: in full
// blocks the [32, 32] score tiles become static and their element-wise and
// row-reduction work is vectorized a row (one vector<32xf32>) at a time,
// with exp as a polynomial (no libm call per lane); the partial last block
// stays scalar. The row max and row sum keep their combiners' freedom to
// reassociate (and to ignore the sign of zero, for the max): horizontal
// reductions with those fast-math flags, which LLVM makes a tree of vector
// operations (without them a sum is an ordered chain of scalar additions).
// CHECK-LABEL: func.func @flash_blocks
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<32xf32>
// CHECK: vector.reduction <maximumf>, %{{.*}}, %{{.*}} fastmath<reassoc,nsz> : vector<32xf32> into f32
// CHECK: vector.reduction <add>, %{{.*}}, %{{.*}} fastmath<reassoc,contract> : vector<32xf32> into f32
// CHECK-NOT: math.exp
// CHECK-NOT: mha.peel
// CHECK-NOT: mha.full_blocks
func.func @flash_blocks(%q: tensor<100x16xf32>) -> tensor<100x16xf32> {
  %o = mha.attention %q, %q, %q : tensor<100x16xf32>, tensor<100x16xf32>, tensor<100x16xf32>
  return %o : tensor<100x16xf32>
}

// -----

// A row reduction whose combiner may not reassociate (a plain arith.addf)
// keeps its order: no fast-math flags on its vector reduction.
// CHECK-LABEL: func.func @ordered_row_sum
// CHECK: vector.reduction <add>, %{{.*}}, %{{.*}} : vector<32xf32> into f32
// CHECK-NOT: fastmath
func.func @ordered_row_sum(%x: tensor<?x32xf32>, %n: index) -> tensor<32xf32> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<32xf32>) -> tensor<32xf32>
  %r = scf.for %i = %c0 to %n step %c32 iter_args(%acc = %init) -> tensor<32xf32> {
    %t = tensor.extract_slice %x[%i, 0] [32, 32] [1, 1] : tensor<?x32xf32> to tensor<32x32xf32>
    %s = linalg.reduce ins(%t : tensor<32x32xf32>) outs(%acc : tensor<32xf32>) dimensions = [1]
      (%a: f32, %b: f32) {
        %u = arith.addf %a, %b : f32
        linalg.yield %u : f32
      }
    scf.yield %s : tensor<32xf32>
  } {mha.peel}
  return %r : tensor<32xf32>
}
