// Regression: results that share one buffer (a value returned twice, or two
// computations CSE merged, such as mha.attention next to the same
// mha.attention_with_lse) were copied one at a time, the buffer freed after
// the first, and the second read from freed memory (its first values came
// back as the allocator's bookkeeping: zeros).
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %npy write %t/x.npy f4 300 1,2,3,4,5,6,7,8,9,10
// RUN: mha-run %s --input x=%t/x.npy | FileCheck %s
// CHECK: result 0: tensor<300xf32>
// CHECK-NEXT: values: 1 2 3 4 5 6 7 8 ...
// CHECK: result 1: tensor<300xf32>
// CHECK-NEXT: values: 1 2 3 4 5 6 7 8 ...
// CHECK: result 2: tensor<300xf32>
// CHECK-NEXT: values: 1 2 3 4 5 6 7 8 ...
func.func @twice(%x: tensor<300xf32>) -> (tensor<300xf32>, tensor<300xf32>, tensor<300xf32>) {
  %y = mha.relu %x : tensor<300xf32>
  %z = mha.relu %x : tensor<300xf32>
  return %y, %y, %z : tensor<300xf32>, tensor<300xf32>, tensor<300xf32>
}
