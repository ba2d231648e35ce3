// Mixed precision through mha-lower-to-cpu: with bf16-matmuls, a Dense
// layer's f32 operands are rounded to bf16 and, on a target with AVX-512
// BF16, multiplied by its dot product; without that target feature, the bf16
// tiles are widened and multiplied with FMAs; by default no bf16 appears.
//
// RUN: mha-opt %s -mha-lower-to-cpu='bf16-matmuls avx512-bf16 threads=1' | FileCheck %s --check-prefix=DOT
// RUN: mha-opt %s -mha-lower-to-cpu='bf16-matmuls threads=1' | FileCheck %s --check-prefix=WIDEN
// RUN: mha-opt %s -mha-lower-to-cpu='threads=1' | FileCheck %s --check-prefix=F32

// DOT-LABEL: llvm.func @dense
// DOT: llvm.fptrunc %{{.*}} : f32 to bf16
// DOT: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"
// WIDEN-NOT: dpbf16ps
// WIDEN: llvm.fpext %{{.*}} : vector<16xbf16> to vector<16xf32>
// WIDEN: llvm.intr.fmuladd
// WIDEN-NOT: dpbf16ps
// F32-LABEL: llvm.func @dense
// F32-NOT: bf16
// F32: llvm.return
func.func @dense(%x: tensor<256x64xf32>, %w: tensor<64x64xf32>) -> tensor<256x64xf32> {
  %y = mha.dense %x, %w : tensor<256x64xf32>, tensor<64x64xf32>
  return %y : tensor<256x64xf32>
}
