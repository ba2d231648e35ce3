// RUN: mha-opt %s -mha-gpu-device-buffers -split-input-file -verify-diagnostics | FileCheck %s

// A public function: each argument copied to a new device buffer on entry
// (its sizes read from the host argument), allocations and copies on the
// device, the result copied into a fresh host buffer, and every device
// buffer it made or returns freed before it returns.
// CHECK-LABEL: func.func @entry
// CHECK-SAME: (%[[X:.*]]: memref<?x16xf32>, %[[W:.*]]: memref<16xf32>) -> memref<?x16xf32>
// CHECK: %[[N:.*]] = memref.dim %[[X]], %{{.*}} : memref<?x16xf32>
// CHECK: %[[DX:.*]] = gpu.alloc (%[[N]]) : memref<?x16xf32>
// CHECK: gpu.memcpy %[[DX]], %[[X]]
// CHECK: %[[DW:.*]] = gpu.alloc () : memref<16xf32>
// CHECK: gpu.memcpy %[[DW]], %[[W]]
// CHECK: %[[N2:.*]] = memref.dim %[[DX]]
// CHECK: %[[T:.*]] = gpu.alloc (%[[N2]]) : memref<?x16xf32>
// CHECK: gpu.memcpy %[[T]], %[[DX]]
// CHECK: %[[R:.*]] = gpu.alloc (%[[N2]]) : memref<?x16xf32>
// CHECK: linalg.add ins(%[[T]], %[[DX]] : {{.*}}) outs(%[[R]] :
// CHECK: gpu.dealloc %[[T]]
// CHECK: %[[H:.*]] = memref.alloc(%{{.*}}) : memref<?x16xf32>
// CHECK: gpu.memcpy %[[H]], %[[R]]
// CHECK-DAG: gpu.dealloc %[[DX]]
// CHECK-DAG: gpu.dealloc %[[DW]]
// CHECK-DAG: gpu.dealloc %[[R]]
// CHECK: return %[[H]]
func.func @entry(%x: memref<?x16xf32>, %w: memref<16xf32>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x16xf32>
  %t = memref.alloc(%n) : memref<?x16xf32>
  memref.copy %x, %t : memref<?x16xf32> to memref<?x16xf32>
  %r = memref.alloc(%n) : memref<?x16xf32>
  linalg.add ins(%t, %x : memref<?x16xf32>, memref<?x16xf32>) outs(%r : memref<?x16xf32>)
  memref.dealloc %t : memref<?x16xf32>
  return %r : memref<?x16xf32>
}

// -----

// A constant lives in host memory: copied to the device where it is read,
// and that copy freed on return. An argument the function writes (an
// out-parameter) is copied back before it returns.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @constant
// CHECK-SAME: (%[[OUT:.*]]: memref<4xf32>)
// CHECK: %[[DOUT:.*]] = gpu.alloc () : memref<4xf32>
// CHECK: gpu.memcpy %[[DOUT]], %[[OUT]]
// CHECK: %[[G:.*]] = memref.get_global @table
// CHECK: %[[D:.*]] = gpu.alloc () : memref<4xf32>
// CHECK: gpu.memcpy %[[D]], %[[G]]
// CHECK: linalg.copy ins(%[[D]] : memref<4xf32>) outs(%[[DOUT]] : memref<4xf32>)
// CHECK: gpu.memcpy %[[OUT]], %[[DOUT]]
// CHECK-DAG: gpu.dealloc %[[DOUT]]
// CHECK-DAG: gpu.dealloc %[[D]]
func.func @constant(%out: memref<4xf32>) {
  %g = memref.get_global @table : memref<4xf32>
  linalg.copy ins(%g : memref<4xf32>) outs(%out : memref<4xf32>)
  return
}

// -----

// The same buffer returned twice is copied out once and freed once; a
// private function's buffers stay device buffers (its caller passes and
// receives device memory), and the buffer it returns is its caller's to
// free.
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: (%[[A:.*]]: memref<8xf32>) -> memref<8xf32>
// CHECK: %[[B:.*]] = gpu.alloc () : memref<8xf32>
// CHECK-NOT: gpu.memcpy
// CHECK: return %[[B]]
// CHECK-LABEL: func.func @twice
// CHECK: %[[C:.*]] = call @helper
// CHECK: %[[H:.*]] = memref.alloc() : memref<8xf32>
// CHECK: gpu.memcpy %[[H]], %[[C]]
// CHECK-NOT: memref.alloc
// CHECK-NOT: gpu.memcpy %arg0
// CHECK: gpu.dealloc %[[C]]
// CHECK: return %[[H]], %[[H]]
func.func private @helper(%a: memref<8xf32>) -> memref<8xf32> {
  %b = memref.alloc() : memref<8xf32>
  linalg.copy ins(%a : memref<8xf32>) outs(%b : memref<8xf32>)
  return %b : memref<8xf32>
}
func.func @twice(%a: memref<8xf32>) -> (memref<8xf32>, memref<8xf32>) {
  %c = call @helper(%a) : (memref<8xf32>) -> memref<8xf32>
  return %c, %c : memref<8xf32>, memref<8xf32>
}

