// Denormal arithmetic: x + x and attention over denormal values, on the
// calling thread and (attention over 2 batch elements) on OpenMP workers.
func.func @double(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = mha.add %x, %x : tensor<4xf32>, tensor<4xf32>
  return %y : tensor<4xf32>
}

func.func @attend(%q: tensor<2x4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %o = mha.attention %q, %q, %v : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}
