mha.param @w : tensor<4x8xf32> init <glorot_uniform>
func.func @model(%x: tensor<?x?xf32>) -> tensor<?x8xf32> {
  %w = mha.get_param @w : tensor<4x8xf32>
  %y = mha.dense %x, %w : tensor<?x?xf32>, tensor<4x8xf32>
  return %y : tensor<?x8xf32>
}
mha.training model = @model loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 2
