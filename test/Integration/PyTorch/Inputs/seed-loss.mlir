// Appended to examples/seed_classifier.mlir by seed-crosscheck.test: the
// article's loss around the model, for mha-autodiff.
func.func @loss(%x: tensor<?x?x16xf32>, %y: tensor<?x1xf32>) -> tensor<f32> {
  %p = func.call @forward(%x) : (tensor<?x?x16xf32>) -> tensor<?x1xf32>
  %l = mha.bce_loss %p, %y : tensor<?x1xf32>, tensor<?x1xf32>
  return %l : tensor<f32>
}
