// Attention with every size dynamic (one head, no batch).
func.func @f(%q: tensor<?x?xf32>, %k: tensor<?x?xf32>, %v: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %o = mha.attention %q, %k, %v : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>
  return %o : tensor<?x?xf32>
}
