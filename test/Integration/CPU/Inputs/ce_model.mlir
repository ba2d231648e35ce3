// A 3-class softmax classifier over 4 features, trained with cross_entropy:
// the labels are class indices the compiled code uses to pick logits.
mha.param @w : tensor<4x3xf32> init <glorot_uniform>
mha.param @b : tensor<3xf32> init <zeros>

func.func @classify(%x: tensor<?x4xf32>) -> tensor<?x3xf32> {
  %w = mha.get_param @w : tensor<4x3xf32>
  %b = mha.get_param @b : tensor<3xf32>
  %y = mha.dense %x, %w, %b : tensor<?x4xf32>, tensor<4x3xf32>, tensor<3xf32>
  return %y : tensor<?x3xf32>
}

func.func @loss(%logits: tensor<?x3xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
  %l = mha.cross_entropy %logits, %labels : tensor<?x3xf32>, tensor<?xi64>
  return %l : tensor<f32>
}

mha.training model = @classify loss = cross_entropy
    optimizer = <sgd, learning_rate = 0.1>
    epochs = 2 batch_size = 4 metrics = ["accuracy"]
