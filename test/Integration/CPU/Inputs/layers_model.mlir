// Two residual layers written once as @layer and called with different
// weights; trained on the built-in synthetic task (16 features per token).
mha.param @w1 : tensor<16x16xf32> init <glorot_uniform>
mha.param @w2 : tensor<16x16xf32> init <glorot_uniform>
mha.param @wo : tensor<16x1xf32> init <glorot_uniform>

func.func private @layer(%x: tensor<?x?x16xf32>, %w: tensor<16x16xf32>) -> tensor<?x?x16xf32> {
  %h = mha.dense %x, %w : tensor<?x?x16xf32>, tensor<16x16xf32>
  %r = mha.relu %h : tensor<?x?x16xf32>
  %s = mha.add %x, %r : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return %s : tensor<?x?x16xf32>
}

func.func @forward(%x: tensor<?x?x16xf32>) -> tensor<?x1xf32> {
  %w1 = mha.get_param @w1 : tensor<16x16xf32>
  %w2 = mha.get_param @w2 : tensor<16x16xf32>
  %wo = mha.get_param @wo : tensor<16x1xf32>
  %a = func.call @layer(%x, %w1) : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
  %b = func.call @layer(%a, %w2) : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
  %m = mha.reduce mean %b dims = [1] : tensor<?x?x16xf32>
  %z = mha.dense %m, %wo : tensor<?x16xf32>, tensor<16x1xf32>
  %p = mha.sigmoid %z : tensor<?x1xf32>
  return %p : tensor<?x1xf32>
}

mha.training model = @forward loss = bce optimizer = <adam, learning_rate = 0.01>
    epochs = 6 batch_size = 32 metrics = ["accuracy"]
