// A byte-level GPT: token and learned position embeddings, 2 pre-norm
// decoder layers (causal self-attention, 4 heads of 32, and a GELU MLP of
// width 512, each with a residual connection), a final layer norm and a
// projection to the 256 byte values. The layer is written once, as
// @decoder_layer, and called with each layer's parameters.
//
// Train it on a text every Debian machine has, then sample from it:
//
//   mha-run examples/gpt.mlir --train --save gpt.safetensors
//   mha-run examples/gpt.mlir --params gpt.safetensors --generate \
//       --prompt "This License" --max-tokens 200 --temperature 0.8 --top-k 40
//
// Context: 64 positions (the position table's rows); past it the generator
// continues from the last 32 bytes. docs/HowToGPT.md walks through this
// file.

mha.param @tok_emb : tensor<256x128xf32> init <normal, std = 0.02>
mha.param @pos_emb : tensor<64x128xf32> init <normal, std = 0.02>
mha.param @l0_ln1_g : tensor<128xf32> init <ones>
mha.param @l0_ln1_b : tensor<128xf32> init <zeros>
mha.param @l0_wq : tensor<128x128xf32> init <glorot_uniform>
mha.param @l0_wk : tensor<128x128xf32> init <glorot_uniform>
mha.param @l0_wv : tensor<128x128xf32> init <glorot_uniform>
mha.param @l0_wo : tensor<128x128xf32> init <glorot_uniform>
mha.param @l0_bo : tensor<128xf32> init <zeros>
mha.param @l0_ln2_g : tensor<128xf32> init <ones>
mha.param @l0_ln2_b : tensor<128xf32> init <zeros>
mha.param @l0_w1 : tensor<128x512xf32> init <glorot_uniform>
mha.param @l0_b1 : tensor<512xf32> init <zeros>
mha.param @l0_w2 : tensor<512x128xf32> init <glorot_uniform>
mha.param @l0_b2 : tensor<128xf32> init <zeros>
mha.param @l1_ln1_g : tensor<128xf32> init <ones>
mha.param @l1_ln1_b : tensor<128xf32> init <zeros>
mha.param @l1_wq : tensor<128x128xf32> init <glorot_uniform>
mha.param @l1_wk : tensor<128x128xf32> init <glorot_uniform>
mha.param @l1_wv : tensor<128x128xf32> init <glorot_uniform>
mha.param @l1_wo : tensor<128x128xf32> init <glorot_uniform>
mha.param @l1_bo : tensor<128xf32> init <zeros>
mha.param @l1_ln2_g : tensor<128xf32> init <ones>
mha.param @l1_ln2_b : tensor<128xf32> init <zeros>
mha.param @l1_w1 : tensor<128x512xf32> init <glorot_uniform>
mha.param @l1_b1 : tensor<512xf32> init <zeros>
mha.param @l1_w2 : tensor<512x128xf32> init <glorot_uniform>
mha.param @l1_b2 : tensor<128xf32> init <zeros>
mha.param @lnf_g : tensor<128xf32> init <ones>
mha.param @lnf_b : tensor<128xf32> init <zeros>
mha.param @head : tensor<128x256xf32> init <glorot_uniform>

// x + Dropout(Attention(LN(x))), then + Dropout(MLP(LN(.))); dropout is
// active in training only.
func.func private @decoder_layer(%x: tensor<?x?x128xf32>,
    %ln1_g: tensor<128xf32>, %ln1_b: tensor<128xf32>, %wq: tensor<128x128xf32>, %wk: tensor<128x128xf32>, %wv: tensor<128x128xf32>,
    %wo: tensor<128x128xf32>, %bo: tensor<128xf32>, %ln2_g: tensor<128xf32>, %ln2_b: tensor<128xf32>,
    %w1: tensor<128x512xf32>, %b1: tensor<512xf32>, %w2: tensor<512x128xf32>, %b2: tensor<128xf32>) -> tensor<?x?x128xf32> {
  %n1 = mha.layer_norm %x, %ln1_g, %ln1_b : tensor<?x?x128xf32>, tensor<128xf32>, tensor<128xf32>
  %q = mha.dense %n1, %wq : tensor<?x?x128xf32>, tensor<128x128xf32>
  %k = mha.dense %n1, %wk : tensor<?x?x128xf32>, tensor<128x128xf32>
  %v = mha.dense %n1, %wv : tensor<?x?x128xf32>, tensor<128x128xf32>
  %qh = mha.split_heads %q into 4 heads : tensor<?x?x128xf32>
  %kh = mha.split_heads %k into 4 heads : tensor<?x?x128xf32>
  %vh = mha.split_heads %v into 4 heads : tensor<?x?x128xf32>
  %o = mha.attention %qh, %kh, %vh causal : tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>
  %m = mha.merge_heads %o : tensor<?x4x?x32xf32>
  %a = mha.dense %m, %wo, %bo : tensor<?x?x128xf32>, tensor<128x128xf32>, tensor<128xf32>
  %ad = mha.dropout %a rate = 1.000000e-01 : tensor<?x?x128xf32>
  %r1 = mha.add %x, %ad : tensor<?x?x128xf32>, tensor<?x?x128xf32>
  %n2 = mha.layer_norm %r1, %ln2_g, %ln2_b : tensor<?x?x128xf32>, tensor<128xf32>, tensor<128xf32>
  %h = mha.dense %n2, %w1, %b1 : tensor<?x?x128xf32>, tensor<128x512xf32>, tensor<512xf32>
  %g = mha.gelu %h : tensor<?x?x512xf32>
  %f = mha.dense %g, %w2, %b2 : tensor<?x?x512xf32>, tensor<512x128xf32>, tensor<128xf32>
  %fd = mha.dropout %f rate = 1.000000e-01 : tensor<?x?x128xf32>
  %r2 = mha.add %r1, %fd : tensor<?x?x128xf32>, tensor<?x?x128xf32>
  return %r2 : tensor<?x?x128xf32>
}

