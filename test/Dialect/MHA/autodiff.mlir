// RUN: mha-opt %s -mha-autodiff -split-input-file -verify-diagnostics | FileCheck %s
// RUN: mha-opt %s -mha-autodiff=wrt-inputs -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=INPUTS

mha.param @w : tensor<4x3xf32> init <glorot_uniform>
mha.param @b : tensor<3xf32> init <zeros>
mha.param @unused : tensor<2xf32> init <zeros>

// The gradient function keeps the forward ops and adds their adjoints in
// reverse order; it returns the loss and one gradient per parameter, in
// declaration order, zeros for parameters the loss does not read.
// CHECK-LABEL: func.func @loss_grad
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[Y:.*]]: tensor<?x3xf32>) -> (tensor<f32>, tensor<4x3xf32>, tensor<3xf32>, tensor<2xf32>)
// CHECK-SAME: attributes {mha.gradient_of = @loss}
// CHECK: %[[H:.*]] = mha.dense %[[X]]
// CHECK: %[[P:.*]] = mha.sigmoid %[[H]]
// CHECK: %[[L:.*]] = mha.bce_loss %[[P]], %[[Y]]
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DP:.*]] = mha.bce_loss_grad %[[P]], %[[Y]], %[[ONE]]
// CHECK: %[[DH:.*]] = mha.mul %[[DP]], %{{.*}} : tensor<?x3xf32>, tensor<?x3xf32>
// CHECK: %[[DW:.*]] = mha.dense_weight_grad %[[X]], %[[DH]]
// CHECK: %[[DB:.*]] = mha.reduce sum %[[DH]] dims = [0]
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK: return %[[L]], %[[DW]], %[[DB]], %[[ZERO]]
// INPUTS-LABEL: func.func @loss_grad
// INPUTS-SAME: -> (tensor<f32>, tensor<4x3xf32>, tensor<3xf32>, tensor<2xf32>, tensor<?x4xf32>, tensor<?x3xf32>)
func.func @loss(%x: tensor<?x4xf32>, %y: tensor<?x3xf32>) -> tensor<f32> {
  %w = mha.get_param @w : tensor<4x3xf32>
  %b = mha.get_param @b : tensor<3xf32>
  %h = mha.dense %x, %w, %b : tensor<?x4xf32>, tensor<4x3xf32>, tensor<3xf32>
  %p = mha.sigmoid %h : tensor<?x3xf32>
  %l = mha.bce_loss %p, %y : tensor<?x3xf32>, tensor<?x3xf32>
  return %l : tensor<f32>
}

// A function that is not a scalar loss is left alone.
// CHECK-NOT: func.func @negative_not_a_loss_grad
func.func @negative_not_a_loss(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// A value used twice gets the sum of both contributions; mha.attention is
// replaced by mha.attention_with_lse, whose adjoint is mha.attention_grad.
// CHECK-LABEL: func.func @attention_loss_grad
// CHECK: %[[O:.*]], %[[LSE:.*]] = mha.attention_with_lse %[[Q:[^,]*]], %[[Q]], %[[Q]] causal
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]] = mha.attention_grad %[[Q]], %[[Q]], %[[Q]], %[[O]], %[[LSE]], %{{.*}} causal
// CHECK: %[[S1:.*]] = mha.add %[[DQ]], %[[DK]]
// CHECK: mha.add %[[S1]], %[[DV]]
// INPUTS-LABEL: func.func @attention_loss_grad
// INPUTS-SAME: -> (tensor<f32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>)
func.func @attention_loss(%q: tensor<2x4x8xf32>, %t: tensor<2x4x8xf32>) -> tensor<f32> {
  %o = mha.attention %q, %q, %q causal : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
  %l = mha.mse_loss %o, %t : tensor<2x4x8xf32>, tensor<2x4x8xf32>
  return %l : tensor<f32>
}

// -----

// CHECK-LABEL: func.func @norm_loss_grad
// CHECK: %[[DX:.*]], %[[DG:.*]], %[[DB:.*]] = mha.layer_norm_grad
// CHECK: return %{{.*}}, %[[DG]], %[[DB]]
mha.param @gamma : tensor<4xf32> init <ones>
mha.param @beta : tensor<4xf32> init <zeros>
func.func @norm_loss(%x: tensor<2x4xf32>, %t: tensor<2x4xf32>) -> tensor<f32> {
  %g = mha.get_param @gamma : tensor<4xf32>
  %b = mha.get_param @beta : tensor<4xf32>
  %n = mha.layer_norm %x, %g, %b : tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>
  %l = mha.mse_loss %n, %t : tensor<2x4xf32>, tensor<2x4xf32>
  return %l : tensor<f32>
}

// -----

