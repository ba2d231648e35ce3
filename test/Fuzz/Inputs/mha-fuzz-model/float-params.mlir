mha.param @w : tensor<4x4xf32> init <normal, std = 1.0>
func.func @model(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}
mha.training model = @model loss = mse optimizer = <adam, learning_rate = 2.0, beta1 = 0.5> epochs = 1 batch_size = 1
