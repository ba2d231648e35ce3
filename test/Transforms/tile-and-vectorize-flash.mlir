// RUN: mha-opt %s -convert-mha-to-linalg="attention-block-q=32 attention-block-k=32" -canonicalize -mha-tile-and-vectorize | FileCheck %s

// The flash lowering's block loops (marked mha.peel) are peeled: in full
// blocks the [32, 32] score tiles become static and their element-wise and
// row-reduction work is vectorized a row (one vector<32xf32>) at a time,
// with exp as a polynomial (no libm call per lane); the partial last block
// stays scalar.
// CHECK-LABEL: func.func @flash_blocks
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<32xf32>
// CHECK: vector.reduction <maximumf>, %{{.*}} : vector<32xf32> into f32
// CHECK: vector.reduction <add>, %{{.*}} : vector<32xf32> into f32
// CHECK-NOT: math.exp
// CHECK-NOT: mha.peel
// CHECK-NOT: mha.full_blocks
func.func @flash_blocks(%q: tensor<100x16xf32>) -> tensor<100x16xf32> {
  %o = mha.attention %q, %q, %q : tensor<100x16xf32>, tensor<100x16xf32>, tensor<100x16xf32>
  return %o : tensor<100x16xf32>
}
