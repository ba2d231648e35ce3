// Each stage of mha-lower-to-cpu, on a model with parameters, dynamic shapes
// and every kind of lowering (named matmul, generic, reduction).
//
// RUN: mha-opt %s -mha-lower-to-cpu | FileCheck %s --check-prefix=LLVM
// RUN: mha-opt %s -mha-lower-to-cpu=vectorize=false | FileCheck %s --check-prefix=SCALAR
// RUN: mha-opt %s -mha-lower-to-cpu -mlir-print-ir-after=convert-mha-to-linalg -o /dev/null 2>&1 | FileCheck %s --check-prefix=LINALG
// RUN: mha-opt %s -mha-lower-to-cpu -mlir-print-ir-after=mha-tile-and-vectorize -o /dev/null 2>&1 | FileCheck %s --check-prefix=VECTOR
// RUN: mha-opt %s -mha-lower-to-cpu="block-k=8" -mlir-print-ir-after=mha-tile-and-vectorize -o /dev/null 2>&1 | FileCheck %s --check-prefix=PACK8
// RUN: mha-opt %s -mha-lower-to-cpu="pack-matmuls=false" -mlir-print-ir-after=mha-tile-and-vectorize -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOPACK
// RUN: mha-opt %s -mha-lower-to-cpu -mlir-print-ir-after=one-shot-bufferize -o /dev/null 2>&1 | FileCheck %s --check-prefix=BUFFERS

mha.param @w : tensor<16x64xf32> init <glorot_uniform>
mha.param @b : tensor<64xf32> init <zeros>

func.func @model(%x: tensor<?x?x16xf32>) -> tensor<?x64xf32> {
  %w = mha.get_param @w : tensor<16x64xf32>
  %b = mha.get_param @b : tensor<64xf32>
  %h = mha.dense %x, %w, %b : tensor<?x?x16xf32>, tensor<16x64xf32>, tensor<64xf32>
  %g = mha.gelu %h : tensor<?x?x64xf32>
  %p = mha.reduce mean %g dims = [1] : tensor<?x?x64xf32>
  return %p : tensor<?x64xf32>
}

// LINALG-LABEL: IR Dump After ConvertMHAToLinalgPass
// LINALG: func.func @model(%{{.*}}: tensor<?x?x16xf32> {mha.name = "x"}, %{{.*}}: tensor<16x64xf32>, %{{.*}}: tensor<64xf32>)
// LINALG: linalg.matmul
// LINALG: math.erf
// LINALG: linalg.reduce

// The dense's weight is packed into panels of 32 columns (block-k steps
// each, at most the 16 there are), then tiled.
// VECTOR-LABEL: IR Dump After MHATileAndVectorizePass
// VECTOR: linalg.transpose ins(%{{.*}} : tensor<16x2x32xf32>) outs(%{{.*}} : tensor<2x16x32xf32>)
// Full register blocks, then the remainder rows of B x S (at most 7) as a
// contraction of masked vectors.
// VECTOR: vector.contract {{.*}} : vector<8x16xf32>, vector<16x32xf32> into vector<8x32xf32>
// VECTOR: vector.create_mask
// VECTOR: vector.contract {{.*}} : vector<7x16xf32>, vector<16x32xf32> into vector<7x32xf32>
// VECTOR-NOT: linalg.matmul
// PACK8-LABEL: IR Dump After MHATileAndVectorizePass
// PACK8: linalg.transpose ins(%{{.*}} : tensor<8x2x32xf32>) outs(%{{.*}} : tensor<2x8x32xf32>)
// NOPACK-LABEL: IR Dump After MHATileAndVectorizePass
// NOPACK-NOT: linalg.transpose
// NOPACK: vector.contract
// NOPACK-NOT: linalg.transpose

// BUFFERS-LABEL: IR Dump After OneShotBufferizePass
// BUFFERS: func.func @model(%{{.*}}: memref<?x?x16xf32> {mha.name = "x"}, %{{.*}}: memref<16x64xf32>, %{{.*}}: memref<64xf32>) -> memref<?x64xf32>
// BUFFERS: memref.alloc

// Everything ends in the LLVM dialect: FMAs for the vectorized tiles (in
// the register-block kernels, mha-outline-kernels: one function per
// distinct kernel, called by the model), erf as a polynomial (no libm
// call), malloc/free for buffers.
// LLVM-NOT: @erff
// LLVM-DAG: llvm.func @malloc(i64) -> !llvm.ptr
// LLVM-DAG: llvm.func @free(!llvm.ptr)
// LLVM: llvm.func internal @[[$KERNEL:__mha_kernel_[0-9]+]](
// LLVM-NOT: vector.
// LLVM: llvm.intr.fmuladd
// LLVM-LABEL: llvm.func @model
// LLVM-NOT: linalg.
// LLVM-NOT: memref.
// LLVM-NOT: vector.
// LLVM: llvm.call @[[$KERNEL]](
// LLVM-NOT: llvm.call @erff
// RUN: mha-opt %s -mha-lower-to-cpu=outline-kernels=false | FileCheck %s --check-prefix=INLINE
// INLINE-NOT: __mha_kernel
// INLINE-LABEL: llvm.func @model
// INLINE: llvm.intr.fmuladd
// INLINE-NOT: __mha_kernel

// SCALAR-LABEL: llvm.func @model
// SCALAR-NOT: llvm.intr.fmuladd
// SCALAR-NOT: vector<
// SCALAR: llvm.return
