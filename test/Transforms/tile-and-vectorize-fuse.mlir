// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize))' | FileCheck %s
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{parallel-rows=64}))' | FileCheck %s --check-prefix=PAR
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{block-k=256}))' | FileCheck %s --check-prefix=PANELS
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{fuse-activations=0}))' | FileCheck %s --check-prefix=OFF
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize))' | FileCheck %s --check-prefix=BIAS

// A Dense's activation (here ReLU on the matmul's result) joins the packed
// matmul's loop over blocks of 128 rows: each block is activated right
// after it is computed, and the loop yields the activated rows too.
// CHECK-LABEL: func.func @dense_relu
// CHECK-SAME: (%{{.*}}: tensor<?x512xf32>, %{{.*}}: tensor<512x64xf32>, %[[C:[^ ]+]]: tensor<?x64xf32>, %[[E:[^ ]+]]: tensor<?x64xf32>)
// CHECK: %[[R:.*]]:2 = scf.for %[[I:.*]] = %c0 to %{{.*}} step %c128 iter_args(%[[OUT:.*]] = %[[C]], %[[ACT:.*]] = %[[E]]) -> (tensor<?x64xf32>, tensor<?x64xf32>)
// CHECK: %[[ROWS:.*]] = scf.for
// CHECK: vector.contract
// CHECK: %[[EROWS:.*]] = tensor.extract_slice %[[ACT]][%[[I]], 0]
// CHECK: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[ROWS]] : tensor<?x64xf32>) outs(%[[EROWS]] : tensor<?x64xf32>)
// CHECK: arith.maximumf
// CHECK: tensor.insert_slice %[[RELU]] into %[[ACT]][%[[I]], 0]
// CHECK: scf.yield
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]]#1
// With parallel row blocks (every core), the same inside the scf.forall.
// PAR-LABEL: func.func @dense_relu
// PAR: scf.forall (%[[I:.*]]) = (0) to (%{{.*}}) step (64)
// PAR: %[[RELU:.*]] = linalg.generic
// PAR: arith.maximumf
// PAR: scf.forall.in_parallel
// PAR: tensor.parallel_insert_slice %[[RELU]] into %{{.*}}[%[[I]], 0]
// PAR-NOT: linalg.generic
// PAR: return
// Two reduction panels (block-k 256 < 512): the rows are final only after
// the last panel, so the activation stays after the loops.
// PANELS-LABEL: func.func @dense_relu
// PANELS: %[[R:.*]] = scf.for %{{.*}} = %c0 to %c512 step %c256
// PANELS: vector.contract
// PANELS: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[R]] : tensor<?x64xf32>)
// PANELS: return %[[RELU]]
// OFF-LABEL: func.func @dense_relu
// OFF: %[[R:.*]] = scf.for
// OFF: %[[RELU:.*]] = linalg.generic {{.*}} ins(%[[R]] : tensor<?x64xf32>)
// OFF: return %[[RELU]]
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @dense_relu(%a: tensor<?x512xf32>, %b: tensor<512x64xf32>, %c: tensor<?x64xf32>, %e: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %cst = arith.constant 0.0 : f32
  %0 = linalg.matmul ins(%a, %b : tensor<?x512xf32>, tensor<512x64xf32>) outs(%c : tensor<?x64xf32>) -> tensor<?x64xf32>
  %1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%0 : tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %cst : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  return %1 : tensor<?x64xf32>
}

// The bias, the blocks' initial value, is broadcast block by block inside
// the loop too: bias, product and activation are one pass over the output.
// BIAS-LABEL: func.func @dense_bias_relu
// BIAS-NOT: linalg.broadcast
// BIAS: scf.for %[[I:.*]] = %c0 to %{{.*}} step %c128
// BIAS: %[[BLOCK:.*]] = tensor.extract_slice %{{.*}}[%[[I]], 0] [%{{.*}}, 64] [1, 1]
// BIAS: %[[INIT:.*]] = linalg.broadcast ins(%{{.*}} : tensor<64xf32>) outs(%[[BLOCK]] : tensor<?x64xf32>)
// BIAS: scf.for {{.*}} iter_args(%{{.*}} = %[[INIT]])
// BIAS: vector.contract
// BIAS: arith.maximumf
// BIAS: return
// Columns that do not fill a panel (70 = 2 x 32 + 6) are a second matmul on
// the output's last columns: the loop's blocks are not whole rows, so the
// initial value stays one whole-output op before it.
// BIAS-LABEL: func.func @dense_bias_partial_panel
// BIAS: linalg.broadcast
// BIAS: scf.for
func.func @dense_bias_relu(%a: tensor<?x512xf32>, %b: tensor<512x64xf32>, %bias: tensor<64xf32>) -> tensor<?x64xf32> {
  %cst = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?x512xf32>
  %e = tensor.empty(%n) : tensor<?x64xf32>
  %c = linalg.broadcast ins(%bias : tensor<64xf32>) outs(%e : tensor<?x64xf32>) dimensions = [0]
  %0 = linalg.matmul ins(%a, %b : tensor<?x512xf32>, tensor<512x64xf32>) outs(%c : tensor<?x64xf32>) -> tensor<?x64xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%0 : tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %cst : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  return %1 : tensor<?x64xf32>
}
func.func @dense_bias_partial_panel(%a: tensor<?x512xf32>, %b: tensor<512x70xf32>, %bias: tensor<70xf32>) -> tensor<?x70xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?x512xf32>
  %e = tensor.empty(%n) : tensor<?x70xf32>
  %c = linalg.broadcast ins(%bias : tensor<70xf32>) outs(%e : tensor<?x70xf32>) dimensions = [0]
  %0 = linalg.matmul ins(%a, %b : tensor<?x512xf32>, tensor<512x70xf32>) outs(%c : tensor<?x70xf32>) -> tensor<?x70xf32>
  return %0 : tensor<?x70xf32>
}

// A declaration has no body to work on (it once crashed the pass, found by
// fuzzing).
// BIAS-LABEL: func.func private @declaration(tensor<4xf32>) -> tensor<4xf32>
func.func private @declaration(tensor<4xf32>) -> tensor<4xf32>
