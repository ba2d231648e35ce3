// Dense, layer norm, softmax, reductions and losses on values worked out by
// hand.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/x.npy f4 1x2 1,2
// RUN: %npy write %t/row.npy f4 1x3 1,2,3
// RUN: %npy write %t/p.npy f4 2x1 0.5,0.5
// RUN: %npy write %t/y.npy f4 2x1 1,0
// RUN: mha-run %s --input x=%t/x.npy --input row=%t/row.npy --input p=%t/p.npy --input y=%t/y.npy | FileCheck %s

// dense: [1, 2] · [[1, 0, 1], [0, 1, 1]] + 0.5 = [1.5, 2.5, 3.5]
// CHECK: result 0: tensor<1x3xf32>
// CHECK-NEXT: values: 1.5 2.5 3.5
// layer_norm([1, 2, 3]): mean 2, variance 2/3, so (x - 2) / sqrt(2/3 + 1e-5)
// = [-1.2247357, 0, 1.2247357]
// CHECK: result 1: tensor<1x3xf32>
// CHECK-NEXT: values: -1.22474 0 1.22474
// softmax([1, 2, 3]) = e^k / (e + e^2 + e^3) = [0.0900306, 0.244728, 0.665241]
// CHECK: result 2: tensor<1x3xf32>
// CHECK-NEXT: values: 0.0900306 0.244728 0.665241
// mean 2, max 3, sum 6
// CHECK: result 3: tensor<1xf32>
// CHECK-NEXT: values: 2
// CHECK: result 4: tensor<1x1xf32>
// CHECK-NEXT: values: 3
// CHECK: result 5: tensor<f32>
// CHECK-NEXT: values: 6
// BCE at p = 0.5 is ln 2 = 0.693147 whatever the label; MSE = (0.25+0.25)/2.
// CHECK: result 6: tensor<f32>
// CHECK-NEXT: values: 0.693147
// CHECK: result 7: tensor<f32>
// CHECK-NEXT: values: 0.25
// gelu(1) = 0.841345, sigmoid(0) = 0.5, tanh(1) = 0.761594, relu(-1) = 0
// CHECK: result 8: tensor<4xf32>
// CHECK-NEXT: values: 0.841345 0.5 0.761594 0
func.func @main(%x: tensor<1x2xf32>, %row: tensor<1x3xf32>, %p: tensor<2x1xf32>, %y: tensor<2x1xf32>)
    -> (tensor<1x3xf32>, tensor<1x3xf32>, tensor<1x3xf32>, tensor<1xf32>, tensor<1x1xf32>, tensor<f32>,
        tensor<f32>, tensor<f32>, tensor<4xf32>) {
  %w = arith.constant dense<[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]> : tensor<2x3xf32>
  %b = arith.constant dense<0.5> : tensor<3xf32>
  %d = mha.dense %x, %w, %b : tensor<1x2xf32>, tensor<2x3xf32>, tensor<3xf32>
  %g = arith.constant dense<1.0> : tensor<3xf32>
  %z = arith.constant dense<0.0> : tensor<3xf32>
  %n = mha.layer_norm %row, %g, %z : tensor<1x3xf32>, tensor<3xf32>, tensor<3xf32>
  %s = mha.softmax %row : tensor<1x3xf32>
  %mean = mha.reduce mean %row dims = [1] : tensor<1x3xf32>
  %max = mha.reduce max %row dims = [1] keep_dims : tensor<1x3xf32>
  %sum = mha.reduce sum %row dims = [0, 1] : tensor<1x3xf32>
  %bce = mha.bce_loss %p, %y : tensor<2x1xf32>, tensor<2x1xf32>
  %mse = mha.mse_loss %p, %y : tensor<2x1xf32>, tensor<2x1xf32>
  %a = arith.constant dense<[1.0, 0.0, 1.0, -1.0]> : tensor<4xf32>
  %a0 = mha.gelu %a : tensor<4xf32>
  %a1 = mha.sigmoid %a : tensor<4xf32>
  %a2 = mha.tanh %a : tensor<4xf32>
  %a3 = mha.relu %a : tensor<4xf32>
  %e0 = tensor.extract_slice %a0[0] [1] [1] : tensor<4xf32> to tensor<1xf32>
  %e1 = tensor.extract_slice %a1[1] [1] [1] : tensor<4xf32> to tensor<1xf32>
  %e2 = tensor.extract_slice %a2[2] [1] [1] : tensor<4xf32> to tensor<1xf32>
  %e3 = tensor.extract_slice %a3[3] [1] [1] : tensor<4xf32> to tensor<1xf32>
  %act = tensor.concat dim(0) %e0, %e1, %e2, %e3 : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4xf32>
  return %d, %n, %s, %mean, %max, %sum, %bce, %mse, %act : tensor<1x3xf32>, tensor<1x3xf32>, tensor<1x3xf32>, tensor<1xf32>,
      tensor<1x1xf32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<4xf32>
}
