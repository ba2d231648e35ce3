// RUN: mha-opt %s -mha-verify-llvm-lowering -split-input-file -verify-diagnostics | FileCheck %s

// A fully lowered module passes unchanged: stack allocations of constant size
// in the entry block, calls to the allocator, libm and the runtime-error hook.
// CHECK-LABEL: llvm.func @lowered
// CHECK: llvm.alloca
llvm.func @malloc(i64) -> !llvm.ptr
llvm.func @free(!llvm.ptr)
llvm.func @erff(f32) -> f32
llvm.func @tanh(f64) -> f64
llvm.func @mha_runtime_error(!llvm.ptr)
llvm.func @lowered(%n: i64) -> f32 {
  %c1 = llvm.mlir.constant(1 : i64) : i64
  %buf = llvm.alloca %c1 x !llvm.array<8 x vector<16xf32>> : (i64) -> !llvm.ptr
  %p = llvm.call @malloc(%n) : (i64) -> !llvm.ptr
  llvm.call @free(%p) : (!llvm.ptr) -> ()
  %x = llvm.mlir.constant(1.0 : f32) : f32
  %y = llvm.call @erff(%x) : (f32) -> f32
  llvm.return %y : f32
}

// -----

// A conversion left a cast behind (as f16/bf16 vector.contract once did).
llvm.func @negative_unrealized_cast(%a: !llvm.array<1 x vector<16xbf16>>) {
  // expected-error @+1 {{'builtin.unrealized_conversion_cast' was not converted to the LLVM dialect}}
  %v = builtin.unrealized_conversion_cast %a : !llvm.array<1 x vector<16xbf16>> to vector<1x16xbf16>
  llvm.return
}

// -----

// Any op outside the LLVM dialect is reported, not only casts.
func.func @negative_func_dialect() {
  // expected-error @-1 {{'func.func' was not converted to the LLVM dialect}}
  return
}

// -----

// A stack allocation in a loop body is made afresh on every iteration (the
// seed classifier once overflowed the stack this way at S >= 96).
llvm.func @negative_alloca_in_loop(%n: i64) {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  %c1 = llvm.mlir.constant(1 : i64) : i64
  llvm.br ^loop(%c0 : i64)
^loop(%i: i64):
  // expected-error @+1 {{stack allocation outside the function's entry block}}
  %buf = llvm.alloca %c1 x !llvm.array<8 x vector<32xf32>> : (i64) -> !llvm.ptr
  %next = llvm.add %i, %c1 : i64
  %more = llvm.icmp "slt" %next, %n : i64
  llvm.cond_br %more, ^loop(%next : i64), ^exit
^exit:
  llvm.return
}

// -----

// A size known only at run time grows with the problem.
llvm.func @negative_dynamic_alloca(%n: i64) {
  // expected-error @+1 {{stack allocation of a non-constant size}}
  %buf = llvm.alloca %n x f32 : (i64) -> !llvm.ptr
  llvm.return
}

// -----

// memrefCopy lives in MLIR's C runner utilities, which the JIT does not load.
// expected-error @+1 {{the lowered code calls 'memrefCopy', which the host does not provide to the JIT}}
llvm.func @memrefCopy(i64, !llvm.ptr, !llvm.ptr)

// -----

// OpenMP ops stay (LLVM's OpenMPIRBuilder translates them); a stack
// allocation in the entry block of a parallel region is one of the outlined
// function's, made once per thread.
// CHECK-LABEL: llvm.func @openmp_region
// CHECK: omp.parallel
// CHECK: llvm.alloca
llvm.func @openmp_region() {
  omp.parallel {
    %c1 = llvm.mlir.constant(1 : i64) : i64
    %buf = llvm.alloca %c1 x f32 : (i64) -> !llvm.ptr
    omp.terminator
  }
  llvm.return
}
