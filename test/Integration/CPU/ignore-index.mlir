// cross_entropy and its gradient with ignore_index = -1 on per-token labels,
// JIT-run on values worked out by hand; a label that is neither a class nor
// the ignore index is reported.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/logits.npy f4 2x3x4 1,0,0,0
// RUN: %npy write %t/labels.npy i8 2x3 0,-1,2,-1,-1,1
// RUN: mha-run %s --input logits=%t/logits.npy --input labels=%t/labels.npy | FileCheck %s
// RUN: %npy write %t/bad.npy i8 2x3 0,-1,7,-1,-1,1
// RUN: not mha-run %s --input logits=%t/logits.npy --input labels=%t/bad.npy 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: ignore-index.mlir:[[#@LINE+17]]:{{[0-9]+}}: 'mha.cross_entropy' op: a label lies outside [0, the number of classes = 4) and is not the ignore index -1 at run time

// Every row of logits is [1, 0, 0, 0]: log-sum-exp = log(e + 3) = 1.743668,
// so label 0 costs 0.743668 and labels 1 and 2 cost 1.743668. Three labels
// are kept: (0.743668 + 2 * 1.743668) / 3 = 1.410335.
// CHECK: result 0: tensor<f32>
// CHECK-NEXT: values: 1.41033
// The gradient divides by the 3 kept labels: softmax = [0.475367, 0.174878,
// 0.174878, 0.174878]; row (0, 0) has label 0: [-0.524633, 0.174878,
// 0.174878, 0.174878] / 3; row (0, 1) is ignored: zeros.
// CHECK: result 1: tensor<2x3x4xf32>
// CHECK-NEXT: values: -0.174878 0.058292{{[67]}} 0.058292{{[67]}} 0.058292{{[67]}} 0 0 0 0
// Every label ignored: 0, not NaN.
// CHECK: result 2: tensor<f32>
// CHECK-NEXT: values: 0
func.func @main(%logits: tensor<2x3x4xf32>, %labels: tensor<2x3xi64>)
    -> (tensor<f32>, tensor<2x3x4xf32>, tensor<f32>) {
  %l = mha.cross_entropy %logits, %labels ignore_index = -1 : tensor<2x3x4xf32>, tensor<2x3xi64>
  %one = arith.constant dense<1.0> : tensor<f32>
  %d = mha.cross_entropy_grad %logits, %labels, %one ignore_index = -1 : tensor<2x3x4xf32>, tensor<2x3xi64>, tensor<f32>
  %all = arith.constant dense<-1> : tensor<2x3xi64>
  %z = mha.cross_entropy %logits, %all ignore_index = -1 : tensor<2x3x4xf32>, tensor<2x3xi64>
  return %l, %d, %z : tensor<f32>, tensor<2x3x4xf32>, tensor<f32>
}
