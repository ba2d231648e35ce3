// The seed article's multi-head attention classifier, with its mathematics
// done right (see docs/SeedArticle.md for what the article got wrong):
//
//   x [B, S, 16] --Dense--> Q, K, V [B, S, 512]  (d_model = 512)
//   split into 8 heads of depth 64            -> [B, 8, S, 64]
//   softmax(Q·Kᵀ/√64)·V per head              -> [B, 8, S, 64]
//   merge heads, output projection Dense(512) -> [B, S, 512]
//   mean over the sequence                    -> [B, 512]
//   Dense(1024, relu), Dense(1, sigmoid)      -> [B, 1]
//
// trained like the article's Keras model: binary cross-entropy, Adam with
// learning rate 1e-3, 20 epochs, accuracy. Batch and sequence length are
// dynamic: the compiled model runs on any B and S.

// Q, K, V and output projections.
mha.param @wq : tensor<16x512xf32> init <glorot_uniform>
mha.param @bq : tensor<512xf32> init <zeros>
mha.param @wk : tensor<16x512xf32> init <glorot_uniform>
mha.param @bk : tensor<512xf32> init <zeros>
mha.param @wv : tensor<16x512xf32> init <glorot_uniform>
mha.param @bv : tensor<512xf32> init <zeros>
mha.param @wo : tensor<512x512xf32> init <glorot_uniform>
mha.param @bo : tensor<512xf32> init <zeros>
// Classifier head.
mha.param @w1 : tensor<512x1024xf32> init <glorot_uniform>
mha.param @b1 : tensor<1024xf32> init <zeros>
mha.param @w2 : tensor<1024x1xf32> init <glorot_uniform>
mha.param @b2 : tensor<1xf32> init <zeros>

func.func @forward(%x: tensor<?x?x16xf32>) -> tensor<?x1xf32> {
  %wq = mha.get_param @wq : tensor<16x512xf32>
  %bq = mha.get_param @bq : tensor<512xf32>
  %wk = mha.get_param @wk : tensor<16x512xf32>
  %bk = mha.get_param @bk : tensor<512xf32>
  %wv = mha.get_param @wv : tensor<16x512xf32>
  %bv = mha.get_param @bv : tensor<512xf32>
  %q = mha.dense %x, %wq, %bq : tensor<?x?x16xf32>, tensor<16x512xf32>, tensor<512xf32>
  %k = mha.dense %x, %wk, %bk : tensor<?x?x16xf32>, tensor<16x512xf32>, tensor<512xf32>
  %v = mha.dense %x, %wv, %bv : tensor<?x?x16xf32>, tensor<16x512xf32>, tensor<512xf32>

  // [B, S, 512] -> [B, 8, S, 64]: depth d_model / num_heads, not dff.
  %qh = mha.split_heads %q into 8 heads : tensor<?x?x512xf32>
  %kh = mha.split_heads %k into 8 heads : tensor<?x?x512xf32>
  %vh = mha.split_heads %v into 8 heads : tensor<?x?x512xf32>

  // softmax(Q·Kᵀ/√d_k)·V, written out step by step as in the article;
  // mha-fuse-attention turns these three ops into one mha.attention.
  %scores = mha.scaled_matmul %qh, %kh : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
  %weights = mha.softmax %scores : tensor<?x8x?x?xf32>
  %heads = mha.matmul %weights, %vh : tensor<?x8x?x?xf32>, tensor<?x8x?x64xf32>

  // Merge the heads back and project.
  %merged = mha.merge_heads %heads : tensor<?x8x?x64xf32>
  %wo = mha.get_param @wo : tensor<512x512xf32>
  %bo = mha.get_param @bo : tensor<512xf32>
  %attn = mha.dense %merged, %wo, %bo : tensor<?x?x512xf32>, tensor<512x512xf32>, tensor<512xf32>

  // Pool over the sequence, then the classifier head.
  %pooled = mha.reduce mean %attn dims = [1] : tensor<?x?x512xf32>
  %w1 = mha.get_param @w1 : tensor<512x1024xf32>
  %b1 = mha.get_param @b1 : tensor<1024xf32>
  %h = mha.dense %pooled, %w1, %b1 : tensor<?x512xf32>, tensor<512x1024xf32>, tensor<1024xf32>
  %hr = mha.relu %h : tensor<?x1024xf32>
  %w2 = mha.get_param @w2 : tensor<1024x1xf32>
  %b2 = mha.get_param @b2 : tensor<1xf32>
  %logit = mha.dense %hr, %w2, %b2 : tensor<?x1024xf32>, tensor<1024x1xf32>, tensor<1xf32>
  %prob = mha.sigmoid %logit : tensor<?x1xf32>
  return %prob : tensor<?x1xf32>
}

// model.compile(loss='binary_crossentropy', optimizer=Adam(1e-3),
//               metrics=['accuracy']); model.fit(..., epochs=20)
mha.training model = @forward loss = bce
    optimizer = <adam, learning_rate = 0.001>
    epochs = 20 batch_size = 32 metrics = ["accuracy"]
    dataset = <synthetic, samples = 2048, seq_len = 16, seed = 1, validation_split = 0.2>
