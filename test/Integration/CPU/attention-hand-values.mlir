// Attention on values worked out by hand. With q = 1, keys 0 and ln 3 and
// scale 1, the scores of a query are [0, ln 3] and its softmax [1/4, 3/4];
// with values 4 and 8 the output is 4/4 + 3*8/4 = 7. Causally, query 0 sees
// only key 0 and returns 4. A query whose keys are all masked returns 0.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/q.npy f4 1x2x1 1
// RUN: %npy write %t/k.npy f4 1x2x1 0,1.0986122886681098
// RUN: %npy write %t/v.npy f4 1x2x1 4,8
// RUN: %npy write %t/keep.npy b1 1x2x2 1,0,0,1
// RUN: mha-run %s --input q=%t/q.npy --input k=%t/k.npy --input v=%t/v.npy --input keep=%t/keep.npy --output %t/out | FileCheck %s
// RUN: mha-run %s --no-vectorize --input q=%t/q.npy --input k=%t/k.npy --input v=%t/v.npy --input keep=%t/keep.npy | FileCheck %s

// CHECK: result 0: tensor<1x2x1xf32>
// CHECK-NEXT: values: 7 7
// CHECK: result 1: tensor<1x2x1xf32>
// CHECK-NEXT: values: 4 7
// keep = [[1, 0], [0, 1]]: row 0 sees key 0 (4), row 1 only key 1 (8).
// CHECK: result 2: tensor<1x2x1xf32>
// CHECK-NEXT: values: 4 8
// Row 0: the mask drops key 0 and causality key 1, so zeros; row 1 sees both.
// CHECK: result 3: tensor<1x2x1xf32>
// CHECK-NEXT: values: 0 7
func.func @main(%q: tensor<?x?x1xf32>, %k: tensor<?x?x1xf32>, %v: tensor<?x?x1xf32>, %keep: tensor<?x?x?xi1>)
    -> (tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>) {
  %a = mha.attention %q, %k, %v {scale = 1.0 : f32} : tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>
  %c = mha.attention %q, %k, %v causal {scale = 1.0 : f32} : tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>
  %m = mha.attention %q, %k, %v mask(%keep : tensor<?x?x?xi1>) causal {scale = 1.0 : f32} : tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>
  %notkeep = arith.constant dense<[[[false, true], [true, true]]]> : tensor<1x2x2xi1>
  %z = mha.attention %q, %k, %v mask(%notkeep : tensor<1x2x2xi1>) causal {scale = 1.0 : f32} : tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>
  return %a, %c, %m, %z : tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>
}
