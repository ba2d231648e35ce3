// A small classifier with dropout on its hidden activations, trained on the
// built-in synthetic task: dropout is active in the training step only.
mha.param @w1 : tensor<16x32xf32> init <glorot_uniform>
mha.param @w2 : tensor<32x1xf32> init <glorot_uniform>

func.func @forward(%x: tensor<?x?x16xf32>) -> tensor<?x1xf32> {
  %w1 = mha.get_param @w1 : tensor<16x32xf32>
  %w2 = mha.get_param @w2 : tensor<32x1xf32>
  %h = mha.dense %x, %w1 : tensor<?x?x16xf32>, tensor<16x32xf32>
  %r = mha.relu %h : tensor<?x?x32xf32>
  %d = mha.dropout %r rate = 2.000000e-01 : tensor<?x?x32xf32>
  %m = mha.reduce mean %d dims = [1] : tensor<?x?x32xf32>
  %z = mha.dense %m, %w2 : tensor<?x32xf32>, tensor<32x1xf32>
  %p = mha.sigmoid %z : tensor<?x1xf32>
  return %p : tensor<?x1xf32>
}

mha.training model = @forward loss = bce optimizer = <adam, learning_rate = 0.01>
    epochs = 4 batch_size = 16 metrics = ["accuracy"]
    dataset = <synthetic, samples = 256, seq_len = 6>
