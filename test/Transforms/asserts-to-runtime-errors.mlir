// RUN: mha-opt %s -mha-asserts-to-runtime-errors -split-input-file | FileCheck %s

// CHECK-DAG: llvm.mlir.global internal constant @__mha_check_0("sizes differ\00")
// CHECK-DAG: func.func private @mha_runtime_error(!llvm.ptr)
// CHECK-LABEL: func.func @check
// CHECK-SAME: (%[[OK:.*]]: i1)
// CHECK: %[[TRUE:.*]] = arith.constant true
// CHECK: %[[BAD:.*]] = arith.xori %[[OK]], %[[TRUE]] : i1
// CHECK: scf.if %[[BAD]] {
// CHECK:   %[[MSG:.*]] = llvm.getelementptr
// CHECK:   func.call @mha_runtime_error(%[[MSG]]) : (!llvm.ptr) -> ()
// CHECK: }
// CHECK-NOT: cf.assert
func.func @check(%ok: i1) {
  cf.assert %ok, "sizes differ"
  return
}

// -----

// Without asserts nothing is declared.
// CHECK-LABEL: module
// CHECK-NOT: mha_runtime_error
func.func @negative_no_assert() {
  return
}
