// RUN: mha-opt %s -mha-build-decode-step -split-input-file -verify-diagnostics | FileCheck %s

// A one-layer causal language model whose layer is a function: the prefill
// returns the layer's keys and values; the decoding step shifts positions
// by its offset and appends the new keys and values to the cache, attending
// without the causal mask (one query sees every key before it and itself).
mha.param @emb : tensor<16x8xf32> init <normal, std = 0.02>
mha.param @pos : tensor<32x8xf32> init <normal, std = 0.02>
mha.param @wq : tensor<8x8xf32> init <glorot_uniform>
mha.param @head : tensor<8x16xf32> init <glorot_uniform>

func.func private @layer(%x: tensor<?x?x8xf32>, %w: tensor<8x8xf32>) -> tensor<?x?x8xf32> {
  %q = mha.dense %x, %w : tensor<?x?x8xf32>, tensor<8x8xf32>
  %h = mha.split_heads %q into 2 heads : tensor<?x?x8xf32>
  %s = mha.scaled_matmul %h, %h : tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
  %m = mha.apply_mask %s causal : tensor<?x2x?x?xf32>
  %p = mha.softmax %m : tensor<?x2x?x?xf32>
  %o = mha.matmul %p, %h : tensor<?x2x?x?xf32>, tensor<?x2x?x4xf32>
  %y = mha.merge_heads %o : tensor<?x2x?x4xf32>
  %r = mha.add %x, %y : tensor<?x?x8xf32>, tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

func.func @lm(%tokens: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
  %emb = mha.get_param @emb : tensor<16x8xf32>
  %pos = mha.get_param @pos : tensor<32x8xf32>
  %wq = mha.get_param @wq : tensor<8x8xf32>
  %head = mha.get_param @head : tensor<8x16xf32>
  %te = mha.embedding %emb, %tokens : tensor<16x8xf32>, tensor<?x?xi64>
  %ids = mha.positions %tokens dim = 1 : tensor<?x?xi64>
  %pe = mha.embedding %pos, %ids : tensor<32x8xf32>, tensor<?xi64>
  %x = mha.add %te, %pe : tensor<?x?x8xf32>, tensor<?x8xf32>
  %y = func.call @layer(%x, %wq) : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %logits = mha.dense %y, %head : tensor<?x?x8xf32>, tensor<8x16xf32>
  return %logits : tensor<?x?x16xf32>
}

// CHECK-LABEL: func.func @__mha_prefill(
// CHECK-SAME: %[[T:[^:]*]]: tensor<?x?xi64>)
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
// CHECK-NOT: func.call
// CHECK: %[[POS:.*]] = mha.positions %[[T]] dim = 1 : tensor<?x?xi64>
// CHECK: %[[H:.*]] = mha.split_heads
// CHECK: mha.attention %[[H]], %[[H]], %[[H]] causal
// CHECK: %[[L:.*]] = mha.dense
// CHECK: return %[[L]], %[[H]], %[[H]]

// CHECK-LABEL: func.func @__mha_decode(
// CHECK-SAME: %[[T:[^:]*]]: tensor<?x?xi64>,
// CHECK-SAME: %[[OFF:[^:]*]]: tensor<i64> {mha.name = "offset"},
// CHECK-SAME: %[[KC:[^:]*]]: tensor<?x2x?x4xf32> {mha.name = "key_cache0"},
// CHECK-SAME: %[[VC:[^:]*]]: tensor<?x2x?x4xf32> {mha.name = "value_cache0"})
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
// CHECK: mha.positions %[[T]] dim = 1 offset(%[[OFF]] : tensor<i64>)
// CHECK: %[[H:.*]] = mha.split_heads
// CHECK: %[[K:.*]] = tensor.concat dim(2) %[[KC]], %[[H]]
// CHECK: %[[V:.*]] = tensor.concat dim(2) %[[VC]], %[[H]]
// CHECK: mha.attention %[[H]], %[[K]], %[[V]] :
// CHECK: %[[L:.*]] = mha.dense
// CHECK: return %[[L]], %[[K]], %[[V]]

// -----

// Sinusoidal positions and rotary embeddings take the offset too; a model
// without attention has no cache.
mha.param @emb : tensor<16x8xf32> init <normal, std = 0.02>
func.func @lm(%tokens: tensor<?x?xi32>) -> tensor<?x?x8xf32> {
  %emb = mha.get_param @emb : tensor<16x8xf32>
  %te = mha.embedding %emb, %tokens : tensor<16x8xf32>, tensor<?x?xi32>
  %pe = mha.sinusoidal_positions %tokens dim = 1 features = 8 : tensor<?x?xi32>
  %x = mha.add %te, %pe : tensor<?x?x8xf32>, tensor<?x8xf32>
  %r = mha.rotary %x : tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}
// CHECK-LABEL: func.func @__mha_prefill(
// CHECK-SAME: -> tensor<?x?x8xf32>
// CHECK-LABEL: func.func @__mha_decode(
// CHECK-SAME: %[[T:[^:]*]]: tensor<?x?xi32>, %[[OFF:[^:]*]]: tensor<i64> {mha.name = "offset"})
// CHECK-SAME: -> tensor<?x?x8xf32>
// CHECK: mha.sinusoidal_positions %[[T]] dim = 1 features = 8 offset(%[[OFF]] : tensor<i64>)
// CHECK: mha.rotary %{{.*}} offset(%[[OFF]] : tensor<i64>) : tensor<?x?x8xf32>

// -----

// Attention that is not causal lets a token see later ones: no cache.
func.func @lm(%tokens: tensor<?x?xi64>) -> tensor<?x?x4xf32> {
  %emb = arith.constant dense<1.0> : tensor<16x4xf32>
  %x = mha.embedding %emb, %tokens : tensor<16x4xf32>, tensor<?x?xi64>
  %h = mha.split_heads %x into 1 heads : tensor<?x?x4xf32>
  // expected-error @+1 {{'mha.attention' op mha-build-decode-step: generation needs causal attention without a mask (each token sees itself and the tokens before it)}}
  %o = mha.attention %h, %h, %h : tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>
  %y = mha.merge_heads %o : tensor<?x1x?x4xf32>
  return %y : tensor<?x?x4xf32>
}

// -----

// A reduction over the sequence mixes positions.
func.func @lm(%tokens: tensor<?x?xi64>) -> tensor<?x?x4xf32> {
  %emb = arith.constant dense<1.0> : tensor<16x4xf32>
  %x = mha.embedding %emb, %tokens : tensor<16x4xf32>, tensor<?x?xi64>
  // expected-error @+1 {{'mha.reduce' op mha-build-decode-step: generation with a key/value cache needs every op outside causal attention to work position by position; this one may mix positions}}
  %m = mha.reduce mean %x dims = [1] keep_dims : tensor<?x?x4xf32>
  %y = mha.add %x, %m : tensor<?x?x4xf32>, tensor<?x1x4xf32>
  return %y : tensor<?x?x4xf32>
}

// -----

// expected-error @+1 {{'func.func' op mha-build-decode-step: expects tokens [batch, ?] of integer ids and logits [batch, seq, vocabulary], got '(tensor<?x?xf32>) -> tensor<?x?xf32>'}}
func.func @lm(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  return %x : tensor<?x?xf32>
}

// -----

// expected-error @+1 {{'func.func' op mha-build-decode-step: expects a single-block language model @model(tokens) -> logits with one argument and one result}}
func.func @lm(%tokens: tensor<?x?xi64>, %keep: tensor<?x?xi1>) -> tensor<?x?x4xf32> {
  %emb = arith.constant dense<1.0> : tensor<16x4xf32>
  %x = mha.embedding %emb, %tokens : tensor<16x4xf32>, tensor<?x?xi64>
  return %x : tensor<?x?x4xf32>
}

// -----

// expected-error @+1 {{mha-build-decode-step: the module has no single public function and no mha.training; name the model with 'model='}}
module {
  func.func @a(%tokens: tensor<?x?xi64>) -> tensor<?x?xi64> {
    return %tokens : tensor<?x?xi64>
  }
  func.func @b(%tokens: tensor<?x?xi64>) -> tensor<?x?xi64> {
    return %tokens : tensor<?x?xi64>
  }
}
