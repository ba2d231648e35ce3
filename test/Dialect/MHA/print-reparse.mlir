// Every float parameter prints in a form the parser reads back: 1.0 printed
// as "1" was refused ("unexpected decimal integer literal for a floating
// point value", issue 11), and so does 1e-08.
// RUN: mha-opt %s | FileCheck %s
// RUN: mha-opt %s | mha-opt | FileCheck %s

// CHECK: mha.param @w : tensor<4x4xf32> init <normal, std = 1.0>
// CHECK: mha.param @u : tensor<4xf32> init <uniform, limit = 2.0>
// CHECK: optimizer = <adam, learning_rate = 2.0, beta1 = 0.5, beta2 = 0.999, epsilon = 1.0e-08, weight_decay = 1.0>
// CHECK-SAME: dataset = <synthetic, samples = 8, seq_len = 4, validation_split = 0.0>
// CHECK-SAME: precision = bf16
mha.param @w : tensor<4x4xf32> init <normal, std = 1.0>
mha.param @u : tensor<4xf32> init <uniform, limit = 2.0>
func.func @model(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}
mha.training model = @model loss = mse
    optimizer = <adam, learning_rate = 2.0, beta1 = 0.5, beta2 = 0.999, epsilon = 1.0e-8, weight_decay = 1.0>
    epochs = 1 batch_size = 1
    dataset = <synthetic, samples = 8, seq_len = 4, validation_split = 0.0>
    precision = bf16
