// A run-time check that fails on a worker thread of a parallel loop (OpenMP)
// cannot unwind there: it is recorded and reported when the call returns, as
// an mha-run error with the check's message and a nonzero exit, never an
// abort. On one thread (--threads 1) the same check unwinds directly.
//
// RUN: not mha-run %s 2>&1 | FileCheck %s
// RUN: not mha-run %s --threads 2 2>&1 | FileCheck %s
// RUN: not mha-run %s --threads 1 2>&1 | FileCheck %s
// CHECK: mha-run: error: parallel-errors.mlir: row 37 is invalid
// RUN: not mha-run %s --threads=-1 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: mha-run: error: --threads must be >= 0 (0: every core), got -1
func.func @f(%x: tensor<64x4xf32>) -> tensor<64x4xf32> {
  %c37 = arith.constant 37 : index
  %r = scf.forall (%i) in (64) shared_outs(%o = %x) -> (tensor<64x4xf32>) {
    %ok = arith.cmpi ne, %i, %c37 : index
    cf.assert %ok, "parallel-errors.mlir: row 37 is invalid"
    %row = tensor.extract_slice %x[%i, 0] [1, 4] [1, 1] : tensor<64x4xf32> to tensor<1x4xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %row into %o[%i, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<64x4xf32>
    }
  }
  return %r : tensor<64x4xf32>
}
