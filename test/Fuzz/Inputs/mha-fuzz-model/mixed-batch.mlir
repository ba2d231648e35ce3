func.func @mm(%a: tensor<?x2x3xf32>, %b: tensor<5x3x4xf32>) -> tensor<5x2x4xf32> {
  %c = mha.matmul %a, %b : tensor<?x2x3xf32>, tensor<5x3x4xf32>
  return %c : tensor<5x2x4xf32>
}