// A layer written once as a function and called twice with different
// parameters: the gradient function inlines both calls (and the call inside
// the layer) and differentiates the result; the forward keeps its calls.
mha.param @w1 : tensor<4x4xf32> init <glorot_uniform>
mha.param @w2 : tensor<4x4xf32> init <glorot_uniform>
func.func private @act(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %r = mha.relu %x : tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
func.func private @layer(%x: tensor<?x4xf32>, %w: tensor<4x4xf32>) -> tensor<?x4xf32> {
  %h = mha.dense %x, %w : tensor<?x4xf32>, tensor<4x4xf32>
  %r = func.call @act(%h) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
// CHECK-LABEL: func.func @two_layers(
// CHECK: call @layer
// CHECK: call @layer
// CHECK-LABEL: func.func @two_layers_grad
// CHECK-NOT: call
// CHECK: %[[W1:.*]] = mha.get_param @w1
// CHECK: %[[W2:.*]] = mha.get_param @w2
// CHECK: %[[H1:.*]] = mha.dense %{{.*}}, %[[W1]]
// CHECK: %[[R1:.*]] = mha.relu %[[H1]]
// CHECK: %[[H2:.*]] = mha.dense %[[R1]], %[[W2]]
// CHECK: mha.relu %[[H2]]
// CHECK: mha.dense_weight_grad %[[R1]]
// CHECK: mha.dense_weight_grad
// CHECK-NOT: call
// CHECK: return
func.func @two_layers(%x: tensor<?x4xf32>, %t: tensor<?x4xf32>) -> tensor<f32> {
  %w1 = mha.get_param @w1 : tensor<4x4xf32>
  %w2 = mha.get_param @w2 : tensor<4x4xf32>
  %a = func.call @layer(%x, %w1) : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %b = func.call @layer(%a, %w2) : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %l = mha.mse_loss %b, %t : tensor<?x4xf32>, tensor<?x4xf32>
  return %l : tensor<f32>
}

// -----

func.func private @external(%x: tensor<4xf32>) -> tensor<4xf32>
func.func @negative_external_call(%x: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+1 {{'func.call' op mha-autodiff can only inline calls to functions with a single-block body}}
  %y = func.call @external(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %s = mha.reduce sum %y dims = [0] : tensor<4xf32>
  return %s : tensor<f32>
}

// -----

func.func private @recursive(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'func.call' op mha-autodiff: calls nested more than 64 deep (a recursive layer?)}}
  %y = func.call @recursive(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func @negative_recursive_call(%x: tensor<4xf32>) -> tensor<f32> {
  %y = func.call @recursive(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %s = mha.reduce sum %y dims = [0] : tensor<4xf32>
  return %s : tensor<f32>
}

// -----

// Second-order gradients are not supported: gradient ops have no rule.
func.func @negative_no_rule(%x: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+1 {{'mha.relu_grad' op has no gradient rule (needed by mha-autodiff for @negative_no_rule)}}
  %g = mha.relu_grad %x, %x : tensor<4xf32>
  %s = mha.reduce sum %g dims = [0] : tensor<4xf32>
  return %s : tensor<f32>
}

// -----

// reduce max sends the gradient to the maxima; a boolean or causal mask
// zeroes it where scores were masked.
// CHECK-LABEL: func.func @max_and_mask_grad
// CHECK: %[[M:.*]] = mha.reduce max %{{.*}} dims = [1]
// CHECK: %[[DM:.*]] = mha.reduce_max_grad %{{.*}}, %[[M]], %{{.*}} dims = [1] : tensor<4x4xf32>, tensor<4xf32>
// CHECK: mha.apply_mask %[[DM]] causal zero_fill : tensor<4x4xf32>
func.func @max_and_mask(%x: tensor<4x4xf32>) -> tensor<f32> {
  %m = mha.apply_mask %x causal : tensor<4x4xf32>
  %r = mha.reduce max %m dims = [1] : tensor<4x4xf32>
  %s = mha.reduce sum %r dims = [0] : tensor<4xf32>
  return %s : tensor<f32>
}

// -----

// An additive attention mask is differentiated: attention_grad returns its
// gradient (mask_grad). An input nobody differentiates gets a real zero
// (broadcast_to of 0), not input * 0, which is NaN for a -inf entry.
// CHECK-LABEL: func.func @additive_mask_loss_grad
// CHECK: %[[O:.*]], %[[LSE:.*]] = mha.attention_with_lse %[[Q:[^,]*]], %[[Q]], %[[Q]] mask(%[[B:.*]] : tensor<2x1x4xf32>)
// CHECK: mha.attention_grad %[[Q]], %[[Q]], %[[Q]], %[[O]], %[[LSE]], %{{.*}} mask(%[[B]] : tensor<2x1x4xf32>) : {{.*}}, mask_grad tensor<2x1x4xf32>
// INPUTS-LABEL: func.func @additive_mask_loss_grad
// INPUTS: %{{.*}}, %{{.*}}, %{{.*}}, %[[DB:.*]] = mha.attention_grad {{.*}}, mask_grad tensor<2x1x4xf32>
// INPUTS: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<f32>
// INPUTS: %[[Z:.*]] = mha.broadcast_to %[[ZERO]] like %{{.*}} dims = [0, 1, 2] : tensor<f32>, tensor<2x4x8xf32>
// INPUTS-NOT: mha.mul
// INPUTS: return %{{.*}}, %{{.*}}, %[[DB]], %[[Z]] :
func.func @additive_mask_loss(%q: tensor<2x4x8xf32>, %bias: tensor<2x1x4xf32>, %t: tensor<2x4x8xf32>) -> tensor<f32> {
  %o = mha.attention %q, %q, %q mask(%bias : tensor<2x1x4xf32>) : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
  %l = mha.mse_loss %o, %t : tensor<2x4x8xf32>, tensor<2x4x8xf32>
  return %l : tensor<f32>
}

// -----

// apply_mask passes its gradient to an additive mask, summed over the
// dimensions the mask was broadcast along, after zeroing causal positions.
// CHECK-LABEL: func.func @apply_additive_mask_loss_grad
// CHECK: %[[DS:.*]] = mha.apply_mask %{{.*}} causal zero_fill : tensor<3x5xf32>
// CHECK: %[[DB:.*]] = mha.reduce_to %[[DS]] like %{{.*}} : tensor<3x5xf32>, tensor<5xf32>
func.func @apply_additive_mask_loss(%x: tensor<3x5xf32>, %bias: tensor<5xf32>) -> tensor<f32> {
  %m = mha.apply_mask %x mask(%bias : tensor<5xf32>) causal : tensor<3x5xf32>
  %s = mha.softmax %m : tensor<3x5xf32>
  %l = mha.reduce sum %s dims = [0, 1] : tensor<3x5xf32>
  return %l : tensor<f32>
}

// -----

// A dynamic feature size makes dense_weight_grad infer [?, 8]; the gradient
// of the static [4, 8] weight is cast to the weight's type, so the update
// that consumes it verifies (issue 11).
// CHECK-LABEL: func.func @dynamic_features_grad
// CHECK: %[[DW:.*]] = mha.dense_weight_grad %{{.*}}, %{{.*}} : tensor<?x?xf32>, tensor<?x8xf32>
// CHECK: %[[CAST:.*]] = tensor.cast %[[DW]] : tensor<?x8xf32> to tensor<4x8xf32>
// CHECK: return %{{.*}}, %[[CAST]] : tensor<f32>, tensor<4x8xf32>
mha.param @w : tensor<4x8xf32> init <glorot_uniform>
func.func @dynamic_features(%x: tensor<?x?xf32>) -> tensor<f32> {
  %w = mha.get_param @w : tensor<4x8xf32>
  %y = mha.dense %x, %w : tensor<?x?xf32>, tensor<4x8xf32>
  %l = mha.reduce sum %y dims = [0, 1] : tensor<?x8xf32>
  return %l : tensor<f32>
}

// -----

// Embeddings: the table's gradient is a scatter-add of the rows' gradients
// (mha.embedding_grad); integer ids get none, even with wrt-inputs.
mha.param @emb : tensor<16x4xf32> init <normal, std = 0.02>
// CHECK-LABEL: func.func @lm_grad
// CHECK-SAME: (%[[IDS:[^:]*]]: tensor<?x?xi64>, %[[Y:[^:]*]]: tensor<?x?x4xf32>) -> (tensor<f32>, tensor<16x4xf32>)
// CHECK: %[[T:.*]] = mha.get_param @emb
// CHECK: %[[X:.*]] = mha.embedding %[[T]], %[[IDS]]
// CHECK: %[[DX:.*]] = mha.mse_loss_grad %[[X]], %[[Y]]
// CHECK: %[[DT:.*]] = mha.embedding_grad %[[T]], %[[IDS]], %[[DX]] : tensor<16x4xf32>, tensor<?x?xi64>, tensor<?x?x4xf32>
// CHECK: return %{{.*}}, %[[DT]]
// INPUTS-LABEL: func.func @lm_grad
// INPUTS-SAME: -> (tensor<f32>, tensor<16x4xf32>, tensor<?x?x4xf32>)
func.func @lm(%ids: tensor<?x?xi64>, %y: tensor<?x?x4xf32>) -> tensor<f32> {
  %t = mha.get_param @emb : tensor<16x4xf32>
  %x = mha.embedding %t, %ids : tensor<16x4xf32>, tensor<?x?xi64>
  %l = mha.mse_loss %x, %y : tensor<?x?x4xf32>, tensor<?x?x4xf32>
  return %l : tensor<f32>
}
