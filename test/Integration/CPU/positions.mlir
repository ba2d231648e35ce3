// Learned positional embeddings: mha.positions gives the ids 0 .. S-1 of
// the sequence dimension, looked up in a position table and added to the
// token embeddings (broadcast over the batch); a sequence longer than the
// position table is reported by the embedding's check.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/ids.npy i8 2x3 0,1,2,3,3,3
// RUN: mha-run %s --entry main --input ids=%t/ids.npy --output %t/out | FileCheck %s
// CHECK: result 0: tensor<3xi64>
// CHECK-NEXT: values: 0 1 2
// RUN: %npy write %t/want.npy f4 2x3x2 10,10.5,21,21.5,32,32.5,40,40.5,41,41.5,42,42.5
// RUN: %npy compare %t/out/result1.npy %t/want.npy 0
// RUN: %npy write %t/long.npy i8 1x5 0,1,2,3,0
// RUN: not mha-run %s --entry main --input ids=%t/long.npy 2>&1 | FileCheck %s --check-prefix=LONG
// LONG: positions.mlir:[[#@LINE+7]]:{{[0-9]+}}: 'mha.embedding' op: a token id lies outside [0, the table's row count = 4) at run time

func.func @main(%ids: tensor<?x?xi64>) -> (tensor<?xi64>, tensor<?x?x2xf32>) {
  %pos = mha.positions %ids dim = 1 : tensor<?x?xi64>
  // position p: [p, p + 0.5]; token t: [10 (t + 1), 10 (t + 1)]
  %table = arith.constant dense<[[0.0, 0.5], [1.0, 1.5], [2.0, 2.5], [3.0, 3.5]]> : tensor<4x2xf32>
  %tokens = arith.constant dense<[[10.0, 10.0], [20.0, 20.0], [30.0, 30.0], [40.0, 40.0]]> : tensor<4x2xf32>
  %pe = mha.embedding %table, %pos : tensor<4x2xf32>, tensor<?xi64>
  %te = mha.embedding %tokens, %ids : tensor<4x2xf32>, tensor<?x?xi64>
  %x = mha.add %te, %pe : tensor<?x?x2xf32>, tensor<?x2xf32>
  return %pos, %x : tensor<?xi64>, tensor<?x?x2xf32>
}

// With an offset (one decoding step at position 2): ids [2].
// RUN: %npy write %t/one.npy i8 1x1 3
// RUN: %npy write %t/off.npy i8 "" 2
// RUN: mha-run %s --entry step --input ids=%t/one.npy --input offset=%t/off.npy | FileCheck %s --check-prefix=STEP
// STEP: result 0: tensor<1xi64>
// STEP-NEXT: values: 2

func.func @step(%ids: tensor<?x?xi64>, %offset: tensor<i64>) -> tensor<?xi64> {
  %pos = mha.positions %ids dim = 1 offset(%offset : tensor<i64>) : tensor<?x?xi64>
  return %pos : tensor<?xi64>
}
