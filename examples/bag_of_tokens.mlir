// A baseline for the synthetic marked-token task: a bag of tokens. It
// averages each sequence's feature vectors (which tokens occur, that one
// position is marked, the positions) before any nonlinearity, so it cannot
// tell which token carries the marker. Trained like the seed classifier it
// stays near chance, where the attention model reaches 100%:
//
//   mha-run examples/bag_of_tokens.mlir --train
//
mha.param @w1 : tensor<16x256xf32> init <glorot_uniform>
mha.param @b1 : tensor<256xf32> init <zeros>
mha.param @w2 : tensor<256x1xf32> init <glorot_uniform>
mha.param @b2 : tensor<1xf32> init <zeros>

func.func @forward(%x: tensor<?x?x16xf32>) -> tensor<?x1xf32> {
  %bag = mha.reduce mean %x dims = [1] : tensor<?x?x16xf32>
  %w1 = mha.get_param @w1 : tensor<16x256xf32>
  %b1 = mha.get_param @b1 : tensor<256xf32>
  %h = mha.dense %bag, %w1, %b1 : tensor<?x16xf32>, tensor<16x256xf32>, tensor<256xf32>
  %hr = mha.relu %h : tensor<?x256xf32>
  %w2 = mha.get_param @w2 : tensor<256x1xf32>
  %b2 = mha.get_param @b2 : tensor<1xf32>
  %logit = mha.dense %hr, %w2, %b2 : tensor<?x256xf32>, tensor<256x1xf32>, tensor<1xf32>
  %p = mha.sigmoid %logit : tensor<?x1xf32>
  return %p : tensor<?x1xf32>
}

mha.training model = @forward loss = bce
    optimizer = <adam, learning_rate = 0.001>
    epochs = 20 batch_size = 32 metrics = ["accuracy"]
    dataset = <synthetic, samples = 2048, seq_len = 16, seed = 1, validation_split = 0.2>
