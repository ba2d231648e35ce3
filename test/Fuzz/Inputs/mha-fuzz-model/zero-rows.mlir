func.func @d(%x: tensor<?x0x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<?x0x4xf32> {
  %y = mha.dense %x, %w, %b : tensor<?x0x8xf32>, tensor<8x4xf32>, tensor<4xf32>
  return %y : tensor<?x0x4xf32>
}
