// RUN: mha-opt %s -mha-build-train-step | FileCheck %s

// Dropout becomes active in the training step only: the loss and the step
// take a dropout key after the labels, and each dropout (the layer's two
// calls inlined) gets its own stream; the evaluation function calls the
// layer, whose dropout has no key (the identity).
mha.param @w : tensor<4x4xf32> init <glorot_uniform>
func.func private @layer(%x: tensor<?x4xf32>, %w: tensor<4x4xf32>) -> tensor<?x4xf32> {
  %h = mha.dense %x, %w : tensor<?x4xf32>, tensor<4x4xf32>
  %d = mha.dropout %h rate = 1.000000e-01 : tensor<?x4xf32>
  return %d : tensor<?x4xf32>
}
func.func @model(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %w = mha.get_param @w : tensor<4x4xf32>
  %a = func.call @layer(%x, %w) : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %b = func.call @layer(%a, %w) : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  return %b : tensor<?x4xf32>
}
mha.training model = @model loss = mse optimizer = <sgd, learning_rate = 0.1>
    epochs = 1 batch_size = 2
// CHECK-LABEL: func.func private @layer(
// CHECK: mha.dropout %{{.*}} rate = 1.000000e-01 : tensor<?x4xf32>
// CHECK-LABEL: func.func @__mha_eval(
// CHECK: call @layer
// CHECK: call @layer
// CHECK-LABEL: func.func @__mha_loss(
// CHECK-SAME: %{{[^:]*}}: tensor<?x4xf32>, %{{[^:]*}}: tensor<?x4xf32>, %[[KEY:[^:]*]]: tensor<i64> {mha.name = "dropout_key"})
// CHECK: mha.dropout %{{.*}} rate = 1.000000e-01 key(%[[KEY]] : tensor<i64>) {stream = 0 : i64}
// CHECK: mha.dropout %{{.*}} rate = 1.000000e-01 key(%[[KEY]] : tensor<i64>) {stream = 1 : i64}
// CHECK-LABEL: func.func @__mha_train_step(
// CHECK-SAME: %{{[^:]*}}: tensor<?x4xf32>, %{{[^:]*}}: tensor<?x4xf32>, %[[KEY:[^:]*]]: tensor<i64> {mha.name = "dropout_key"}, %{{[^:]*}}: tensor<f32>,
// CHECK-DAG: mha.dropout %{{.*}} key(%[[KEY]] : tensor<i64>) {stream = 0 : i64}
// CHECK-DAG: mha.dropout %{{.*}} key(%[[KEY]] : tensor<i64>) {stream = 1 : i64}
