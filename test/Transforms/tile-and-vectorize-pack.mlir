// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{block-k=256}))' -split-input-file | FileCheck %s
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{parallel-rows=64 block-k=256}))' -split-input-file | FileCheck %s --check-prefix=PAR
// RUN: not mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{block-m=12}))' 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{block-k=100000}))' 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: block-m must be a positive multiple of m-tile and block-k positive, both at most 4096

// Cache blocking and packing (block-k 256, block-m 128, panels of 32
// columns): two reduction panels; each copies its [256, 64] block of B into
// [2, 256, 32] once, and every register block reads one contiguous panel.
// CHECK-LABEL: func.func @static
// CHECK-SAME: (%[[A:[^ ]+]]: tensor<256x512xf32>, %[[B:[^ ]+]]: tensor<512x64xf32>, %[[C:[^ ]+]]: tensor<256x64xf32>)
// CHECK: %[[R:[^ ]+]] = scf.for %[[PC:[^ ]+]] = %{{.*}} to %{{.*}} step %[[C256:.*]] iter_args(%[[ACC:[^ ]+]] = %[[C]])
// CHECK: %[[ABLK:[^ ]+]] = tensor.extract_slice %[[A]][0, %[[PC]]] [256, 256] [1, 1]
// CHECK: %[[BBLK:[^ ]+]] = tensor.extract_slice %[[B]][%[[PC]], 0] [256, 64] [1, 1]
// CHECK: %[[EXP:[^ ]+]] = tensor.expand_shape %[[BBLK]] {{\[}}[0], [1, 2]] output_shape [256, 2, 32]
// CHECK: %[[BP:[^ ]+]] = linalg.transpose ins(%[[EXP]] : tensor<256x2x32xf32>) outs(%{{.*}} : tensor<2x256x32xf32>) permutation = [1, 0, 2]
// CHECK: scf.for %[[IC:[^ ]+]] = %{{.*}} to %{{.*}} step %[[C128:.*]] iter_args(%[[ROWS:[^ ]+]] = %[[ACC]])
// CHECK: %[[AROWS:[^ ]+]] = tensor.extract_slice %[[ABLK]][%[[IC]], 0] [128, 256] [1, 1]
// CHECK: scf.for %[[J:[^ ]+]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: %[[PANEL:[^ ]+]] = tensor.extract_slice %[[BP]][%[[J]], 0, 0] [1, 256, 32] [1, 1, 1] : tensor<2x256x32xf32> to tensor<256x32xf32>
// CHECK: scf.for %[[I:[^ ]+]] =
// CHECK: scf.for %[[K:[^ ]+]] =
// CHECK: tensor.extract_slice %[[PANEL]][%[[K]], 0] [16, 32] [1, 1]
// CHECK: tensor.extract_slice %[[AROWS]][%[[I]], %[[K]]] [8, 16] [1, 1]
// CHECK: vector.contract {{.*}} : vector<8x16xf32>, vector<16x32xf32> into vector<8x32xf32>
// CHECK-NOT: linalg.matmul
// CHECK: return %[[R]]
func.func @static(%a: tensor<256x512xf32>, %b: tensor<512x64xf32>, %c: tensor<256x64xf32>) -> tensor<256x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<256x512xf32>, tensor<512x64xf32>) outs(%c : tensor<256x64xf32>) -> tensor<256x64xf32>
  return %r : tensor<256x64xf32>
}

// -----

// Dynamic rows, 70 columns (2 panels + 6) and 300 reduction steps (one
// panel of 256, its loop folded away, + 44): the 6 columns of the panel and
// the last 44 steps are plain matmuls on slices, tiled like any other.
// CHECK-LABEL: func.func @edges
// CHECK-SAME: (%[[A:[^ ]+]]: tensor<?x300xf32>, %[[B:[^ ]+]]: tensor<300x70xf32>, %[[C:[^ ]+]]: tensor<?x70xf32>)
// CHECK: tensor.extract_slice %[[B]][0, 0] [256, 64] [1, 1]
// CHECK: linalg.transpose ins(%{{.*}} : tensor<256x2x32xf32>) outs(%{{.*}} : tensor<2x256x32xf32>)
// CHECK: affine.min
// CHECK: vector.contract
// CHECK: tensor.extract_slice %[[B]][0, 64] [256, 6] [1, 1]
// CHECK: tensor.extract_slice %[[A]][0, 256] [%{{.*}}, 44] [1, 1]
// CHECK: tensor.extract_slice %[[B]][256, 0] [44, 70] [1, 1]
// CHECK: vector.contract
func.func @edges(%a: tensor<?x300xf32>, %b: tensor<300x70xf32>, %c: tensor<?x70xf32>) -> tensor<?x70xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<?x300xf32>, tensor<300x70xf32>) outs(%c : tensor<?x70xf32>) -> tensor<?x70xf32>
  return %r : tensor<?x70xf32>
}

