// RUN: mha-opt %s -mha-build-train-step=split-update | FileCheck %s

// Data-parallel training: the gradients leave the step so that the driver
// can average them across workers before the update.

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

// CHECK-NOT: @__mha_train_step
// CHECK-LABEL: func.func @__mha_grad_step
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[Y:.*]]: tensor<?x1xf32>)
// CHECK-SAME: -> (tensor<f32>, tensor<?x1xf32>, tensor<4x1xf32>, tensor<1xf32>)
// CHECK: %[[P:.*]] = mha.sigmoid
// CHECK: %[[L:.*]] = mha.bce_loss %[[P]], %[[Y]]
// CHECK: %[[GW:.*]] = mha.dense_weight_grad %[[X]]
// CHECK: %[[GB:.*]] = mha.reduce sum
// CHECK-NOT: mha.optimizer_update
// CHECK: return %[[L]], %[[P]], %[[GW]], %[[GB]]

// The update: the count, m and v per parameter, then the gradients.
// CHECK-LABEL: func.func @__mha_apply_update
// CHECK-SAME: (%[[T:.*]]: tensor<f32>, %[[MW:.*]]: tensor<4x1xf32>, %[[MB:.*]]: tensor<1xf32>, %[[VW:.*]]: tensor<4x1xf32>, %[[VB:.*]]: tensor<1xf32>, %[[DW:.*]]: tensor<4x1xf32>, %[[DB:.*]]: tensor<1xf32>)
// CHECK-SAME: -> (tensor<4x1xf32>, tensor<1xf32>, tensor<4x1xf32>, tensor<1xf32>, tensor<4x1xf32>, tensor<1xf32>)
// CHECK: %[[W:.*]] = mha.get_param @w
// CHECK: %[[NW:.*]], %[[NMW:.*]], %[[NVW:.*]] = mha.optimizer_update %[[W]], %[[DW]], %[[MW]], %[[VW]], %[[T]] <adam, learning_rate = 0.01>
// CHECK: %[[B:.*]] = mha.get_param @b
// CHECK: %[[NB:.*]], %[[NMB:.*]], %[[NVB:.*]] = mha.optimizer_update %[[B]], %[[DB]], %[[MB]], %[[VB]], %[[T]]
// CHECK: return %[[NW]], %[[NB]], %[[NMW]], %[[NMB]], %[[NVW]], %[[NVB]]
