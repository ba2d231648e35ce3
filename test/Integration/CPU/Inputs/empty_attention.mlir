// Attention over empty sequences (static sizes of 0): no queries, and
// queries that see no key (zeros, lse -inf), forward and backward.
func.func @no_queries(%q: tensor<2x0x16xf32>, %k: tensor<2x5x16xf32>, %v: tensor<2x5x4xf32>) -> tensor<2x0x4xf32> {
  %o = mha.attention %q, %k, %v causal : tensor<2x0x16xf32>, tensor<2x5x16xf32>, tensor<2x5x4xf32>
  return %o : tensor<2x0x4xf32>
}
func.func @no_keys(%q: tensor<2x3x16xf32>, %k: tensor<2x0x16xf32>, %v: tensor<2x0x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3xf32>) {
  %o, %l = mha.attention_with_lse %q, %k, %v : tensor<2x3x16xf32>, tensor<2x0x16xf32>, tensor<2x0x4xf32>
  return %o, %l : tensor<2x3x4xf32>, tensor<2x3xf32>
}
func.func @grad_no_keys(%q: tensor<2x3x16xf32>, %k: tensor<2x0x16xf32>, %v: tensor<2x0x4xf32>, %do: tensor<2x3x4xf32>) -> tensor<2x3x16xf32> {
  %o, %l = mha.attention_with_lse %q, %k, %v : tensor<2x3x16xf32>, tensor<2x0x16xf32>, tensor<2x0x4xf32>
  %dq, %dk, %dv = mha.attention_grad %q, %k, %v, %o, %l, %do : tensor<2x3x16xf32>, tensor<2x0x16xf32>, tensor<2x0x4xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>
  return %dq : tensor<2x3x16xf32>
}
