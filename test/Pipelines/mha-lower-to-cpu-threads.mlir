// The threads option of mha-lower-to-cpu: a fixed thread count, or
// sequential code without OpenMP.
//
// RUN: mha-opt %s -mha-lower-to-cpu="threads=2" | FileCheck %s --check-prefix=TWO
// RUN: mha-opt %s -mha-lower-to-cpu="threads=1" | FileCheck %s --check-prefix=ONE
// TWO-LABEL: llvm.func @attention
// TWO: %[[N:.*]] = llvm.mlir.constant(2 : i32) : i32
// TWO: omp.parallel num_threads(%[[N]] : i32)
// ONE-LABEL: llvm.func @attention
// ONE-NOT: omp.
// ONE: llvm.return
func.func @attention(%q: tensor<2x4x40x16xf32>) -> tensor<2x4x40x16xf32> {
  %o = mha.attention %q, %q, %q : tensor<2x4x40x16xf32>, tensor<2x4x40x16xf32>, tensor<2x4x40x16xf32>
  return %o : tensor<2x4x40x16xf32>
}

// Matmuls in row blocks on every core unless sequential.
// TWO-LABEL: llvm.func @dense_rows
// TWO: omp.parallel num_threads(%{{.*}} : i32)
// TWO: omp.wsloop
// ONE-LABEL: llvm.func @dense_rows
// ONE-NOT: omp.
// ONE: llvm.return
func.func @dense_rows(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>) -> tensor<?x64xf32> {
  %y = mha.dense %x, %w : tensor<?x64xf32>, tensor<64x64xf32>
  return %y : tensor<?x64xf32>
}
