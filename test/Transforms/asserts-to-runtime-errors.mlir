// RUN: mha-opt %s -mha-asserts-to-runtime-errors -split-input-file -verify-diagnostics | FileCheck %s

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

// -----

// A check left inside a GPU kernel could never report (the kernel cannot
// call the host): an error at the check, not an unresolved symbol in ptxas.
func.func @check_in_kernel(%n: index) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    %ok = arith.cmpi eq, %n, %c1 : index
    // expected-error @+1 {{mha-asserts-to-runtime-errors: a run-time check inside a GPU kernel cannot be reported (checks belong on the host, before the launch): n must be 1}}
    cf.assert %ok, "n must be 1"
    gpu.terminator
  }
  return
}
