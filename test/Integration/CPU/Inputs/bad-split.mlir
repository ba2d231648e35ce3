func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = mha.split_heads %x into 3 heads : tensor<4xf32>
  return %y : tensor<4xf32>
}
