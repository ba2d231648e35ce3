// RUN: mha-opt %s -mha-build-train-step -split-input-file -verify-diagnostics | FileCheck %s

mha.param @w : tensor<4x1xf32> init <glorot_uniform>
mha.param @b : tensor<1xf32> init <zeros>
func.func @model(%x: tensor<?x4xf32>) -> tensor<?x1xf32> {
  %w = mha.get_param @w : tensor<4x1xf32>
  %b = mha.get_param @b : tensor<1xf32>
  %y = mha.dense %x, %w, %b : tensor<?x4xf32>, tensor<4x1xf32>, tensor<1xf32>
  %p = mha.sigmoid %y : tensor<?x1xf32>
  return %p : tensor<?x1xf32>
}
mha.training model = @model loss = bce optimizer = <adam, learning_rate = 0.01> epochs = 2 batch_size = 8

// CHECK-LABEL: func.func @__mha_eval
// CHECK-SAME: (%{{.*}}: tensor<?x4xf32>, %{{.*}}: tensor<?x1xf32>) -> (tensor<f32>, tensor<?x1xf32>)
// CHECK: mha.bce_loss

// CHECK-LABEL: func.func @__mha_loss
// CHECK-SAME: -> tensor<f32>

// The step: inputs, labels, the update count, then m and v per parameter.
// CHECK-LABEL: func.func @__mha_train_step
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[Y:.*]]: tensor<?x1xf32>, %[[T:.*]]: tensor<f32>, %[[MW:.*]]: tensor<4x1xf32>, %[[MB:.*]]: tensor<1xf32>, %[[VW:.*]]: tensor<4x1xf32>, %[[VB:.*]]: tensor<1xf32>)
// CHECK-SAME: -> (tensor<f32>, tensor<?x1xf32>, tensor<4x1xf32>, tensor<1xf32>, tensor<4x1xf32>, tensor<1xf32>, tensor<4x1xf32>, tensor<1xf32>)
// CHECK: %[[P:.*]] = mha.sigmoid
// CHECK: %[[L:.*]] = mha.bce_loss %[[P]], %[[Y]]
// CHECK: mha.bce_loss_grad
// CHECK: %[[GW:.*]] = mha.dense_weight_grad %[[X]]
// CHECK: %[[GB:.*]] = mha.reduce sum
// CHECK: %[[W:.*]] = mha.get_param @w
// CHECK: %[[NW:.*]], %[[NMW:.*]], %[[NVW:.*]] = mha.optimizer_update %[[W]], %[[GW]], %[[MW]], %[[VW]], %[[T]] <adam, learning_rate = 0.01>
// CHECK: %[[B:.*]] = mha.get_param @b
// CHECK: %[[NB:.*]], %[[NMB:.*]], %[[NVB:.*]] = mha.optimizer_update %[[B]], %[[GB]], %[[MB]], %[[VB]], %[[T]]
// CHECK: return %[[L]], %[[P]], %[[NW]], %[[NB]], %[[NMW]], %[[NMB]], %[[NVW]], %[[NVB]]

// -----

// Cross-entropy takes integer class labels without the class dimension.
mha.param @w : tensor<4x3xf32> init <glorot_uniform>
func.func @model(%x: tensor<?x4xf32>) -> tensor<?x3xf32> {
  %w = mha.get_param @w : tensor<4x3xf32>
  %y = mha.dense %x, %w : tensor<?x4xf32>, tensor<4x3xf32>
  return %y : tensor<?x3xf32>
}
mha.training model = @model loss = cross_entropy optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 4
// CHECK-LABEL: func.func @__mha_eval
// CHECK-SAME: (%{{.*}}: tensor<?x4xf32>, %{{.*}}: tensor<?xi64>)
// CHECK: mha.cross_entropy

// -----

// Per-token labels with padding: the training's ignore_index reaches the
// loss, and through it the loss gradient.
mha.param @w : tensor<4x3xf32> init <glorot_uniform>
func.func @tagger(%x: tensor<?x?x4xf32>) -> tensor<?x?x3xf32> {
  %w = mha.get_param @w : tensor<4x3xf32>
  %y = mha.dense %x, %w : tensor<?x?x4xf32>, tensor<4x3xf32>
  return %y : tensor<?x?x3xf32>
}
mha.training model = @tagger loss = cross_entropy optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 4 ignore_index = -1
// CHECK-LABEL: func.func @__mha_train_step
// CHECK: mha.cross_entropy %{{.*}}, %{{.*}} ignore_index = -1 : tensor<?x?x3xf32>, tensor<?x?xi64>
// CHECK: mha.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} ignore_index = -1

// -----

// expected-error @+1 {{mha-build-train-step: the module has no mha.training}}
module {
  func.func @negative_no_config(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}
