// RUN: mha-opt %s -mha-params-to-arguments -split-input-file | FileCheck %s

mha.param @w : tensor<4x2xf32> init <glorot_uniform>
mha.param @b : tensor<2xf32> init <zeros>

// Every function with a body gets all parameters, in declaration order.
// CHECK-LABEL: func.func @model
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[W:.*]]: tensor<4x2xf32> {mha.param = @w}, %[[B:.*]]: tensor<2xf32> {mha.param = @b})
// CHECK-NOT: mha.get_param
// CHECK: mha.dense %[[X]], %[[W]], %[[B]]
func.func @model(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = mha.get_param @w : tensor<4x2xf32>
  %b = mha.get_param @b : tensor<2xf32>
  %y = mha.dense %x, %w, %b : tensor<?x4xf32>, tensor<4x2xf32>, tensor<2xf32>
  return %y : tensor<?x2xf32>
}

// Calls pass the caller's parameters along.
// CHECK-LABEL: func.func @caller
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[W:.*]]: tensor<4x2xf32> {mha.param = @w}, %[[B:.*]]: tensor<2xf32> {mha.param = @b})
// CHECK: call @model(%[[X]], %[[W]], %[[B]])
func.func @caller(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %y = func.call @model(%x) : (tensor<?x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// Declarations are left alone.
// CHECK-LABEL: func.func private @external(tensor<4xf32>) -> tensor<4xf32>
func.func private @external(tensor<4xf32>) -> tensor<4xf32>

// -----

// Without parameters nothing changes.
// CHECK-LABEL: func.func @negative_no_params
// CHECK-SAME: (%{{.*}}: tensor<4xf32>) -> tensor<4xf32>
func.func @negative_no_params(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
