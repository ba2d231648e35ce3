// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{bf16-dot-products block-k=64}))' -split-input-file | FileCheck %s
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{block-k=64}))' -split-input-file | FileCheck %s --check-prefix=WIDEN
// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-tile-and-vectorize{bf16-dot-products block-k=64}),mha-lower-to-cpu{avx512-bf16})' -split-input-file | FileCheck %s --check-prefix=LLVM

// bf16 x bf16 -> f32 with AVX-512 BF16 dot products (block-k 64, panels of
// 32 columns, register blocks of 8 rows): B is packed in pairs of reduction
// steps, Bp[j, kk, 2c + t] = B[pc + 2kk + t, 32j + c], by interleaving two
// rows; per pair of steps a register block loads two vectors of 32 bf16 of
// the panel, broadcasts A's pair (one 32-bit lane) per row and updates its
// 16 accumulators (8 rows x 2 x 16 floats, loop-carried) with
// x86vector.avx512.dot. Rows past the last whole block of 8 go one at a time.
// 130 reduction steps: two panels of 64, then 2 steps as a plain matmul.
// CHECK-LABEL: func.func @dot
// CHECK-SAME: (%[[A:[^ ]+]]: tensor<200x130xbf16>, %[[B:[^ ]+]]: tensor<130x96xbf16>, %[[C:[^ ]+]]: tensor<200x96xf32>)
// CHECK: %[[R:[^ ]+]] = scf.for %[[PC:[^ ]+]] = %{{.*}} to %[[C128:[^ ]+]] step %[[C64:[^ ]+]] iter_args(%{{.*}} = %[[C]])
// CHECK: %[[EMPTY:[^ ]+]] = tensor.empty() : tensor<3x32x64xbf16>
// CHECK: %[[BP:[^ ]+]] = scf.for %[[J:[^ ]+]] = {{.*}} iter_args(%{{.*}} = %[[EMPTY]])
// CHECK: scf.for %[[KK:[^ ]+]] =
// CHECK: %[[R0:[^ ]+]] = affine.apply #{{.*}}()[%[[PC]], %[[KK]]]
// CHECK: %[[R1:[^ ]+]] = affine.apply #{{.*}}()[%[[PC]], %[[KK]]]
// CHECK: %[[EVEN:[^ ]+]] = vector.transfer_read %[[B]][%[[R0]], %{{.*}}]{{.*}} : tensor<130x96xbf16>, vector<32xbf16>
// CHECK: %[[ODD:[^ ]+]] = vector.transfer_read %[[B]][%[[R1]], %{{.*}}]{{.*}} : tensor<130x96xbf16>, vector<32xbf16>
// CHECK: %[[PAIRS:[^ ]+]] = vector.interleave %[[EVEN]], %[[ODD]] : vector<32xbf16> -> vector<64xbf16>
// CHECK: vector.transfer_write %[[PAIRS]], %{{.*}}[%[[J]], %[[KK]], %{{.*}}] {{.*}} : vector<64xbf16>, tensor<3x32x64xbf16>
// CHECK: %[[PANEL:[^ ]+]] = tensor.extract_slice %[[BP]][%{{.*}}, 0, 0] [1, 32, 64] [1, 1, 1] : tensor<3x32x64xbf16> to tensor<32x64xbf16>
// CHECK: scf.for %[[I:[^ ]+]] = %{{.*}} to %{{.*}} step %[[C8:[^ ]+]] iter_args
// CHECK-COUNT-16: vector.transfer_read %{{.*}} : tensor<?x32xf32>, vector<16xf32>
// CHECK: %[[ACCS:[^ ]+]]:16 = scf.for %[[K:[^ ]+]] = {{.*}} iter_args(%[[ACC0:[^ ]+]] = %{{[^,]*}}, %[[ACC1:[^ ]+]] = %{{[^,]*}},
// CHECK: %[[B0:[^ ]+]] = vector.transfer_read %[[PANEL]][%[[K]], %{{.*}}]{{.*}} : tensor<32x64xbf16>, vector<32xbf16>
// CHECK: %[[B1:[^ ]+]] = vector.transfer_read %[[PANEL]][%[[K]], %{{.*}}]{{.*}} : tensor<32x64xbf16>, vector<32xbf16>
// CHECK: %[[PAIR:[^ ]+]] = vector.transfer_read %{{.*}}[%[[I]], %{{.*}}]{{.*}} : tensor<?x64xbf16>, vector<2xbf16>
// CHECK: %[[WORD:[^ ]+]] = vector.bitcast %[[PAIR]] : vector<2xbf16> to vector<1xi32>
// CHECK: %[[LANE:[^ ]+]] = vector.extract %[[WORD]][0]
// CHECK: %[[SPLAT:[^ ]+]] = vector.broadcast %[[LANE]] : i32 to vector<16xi32>
// CHECK: %[[APAIRS:[^ ]+]] = vector.bitcast %[[SPLAT]] : vector<16xi32> to vector<32xbf16>
// CHECK: x86vector.avx512.dot %[[ACC0]], %[[APAIRS]], %[[B0]] : vector<32xbf16> -> vector<16xf32>
// CHECK: x86vector.avx512.dot %[[ACC1]], %[[APAIRS]], %[[B1]] : vector<32xbf16> -> vector<16xf32>
// CHECK-COUNT-14: x86vector.avx512.dot
// CHECK: scf.yield
// CHECK-COUNT-16: vector.transfer_write
// The rows after the last block of 8, one at a time: 2 accumulators.
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-2: x86vector.avx512.dot
// The last 2 reduction steps: a plain matmul, tiled and widened to f32.
// CHECK: tensor.extract_slice %[[A]][0, 128] [200, 2] [1, 1]
// CHECK: tensor.extract_slice %[[B]][128, 0] [2, 96] [1, 1]
// CHECK: arith.extf {{.*}} : vector<{{.*}}xbf16> to vector<{{.*}}xf32>
// CHECK: return

