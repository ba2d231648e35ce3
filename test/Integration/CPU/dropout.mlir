// mha.dropout JIT-run on 120000 elements of 1.5: with a key, each element
// is 0 or 1.5 / (1 - 0.25) = 2, zeros a fraction 0.25 +- 0.01 (8 standard
// deviations of a binomial fraction at this size); the same key draws the
// same mask, another key or stream another; without a key it is the
// identity.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/x.npy f4 300x400 1.5
// RUN: %npy write %t/k1.npy i8 "" 1
// RUN: %npy write %t/k2.npy i8 "" 2
// RUN: mha-run %s --entry drop --input x=%t/x.npy --input key=%t/k1.npy --output %t/a > /dev/null
// RUN: mha-run %s --entry drop --input x=%t/x.npy --input key=%t/k1.npy --output %t/b > /dev/null
// RUN: mha-run %s --entry drop --input x=%t/x.npy --input key=%t/k2.npy --output %t/c > /dev/null
// RUN: %python %S/Inputs/dropout_check.py %t/a/result0.npy 1.5 0.25 | FileCheck %s
// CHECK: ok: 120000 elements
// RUN: %npy compare %t/a/result0.npy %t/b/result0.npy 0
// RUN: not %npy compare %t/a/result0.npy %t/c/result0.npy 0
// The second result uses stream 1 with key 1: another mask.
// RUN: not %npy compare %t/a/result0.npy %t/a/result1.npy 0
// RUN: %python %S/Inputs/dropout_check.py %t/a/result1.npy 1.5 0.25 | FileCheck %s
//
// RUN: mha-run %s --entry inactive --input x=%t/x.npy --output %t/d > /dev/null
// RUN: %npy compare %t/d/result0.npy %t/x.npy 0

func.func @drop(%x: tensor<?x?xf32>, %key: tensor<i64>) -> (tensor<?x?xf32>, tensor<?x?xf32>) {
  %a = mha.dropout %x rate = 2.500000e-01 key(%key : tensor<i64>) {stream = 0 : i64} : tensor<?x?xf32>
  %b = mha.dropout %x rate = 2.500000e-01 key(%key : tensor<i64>) {stream = 1 : i64} : tensor<?x?xf32>
  return %a, %b : tensor<?x?xf32>, tensor<?x?xf32>
}

func.func @inactive(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %a = mha.dropout %x rate = 2.500000e-01 : tensor<?x?xf32>
  return %a : tensor<?x?xf32>
}
