// A model that does not parse (a type mismatch): mhaModelLoad must report it.
func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %y = mha.relu %x : tensor<3xf32>
  return %y : tensor<2xf32>
}
