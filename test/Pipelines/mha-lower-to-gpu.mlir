// The whole GPU pipeline on a Dense + ReLU, kernels as PTX (no CUDA toolkit
// needed): host code in the LLVM dialect that copies the arguments to the
// device, launches one kernel per linalg op, copies the result into a host
// buffer the caller owns and frees the device buffers, all through MLIR's
// GPU runtime calls; the kernels' PTX for the chosen chip embedded.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" | FileCheck %s
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa chip=sm_90a" | FileCheck %s --check-prefix=SM90
// Emulated: the same host code (device buffers, copies, runtime calls for
// memory) with the mapped loop nests run as host code between them, no
// kernels launched (mha-run --device gpu-emulated implements the memory
// calls over host memory).
// RUN: mha-opt %s --mha-lower-to-gpu="emulate" | FileCheck %s --check-prefix=EMU
// EMU-LABEL: llvm.func @forward(
// EMU: llvm.call @mgpuMemAlloc(
// EMU: llvm.call @mgpuMemcpy(
// EMU: llvm.intr.maximum
// EMU: llvm.call @mgpuMemcpy(
// EMU: llvm.call @mgpuMemFree(
// EMU-NOT: mgpuLaunchKernel
// EMU-NOT: mgpuModuleLoad
// EMU-NOT: gpu.binary
// An unknown format is rejected when the options are read:
// RUN: not mha-opt %s --mha-lower-to-gpu="format=foo" 2>&1 | FileCheck %s --check-prefix=BADFORMAT
// BADFORMAT: for the --format option: Cannot find option named 'foo'!
//
// With ptxas: cubins for sm_80 and sm_90a (ptxas accepts the PTX).
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin" | FileCheck %s --check-prefix=CUBIN %}
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a" | FileCheck %s --check-prefix=CUBIN90 %}

// CHECK-LABEL: llvm.func @forward(
// CHECK: llvm.call @mgpuStreamCreate()
// CHECK: llvm.call @mgpuMemAlloc(
// CHECK: llvm.call @mgpuMemcpy(
// The bias broadcast, the product (a loop over the 16 reduction steps in
// each thread) and the ReLU.
// All three kernels in one module (one compilation, one load).
// CHECK: gpu.launch_func <%{{.*}} : !llvm.ptr> @mha_kernels::@forward_kernel blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}})
// CHECK: gpu.launch_func <%{{.*}} : !llvm.ptr> @mha_kernels::@forward_kernel_0
// CHECK: gpu.launch_func <%{{.*}} : !llvm.ptr> @mha_kernels::@forward_kernel_1
// CHECK: llvm.call @malloc(
// CHECK: llvm.call @mgpuMemcpy(
// CHECK: llvm.call @mgpuMemFree(
// CHECK: llvm.call @mgpuStreamSynchronize(
// CHECK: llvm.return
// CHECK: gpu.binary @mha_kernels [#gpu.object<#nvvm.target<chip = "sm_80", features = "+ptx80">, {{.*}}assembly = "{{.*}}.target sm_80{{.*}}.entry forward_kernel({{.*}}.entry forward_kernel_0({{.*}}.entry forward_kernel_1(
// CHECK-NOT: gpu.binary
// SM90: #nvvm.target<chip = "sm_90a", features = "+ptx80">, {{.*}}assembly = "{{.*}}.target sm_90a
// CUBIN: gpu.binary @mha_kernels [#gpu.object<#nvvm.target<chip = "sm_80", features = "+ptx80">, {{.*}}bin = "\7FELF
// CUBIN90: gpu.binary @mha_kernels [#gpu.object<#nvvm.target<chip = "sm_90a", features = "+ptx80">, {{.*}}bin = "\7FELF

mha.param @w : tensor<16x32xf32> init <glorot_uniform>
mha.param @b : tensor<32xf32> init <zeros>
func.func @forward(%x: tensor<?x16xf32>) -> tensor<?x32xf32> {
  %w = mha.get_param @w : tensor<16x32xf32>
  %b = mha.get_param @b : tensor<32xf32>
  %h = mha.dense %x, %w, %b : tensor<?x16xf32>, tensor<16x32xf32>, tensor<32xf32>
  %r = mha.relu %h : tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}
