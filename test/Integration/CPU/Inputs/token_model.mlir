// A bag of learned token embeddings: does the sequence hold token 7?
mha.param @emb : tensor<10x8xf32> init <normal, std = 0.5>
mha.param @w : tensor<8x1xf32> init <glorot_uniform>
mha.param @b : tensor<1xf32> init <zeros>

func.func @forward(%ids: tensor<?x6xi64>) -> tensor<?x1xf32> {
  %table = mha.get_param @emb : tensor<10x8xf32>
  %w = mha.get_param @w : tensor<8x1xf32>
  %b = mha.get_param @b : tensor<1xf32>
  %x = mha.embedding %table, %ids : tensor<10x8xf32>, tensor<?x6xi64>
  %h = mha.reduce max %x dims = [1] : tensor<?x6x8xf32>
  %z = mha.dense %h, %w, %b : tensor<?x8xf32>, tensor<8x1xf32>, tensor<1xf32>
  %p = mha.sigmoid %z : tensor<?x1xf32>
  return %p : tensor<?x1xf32>
}

mha.training model = @forward loss = bce optimizer = <adam, learning_rate = 0.05>
    epochs = 30 batch_size = 32 metrics = ["accuracy"]