// -----

// The deallocation's bookkeeping (lists of addresses and ownership flags,
// read by its helper in plain loops) stays in host memory; the helper is
// marked to run on the host.
// CHECK-LABEL: func.func private @dealloc_helper
// CHECK-SAME: attributes {mha.host}
// CHECK-LABEL: func.func @bookkeeping
// CHECK: memref.alloc() : memref<2xindex>
// CHECK: memref.alloc() : memref<2xi1>
// CHECK: call @dealloc_helper
// CHECK: memref.dealloc %{{.*}} : memref<2xindex>
func.func private @dealloc_helper(%a: memref<?xindex>, %b: memref<?xi1>) {
  %c0 = arith.constant 0 : index
  %true = arith.constant true
  memref.store %true, %b[%c0] : memref<?xi1>
  return
}
func.func @bookkeeping(%p: index) {
  %c0 = arith.constant 0 : index
  %list = memref.alloc() : memref<2xindex>
  %flags = memref.alloc() : memref<2xi1>
  memref.store %p, %list[%c0] : memref<2xindex>
  %l = memref.cast %list : memref<2xindex> to memref<?xindex>
  %f = memref.cast %flags : memref<2xi1> to memref<?xi1>
  call @dealloc_helper(%l, %f) : (memref<?xindex>, memref<?xi1>) -> ()
  memref.dealloc %list : memref<2xindex>
  memref.dealloc %flags : memref<2xi1>
  return
}

// -----

func.func @stack(%out: memref<4xf32>) {
  // expected-error @+1 {{mha-gpu-device-buffers: a stack buffer outside a kernel would be host memory}}
  %a = memref.alloca() : memref<4xf32>
  linalg.copy ins(%a : memref<4xf32>) outs(%out : memref<4xf32>)
  return
}

// -----

func.func @not_made_here(%a: memref<8xf32>, %b: memref<8xf32>, %c: i1) -> memref<8xf32> {
  %r = scf.if %c -> memref<8xf32> {
    scf.yield %a : memref<8xf32>
  } else {
    scf.yield %b : memref<8xf32>
  }
  // expected-error @+1 {{mha-gpu-device-buffers: a returned buffer whose allocation is not in this function}}
  return %r : memref<8xf32>
}

// -----

// A constant read inside a loop: its device copy is freed at the end of the
// loop's body (it does not reach the return).
memref.global "private" constant @row : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @constant_in_loop
// CHECK: scf.for
// CHECK: %[[G:.*]] = memref.get_global @row
// CHECK: %[[D:.*]] = gpu.alloc () : memref<4xf32>
// CHECK: gpu.memcpy %[[D]], %[[G]]
// CHECK: linalg.add ins(%[[D]], %{{.*}} : {{.*}})
// CHECK: gpu.dealloc %[[D]]
// CHECK-NEXT: }
func.func @constant_in_loop(%out: memref<4xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %g = memref.get_global @row : memref<4xf32>
    linalg.add ins(%g, %out : memref<4xf32>, memref<4xf32>) outs(%out : memref<4xf32>)
  }
  return
}

// -----

