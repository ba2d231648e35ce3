// RUN: mha-opt %s -pass-pipeline='builtin.module(func.func(mha-gpu-map-parallel-loops{block-size=128},canonicalize))' -split-input-file -verify-diagnostics | FileCheck %s
// Blocks of threads a GPU cannot launch are rejected at compile time:
// RUN: not mha-opt %s -pass-pipeline='builtin.module(func.func(mha-gpu-map-parallel-loops{block-size=0}))' -split-input-file 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: mha-gpu-map-parallel-loops: block-size must be in [1, 1024] (threads per block of an NVIDIA GPU), got 0
// RUN: not mha-opt %s -pass-pipeline='builtin.module(func.func(mha-gpu-map-parallel-loops{block-size=2048}))' -split-input-file 2>&1 | FileCheck %s --check-prefix=LARGE
// LARGE: error: mha-gpu-map-parallel-loops: block-size must be in [1, 1024] (threads per block of an NVIDIA GPU), got 2048

// A 2-D parallel loop: collapsed into one dimension of N = rows * 32
// elements (the last dimension fastest), ceil(N / 128) blocks of 128
// threads, each thread recovering (row, column) from its linear index
// behind a bounds check.
// CHECK-LABEL: func.func @elementwise
// CHECK-SAME: (%[[A:.*]]: memref<?x32xf32>, %[[B:.*]]: memref<?x32xf32>)
// CHECK-DAG: %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK: %[[ROWS:.*]] = memref.dim %[[A]]
// CHECK: %[[N:.*]] = arith.muli %[[ROWS]], %[[C32]]
// CHECK: %[[GRID:.*]] = affine.apply #{{.*}}()[%[[N]]]
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], {{.*}} threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C128]],
// CHECK: %[[BASE:.*]] = affine.apply #{{.*}}()[%[[BX]]]
// CHECK: %[[I:.*]] = arith.addi %[[TX]], %[[BASE]]
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[N]]
// CHECK: scf.if %[[IN]]
// CHECK: %[[COL:.*]] = arith.remsi %[[I]], %[[C32]]
// CHECK: %[[ROW:.*]] = arith.divsi %[[I]], %[[C32]]
// CHECK: memref.load %[[A]][%[[ROW]], %[[COL]]]
// CHECK: memref.store %{{.*}}, %[[B]][%[[ROW]], %[[COL]]]
// CHECK: gpu.terminator
// CHECK-NOT: scf.parallel
func.func @elementwise(%a: memref<?x32xf32>, %b: memref<?x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %n = memref.dim %a, %c0 : memref<?x32xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c32) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x32xf32>
    %y = arith.addf %x, %x : f32
    memref.store %y, %b[%i, %j] : memref<?x32xf32>
    scf.reduce
  }
  return
}

// -----

// A reduction per row: the sequential loop over the reduced dimension runs
// inside each thread, its accumulator in a register (loaded once, carried
// by the loop, stored once).
// CHECK-LABEL: func.func @row_sums
// CHECK-SAME: (%[[A:.*]]: memref<?x64xf32>, %[[S:.*]]: memref<?xf32>)
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK: %[[INIT:.*]] = memref.load %[[S]][%[[ROW:.*]]]
// CHECK: %[[SUM:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32) {
// CHECK: memref.load %[[A]]
// CHECK: %[[NEXT:.*]] = arith.addf %{{.*}}, %[[ACC]]
// CHECK: scf.yield %[[NEXT]]
// CHECK: memref.store %[[SUM]], %[[S]][%[[ROW]]]
func.func @row_sums(%a: memref<?x64xf32>, %s: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %a, %c0 : memref<?x64xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %x = memref.load %a[%i, %k] : memref<?x64xf32>
      %acc = memref.load %s[%i] : memref<?xf32>
      %y = arith.addf %x, %acc : f32
      memref.store %y, %s[%i] : memref<?xf32>
    }
    scf.reduce
  }
  return
}

// -----