func.func @gpt(%tokens: tensor<?x?xi64>) -> tensor<?x?x256xf32> {
  %tok_emb = mha.get_param @tok_emb : tensor<256x128xf32>
  %pos_emb = mha.get_param @pos_emb : tensor<64x128xf32>
  %te = mha.embedding %tok_emb, %tokens : tensor<256x128xf32>, tensor<?x?xi64>
  %pos = mha.positions %tokens dim = 1 : tensor<?x?xi64>
  %pe = mha.embedding %pos_emb, %pos : tensor<64x128xf32>, tensor<?xi64>
  %x0 = mha.add %te, %pe : tensor<?x?x128xf32>, tensor<?x128xf32>
  %l0_ln1_g = mha.get_param @l0_ln1_g : tensor<128xf32>
  %l0_ln1_b = mha.get_param @l0_ln1_b : tensor<128xf32>
  %l0_wq = mha.get_param @l0_wq : tensor<128x128xf32>
  %l0_wk = mha.get_param @l0_wk : tensor<128x128xf32>
  %l0_wv = mha.get_param @l0_wv : tensor<128x128xf32>
  %l0_wo = mha.get_param @l0_wo : tensor<128x128xf32>
  %l0_bo = mha.get_param @l0_bo : tensor<128xf32>
  %l0_ln2_g = mha.get_param @l0_ln2_g : tensor<128xf32>
  %l0_ln2_b = mha.get_param @l0_ln2_b : tensor<128xf32>
  %l0_w1 = mha.get_param @l0_w1 : tensor<128x512xf32>
  %l0_b1 = mha.get_param @l0_b1 : tensor<512xf32>
  %l0_w2 = mha.get_param @l0_w2 : tensor<512x128xf32>
  %l0_b2 = mha.get_param @l0_b2 : tensor<128xf32>
  %x1 = func.call @decoder_layer(%x0, %l0_ln1_g, %l0_ln1_b, %l0_wq, %l0_wk, %l0_wv, %l0_wo, %l0_bo, %l0_ln2_g, %l0_ln2_b, %l0_w1, %l0_b1, %l0_w2, %l0_b2)
      : (tensor<?x?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128x512xf32>, tensor<512xf32>, tensor<512x128xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  %l1_ln1_g = mha.get_param @l1_ln1_g : tensor<128xf32>
  %l1_ln1_b = mha.get_param @l1_ln1_b : tensor<128xf32>
  %l1_wq = mha.get_param @l1_wq : tensor<128x128xf32>
  %l1_wk = mha.get_param @l1_wk : tensor<128x128xf32>
  %l1_wv = mha.get_param @l1_wv : tensor<128x128xf32>
  %l1_wo = mha.get_param @l1_wo : tensor<128x128xf32>
  %l1_bo = mha.get_param @l1_bo : tensor<128xf32>
  %l1_ln2_g = mha.get_param @l1_ln2_g : tensor<128xf32>
  %l1_ln2_b = mha.get_param @l1_ln2_b : tensor<128xf32>
  %l1_w1 = mha.get_param @l1_w1 : tensor<128x512xf32>
  %l1_b1 = mha.get_param @l1_b1 : tensor<512xf32>
  %l1_w2 = mha.get_param @l1_w2 : tensor<512x128xf32>
  %l1_b2 = mha.get_param @l1_b2 : tensor<128xf32>
  %x2 = func.call @decoder_layer(%x1, %l1_ln1_g, %l1_ln1_b, %l1_wq, %l1_wk, %l1_wv, %l1_wo, %l1_bo, %l1_ln2_g, %l1_ln2_b, %l1_w1, %l1_b1, %l1_w2, %l1_b2)
      : (tensor<?x?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128x512xf32>, tensor<512xf32>, tensor<512x128xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  %lnf_g = mha.get_param @lnf_g : tensor<128xf32>
  %lnf_b = mha.get_param @lnf_b : tensor<128xf32>
  %n = mha.layer_norm %x2, %lnf_g, %lnf_b : tensor<?x?x128xf32>, tensor<128xf32>, tensor<128xf32>
  %head = mha.get_param @head : tensor<128x256xf32>
  %logits = mha.dense %n, %head : tensor<?x?x128xf32>, tensor<128x256xf32>
  return %logits : tensor<?x?x256xf32>
}

// Next-byte prediction on the GNU GPL v3 text: windows of 64 bytes, the
// last 10% of the file held out for validation.
mha.training model = @gpt loss = cross_entropy
    optimizer = <adamw, learning_rate = 0.002, weight_decay = 0.01>
    epochs = 12 batch_size = 16 metrics = ["accuracy"]
    dataset = <text, seq_len = 64, validation_split = 0.1, data = "/usr/share/common-licenses/GPL-3">
