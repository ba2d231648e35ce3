// Tags each token (its id % 3) from a learned embedding; padding positions
// are labelled -1 and ignored by the loss and the accuracy.
mha.param @emb : tensor<10x8xf32> init <normal, std = 0.5>
mha.param @w : tensor<8x3xf32> init <glorot_uniform>

func.func @forward(%ids: tensor<?x8xi64>) -> tensor<?x8x3xf32> {
  %table = mha.get_param @emb : tensor<10x8xf32>
  %w = mha.get_param @w : tensor<8x3xf32>
  %x = mha.embedding %table, %ids : tensor<10x8xf32>, tensor<?x8xi64>
  %z = mha.dense %x, %w : tensor<?x8x8xf32>, tensor<8x3xf32>
  return %z : tensor<?x8x3xf32>
}

mha.training model = @forward loss = cross_entropy optimizer = <adam, learning_rate = 0.05>
    epochs = 20 batch_size = 16 metrics = ["accuracy"] ignore_index = -1
