// An outer product: small inputs, a large result ([M, 1] x [1, N]).
func.func @outer(%x: tensor<?x?xf32>, %y: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = mha.matmul %x, %y : tensor<?x?xf32>, tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