// -----

// With parallel-rows, the row blocks of each panel are the iterations of an
// scf.forall (blocks of 64 rows).
// PAR-LABEL: func.func @parallel
// PAR: scf.for %[[PC:[^ ]+]] =
// PAR: %[[BP:[^ ]+]] = linalg.transpose
// PAR: scf.forall (%[[IC:[^ ]+]]) = (0) to (%{{.*}}) step (64) shared_outs(%[[OUT:[^ ]+]] = %{{.*}})
// PAR: tensor.extract_slice %{{.*}}[%[[IC]], 0] [%[[ROWS:.*]], 256] [1, 1]
// PAR: tensor.extract_slice %[[BP]]
// PAR: vector.contract
// PAR: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][%[[IC]], 0] [%[[ROWS]], 64] [1, 1]
func.func @parallel(%a: tensor<?x512xf32>, %b: tensor<512x64xf32>, %c: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<?x512xf32>, tensor<512x64xf32>) outs(%c : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

// Not packed: too few rows to repay the copy (fewer than 128), fewer
// columns than a panel, bf16 operands (without bf16-dot-products), and a
// matmul inside a loop (the flash lowering's blocks).
// CHECK-LABEL: func.func @unpacked
// CHECK-NOT: linalg.transpose
// CHECK: return
func.func @unpacked(%a: tensor<8x64xf32>, %b: tensor<64x64xf32>, %c: tensor<8x64xf32>,
                    %a2: tensor<64x64xf32>, %b2: tensor<64x16xf32>, %c2: tensor<64x16xf32>,
                    %a3: tensor<64x64xbf16>, %b3: tensor<64x64xbf16>, %c3: tensor<64x64xf32>,
                    %n: index) -> (tensor<8x64xf32>, tensor<64x16xf32>, tensor<64x64xf32>, tensor<64x64xf32>) {
  %0 = linalg.matmul ins(%a, %b : tensor<8x64xf32>, tensor<64x64xf32>) outs(%c : tensor<8x64xf32>) -> tensor<8x64xf32>
  %1 = linalg.matmul ins(%a2, %b2 : tensor<64x64xf32>, tensor<64x16xf32>) outs(%c2 : tensor<64x16xf32>) -> tensor<64x16xf32>
  %2 = linalg.matmul ins(%a3, %b3 : tensor<64x64xbf16>, tensor<64x64xbf16>) outs(%c3 : tensor<64x64xf32>) -> tensor<64x64xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %3 = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %c3) -> (tensor<64x64xf32>) {
    %4 = linalg.matmul ins(%a2, %a2 : tensor<64x64xf32>, tensor<64x64xf32>) outs(%acc : tensor<64x64xf32>) -> tensor<64x64xf32>
    scf.yield %4 : tensor<64x64xf32>
  }
  return %0, %1, %2, %3 : tensor<8x64xf32>, tensor<64x16xf32>, tensor<64x64xf32>, tensor<64x64xf32>
}

// -----

// A dynamic reduction (a weight gradient xᵀ·dy over the tokens) is packed:
// as many whole panels of 256 steps as the run-time size holds, then the
// rest of the steps as a plain matmul.
// CHECK-LABEL: func.func @dynamic_reduction
// CHECK-SAME: (%[[A:[^ ]+]]: tensor<256x?xf32>, %[[B:[^ ]+]]: tensor<?x64xf32>
// CHECK: %[[K:.*]] = tensor.dim %[[A]], %{{.*}} : tensor<256x?xf32>
// CHECK: %[[KMAIN:.*]] = affine.apply #{{.*}}()[%[[K]]]
// CHECK: scf.for %[[PC:[^ ]+]] = %{{.*}} to %[[KMAIN]] step %{{.*}} iter_args
// CHECK: linalg.transpose ins(%{{.*}} : tensor<256x2x32xf32>) outs(%{{.*}} : tensor<2x256x32xf32>)
// CHECK: vector.contract
// CHECK: tensor.extract_slice %[[A]][0, %[[KMAIN]]]
func.func @dynamic_reduction(%a: tensor<256x?xf32>, %b: tensor<?x64xf32>, %c: tensor<256x64xf32>) -> tensor<256x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<256x?xf32>, tensor<?x64xf32>) outs(%c : tensor<256x64xf32>) -> tensor<256x64xf32>
  return %r : tensor<256x64xf32>
}
