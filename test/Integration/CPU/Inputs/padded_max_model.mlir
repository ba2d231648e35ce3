// Two inputs: token ids and a key-padding mask. Every real position is
// labelled with the largest real token: one attention layer whose keys
// score tokens by size finds it, provided padding keys are masked out.
mha.param @emb : tensor<8x16xf32> init <normal, std = 0.5>
mha.param @wq : tensor<16x16xf32> init <glorot_uniform>
mha.param @wk : tensor<16x16xf32> init <glorot_uniform>
mha.param @wv : tensor<16x16xf32> init <glorot_uniform>
mha.param @wo : tensor<16x8xf32> init <glorot_uniform>

func.func @forward(%tokens: tensor<?x8xi64>, %keep: tensor<?x1x1x8xi1>) -> tensor<?x8x8xf32> {
  %table = mha.get_param @emb : tensor<8x16xf32>
  %x = mha.embedding %table, %tokens : tensor<8x16xf32>, tensor<?x8xi64>
  %wq = mha.get_param @wq : tensor<16x16xf32>
  %wk = mha.get_param @wk : tensor<16x16xf32>
  %wv = mha.get_param @wv : tensor<16x16xf32>
  %q = mha.dense %x, %wq : tensor<?x8x16xf32>, tensor<16x16xf32>
  %k = mha.dense %x, %wk : tensor<?x8x16xf32>, tensor<16x16xf32>
  %v = mha.dense %x, %wv : tensor<?x8x16xf32>, tensor<16x16xf32>
  %qh = mha.split_heads %q into 2 heads : tensor<?x8x16xf32>
  %kh = mha.split_heads %k into 2 heads : tensor<?x8x16xf32>
  %vh = mha.split_heads %v into 2 heads : tensor<?x8x16xf32>
  %s = mha.scaled_matmul %qh, %kh : tensor<?x2x8x8xf32>, tensor<?x2x8x8xf32>
  %m = mha.apply_mask %s mask(%keep : tensor<?x1x1x8xi1>) : tensor<?x2x8x8xf32>
  %p = mha.softmax %m : tensor<?x2x8x8xf32>
  %o = mha.matmul %p, %vh : tensor<?x2x8x8xf32>, tensor<?x2x8x8xf32>
  %h = mha.merge_heads %o : tensor<?x2x8x8xf32>
  %wo = mha.get_param @wo : tensor<16x8xf32>
  %z = mha.dense %h, %wo : tensor<?x8x16xf32>, tensor<16x8xf32>
  return %z : tensor<?x8x8xf32>
}

mha.training model = @forward loss = cross_entropy optimizer = <adam, learning_rate = 0.02>
    epochs = 30 batch_size = 32 metrics = ["accuracy"]
    dataset = <npy, data = {tokens = "ids.npy", keep = "keep.npy"}, labels = "labels.npy">
    ignore_index = -100
