// mha-gpu-kernels-to-llvm, the second half of mha-lower-to-gpu (what
// scripts/gpu/ptxas_tiles.py runs): host code on device buffers with a
// gpu.launch kernel (here the tensor-core attention's) to the LLVM dialect,
// the kernel outlined, its shared memory aligned to 16 bytes, lowered
// through NVVM (ldmatrix, cp.async, mma.sync) into PTX for the chip, the
// host launching it through MLIR's GPU runtime calls; emulated, no kernel
// and no GPU op.
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels --mha-gpu-kernels-to-llvm="format=isa chip=sm_90a" | FileCheck %s
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels=emulate --mha-gpu-kernels-to-llvm=emulate | FileCheck %s --check-prefix=EMU

// CHECK: llvm.func @f(
// CHECK: llvm.call @mgpuStreamCreate
// CHECK: gpu.launch_func <%{{.*}} : !llvm.ptr> @f_kernel::@f_kernel blocks in
// CHECK: llvm.call @mgpuStreamSynchronize
// CHECK: gpu.binary @f_kernel [#gpu.object<#nvvm.target<chip = "sm_90a"
// CHECK-SAME: .target sm_90a
// CHECK-SAME: .shared .align 16
// CHECK-SAME: cp.async.cg.shared.global
// CHECK-SAME: ldmatrix.sync.aligned.m8n8.x2
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// EMU-NOT: gpu.
// EMU: llvm.func @__mha_emulated_block_0(
// EMU: llvm.call @__mha_emulated_mma_bf16_128(
// EMU: llvm.func @f(
// EMU: llvm.call @__mha_emulated_block_0(
// EMU-NOT: gpu.
func.func @f(%q: memref<2x100x64xbf16>, %k: memref<2x300x64xbf16>, %v: memref<2x300x64xbf16>, %o: memref<2x100x64xbf16>) {
  mha.gpu_attention %q, %k, %v, %o {scale = 0.125 : f32, causal, block_q = 64, block_k = 64}
      : memref<2x100x64xbf16>, memref<2x300x64xbf16>, memref<2x300x64xbf16>, memref<2x100x64xbf16>
  return
}
