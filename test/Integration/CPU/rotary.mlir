// mha.rotary JIT-run on [2, 3, 40, 16] queries against the formula in
// double (tolerance argued in the script), with and without an offset; and
// the inverse rotation undoes it.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/x.npy f4 2x3x40x16 0.5,-1.25,0.75,2,-0.3,1.1,-0.9
// RUN: %npy write %t/off.npy i8 "" 1000
// RUN: mha-run %s --entry rotate --input x=%t/x.npy --input offset=%t/off.npy --output %t/out | FileCheck %s
// CHECK: result 0: tensor<2x3x40x16xf32>
// CHECK: result 1: tensor<2x3x40x16xf32>
// CHECK: result 2: tensor<2x3x40x16xf32>
// RUN: %python %S/Inputs/rotary_check.py %t/x.npy %t/out/result0.npy 0 10000 | FileCheck %s --check-prefix=PLAIN
// PLAIN: ok: 3840 values
// RUN: %python %S/Inputs/rotary_check.py %t/x.npy %t/out/result1.npy 1000 500 | FileCheck %s --check-prefix=SHIFTED
// SHIFTED: ok: 3840 values
// RUN: %npy compare %t/out/result2.npy %t/x.npy 1e-5

func.func @rotate(%x: tensor<?x3x?x16xf32>, %offset: tensor<i64>)
    -> (tensor<?x3x?x16xf32>, tensor<?x3x?x16xf32>, tensor<?x3x?x16xf32>) {
  %a = mha.rotary %x : tensor<?x3x?x16xf32>
  %b = mha.rotary %x offset(%offset : tensor<i64>) {base = 5.000000e+02 : f32} : tensor<?x3x?x16xf32>
  %c = mha.rotary %a inverse : tensor<?x3x?x16xf32>
  return %a, %b, %c : tensor<?x3x?x16xf32>, tensor<?x3x?x16xf32>, tensor<?x3x?x16xf32>
}