// Without bf16-dot-products, the same matmul is left to the register blocks
// (widened to f32), and no panel is packed.
// WIDEN-LABEL: func.func @dot
// WIDEN-NOT: x86vector
// WIDEN-NOT: vector.interleave
// WIDEN: arith.extf {{.*}} : vector<8x16xbf16> to vector<8x16xf32>
// WIDEN: vector.contract

// Through the CPU pipeline, each dot product is the AVX-512 BF16 intrinsic.
// LLVM-LABEL: llvm.func @dot
// LLVM: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"
func.func @dot(%a: tensor<200x130xbf16>, %b: tensor<130x96xbf16>, %c: tensor<200x96xf32>) -> tensor<200x96xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<200x130xbf16>, tensor<130x96xbf16>) outs(%c : tensor<200x96xf32>) -> tensor<200x96xf32>
  return %r : tensor<200x96xf32>
}

// -----

// A dynamic reduction (a weight gradient) is packed too, in panels of 64
// steps, the odd and remaining steps a plain matmul. f32 into bf16 or mixed
// operands keep the plain path.
// CHECK-LABEL: func.func @dynamic_k
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: vector.interleave
// CHECK: x86vector.avx512.dot
// CHECK-LABEL: func.func @mixed
// CHECK-NOT: x86vector
// CHECK: return
func.func @dynamic_k(%a: tensor<256x?xbf16>, %b: tensor<?x64xbf16>, %c: tensor<256x64xf32>) -> tensor<256x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<256x?xbf16>, tensor<?x64xbf16>) outs(%c : tensor<256x64xf32>) -> tensor<256x64xf32>
  return %r : tensor<256x64xf32>
}
func.func @mixed(%a: tensor<256x128xf32>, %b: tensor<128x64xbf16>, %c: tensor<256x64xf32>) -> tensor<256x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<256x128xf32>, tensor<128x64xbf16>) outs(%c : tensor<256x64xf32>) -> tensor<256x64xf32>
  return %r : tensor<256x64xf32>
}
