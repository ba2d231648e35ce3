mha.param @w : tensor<8x8xf16> init <glorot_uniform>
func.func @f(%x: tensor<?x?x8xf16>) -> tensor<?x?x8xf16> {
  %w = mha.get_param @w : tensor<8x8xf16>
  %y = mha.dense %x, %w : tensor<?x?x8xf16>, tensor<8x8xf16>
  %s = mha.softmax %y : tensor<?x?x8xf16>
  %h = mha.split_heads %s into 2 heads : tensor<?x?x8xf16>
  %a = mha.attention %h, %h, %h causal : tensor<?x2x?x4xf16>, tensor<?x2x?x4xf16>, tensor<?x2x?x4xf16>
  %m = mha.merge_heads %a : tensor<?x2x?x4xf16>
  return %m : tensor<?x?x8xf16>
}
