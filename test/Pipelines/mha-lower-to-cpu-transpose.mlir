// RUN: mha-opt %s -mha-lower-to-cpu | FileCheck %s
// RUN: mha-opt %s -mha-lower-to-cpu=vectorize=false | FileCheck %s --check-prefix=SCALAR

// A matrix transpose ends as 16 x 16 blocks transposed by shuffles in
// registers (shuffle16x16: 64 two-source shuffles per block), not element
// by element. The loop over a row of blocks is a kernel of its own
// (mha-outline-kernels), called by the transpose.
// CHECK: llvm.func internal @[[$KERNEL:__mha_kernel_[0-9]+]](
// CHECK-COUNT-64: llvm.shufflevector
// CHECK-NOT: llvm.shufflevector
// CHECK: llvm.return
// CHECK-LABEL: llvm.func @transpose
// CHECK-NOT: llvm.shufflevector
// CHECK: llvm.call @[[$KERNEL]](
// CHECK-NOT: llvm.shufflevector
// CHECK: llvm.return
// SCALAR-LABEL: llvm.func @transpose
// SCALAR-NOT: llvm.shufflevector
func.func @transpose(%x: tensor<2048x512xf32>) -> tensor<512x2048xf32> {
  %t = mha.transpose %x perm = [1, 0] : tensor<2048x512xf32>
  return %t : tensor<512x2048xf32>
}
