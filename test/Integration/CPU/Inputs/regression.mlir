// A linear regression trained by train.test: MSE, SGD with momentum, MAE.
mha.param @w : tensor<4x1xf32> init <zeros>
mha.param @b : tensor<1xf32> init <zeros>
func.func @predict(%x: tensor<?x4xf32>) -> tensor<?x1xf32> {
  %w = mha.get_param @w : tensor<4x1xf32>
  %b = mha.get_param @b : tensor<1xf32>
  %y = mha.dense %x, %w, %b : tensor<?x4xf32>, tensor<4x1xf32>, tensor<1xf32>
  return %y : tensor<?x1xf32>
}
mha.training model = @predict loss = mse
    optimizer = <sgd, learning_rate = 0.02, momentum = 0.9>
    epochs = 5 batch_size = 8 metrics = ["mae"]
    dataset = <npy, data = "x.npy", labels = "y.npy", validation_split = 0.25>
