func.func @loss(%x: tensor<2x0x4x8xf32>) -> tensor<f32> {
  %m = mha.merge_heads %x : tensor<2x0x4x8xf32>
  %l = mha.reduce sum %m dims = [0, 1, 2] : tensor<2x4x0xf32>
  return %l : tensor<f32>
}
