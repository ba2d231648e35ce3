// mha-lower-to-gpu: an f32 dense layer and its gradients (y = x·W,
// dW = xᵀ·dy, dx = dy·Wᵀ) each become one mha.gpu_matmul on CUDA cores
// (f32-matmul-kernel, the default), the transposed operands read in place,
// tiles of 128 x 128 outputs and 16 of K. In the PTX, each of the three
// kernels: 1024 fma.rn.f32 a step (4 x 4 of K times 8 x 8 outputs a
// thread), every read of a shared tile 16 bytes wide (64 a step: 4 x (8 + 8)
// in each layout), tiles copied by cp.async of 16 bytes, outputs stored 16
// bytes at a time (y and dW: 16 stores a thread) but for dx, whose
// transposed rhs gives each thread columns 16 apart (its tile read without
// bank conflicts): 64 stores of 4 bytes, a warp's 16 threads side by side.
// With f32-matmul-kernel=0 the products stay the element-wise loops (one
// thread per output, no shared memory). With tf32-matmuls=1 the three run on
// tensor cores instead (mha.gpu_matmul's tf32): per kernel and step of 16,
// 64 mma.sync m16n8k8 on TF32 operands a warp (32 rows x 128 columns),
// 80 cvt.rna.tf32.f32 (16 A and 64 B elements a thread); A by ldmatrix of
// 32-bit elements for y and dx (8 a step), B by ldmatrix for dx (its rhs
// transposed: 32), the rest one 32-bit shared load an element (y's B: 64;
// dW's A and B: 80); no fused multiply-add on CUDA cores; an sm_90a cubin.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" --mlir-print-ir-after=mha-gpu-matmul-kernel-ops -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPS
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" -o %t.ptx
// RUN: grep -o "\.visible \.entry" %t.ptx | count 3
// RUN: grep -o "fma.rn.f32" %t.ptx | count 3072
// RUN: grep -o "ld.shared.v4.b32" %t.ptx | count 192
// RUN: grep -o "st.global.v4.b32" %t.ptx | count 32
// RUN: grep -o "st.global.b32" %t.ptx | count 64
// RUN: grep -q "cp.async.cg.shared.global \[%rd[0-9]*\], \[%rd[0-9]*\], 16" %t.ptx
// RUN: not grep -q "ld\.shared\.[bf]32" %t.ptx
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa f32-matmul-kernel=0" --mlir-print-ir-before=convert-linalg-to-parallel-loops -o %t0.ptx 2>&1 | FileCheck %s --check-prefix=OFF
// RUN: not grep -q "ld\.shared" %t0.ptx
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a" | FileCheck %s --check-prefix=CUBIN90 %}
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tf32-matmuls=1" --mlir-print-ir-after=mha-gpu-matmul-kernel-ops -o %t32.ptx 2>&1 | FileCheck %s --check-prefix=TF32
// RUN: grep -o "\.visible \.entry" %t32.ptx | count 3
// RUN: grep -o "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32" %t32.ptx | count 192
// RUN: grep -o "cvt.rna.tf32.f32" %t32.ptx | count 240
// RUN: grep -o "ldmatrix.sync.aligned.m8n8.x2.shared.b16" %t32.ptx | count 48
// RUN: grep -o "ld.shared.b32" %t32.ptx | count 144
// RUN: not grep -q "fma.rn.f32" %t32.ptx
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a tf32-matmuls=1" | FileCheck %s --check-prefix=CUBIN90 %}

// OPS-LABEL: func.func @layer
// OPS: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 16 : i64, block_m = 128 : i64, block_n = 128 : i64} : memref<?x512xf32>, memref<512x1024xf32>, memref<?x1024xf32>
// OPS: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 16 : i64, block_m = 128 : i64, block_n = 128 : i64, lhs_transposed} : memref<?x512xf32>, memref<?x1024xf32>, memref<512x1024xf32>
// OPS-NOT: linalg.transpose
// OPS: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 16 : i64, block_m = 128 : i64, block_n = 128 : i64, rhs_transposed} : memref<?x1024xf32>, memref<512x1024xf32>, memref<?x512xf32>
// OPS-NOT: linalg.transpose
// OPS-NOT: linalg.matmul
// OPS: return
// OFF-NOT: mha.gpu_matmul
// OFF: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// OFF-NOT: mha.gpu_matmul
// TF32-LABEL: func.func @layer
// TF32-COUNT-3: mha.gpu_matmul {{.*}}tf32} : memref<{{.*}}xf32>
// TF32-NOT: mha.gpu_matmul
// TF32: return
// CUBIN90: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<chip = "sm_90a"{{.*}}bin = "\7FELF
func.func @layer(%x: tensor<?x512xf32>, %w: tensor<512x1024xf32>, %dy: tensor<?x1024xf32>) -> (tensor<?x1024xf32>, tensor<512x1024xf32>, tensor<?x512xf32>) {
  %y = mha.dense %x, %w : tensor<?x512xf32>, tensor<512x1024xf32>
  %dw = mha.dense_weight_grad %x, %dy : tensor<?x512xf32>, tensor<?x1024xf32>
  %wt = mha.transpose %w perm = [1, 0] : tensor<512x1024xf32>
  %dx = mha.dense %dy, %wt : tensor<?x1024xf32>, tensor<1024x512xf32>
  return %y, %dw, %dx : tensor<?x1024xf32>, tensor<512x1024xf32>, tensor<?x512xf32>
}
