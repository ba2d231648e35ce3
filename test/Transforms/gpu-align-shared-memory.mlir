// RUN: mha-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(gpu.module(mha-gpu-align-shared-memory))' | FileCheck %s
// RUN: mha-opt %s -split-input-file --pass-pipeline='builtin.module(gpu.module(mha-gpu-align-shared-memory),gpu.module(convert-gpu-to-nvvm))' | FileCheck %s --check-prefix=NVVM
// RUN: mha-opt %s -split-input-file --pass-pipeline='builtin.module(gpu.module(mha-gpu-align-shared-memory{alignment=64}))' | FileCheck %s --check-prefix=WIDE
// RUN: not mha-opt %s -split-input-file --pass-pipeline='builtin.module(gpu.module(mha-gpu-align-shared-memory{alignment=12}))' 2>&1 | FileCheck %s --check-prefix=BAD

// Every workgroup attribution of every kernel gets 16-byte alignment, which
// the NVVM conversion gives the shared-memory global (by default the
// element's: 2 bytes for bf16); a larger alignment already there stays;
// private attributions are not shared memory and are left alone.
// CHECK-LABEL: gpu.func @tiles
// CHECK-SAME: workgroup(%{{.*}} : memref<16x72xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<16x72xbf16, #gpu.address_space<workgroup>> {llvm.align = 32 : i64}, %{{.*}} : memref<3xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-SAME: private(%{{.*}} : memref<4xf32, #gpu.address_space<private>>)
// CHECK-SAME: kernel
// NVVM: llvm.mlir.global internal @__wg_tiles_0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<1152 x bf16>
// NVVM: llvm.mlir.global internal @__wg_tiles_1() {addr_space = 3 : i32, alignment = 32 : i64} : !llvm.array<1152 x bf16>
// NVVM: llvm.mlir.global internal @__wg_tiles_2() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<3 x f32>
// WIDE-LABEL: gpu.func @tiles
// WIDE-SAME: {llvm.align = 64 : i64}, %{{.*}} {llvm.align = 64 : i64}, %{{.*}} {llvm.align = 64 : i64}
// BAD: error: mha-gpu-align-shared-memory: alignment must be a power of 2, not 12
gpu.module @kernels {
  gpu.func @tiles(%i: index)
      workgroup(%k: memref<16x72xbf16, #gpu.address_space<workgroup>>,
                %v: memref<16x72xbf16, #gpu.address_space<workgroup>> {llvm.align = 32 : i64},
                %s: memref<3xf32, #gpu.address_space<workgroup>>)
      private(%p: memref<4xf32, #gpu.address_space<private>>) kernel {
    %x = memref.load %k[%i, %i] : memref<16x72xbf16, #gpu.address_space<workgroup>>
    memref.store %x, %v[%i, %i] : memref<16x72xbf16, #gpu.address_space<workgroup>>
    gpu.return
  }
}

// -----

// A kernel without shared memory is unchanged.
// CHECK-LABEL: gpu.func @plain
// CHECK-SAME: (%{{.*}}: index) kernel {
gpu.module @kernels {
  gpu.func @plain(%i: index) kernel {
    gpu.return
  }
}
