// One transformer encoder layer (post-norm, as in "Attention Is All You
// Need"), d_model = 128, 4 heads of depth 32, feed-forward width 512:
//
//   a = LayerNorm(x + Dense(MHA(x, x, x, padding mask)))
//   y = LayerNorm(a + Dense(GELU(Dense(a))))
//
// `keep` marks the real (non-padding) keys of each sequence: [B, 1, 1, S],
// broadcast over heads and queries. Batch and sequence length are dynamic.
//
// `mha-run examples/encoder_block.mlir --train` trains it on the built-in
// padded-sequence task (docs/Training.md): one-hot tokens in 16 of the 128
// features, sequences of random length padded to 16, and at every real
// position the class "largest real token", read from the 128 outputs as
// logits. Padding tokens are drawn like real ones, so the padding mask is
// what makes the task solvable.

mha.param @wq : tensor<128x128xf32> init <glorot_uniform>
mha.param @wk : tensor<128x128xf32> init <glorot_uniform>
mha.param @wv : tensor<128x128xf32> init <glorot_uniform>
mha.param @wo : tensor<128x128xf32> init <glorot_uniform>
mha.param @bo : tensor<128xf32> init <zeros>
mha.param @ln1_gamma : tensor<128xf32> init <ones>
mha.param @ln1_beta : tensor<128xf32> init <zeros>
mha.param @ff1 : tensor<128x512xf32> init <glorot_uniform>
mha.param @ff1_bias : tensor<512xf32> init <zeros>
mha.param @ff2 : tensor<512x128xf32> init <glorot_uniform>
mha.param @ff2_bias : tensor<128xf32> init <zeros>
mha.param @ln2_gamma : tensor<128xf32> init <ones>
mha.param @ln2_beta : tensor<128xf32> init <zeros>

func.func @encoder(%x: tensor<?x?x128xf32>, %keep: tensor<?x1x1x?xi1>) -> tensor<?x?x128xf32> {
  // Self-attention with a padding mask.
  %wq = mha.get_param @wq : tensor<128x128xf32>
  %wk = mha.get_param @wk : tensor<128x128xf32>
  %wv = mha.get_param @wv : tensor<128x128xf32>
  %q = mha.dense %x, %wq : tensor<?x?x128xf32>, tensor<128x128xf32>
  %k = mha.dense %x, %wk : tensor<?x?x128xf32>, tensor<128x128xf32>
  %v = mha.dense %x, %wv : tensor<?x?x128xf32>, tensor<128x128xf32>
  %qh = mha.split_heads %q into 4 heads : tensor<?x?x128xf32>
  %kh = mha.split_heads %k into 4 heads : tensor<?x?x128xf32>
  %vh = mha.split_heads %v into 4 heads : tensor<?x?x128xf32>
  %scores = mha.scaled_matmul %qh, %kh : tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>
  %masked = mha.apply_mask %scores mask(%keep : tensor<?x1x1x?xi1>) : tensor<?x4x?x?xf32>
  %weights = mha.softmax %masked : tensor<?x4x?x?xf32>
  %heads = mha.matmul %weights, %vh : tensor<?x4x?x?xf32>, tensor<?x4x?x32xf32>
  %merged = mha.merge_heads %heads : tensor<?x4x?x32xf32>
  %wo = mha.get_param @wo : tensor<128x128xf32>
  %bo = mha.get_param @bo : tensor<128xf32>
  %attn = mha.dense %merged, %wo, %bo : tensor<?x?x128xf32>, tensor<128x128xf32>, tensor<128xf32>

  // Residual and layer norm.
  %res1 = mha.add %x, %attn : tensor<?x?x128xf32>, tensor<?x?x128xf32>
  %g1 = mha.get_param @ln1_gamma : tensor<128xf32>
  %b1 = mha.get_param @ln1_beta : tensor<128xf32>
  %a = mha.layer_norm %res1, %g1, %b1 : tensor<?x?x128xf32>, tensor<128xf32>, tensor<128xf32>

  // Position-wise feed-forward with GELU.
  %w1 = mha.get_param @ff1 : tensor<128x512xf32>
  %c1 = mha.get_param @ff1_bias : tensor<512xf32>
  %h = mha.dense %a, %w1, %c1 : tensor<?x?x128xf32>, tensor<128x512xf32>, tensor<512xf32>
  %hg = mha.gelu %h : tensor<?x?x512xf32>
  %w2 = mha.get_param @ff2 : tensor<512x128xf32>
  %c2 = mha.get_param @ff2_bias : tensor<128xf32>
  %f = mha.dense %hg, %w2, %c2 : tensor<?x?x512xf32>, tensor<512x128xf32>, tensor<128xf32>

  // Residual and layer norm.
  %res2 = mha.add %a, %f : tensor<?x?x128xf32>, tensor<?x?x128xf32>
  %g2 = mha.get_param @ln2_gamma : tensor<128xf32>
  %b2 = mha.get_param @ln2_beta : tensor<128xf32>
  %y = mha.layer_norm %res2, %g2, %b2 : tensor<?x?x128xf32>, tensor<128xf32>, tensor<128xf32>
  return %y : tensor<?x?x128xf32>
}

mha.training model = @encoder loss = cross_entropy
    optimizer = <adam, learning_rate = 0.001>
    epochs = 8 batch_size = 32 metrics = ["accuracy"]
    dataset = <padded, samples = 2048, seq_len = 16, seed = 1, validation_split = 0.2>
    ignore_index = -100