// The accumulator's buffer is read elsewhere in the loop (another row):
// not promoted, the loop stays as written.
// CHECK-LABEL: func.func @negative_other_access
// CHECK: scf.for
// CHECK-NOT: iter_args
// CHECK: memref.load
// CHECK: memref.load
// CHECK: memref.load
// CHECK: memref.store
func.func @negative_other_access(%a: memref<?x64xf32>, %s: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %a, %c0 : memref<?x64xf32>
  scf.parallel (%i) = (%c1) to (%n) step (%c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %x = memref.load %a[%i, %k] : memref<?x64xf32>
      %prev = memref.load %s[%c0] : memref<?xf32>
      %acc = memref.load %s[%i] : memref<?xf32>
      %y = arith.addf %x, %acc : f32
      %z = arith.addf %y, %prev : f32
      memref.store %z, %s[%i] : memref<?xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A reduction to a scalar has no parallel loop: it runs as a kernel of one
// thread. Scalars the host reads (one-element buffers) go through a host
// copy; the scalar work on them stays on the host, and the store of its
// result becomes a kernel of its own.
// CHECK-LABEL: func.func @mean
// CHECK-SAME: (%[[A:.*]]: memref<?xf32>, %[[M:.*]]: memref<f32>, %[[OUT:.*]]: memref<f32>) -> f32
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]]) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]])
// CHECK-NEXT: memref.store %{{.*}}, %[[M]][]
// CHECK-NEXT: memref.load %[[M]][]
// CHECK-NEXT: scf.for {{.*}} iter_args
// CHECK: gpu.terminator
// CHECK: %[[COUNT:.*]] = arith.sitofp
// CHECK: %[[HOST:.*]] = memref.alloc() : memref<f32>
// CHECK: gpu.memcpy %[[HOST]], %[[M]]
// CHECK: %[[SUM:.*]] = memref.load %[[HOST]][]
// CHECK: memref.dealloc %[[HOST]]
// CHECK: %[[MEAN:.*]] = arith.divf %[[SUM]], %[[COUNT]]
// CHECK: gpu.launch
// CHECK-NEXT: memref.store %[[MEAN]], %[[M]][]
// CHECK: gpu.terminator
// CHECK: %[[HOST2:.*]] = memref.alloc() : memref<f32>
// CHECK: gpu.memcpy %[[HOST2]], %[[OUT]]
// CHECK: %[[V:.*]] = memref.load %[[HOST2]][]
// CHECK: return %[[V]]
func.func @mean(%a: memref<?xf32>, %m: memref<f32>, %out: memref<f32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %a, %c0 : memref<?xf32>
  memref.store %zero, %m[] : memref<f32>
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %a[%i] : memref<?xf32>
    %acc = memref.load %m[] : memref<f32>
    %y = arith.addf %x, %acc : f32
    memref.store %y, %m[] : memref<f32>
  }
  %ni = arith.index_cast %n : index to i64
  %count = arith.sitofp %ni : i64 to f32
  %sum = memref.load %m[] : memref<f32>
  %mean = arith.divf %sum, %count : f32
  memref.store %mean, %m[] : memref<f32>
  %r = memref.load %out[] : memref<f32>
  return %r : f32
}

// -----

// A value read from device memory that the host itself needs (a size to
// allocate by): the read is a one-thread kernel that stores the value into
// a device buffer of one element, which the host copies and reads.
// CHECK-LABEL: func.func @host_needs_device_value
// CHECK-SAME: (%[[A:.*]]: memref<?xindex>)
// CHECK: %[[BUF:.*]] = gpu.alloc () : memref<index>
// CHECK: gpu.launch
// CHECK-NEXT: %[[N:.*]] = memref.load %[[A]]
// CHECK-NEXT: memref.store %[[N]], %[[BUF]][]
// CHECK: gpu.terminator
// CHECK: %[[HOST:.*]] = memref.alloc() : memref<index>
// CHECK: gpu.memcpy %[[HOST]], %[[BUF]]
// CHECK: %[[HN:.*]] = memref.load %[[HOST]][]
// CHECK: memref.alloc(%[[HN]]) : memref<?xf32>
// CHECK: gpu.dealloc %[[BUF]]
func.func @host_needs_device_value(%a: memref<?xindex>) -> memref<?xf32> {
  %c1 = arith.constant 1 : index
  %n = memref.load %a[%c1] : memref<?xindex>
  %b = memref.alloc(%n) : memref<?xf32>
  return %b : memref<?xf32>
}

// -----

