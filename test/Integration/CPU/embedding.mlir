// mha.embedding and mha.embedding_grad JIT-run on values worked out by hand,
// with i64 and i32 ids, and ids outside the table reported, not read.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/ids.npy i8 2x2 4,0,2,4
// RUN: %npy write %t/ids32.npy i4 3 1,1,3
// RUN: %npy write %t/dy.npy f4 2x2x3 1,2,3,4,5,6,7,8,9,10,11,12
// RUN: mha-run %s --entry main --input ids=%t/ids.npy --input ids32=%t/ids32.npy --input dy=%t/dy.npy --output %t/out | FileCheck %s
// table[v, d] = 10 v + d. Rows 4, 0, 2, 4:
// RUN: %npy write %t/want0.npy f4 2x2x3 40,41,42,0,1,2,20,21,22,40,41,42
// RUN: %npy compare %t/out/result0.npy %t/want0.npy 0
// Rows 1, 1, 3 (i32 ids):
// RUN: %npy write %t/want1.npy f4 3x3 10,11,12,10,11,12,30,31,32
// RUN: %npy compare %t/out/result1.npy %t/want1.npy 0
// The gradient: row 4 gets dy[0, 0] + dy[1, 1] = [1+10, 2+11, 3+12], row 0
// dy[0, 1], row 2 dy[1, 0]; rows 1 and 3 never occur.
// RUN: %npy write %t/want2.npy f4 5x3 4,5,6,0,0,0,7,8,9,0,0,0,11,13,15
// RUN: %npy compare %t/out/result2.npy %t/want2.npy 0
// CHECK: result 0: tensor<2x2x3xf32>
// CHECK: result 1: tensor<3x3xf32>
// CHECK: result 2: tensor<5x3xf32>
// Ids read from a file are checked on the host, naming the file and the id;
// ids that reach the table another way, by the compiled code.
// RUN: %npy write %t/bad.npy i8 2x2 4,0,5,1
// RUN: not mha-run %s --entry main --input ids=%t/bad.npy --input ids32=%t/ids32.npy --input dy=%t/dy.npy 2>&1 | FileCheck %s --check-prefix=RANGE
// RANGE: error: {{.*}}bad.npy: token id 5 (example 1) lies outside [0, 5): the embedding table has 5 rows
// RUN: %npy write %t/neg.npy i4 3 1,-1,3
// RUN: not mha-run %s --entry main --input ids=%t/ids.npy --input ids32=%t/neg.npy --input dy=%t/dy.npy 2>&1 | FileCheck %s --check-prefix=RANGE32
// RANGE32: error: {{.*}}neg.npy: token id -1 (example 1) lies outside [0, 5): the embedding table has 5 rows
// RUN: %npy write %t/cast.npy i8 4 0,1,9,2
// RUN: not mha-run %s --entry through_cast --input ids=%t/cast.npy 2>&1 | FileCheck %s --check-prefix=COMPILED
// COMPILED: embedding.mlir:[[#@LINE+15]]:{{[0-9]+}}: 'mha.embedding' op: a token id lies outside [0, the table's row count = 5) at run time

func.func @main(%ids: tensor<?x2xi64>, %ids32: tensor<3xi32>, %dy: tensor<?x2x3xf32>)
    -> (tensor<?x2x3xf32>, tensor<3x3xf32>, tensor<5x3xf32>) {
  %table = arith.constant dense<[[0.0, 1.0, 2.0], [10.0, 11.0, 12.0], [20.0, 21.0, 22.0],
                                 [30.0, 31.0, 32.0], [40.0, 41.0, 42.0]]> : tensor<5x3xf32>
  %x = mha.embedding %table, %ids : tensor<5x3xf32>, tensor<?x2xi64>
  %y = mha.embedding %table, %ids32 : tensor<5x3xf32>, tensor<3xi32>
  %g = mha.embedding_grad %table, %ids, %dy : tensor<5x3xf32>, tensor<?x2xi64>, tensor<?x2x3xf32>
  return %x, %y, %g : tensor<?x2x3xf32>, tensor<3x3xf32>, tensor<5x3xf32>
}

func.func @through_cast(%ids: tensor<4xi64>) -> tensor<?x3xf32> {
  %table = arith.constant dense<1.0> : tensor<5x3xf32>
  %c = tensor.cast %ids : tensor<4xi64> to tensor<?xi64>
  %x = mha.embedding %table, %c : tensor<5x3xf32>, tensor<?xi64>
  return %x : tensor<?x3xf32>
}
