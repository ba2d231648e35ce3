// mha-lower-to-gpu{tensor-cores}: a bf16 dense layer's gradients, dW = xᵀ·dy
// (mha.dense_weight_grad) and dx = dy·Wᵀ (mha.dense of the transposed
// weight), read x and W as they are stored: each becomes one mha.gpu_matmul
// with lhs_transposed or rhs_transposed, and no transpose is left to run
// as a kernel of its own. In the PTX, the two kernels' fragments: dW's A
// fragments by ldmatrix .trans (8 a step) and its B fragments .trans (32);
// dx's A fragments without (8) and its B fragments from W's rows without
// (32); 64 mma.sync each. The f32 model under bf16-matmuls rounds x and W
// before their transposes, and reaches the same kernels.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" --mlir-print-ir-after=mha-gpu-matmul-kernel-ops -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPS
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" -o %t.ptx
// RUN: grep -o "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32" %t.ptx | count 128
// RUN: grep -o "ldmatrix.sync.aligned.m8n8.x2.shared.b16" %t.ptx | count 40
// RUN: grep -o "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16" %t.ptx | count 40
// RUN: not grep -q "ld\.shared" %t.ptx
// RUN: sed -e 's/bf16>/f32>/g' %s | mha-opt --mha-lower-to-gpu="format=isa tensor-cores=1 bf16-matmuls=1" --mlir-print-ir-after=mha-gpu-matmul-kernel-ops -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPS
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a tensor-cores=1" | FileCheck %s --check-prefix=CUBIN90 %}

// OPS-LABEL: func.func @grads
// OPS-NOT: linalg.transpose
// OPS-NOT: scf.if
// OPS: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 32 : i64, block_m = 128 : i64, block_n = 128 : i64, lhs_transposed} : memref<?x512xbf16>, memref<?x1024xbf16>, memref<512x1024xf32>
// OPS-NOT: linalg.transpose
// OPS: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 32 : i64, block_m = 128 : i64, block_n = 128 : i64, rhs_transposed} : memref<?x1024xbf16>, memref<512x1024xbf16>, memref<?x512xf32>
// OPS-NOT: linalg.transpose
// OPS-NOT: linalg.matmul
// OPS: return
// CUBIN90: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<chip = "sm_90a"{{.*}}bin = "\7FELF
func.func @grads(%x: tensor<?x512xbf16>, %w: tensor<512x1024xbf16>, %dy: tensor<?x1024xbf16>) -> (tensor<512x1024xbf16>, tensor<?x512xbf16>) {
  %dw = mha.dense_weight_grad %x, %dy : tensor<?x512xbf16>, tensor<?x1024xbf16>
  %wt = mha.transpose %w perm = [1, 0] : tensor<512x1024xbf16>
  %dx = mha.dense %dy, %wt : tensor<?x1024xbf16>, tensor<1024x512xbf16>
  return %dw, %dx : tensor<512x1024xbf16>, tensor<?x512xbf16>
}