// A sum computed by a sequential loop outside any parallel loop (what a
// parallel loop of one iteration folds into) and used after host work (an
// allocation): the loop is a one-thread kernel that stores the sum into a
// device buffer of one element; the scalar work after it reads it (and the
// other scalar) through host copies, and the final store is a kernel again.
// CHECK-LABEL: func.func @between_kernels
// CHECK-SAME: (%[[A:.*]]: memref<16xf32>, %[[OUT:.*]]: memref<f32>, %[[T:.*]]: memref<f32>)
// CHECK: %[[BUF:.*]] = gpu.alloc () : memref<f32>
// CHECK: gpu.launch
// CHECK: %[[SUM:.*]] = scf.for
// CHECK: memref.store %[[SUM]], %[[BUF]][]
// CHECK: gpu.terminator
// CHECK: gpu.alloc () : memref<4xf32>
// CHECK: %[[H1:.*]] = memref.alloc() : memref<f32>
// CHECK: gpu.memcpy %[[H1]], %[[T]]
// CHECK: %[[X:.*]] = memref.load %[[H1]][]
// CHECK: %[[H2:.*]] = memref.alloc() : memref<f32>
// CHECK: gpu.memcpy %[[H2]], %[[BUF]]
// CHECK: %[[S:.*]] = memref.load %[[H2]][]
// CHECK: %[[Y:.*]] = arith.addf %[[S]], %[[X]]
// CHECK: gpu.launch
// CHECK-NEXT: memref.store %[[Y]], %[[OUT]][]
// CHECK: gpu.terminator
// CHECK: gpu.dealloc %[[BUF]]
func.func @between_kernels(%a: memref<16xf32>, %out: memref<f32>, %t: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.for %i = %c0 to %c16 step %c1 iter_args(%s = %zero) -> (f32) {
    %x = memref.load %a[%i] : memref<16xf32>
    %u = arith.addf %s, %x : f32
    scf.yield %u : f32
  }
  %tmp = gpu.alloc () : memref<4xf32>
  %x = memref.load %t[] : memref<f32>
  %y = arith.addf %sum, %x : f32
  memref.store %y, %out[] : memref<f32>
  gpu.dealloc %tmp : memref<4xf32>
  return
}

// -----

// A parallel loop that reduces across its iterations (scf.reduce with a
// value) has no GPU mapping: an error at the loop.
func.func @parallel_reduction(%a: memref<?xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %a, %c0 : memref<?xf32>
  // expected-error @+1 {{mha-gpu-map-parallel-loops: a parallel loop with a reduction has no GPU mapping yet}}
  %sum = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    %x = memref.load %a[%i] : memref<?xf32>
    scf.reduce(%x : f32) {
    ^bb0(%l: f32, %r: f32):
      %s = arith.addf %l, %r : f32
      scf.reduce.return %s : f32
    }
  }
  return %sum : f32
}

// -----

// Vector rows in kernels: a row of 16 floats of a buffer from gpu.alloc
// with rows of 64 floats starts a multiple of 16 bytes from the
// allocation, so the read and the write become vector.load/store aligned
// to 16 bytes (16 bytes per GPU load instruction). A row starting at
// column 1, or a buffer that is not a device allocation (an argument), is
// left as it is.
// CHECK-LABEL: func.func @aligned_rows
// CHECK: gpu.launch
// CHECK: %[[ROW:.*]] = vector.load %{{.*}} {alignment = 16 : i64} : memref<1x64xf32, strided<[64, 1], offset: ?>>, vector<16xf32>
// CHECK: vector.transfer_read %{{.*}}[%{{.*}}, %c1]
// CHECK: vector.transfer_read %{{.*}} : memref<8x64xf32>, vector<16xf32>
// CHECK: vector.store %[[ROW]], %{{.*}} {alignment = 16 : i64}
func.func @aligned_rows(%arg: memref<8x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %buf = gpu.alloc () : memref<8x64xf32>
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    %row = memref.subview %buf[%i, 0] [1, 64] [1, 1] : memref<8x64xf32> to memref<1x64xf32, strided<[64, 1], offset: ?>>
    %v = vector.transfer_read %row[%c0, %c0], %zero {in_bounds = [true]} : memref<1x64xf32, strided<[64, 1], offset: ?>>, vector<16xf32>
    %w = vector.transfer_read %row[%c0, %c1], %zero {in_bounds = [true]} : memref<1x64xf32, strided<[64, 1], offset: ?>>, vector<16xf32>
    %x = vector.transfer_read %arg[%i, %c0], %zero {in_bounds = [true]} : memref<8x64xf32>, vector<16xf32>
    %s = arith.addf %w, %x : vector<16xf32>
    vector.transfer_write %v, %row[%c0, %c0] {in_bounds = [true]} : vector<16xf32>, memref<1x64xf32, strided<[64, 1], offset: ?>>
    vector.transfer_write %s, %row[%c0, %c1] {in_bounds = [true]} : vector<16xf32>, memref<1x64xf32, strided<[64, 1], offset: ?>>
    scf.reduce
  }
  gpu.dealloc %buf : memref<8x64xf32>
  return
}
