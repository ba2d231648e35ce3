// Gradients with respect to inputs (-mha-autodiff=wrt-inputs) through an
// additive attention mask holding -inf, run by mha-run on mha-opt's output.
// The mask's gradient is dS (zero where the mask excludes a key, never NaN);
// an input the loss does not use gets exact zeros even where it is infinite.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: mha-opt %s -mha-autodiff=wrt-inputs -o %t/grad.mlir
// RUN: %npy write %t/q.npy f4 1x3x4 0.5,-0.25,1,0.75,-1,0.125,0.3
// RUN: %npy write %t/bias.npy f4 1x3x3 0,-inf,0.5,0,0,-inf,1,-inf,0
// RUN: %npy write %t/unused.npy f4 2 inf,-inf
// RUN: mha-run %t/grad.mlir --entry f_grad --input q=%t/q.npy --input bias=%t/bias.npy --input unused=%t/unused.npy | FileCheck %s

// CHECK: result 0: tensor<f32>
// dq
// CHECK: result 1: tensor<1x3x4xf32>
// CHECK-NOT: nan
// d bias: 0 at the three -inf entries (positions 1, 5 and 7; the first 8
// values are printed). Each row of dS sums to 0 (softmax's Jacobian):
// the kept pairs cancel.
// CHECK: result 2: tensor<1x3x3xf32>
// CHECK-NEXT: values: [[A:[0-9.]+]] {{-?0}} -[[A]] 0.7650{{[0-9]+}} -0.7650{{[0-9]+}} {{-?0}} {{[0-9.]+}} {{-?0}} ...{{$}}
// CHECK: result 3: tensor<2xf32>
// CHECK-NEXT: values: 0 0{{$}}
func.func @f(%q: tensor<1x3x4xf32>, %bias: tensor<1x3x3xf32>, %unused: tensor<2xf32>) -> tensor<f32> {
  %o = mha.attention %q, %q, %q mask(%bias : tensor<1x3x3xf32>) : tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>
  %w = arith.constant dense<[[[1.0, -2.0, 0.5, 3.0]]]> : tensor<1x1x4xf32>
  %ow = mha.mul %o, %w : tensor<1x3x4xf32>, tensor<1x1x4xf32>
  %l = mha.reduce sum %ow dims = [0, 1, 2] : tensor<1x3x4xf32>
  return %l : tensor<f32>
}
