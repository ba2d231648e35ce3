// mha.sinusoidal_positions JIT-run for a sequence of 300 positions and 64
// features against the formula (tolerance argued in the script).
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/ids.npy i8 2x300 1
// RUN: mha-run %s --entry main --input tokens=%t/ids.npy --output %t/out | FileCheck %s
// CHECK: result 0: tensor<300x64xf32>
// RUN: %python %S/Inputs/sinusoidal_check.py %t/out/result0.npy 300 64 | FileCheck %s --check-prefix=VALUES
// VALUES: ok: 19200 values
//
// With an offset: the rows of positions 290 .. 299.
// RUN: %npy write %t/short.npy i8 1x10 1
// RUN: %npy write %t/off.npy i8 "" 290
// RUN: mha-run %s --entry shifted --input tokens=%t/short.npy --input offset=%t/off.npy --output %t/shifted | FileCheck %s --check-prefix=SHIFTED
// SHIFTED: result 0: tensor<10x64xf32>
// RUN: %python %S/Inputs/sinusoidal_check.py %t/shifted/result0.npy 10 64 290 | FileCheck %s --check-prefix=VALUES2
// VALUES2: ok: 640 values

func.func @main(%tokens: tensor<?x?xi64>) -> tensor<?x64xf32> {
  %pe = mha.sinusoidal_positions %tokens dim = 1 features = 64 : tensor<?x?xi64>
  return %pe : tensor<?x64xf32>
}

func.func @shifted(%tokens: tensor<?x?xi64>, %offset: tensor<i64>) -> tensor<?x64xf32> {
  %pe = mha.sinusoidal_positions %tokens dim = 1 features = 64 offset(%offset : tensor<i64>) : tensor<?x?xi64>
  return %pe : tensor<?x64xf32>
}