// Device-resident arguments and results (a training step's parameters and
// optimizer state, kept on the device by mha-run): %p is read where it is,
// never copied in or back; %x, a host argument, is copied in; result 0, a
// fresh device buffer, is returned as it is and not freed; result 1 stays a
// host copy.
// CHECK-LABEL: func.func @resident
// CHECK-SAME: (%[[X:.*]]: memref<8xf32>, %[[P:.*]]: memref<8xf32>)
// CHECK: %[[DX:.*]] = gpu.alloc () : memref<8xf32>
// CHECK: gpu.memcpy %[[DX]], %[[X]]
// CHECK-NOT: gpu.memcpy {{.*}}%[[P]]
// CHECK: %[[NEW:.*]] = gpu.alloc () : memref<8xf32>
// CHECK: linalg.add ins(%[[P]], %[[DX]] : {{.*}}) outs(%[[NEW]] :
// CHECK: %[[LOSS:.*]] = gpu.alloc () : memref<f32>
// CHECK: %[[H:.*]] = memref.alloc() : memref<f32>
// CHECK: gpu.memcpy %[[H]], %[[LOSS]]
// CHECK-NOT: gpu.dealloc %[[NEW]]
// CHECK-NOT: gpu.dealloc %[[P]]
// CHECK: gpu.dealloc %[[DX]]
// CHECK-NOT: gpu.dealloc %[[NEW]]
// CHECK: return %[[NEW]], %[[H]] : memref<8xf32>, memref<f32>
func.func @resident(%x: memref<8xf32>, %p: memref<8xf32>)
    -> (memref<8xf32>, memref<f32>)
    attributes {mha.device_resident_arguments = array<i64: 1>,
                mha.device_resident_results = array<i64: 0>} {
  %new = memref.alloc() : memref<8xf32>
  linalg.add ins(%p, %x : memref<8xf32>, memref<8xf32>) outs(%new : memref<8xf32>)
  %loss = memref.alloc() : memref<f32>
  return %new, %loss : memref<8xf32>, memref<f32>
}

// -----

// A resident result that is not a fresh buffer of the function's own (here
// a resident argument returned unchanged) is copied into a new device
// buffer, as is a buffer returned twice for its first return, so that each
// result is the caller's to free; a resident argument the function writes
// is first copied on the device, so the caller's keeps its value.
// CHECK-LABEL: func.func @resident_copies
// CHECK-SAME: (%[[P:.*]]: memref<8xf32>, %[[Q:.*]]: memref<8xf32>)
// CHECK: %[[DQ:.*]] = gpu.alloc () : memref<8xf32>
// CHECK: gpu.memcpy %[[DQ]], %[[Q]]
// CHECK: linalg.add ins(%[[P]], %[[P]] : {{.*}}) outs(%[[DQ]] :
// CHECK: %[[NEW:.*]] = gpu.alloc () : memref<8xf32>
// CHECK: %[[C0:.*]] = gpu.alloc () : memref<8xf32>
// CHECK: gpu.memcpy %[[C0]], %[[P]]
// CHECK: %[[C1:.*]] = gpu.alloc () : memref<8xf32>
// CHECK: gpu.memcpy %[[C1]], %[[NEW]]
// CHECK-NOT: gpu.memcpy %[[Q]]
// CHECK: gpu.dealloc %[[DQ]]
// CHECK-NOT: gpu.dealloc
// CHECK: return %[[C0]], %[[C1]], %[[NEW]]
func.func @resident_copies(%p: memref<8xf32>, %q: memref<8xf32>)
    -> (memref<8xf32>, memref<8xf32>, memref<8xf32>)
    attributes {mha.device_resident_arguments = array<i64: 0, 1>,
                mha.device_resident_results = array<i64: 0, 1, 2>} {
  linalg.add ins(%p, %p : memref<8xf32>, memref<8xf32>) outs(%q : memref<8xf32>)
  %new = memref.alloc() : memref<8xf32>
  return %p, %new, %new : memref<8xf32>, memref<8xf32>, memref<8xf32>
}

// -----

// expected-error @+1 {{'mha.device_resident_arguments' lists position 2 of 2 arguments}}
func.func @resident_out_of_range(%x: memref<8xf32>, %p: memref<8xf32>)
    attributes {mha.device_resident_arguments = array<i64: 2>} {
  return
}

// -----

// expected-error @+1 {{'mha.device_resident_results' lists position 0, which is not a buffer: 'index'}}
func.func @resident_not_a_buffer(%n: index) -> index
    attributes {mha.device_resident_results = array<i64: 0>} {
  return %n : index
}

// -----

// expected-error @+1 {{'mha.device_resident_arguments' lists position 0 twice}}
func.func @resident_twice(%p: memref<8xf32>)
    attributes {mha.device_resident_arguments = array<i64: 0, 0>} {
  return
}

// -----

// expected-error @+1 {{'mha.device_resident_arguments' must be an array<i64: ...> of positions}}
func.func @resident_not_an_array(%p: memref<8xf32>)
    attributes {mha.device_resident_arguments = [0]} {
  return
}

// -----

// expected-error @+1 {{'mha.device_resident_results' is for a public function (the runner's entry point); @resident_private is private and takes and returns device buffers already}}
func.func private @resident_private(%p: memref<8xf32>) -> memref<8xf32>
    attributes {mha.device_resident_results = array<i64: 0>} {
  return %p : memref<8xf32>
}
