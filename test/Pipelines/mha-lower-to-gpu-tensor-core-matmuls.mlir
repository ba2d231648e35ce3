// mha-lower-to-gpu{tensor-cores}: a bf16 dense layer (dynamic rows, K = 512,
// N = 1024, a bias) becomes mha.gpu_matmul (the bias its init, in f32)
// before bufferization, then, on device buffers, one kernel: the PTX holds
// the tensor cores' bf16 mma.sync (64 a step of 32 of K: 2 of K x 16
// column tiles x 2 row tiles per warp's 32 x 128 outputs), the lhs and rhs
// tiles copied by cp.async into two stages in shared memory aligned to 16
// bytes, read only by ldmatrix (8 for the A fragments, 32 transposed for
// the B fragments, each used by two mma.sync), no local (stack) memory; sm_80 and sm_90a cubins by ptxas. Without tensor-cores, no
// mma.sync. An f32 model with bf16-matmuls (mha-run --precision bf16) has
// its products rounded to bf16 operands, and they reach the kernel too.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" --mlir-print-ir-after=mha-gpu-matmul-kernel-ops -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPS
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: grep -o "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32" %t.ptx | count 64
// RUN: grep -o "ldmatrix.sync.aligned.m8n8.x2.shared.b16" %t.ptx | count 8
// RUN: grep -o "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16" %t.ptx | count 32
// RUN: not grep -q "ld\.shared" %t.ptx
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" | FileCheck %s --check-prefix=NOTC
// RUN: sed -e 's/bf16>/f32>/g' %s | mha-opt --mha-lower-to-gpu="format=isa tensor-cores=1 bf16-matmuls=1" --mlir-print-ir-after=mha-gpu-matmul-kernel-ops -o /dev/null 2>&1 | FileCheck %s --check-prefix=MIXED
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_80 tensor-cores=1" | FileCheck %s --check-prefix=CUBIN80 %}
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a tensor-cores=1" | FileCheck %s --check-prefix=CUBIN90 %}

// OPS: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} init(%{{.*}} : memref<?x1024xf32>) {block_k = 32 : i64, block_m = 128 : i64, block_n = 128 : i64} : memref<?x512xbf16>, memref<512x1024xbf16>, memref<?x1024xf32>
// PTX: gpu.binary @
// PTX-DAG: .shared .align 16 .b8 __wg_dense_kernel_{{[0-9]+}}_0[10240]
// PTX-DAG: .shared .align 16 .b8 __wg_dense_kernel_{{[0-9]+}}_1[8704]
// PTX-DAG: .shared .align 16 .b8 __wg_dense_kernel_{{[0-9]+}}_2[10240]
// PTX-DAG: .shared .align 16 .b8 __wg_dense_kernel_{{[0-9]+}}_3[8704]
// PTX-DAG: cp.async.cg.shared.global [%rd{{[0-9]+}}], [%rd{{[0-9]+}}], 16, %r{{[0-9]+}};
// PTX-DAG: cp.async.commit_group
// PTX-DAG: cp.async.wait_group
// PTX-DAG: bar.sync
// PTX-NOT: .local
// NOTC-NOT: mma.sync
// NOTC: gpu.binary
// NOTC-NOT: mma.sync
// MIXED: mha.gpu_matmul %{{.*}} : memref<?x512xbf16>, memref<512x1024xbf16>, memref<?x1024xf32>
// CUBIN80: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<chip = "sm_80"{{.*}}bin = "\7FELF
// CUBIN90: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<chip = "sm_90a"{{.*}}bin = "\7FELF
func.func @dense(%x: tensor<?x512xbf16>, %w: tensor<512x1024xbf16>, %b: tensor<1024xbf16>) -> tensor<?x1024xbf16> {
  %y = mha.dense %x, %w, %b : tensor<?x512xbf16>, tensor<512x1024xbf16>, tensor<1024xbf16>
  return %y : tensor<?x1024xbf16>
}
