// A small byte-level causal language model (untrained) for the generation
// tests: token and learned position embeddings (a context of 24), one
// pre-norm attention layer written as a function (rotary embeddings on its
// queries and keys), a GELU MLP, logits over the 256 byte values.
mha.param @tok : tensor<256x16xf32> init <normal, std = 1.0>
mha.param @pos : tensor<24x16xf32> init <normal, std = 1.0>
mha.param @g : tensor<16xf32> init <ones>
mha.param @b : tensor<16xf32> init <zeros>
mha.param @wq : tensor<16x16xf32> init <glorot_uniform>
mha.param @wk : tensor<16x16xf32> init <glorot_uniform>
mha.param @wv : tensor<16x16xf32> init <glorot_uniform>
mha.param @w1 : tensor<16x32xf32> init <glorot_uniform>
mha.param @w2 : tensor<32x16xf32> init <glorot_uniform>
mha.param @head : tensor<16x256xf32> init <glorot_uniform>

func.func private @layer(%x: tensor<?x?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>,
                         %wq: tensor<16x16xf32>, %wk: tensor<16x16xf32>, %wv: tensor<16x16xf32>) -> tensor<?x?x16xf32> {
  %n = mha.layer_norm %x, %g, %b : tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %q = mha.dense %n, %wq : tensor<?x?x16xf32>, tensor<16x16xf32>
  %k = mha.dense %n, %wk : tensor<?x?x16xf32>, tensor<16x16xf32>
  %v = mha.dense %n, %wv : tensor<?x?x16xf32>, tensor<16x16xf32>
  %qs = mha.split_heads %q into 2 heads : tensor<?x?x16xf32>
  %ks = mha.split_heads %k into 2 heads : tensor<?x?x16xf32>
  %qh = mha.rotary %qs : tensor<?x2x?x8xf32>
  %kh = mha.rotary %ks : tensor<?x2x?x8xf32>
  %vh = mha.split_heads %v into 2 heads : tensor<?x?x16xf32>
  %o = mha.attention %qh, %kh, %vh causal : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
  %m = mha.merge_heads %o : tensor<?x2x?x8xf32>
  %r = mha.add %x, %m : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  return %r : tensor<?x?x16xf32>
}

func.func @lm(%tokens: tensor<?x?xi64>) -> tensor<?x?x256xf32> {
  %tok = mha.get_param @tok : tensor<256x16xf32>
  %pos = mha.get_param @pos : tensor<24x16xf32>
  %g = mha.get_param @g : tensor<16xf32>
  %b = mha.get_param @b : tensor<16xf32>
  %wq = mha.get_param @wq : tensor<16x16xf32>
  %wk = mha.get_param @wk : tensor<16x16xf32>
  %wv = mha.get_param @wv : tensor<16x16xf32>
  %w1 = mha.get_param @w1 : tensor<16x32xf32>
  %w2 = mha.get_param @w2 : tensor<32x16xf32>
  %head = mha.get_param @head : tensor<16x256xf32>
  %te = mha.embedding %tok, %tokens : tensor<256x16xf32>, tensor<?x?xi64>
  %ids = mha.positions %tokens dim = 1 : tensor<?x?xi64>
  %pe = mha.embedding %pos, %ids : tensor<24x16xf32>, tensor<?xi64>
  %x = mha.add %te, %pe : tensor<?x?x16xf32>, tensor<?x16xf32>
  %a = func.call @layer(%x, %g, %b, %wq, %wk, %wv) : (tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
  %h = mha.dense %a, %w1 : tensor<?x?x16xf32>, tensor<16x32xf32>
  %hg = mha.gelu %h : tensor<?x?x32xf32>
  %f = mha.dense %hg, %w2 : tensor<?x?x32xf32>, tensor<32x16xf32>
  %y = mha.add %a, %f : tensor<?x?x16xf32>, tensor<?x?x16xf32>
  %logits = mha.dense %y, %head : tensor<?x?x16xf32>, tensor<16x256xf32>
  return %logits : tensor<?x?x256xf32>
}

// Trained by train-text.test on a text given with --text.
mha.training model = @lm loss = cross_entropy optimizer = <adam, learning_rate = 0.01>
    epochs = 4 batch_size = 16 metrics = ["accuracy"]
