// RUN: mha-opt %s -convert-mha-to-linalg -split-input-file -verify-diagnostics

mha.param @w : tensor<4xf32> init <zeros>
func.func @negative_get_param_left() -> tensor<4xf32> {
  // expected-error @+1 {{'mha.get_param' op must be turned into a function argument by mha-params-to-arguments before convert-mha-to-linalg}}
  %w = mha.get_param @w : tensor<4xf32>
  return %w : tensor<4xf32>
}
