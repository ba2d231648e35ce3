// Matrix transposes (the last two dimensions swapped) run as 16 x 16 blocks
// transposed in registers, with scalar loops for the partial blocks at the
// edges: every element checked exactly (values are their own indices), for
// sizes with and without partial blocks, a batch dimension, dynamic sizes,
// a 1037 x 515 matrix (thousands of blocks), and AVX2 code.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/transpose_check.py write %t/a.npy 37x53
// RUN: %python %S/Inputs/transpose_check.py write %t/b.npy 2x35x48
// RUN: %python %S/Inputs/transpose_check.py write %t/c.npy 32x16
// RUN: %python %S/Inputs/transpose_check.py write %t/d.npy 3x40x70
// RUN: %python %S/Inputs/transpose_check.py write %t/e.npy 1037x515
// RUN: mha-run %s --entry transposes --input a=%t/a.npy --input b=%t/b.npy --input c=%t/c.npy --input d=%t/d.npy --input e=%t/e.npy --output %t/out | FileCheck %s
// CHECK: result 0: tensor<53x37xf32>
// CHECK: result 1: tensor<2x48x35xf32>
// CHECK: result 2: tensor<16x32xf32>
// CHECK: result 3: tensor<3x70x40xf32>
// CHECK: result 4: tensor<515x1037xf32>
// RUN: %python %S/Inputs/transpose_check.py check %t/a.npy %t/out/result0.npy 37x53 | FileCheck %s --check-prefix=OK
// RUN: %python %S/Inputs/transpose_check.py check %t/b.npy %t/out/result1.npy 2x35x48 | FileCheck %s --check-prefix=OK
// RUN: %python %S/Inputs/transpose_check.py check %t/c.npy %t/out/result2.npy 32x16 | FileCheck %s --check-prefix=OK
// RUN: %python %S/Inputs/transpose_check.py check %t/d.npy %t/out/result3.npy 3x40x70 | FileCheck %s --check-prefix=OK
// RUN: %python %S/Inputs/transpose_check.py check %t/e.npy %t/out/result4.npy 1037x515 | FileCheck %s --check-prefix=OK
// OK: ok: 0 of
// RUN: mha-run %s --entry transposes --target-features=-avx512f --threads 1 --input a=%t/a.npy --input b=%t/b.npy --input c=%t/c.npy --input d=%t/d.npy --input e=%t/e.npy --output %t/avx2 > /dev/null
// RUN: %python %S/Inputs/transpose_check.py check %t/d.npy %t/avx2/result3.npy 3x40x70 | FileCheck %s --check-prefix=OK
// RUN: %python %S/Inputs/transpose_check.py check %t/a.npy %t/avx2/result0.npy 37x53 | FileCheck %s --check-prefix=OK

func.func @transposes(%a: tensor<37x53xf32>, %b: tensor<2x35x48xf32>,
                      %c: tensor<32x16xf32>, %d: tensor<?x?x?xf32>,
                      %e: tensor<?x?xf32>)
    -> (tensor<53x37xf32>, tensor<2x48x35xf32>, tensor<16x32xf32>,
        tensor<?x?x?xf32>, tensor<?x?xf32>) {
  %ta = mha.transpose %a perm = [1, 0] : tensor<37x53xf32>
  %tb = mha.transpose %b perm = [0, 2, 1] : tensor<2x35x48xf32>
  %tc = mha.transpose %c perm = [1, 0] : tensor<32x16xf32>
  %td = mha.transpose %d perm = [0, 2, 1] : tensor<?x?x?xf32>
  %te = mha.transpose %e perm = [1, 0] : tensor<?x?xf32>
  return %ta, %tb, %tc, %td, %te : tensor<53x37xf32>, tensor<2x48x35xf32>,
      tensor<16x32xf32>, tensor<?x?x?xf32>, tensor<?x?xf32>
}
