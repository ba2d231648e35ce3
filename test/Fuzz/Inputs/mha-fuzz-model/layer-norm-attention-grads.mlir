mha.param @g : tensor<8xf32> init <ones>
mha.param @b : tensor<8xf32> init <zeros>
mha.param @w : tensor<8x8xf32> init <glorot_uniform>
func.func @loss(%x: tensor<2x?x8xf32>, %y: tensor<2x?x8xf32>) -> tensor<f32> {
  %g = mha.get_param @g : tensor<8xf32>
  %b = mha.get_param @b : tensor<8xf32>
  %w = mha.get_param @w : tensor<8x8xf32>
  %l = mha.layer_norm %x, %g, %b : tensor<2x?x8xf32>, tensor<8xf32>, tensor<8xf32>
  %d = mha.dense %l, %w : tensor<2x?x8xf32>, tensor<8x8xf32>
  %a = mha.attention %d, %d, %d : tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x?x8xf32>
  %s = mha.add %a, %d : tensor<2x?x8xf32>, tensor<2x?x8xf32>
  %r = mha.reduce sum %s dims = [0, 1, 2] : tensor<2x?x8xf32>
  return %r : tensor<f32>
}
