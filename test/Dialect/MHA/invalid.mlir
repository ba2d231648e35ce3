// RUN: mha-opt %s -split-input-file -verify-diagnostics

// One case per verifier branch, attribute verifier and type-inference error.

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

// expected-error @+1 {{initializer 'normal' expects a positive 'std'}}
mha.param @negative_normal_without_std : tensor<4xf32> init <normal>

// -----

// expected-error @+1 {{initializer 'zeros' takes no 'std'}}
mha.param @negative_std_on_zeros : tensor<4xf32> init <zeros, std = 1.0>

// -----

// expected-error @+1 {{initializer 'uniform' expects a positive 'limit'}}
mha.param @negative_uniform_limit : tensor<4xf32> init <uniform, limit = -1.0>

// -----

// expected-error @+1 {{initializer 'normal' takes no 'limit'}}
mha.param @negative_limit_on_normal : tensor<4xf32> init <normal, std = 1.0, limit = 1.0>

// -----

// expected-error @+2 {{failed to parse MHA_InitializerAttr parameter 'kind'}}
// expected-error @+1 {{custom op 'mha.param' expected one of [zeros, ones, glorot_uniform, glorot_normal, normal, uniform] for parameter initializer, got: he_normal}}
mha.param @negative_unknown_init : tensor<4xf32> init <he_normal>

// -----

// expected-error @+1 {{optimizer 'adam' expects a positive 'learning_rate'}}
#bad = #mha.optimizer<adam, learning_rate = 0.0>

// -----

// expected-error @+1 {{optimizer 'adam' takes no 'momentum' (use beta1)}}
#bad = #mha.optimizer<adam, learning_rate = 0.1, momentum = 0.9>

// -----

// expected-error @+1 {{optimizer 'sgd' takes no 'beta1'}}
#bad = #mha.optimizer<sgd, learning_rate = 0.1, beta1 = 0.9>

// -----

// expected-error @+1 {{'momentum' must lie in [0, 1)}}
#bad = #mha.optimizer<sgd, learning_rate = 0.1, momentum = 1.5>

// -----

// expected-error @+1 {{'beta1' and 'beta2' must lie in [0, 1)}}
#bad = #mha.optimizer<adam, learning_rate = 0.1, beta2 = 1.0>

// -----

// expected-error @+1 {{'epsilon' must be positive}}
#bad = #mha.optimizer<adamw, learning_rate = 0.1, epsilon = 0.0>

// -----

// expected-error @+1 {{'weight_decay' must be non-negative}}
#bad = #mha.optimizer<sgd, learning_rate = 0.1, weight_decay = -0.1>

// -----

// expected-error @+2 {{failed to parse MHA_OptimizerAttr parameter 'kind'}}
// expected-error @+1 {{expected one of [sgd, adam, adamw] for parameter update rule, got: rmsprop}}
#bad = #mha.optimizer<rmsprop, learning_rate = 0.1>

// -----

// expected-error @+1 {{a 'synthetic' dataset takes no 'data' or 'labels' files}}
#bad = #mha.dataset<synthetic, data = "x.npy">

// -----

// expected-error @+1 {{an 'npy' dataset expects both 'data' and 'labels' files}}
#bad = #mha.dataset<npy, data = "x.npy">

// -----

// expected-error @+1 {{a 'text' dataset takes one text file as 'data' and no 'labels' (the next bytes are the labels)}}
#bad = #mha.dataset<text, data = "t.txt", labels = "y.npy">

// -----

// expected-error @+1 {{a 'text' dataset takes one text file as 'data' and no 'labels' (the next bytes are the labels)}}
#bad = #mha.dataset<text, seq_len = 8>

// -----

// expected-error @+1 {{a 'text' dataset takes its size from its file, not 'samples'}}
#bad = #mha.dataset<text, data = "t.txt", samples = 3>

// -----

// expected-error @+1 {{a 'padded' dataset takes no 'data' or 'labels' files}}
#bad = #mha.dataset<padded, labels = "y.npy">

// -----

// expected-error @+1 {{'data' must be a file name or a dictionary of input names to file names, got 3 : i64}}
#bad = #mha.dataset<npy, data = 3, labels = "y.npy">

// -----

// expected-error @+1 {{'data' names no inputs}}
#bad = #mha.dataset<npy, data = {}, labels = "y.npy">

// -----

// expected-error @+1 {{the file of input 'keep' must be a string, got 1 : i64}}
#bad = #mha.dataset<npy, data = {tokens = "ids.npy", keep = 1}, labels = "y.npy">

// -----

// expected-error @+1 {{an 'npy' dataset takes its sizes from its files, not 'samples' or 'seq_len'}}
#bad = #mha.dataset<npy, data = "x.npy", labels = "y.npy", samples = 10>

// -----

// expected-error @+1 {{'samples' and 'seq_len' must be positive}}
#bad = #mha.dataset<synthetic, samples = 0>

// -----

// expected-error @+1 {{'validation_split' must lie in [0, 1), got 1.5}}
#bad = #mha.dataset<synthetic, validation_split = 1.5>

// -----

//===----------------------------------------------------------------------===//
// mha.param / mha.get_param
//===----------------------------------------------------------------------===//

// expected-error @+1 {{'mha.param' op expects a static shape for parameter "negative_dynamic", got 'tensor<?x4xf32>'}}
mha.param @negative_dynamic : tensor<?x4xf32> init <zeros>

// -----

// expected-error @+1 {{'mha.param' op initializer 'glorot_uniform' needs a parameter of rank >= 2 (fan_in, fan_out), got 'tensor<4xf32>'}}
mha.param @negative_glorot_rank1 : tensor<4xf32> init <glorot_uniform>

// -----

// expected-error @+1 {{'mha.param' op attribute 'type' failed to satisfy constraint: type attribute of ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
mha.param @negative_int_param : tensor<4xi32> init <zeros>

// -----

func.func @negative_unknown_param() {
  // expected-error @+1 {{'mha.get_param' op 'missing' does not name an mha.param in this module}}
  %0 = mha.get_param @missing : tensor<4xf32>
  return
}

// -----

mha.param @p : tensor<4xf32> init <zeros>
func.func @negative_param_type_mismatch() {
  // expected-error @+1 {{'mha.get_param' op result type 'tensor<8xf32>' does not match the declared type 'tensor<4xf32>' of @p}}
  %0 = mha.get_param @p : tensor<8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// mha.training
//===----------------------------------------------------------------------===//

func.func @m(%x: tensor<?x4xf32>) -> tensor<?x4xf32> { return %x : tensor<?x4xf32> }
// expected-error @+1 {{'mha.training' op expects a positive 'epochs', got 0}}
mha.training model = @m loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 0 batch_size = 8

// -----

func.func @m(%x: tensor<?x4xf32>) -> tensor<?x4xf32> { return %x : tensor<?x4xf32> }
// expected-error @+1 {{'mha.training' op expects a positive 'batch_size', got -2}}
mha.training model = @m loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = -2

// -----

func.func @m(%x: tensor<?x4xf32>) -> tensor<?x4xf32> { return %x : tensor<?x4xf32> }
// expected-error @+1 {{'mha.training' op unknown metric 'f1'; expected one of: accuracy, mae}}
mha.training model = @m loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 8 metrics = ["f1"]

// -----

func.func @m(%x: tensor<?x4xf32>) -> tensor<?x4xf32> { return %x : tensor<?x4xf32> }
// expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'precision' [f32, bf16]}}
mha.training model = @m loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 8 precision = f16

// -----

func.func @m(%x: tensor<?x4xf32>) -> tensor<?x4xf32> { return %x : tensor<?x4xf32> }
// expected-error @+1 {{'mha.training' op expects at most one mha.training per module}}
mha.training model = @m loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 8
mha.training model = @m loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 2 batch_size = 8

// -----

// expected-error @+1 {{'mha.training' op 'model' @nowhere does not name a function in this module}}
mha.training model = @nowhere loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 8

// -----

func.func @two(%x: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) { return %x, %x : tensor<?x4xf32>, tensor<?x4xf32> }
// expected-error @+1 {{'mha.training' op 'model' @two must return exactly one ranked float tensor (the predictions), got 2 result(s)}}
mha.training model = @two loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 8

// -----

func.func @flat(%x: tensor<?xf32>) -> tensor<?xf32> { return %x : tensor<?xf32> }
// expected-error @+1 {{'mha.training' op loss 'cross_entropy' expects the model to return logits of rank >= 2 [..., classes], got 'tensor<?xf32>'}}
mha.training model = @flat loss = cross_entropy optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 8

// -----

func.func @m(%x: tensor<?x4xf32>) -> tensor<?x4xf32> { return %x : tensor<?x4xf32> }
// expected-error @+1 {{custom op 'mha.training' expected string or keyword containing one of the following enum values for attribute 'loss' [bce, bce_logits, mse, cross_entropy]}}
mha.training model = @m loss = hinge optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 8

// -----

//===----------------------------------------------------------------------===//
// mha.dense
//===----------------------------------------------------------------------===//

func.func @negative_dense_scalar_input(%x: tensor<f32>, %w: tensor<4x4xf32>) {
  // expected-error @+1 {{'mha.dense' op expects 'input' of rank >= 1, got 'tensor<f32>'}}
  %0 = mha.dense %x, %w : tensor<f32>, tensor<4x4xf32>
  return
}

// -----

func.func @negative_dense_weight_rank(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'mha.dense' op expects 'weight' of rank 2 [in, out], got 'tensor<4xf32>'}}
  %0 = mha.dense %x, %w : tensor<2x4xf32>, tensor<4xf32>
  return
}

// -----

func.func @negative_dense_features(%x: tensor<2x16xf32>, %w: tensor<32x8xf32>) {
  // expected-error @+1 {{'mha.dense' op 'input' feature size 16 does not match the input size 32 of 'weight' ('tensor<2x16xf32>' vs 'tensor<32x8xf32>')}}
  %0 = mha.dense %x, %w : tensor<2x16xf32>, tensor<32x8xf32>
  return
}

// -----

func.func @negative_dense_weight_dtype(%x: tensor<2x16xf32>, %w: tensor<16x8xbf16>) {
  // expected-error @+1 {{'mha.dense' op expects 'weight' to have the element type of 'input' ('f32'), got 'tensor<16x8xbf16>'}}
  %0 = mha.dense %x, %w : tensor<2x16xf32>, tensor<16x8xbf16>
  return
}

// -----

func.func @negative_dense_bias_shape(%x: tensor<2x16xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{'mha.dense' op expects 'bias' of shape [8] matching the output size of 'weight' ('tensor<16x8xf32>'), got 'tensor<16xf32>'}}
  %0 = mha.dense %x, %w, %b : tensor<2x16xf32>, tensor<16x8xf32>, tensor<16xf32>
  return
}

// -----

func.func @negative_dense_bias_dtype(%x: tensor<2x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf16>) {
  // expected-error @+1 {{'mha.dense' op expects 'bias' to have the element type of 'input' ('f32'), got 'tensor<8xf16>'}}
  %0 = mha.dense %x, %w, %b : tensor<2x16xf32>, tensor<16x8xf32>, tensor<8xf16>
  return
}

// -----

func.func @negative_dense_integer(%x: tensor<2x16xi32>, %w: tensor<16x8xi32>) {
  // expected-error @+1 {{'mha.dense' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<2x16xi32>'}}
  %0 = mha.dense %x, %w : tensor<2x16xi32>, tensor<16x8xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// mha.split_heads / mha.merge_heads
//===----------------------------------------------------------------------===//

func.func @negative_split_rank(%x: tensor<2x512xf32>) {
  // expected-error @+1 {{'mha.split_heads' op expects 'input' of rank 3 [batch, seq, model], got 'tensor<2x512xf32>'}}
  %0 = mha.split_heads %x into 8 heads : tensor<2x512xf32>
  return
}

// -----

func.func @negative_split_indivisible(%x: tensor<2x4x512xf32>) {
  // expected-error @+1 {{'mha.split_heads' op num_heads = 3 does not divide the model dimension 512 of 'input' ('tensor<2x4x512xf32>')}}
  %0 = mha.split_heads %x into 3 heads : tensor<2x4x512xf32>
  return
}

// -----

func.func @negative_split_zero_heads(%x: tensor<2x4x512xf32>) {
  // expected-error @+1 {{'mha.split_heads' op expects a positive 'num_heads'}}
  %0 = mha.split_heads %x into 0 heads : tensor<2x4x512xf32>
  return
}

// -----

func.func @negative_merge_rank(%x: tensor<2x4x512xf32>) {
  // expected-error @+1 {{'mha.merge_heads' op expects 'input' of rank 4 [batch, heads, seq, depth], got 'tensor<2x4x512xf32>'}}
  %0 = mha.merge_heads %x : tensor<2x4x512xf32>
  return
}

// -----

func.func @zero_heads_merge(%x: tensor<2x0x4x8xf32>) {
  // expected-error @+1 {{'mha.merge_heads' op expects at least one head (dimension 1 of 'input'), got 'tensor<2x0x4x8xf32>'}}
  %0 = mha.merge_heads %x : tensor<2x0x4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// mha.scaled_matmul / mha.matmul
//===----------------------------------------------------------------------===//

func.func @negative_matmul_rank(%a: tensor<2x4x8xf32>, %b: tensor<8x4xf32>) {
  // expected-error @+1 {{'mha.matmul' op expects 'lhs' and 'rhs' of the same rank >= 2, got 'tensor<2x4x8xf32>' and 'tensor<8x4xf32>'}}
  %0 = mha.matmul %a, %b : tensor<2x4x8xf32>, tensor<8x4xf32>
  return
}

// -----

func.func @negative_matmul_dtype(%a: tensor<4x8xf32>, %b: tensor<8x4xf16>) {
  // expected-error @+1 {{'mha.matmul' op expects 'rhs' to have the element type of 'lhs' ('f32'), got 'tensor<8x4xf16>'}}
  %0 = mha.matmul %a, %b : tensor<4x8xf32>, tensor<8x4xf16>
  return
}

// -----

func.func @negative_matmul_batch(%a: tensor<2x4x8xf32>, %b: tensor<3x8x4xf32>) {
  // expected-error @+1 {{'mha.matmul' op batch dimension 0 of 'rhs' ('tensor<3x8x4xf32>') does not match that of 'lhs' ('tensor<2x4x8xf32>')}}
  %0 = mha.matmul %a, %b : tensor<2x4x8xf32>, tensor<3x8x4xf32>
  return
}

// -----

func.func @negative_matmul_contraction(%a: tensor<4x8xf32>, %b: tensor<4x4xf32>) {
  // expected-error @+1 {{'mha.matmul' op contraction size 8 of 'lhs' does not match 4 of 'rhs' ('tensor<4x8xf32>' vs 'tensor<4x4xf32>')}}
  %0 = mha.matmul %a, %b : tensor<4x8xf32>, tensor<4x4xf32>
  return
}

// -----

func.func @negative_scaled_matmul_contraction(%q: tensor<4x8xf32>, %k: tensor<8x4xf32>) {
  // expected-error @+1 {{'mha.scaled_matmul' op contraction size 8 of 'lhs' does not match 4 of 'rhs' ('tensor<4x8xf32>' vs transposed 'tensor<8x4xf32>')}}
  %0 = mha.scaled_matmul %q, %k : tensor<4x8xf32>, tensor<8x4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// mha.softmax / mha.reduce / mha.layer_norm
//===----------------------------------------------------------------------===//

func.func @negative_softmax_scalar(%x: tensor<f32>) {
  // expected-error @+1 {{'mha.softmax' op expects 'input' of rank >= 1, got 'tensor<f32>'}}
  %0 = mha.softmax %x : tensor<f32>
  return
}

// -----

func.func @negative_softmax_axis(%x: tensor<2x4xf32>) {
  // expected-error @+1 {{'mha.softmax' op axis 2 is out of range for 'tensor<2x4xf32>' (expected in [-2, 2))}}
  %0 = mha.softmax %x axis = 2 : tensor<2x4xf32>
  return
}

// -----

func.func @negative_softmax_negative_axis(%x: tensor<2x4xf32>) {
  // expected-error @+1 {{'mha.softmax' op axis -3 is out of range for 'tensor<2x4xf32>' (expected in [-2, 2))}}
  %0 = mha.softmax %x axis = -3 : tensor<2x4xf32>
  return
}

// -----

func.func @negative_reduce_no_dims(%x: tensor<2x4xf32>) {
  // expected-error @+1 {{'mha.reduce' op expects at least one dimension in 'dims'}}
  %0 = mha.reduce sum %x dims = [] : tensor<2x4xf32>
  return
}

// -----

func.func @negative_reduce_dim_range(%x: tensor<2x4xf32>) {
  // expected-error @+1 {{'mha.reduce' op dimension -3 in 'dims' is out of range for 'tensor<2x4xf32>' (expected in [-2, 2))}}
  %0 = mha.reduce sum %x dims = [-3] : tensor<2x4xf32>
  return
}

// -----

func.func @negative_reduce_duplicate(%x: tensor<2x4xf32>) {
  // expected-error @+1 {{'mha.reduce' op dimension 1 appears twice in 'dims'}}
  %0 = mha.reduce max %x dims = [1, -1] : tensor<2x4xf32>
  return
}

// -----

func.func @negative_reduce_kind(%x: tensor<2x4xf32>) {
  // expected-error @+1 {{custom op 'mha.reduce' expected string or keyword containing one of the following enum values for attribute 'kind' [sum, mean, max]}}
  %0 = mha.reduce prod %x dims = [1] : tensor<2x4xf32>
  return
}

// -----

func.func @negative_layer_norm_scalar(%x: tensor<f32>, %g: tensor<1xf32>) {
  // expected-error @+1 {{'mha.layer_norm' op expects 'input' of rank >= 1, got 'tensor<f32>'}}
  %0 = mha.layer_norm %x, %g, %g : tensor<f32>, tensor<1xf32>, tensor<1xf32>
  return
}

// -----

func.func @negative_layer_norm_gamma(%x: tensor<2x8xf32>, %g: tensor<4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'mha.layer_norm' op expects 'gamma' of shape [8] matching the last dimension of 'input' ('tensor<2x8xf32>'), got 'tensor<4xf32>'}}
  %0 = mha.layer_norm %x, %g, %b : tensor<2x8xf32>, tensor<4xf32>, tensor<8xf32>
  return
}

// -----

func.func @negative_layer_norm_beta_dtype(%x: tensor<2x8xf32>, %g: tensor<8xf32>, %b: tensor<8xbf16>) {
  // expected-error @+1 {{'mha.layer_norm' op expects 'beta' to have the element type of 'input' ('f32'), got 'tensor<8xbf16>'}}
  %0 = mha.layer_norm %x, %g, %b : tensor<2x8xf32>, tensor<8xf32>, tensor<8xbf16>
  return
}

// -----

func.func @negative_layer_norm_epsilon(%x: tensor<2x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'mha.layer_norm' op expects a positive 'epsilon', got 0}}
  %0 = mha.layer_norm %x, %g, %g {epsilon = 0.0 : f32} : tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// mha.add / mha.mul
//===----------------------------------------------------------------------===//

func.func @negative_add_broadcast(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) {
  // expected-error @+1 {{'mha.add' op cannot broadcast 'lhs' ('tensor<2x3xf32>') and 'rhs' ('tensor<4x3xf32>') together: sizes must be equal or 1 when aligned at the last dimension}}
  %0 = mha.add %a, %b : tensor<2x3xf32>, tensor<4x3xf32>
  return
}

// -----

func.func @negative_mul_dtype(%a: tensor<3xf32>, %b: tensor<3xf16>) {
  // expected-error @+1 {{'mha.mul' op expects 'rhs' to have the element type of 'lhs' ('f32'), got 'tensor<3xf16>'}}
  %0 = mha.mul %a, %b : tensor<3xf32>, tensor<3xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// mha.apply_mask / mha.attention
//===----------------------------------------------------------------------===//

func.func @negative_apply_mask_rank(%s: tensor<4xf32>) {
  // expected-error @+1 {{'mha.apply_mask' op expects 'scores' of rank >= 2 [..., Sq, Sk], got 'tensor<4xf32>'}}
  %0 = mha.apply_mask %s causal : tensor<4xf32>
  return
}

// -----

func.func @negative_apply_mask_shape(%s: tensor<4x4xf32>, %m: tensor<3xi1>) {
  // expected-error @+1 {{'mha.apply_mask' op 'mask' ('tensor<3xi1>') does not broadcast to the scores' shape [4x4]}}
  %0 = mha.apply_mask %s mask(%m : tensor<3xi1>) : tensor<4x4xf32>
  return
}

// -----

func.func @negative_apply_mask_dtype(%s: tensor<4x4xf32>, %m: tensor<4xf16>) {
  // expected-error @+1 {{'mha.apply_mask' op expects an additive 'mask' of element type 'f32' or a boolean (i1) one, got 'tensor<4xf16>'}}
  %0 = mha.apply_mask %s mask(%m : tensor<4xf16>) : tensor<4x4xf32>
  return
}

// -----

func.func @negative_attention_rank(%q: tensor<2x4x8xf32>, %k: tensor<4x8xf32>) {
  // expected-error @+1 {{'mha.attention' op expects 'query', 'key' and 'value' of the same rank >= 2 ([..., seq, depth]), got 'tensor<2x4x8xf32>', 'tensor<4x8xf32>' and 'tensor<4x8xf32>'}}
  %0 = mha.attention %q, %k, %k : tensor<2x4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
  return
}

// -----

func.func @negative_attention_value_dtype(%q: tensor<4x8xf32>, %v: tensor<4x8xbf16>) {
  // expected-error @+1 {{'mha.attention' op expects 'value' to have the element type of 'query' ('f32'), got 'tensor<4x8xbf16>'}}
  %0 = mha.attention %q, %q, %v : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xbf16>
  return
}

// -----

func.func @negative_attention_batch(%q: tensor<2x8x4x8xf32>, %k: tensor<2x4x4x8xf32>) {
  // expected-error @+1 {{'mha.attention' op batch dimension 1 of 'key' ('tensor<2x4x4x8xf32>') does not match that of 'query' ('tensor<2x8x4x8xf32>')}}
  %0 = mha.attention %q, %k, %k : tensor<2x8x4x8xf32>, tensor<2x4x4x8xf32>, tensor<2x4x4x8xf32>
  return
}

// -----

func.func @negative_attention_depth(%q: tensor<4x8xf32>, %k: tensor<4x16xf32>) {
  // expected-error @+1 {{'mha.attention' op depth 8 of 'query' does not match depth 16 of 'key' ('tensor<4x8xf32>' vs 'tensor<4x16xf32>')}}
  %0 = mha.attention %q, %k, %k : tensor<4x8xf32>, tensor<4x16xf32>, tensor<4x16xf32>
  return
}

// -----

func.func @negative_attention_kv_length(%q: tensor<4x8xf32>, %k: tensor<6x8xf32>, %v: tensor<5x8xf32>) {
  // expected-error @+1 {{'mha.attention' op 'key' and 'value' disagree on the key sequence length ('tensor<6x8xf32>' vs 'tensor<5x8xf32>')}}
  %0 = mha.attention %q, %k, %v : tensor<4x8xf32>, tensor<6x8xf32>, tensor<5x8xf32>
  return
}

// -----

func.func @negative_attention_mask_shape(%q: tensor<2x4x8xf32>, %m: tensor<2x4x5xi1>) {
  // expected-error @+1 {{'mha.attention' op 'mask' ('tensor<2x4x5xi1>') does not broadcast to the scores' shape [2x4x4]}}
  %0 = mha.attention %q, %q, %q mask(%m : tensor<2x4x5xi1>) : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
  return
}

// -----

func.func @negative_attention_mask_int(%q: tensor<4x8xf32>, %m: tensor<4x4xi32>) {
  // expected-error @+1 {{'mha.attention' op expects an additive 'mask' of element type 'f32' or a boolean (i1) one, got 'tensor<4x4xi32>'}}
  %0 = mha.attention %q, %q, %q mask(%m : tensor<4x4xi32>) : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

func.func @negative_bce_shape(%p: tensor<8x1xf32>, %y: tensor<8xf32>) {
  // expected-error @+1 {{'mha.bce_loss' op expects 'target' of the shape of 'input' ('tensor<8x1xf32>'), got 'tensor<8xf32>'}}
  %0 = mha.bce_loss %p, %y : tensor<8x1xf32>, tensor<8xf32>
  return
}

// -----

func.func @negative_mse_dtype(%p: tensor<8xf32>, %y: tensor<8xbf16>) {
  // expected-error @+1 {{'mha.mse_loss' op expects 'target' to have the element type of 'input' ('f32'), got 'tensor<8xbf16>'}}
  %0 = mha.mse_loss %p, %y : tensor<8xf32>, tensor<8xbf16>
  return
}

// -----

func.func @negative_cross_entropy_scalar(%l: tensor<f32>, %y: tensor<i64>) {
  // expected-error @+1 {{'mha.cross_entropy' op expects 'logits' of rank >= 1 [..., classes], got 'tensor<f32>'}}
  %0 = mha.cross_entropy %l, %y : tensor<f32>, tensor<i64>
  return
}

// -----

func.func @negative_cross_entropy_labels(%l: tensor<8x10xf32>, %y: tensor<8x10xi64>) {
  // expected-error @+1 {{'mha.cross_entropy' op expects 'labels' of shape [8] (the logits without their class dimension), got 'tensor<8x10xi64>'}}
  %0 = mha.cross_entropy %l, %y : tensor<8x10xf32>, tensor<8x10xi64>
  return
}

// -----

func.func @negative_cross_entropy_float_labels(%l: tensor<8x10xf32>, %y: tensor<8xf32>) {
  // expected-error @+1 {{'mha.cross_entropy' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<8xf32>'}}
  %0 = mha.cross_entropy %l, %y : tensor<8x10xf32>, tensor<8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Gradient and shape ops
//===----------------------------------------------------------------------===//

func.func @negative_transpose_perm(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'mha.transpose' op 'permutation' must be a permutation of [0, 2) for 'tensor<2x3xf32>'}}
  %0 = mha.transpose %x perm = [0, 0] : tensor<2x3xf32>
  return
}

// -----

func.func @negative_broadcast_to_rank(%x: tensor<2x3xf32>, %y: tensor<2x3xf32>) {
  // expected-error @+1 {{'mha.broadcast_to' op expects 'input' ('tensor<2x3xf32>') to have the rank of 'like' ('tensor<2x3xf32>') minus the 1 inserted dimension(s)}}
  %0 = mha.broadcast_to %x like %y dims = [1] : tensor<2x3xf32>, tensor<2x3xf32>
  return
}

// -----

func.func @negative_broadcast_to_dims(%x: tensor<3xf32>, %y: tensor<2x3x4xf32>) {
  // expected-error @+1 {{'mha.broadcast_to' op expects sorted, distinct 'dims' in [0, 3)}}
  %0 = mha.broadcast_to %x like %y dims = [2, 0] : tensor<3xf32>, tensor<2x3x4xf32>
  return
}

// -----

func.func @negative_broadcast_to_shape(%x: tensor<5xf32>, %y: tensor<2x3xf32>) {
  // expected-error @+1 {{'mha.broadcast_to' op cannot broadcast 'input' ('tensor<5xf32>') to the shape of 'like' ('tensor<2x3xf32>')}}
  %0 = mha.broadcast_to %x like %y dims = [0] : tensor<5xf32>, tensor<2x3xf32>
  return
}

// -----

func.func @negative_reduce_to(%x: tensor<2x3xf32>, %y: tensor<4xf32>) {
  // expected-error @+1 {{'mha.reduce_to' op expects 'like' ('tensor<4xf32>') to broadcast to the shape of 'input' ('tensor<2x3xf32>')}}
  %0 = mha.reduce_to %x like %y : tensor<2x3xf32>, tensor<4xf32>
  return
}

// -----

func.func @negative_dense_weight_grad(%x: tensor<2x3x16xf32>, %dy: tensor<2x4x8xf32>) {
  // expected-error @+1 {{'mha.dense_weight_grad' op expects 'input' [..., in] and 'result_grad' [..., out] with the same leading dimensions, got 'tensor<2x3x16xf32>' and 'tensor<2x4x8xf32>'}}
  %0 = mha.dense_weight_grad %x, %dy : tensor<2x3x16xf32>, tensor<2x4x8xf32>
  return
}

// -----

func.func @negative_attention_grad_lse(%q: tensor<2x4x8xf32>, %lse: tensor<2x5xf32>) {
  // expected-error @+1 {{'mha.attention_grad' op expects 'lse' of shape [2x4] (the output without its last dimension), got 'tensor<2x5xf32>'}}
  %dq, %dk, %dv = mha.attention_grad %q, %q, %q, %q, %lse, %q : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x5xf32>
  return
}

// -----

func.func @negative_attention_grad_mask_grad_boolean(%q: tensor<2x4x8xf32>, %lse: tensor<2x4xf32>, %keep: tensor<4x4xi1>) {
  // expected-error @+1 {{'mha.attention_grad' op has a 'mask_grad' result but no additive (float) mask to differentiate}}
  %dq, %dk, %dv, %dm = mha.attention_grad %q, %q, %q, %q, %lse, %q mask(%keep : tensor<4x4xi1>) : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>, mask_grad tensor<4x4xf32>
  return
}

// -----

func.func @negative_attention_grad_mask_grad_no_mask(%q: tensor<2x4x8xf32>, %lse: tensor<2x4xf32>) {
  // expected-error @+1 {{'mha.attention_grad' op has a 'mask_grad' result but no additive (float) mask to differentiate}}
  %dq, %dk, %dv, %dm = mha.attention_grad %q, %q, %q, %q, %lse, %q : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>, mask_grad tensor<4x4xf32>
  return
}

// -----

func.func @negative_attention_grad_mask_grad_type(%q: tensor<2x4x8xf32>, %lse: tensor<2x4xf32>, %bias: tensor<4x4xf32>) {
  // expected-error @+1 {{'mha.attention_grad' op expects 'mask_grad' of the mask's type 'tensor<4x4xf32>', got 'tensor<1x4xf32>'}}
  %dq, %dk, %dv, %dm = mha.attention_grad %q, %q, %q, %q, %lse, %q mask(%bias : tensor<4x4xf32>) : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>, mask_grad tensor<1x4xf32>
  return
}

// -----

// expected-error @+1 {{expects 'mha.name' of argument #0 to be a string, got 3 : i64}}
func.func @negative_argument_name(%x: tensor<4xf32> {mha.name = 3}) {
  return
}

// -----

func.func @negative_embedding_table_rank(%table: tensor<256xf32>, %ids: tensor<4xi64>) {
  // expected-error @+1 {{'mha.embedding' op expects 'table' of rank 2 [vocabulary, features], got 'tensor<256xf32>'}}
  %x = mha.embedding %table, %ids : tensor<256xf32>, tensor<4xi64>
  return
}

// -----

func.func @negative_embedding_float_ids(%table: tensor<256x8xf32>, %ids: tensor<4xf32>) {
  // expected-error @+1 {{'mha.embedding' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xf32>'}}
  %x = mha.embedding %table, %ids : tensor<256x8xf32>, tensor<4xf32>
  return
}

// -----

func.func @negative_embedding_grad_shape(%table: tensor<256x8xf32>, %ids: tensor<4xi64>, %dy: tensor<4x7xf32>) {
  // expected-error @+1 {{'mha.embedding_grad' op expects 'result_grad' of the embedding's result type 'tensor<4x8xf32>' (the ids' shape, then the table's row size), got 'tensor<4x7xf32>'}}
  %g = mha.embedding_grad %table, %ids, %dy : tensor<256x8xf32>, tensor<4xi64>, tensor<4x7xf32>
  return
}

// -----

func.func @negative_embedding_grad_table_rank(%table: tensor<8xf32>, %ids: tensor<4xi64>, %dy: tensor<4x8xf32>) {
  // expected-error @+1 {{'mha.embedding_grad' op expects 'table' of rank 2 [vocabulary, features], got 'tensor<8xf32>'}}
  %g = mha.embedding_grad %table, %ids, %dy : tensor<8xf32>, tensor<4xi64>, tensor<4x8xf32>
  return
}

// -----

func.func @model(%x: tensor<?x4xf32>) -> tensor<?x1xf32> {
  %c = arith.constant dense<0.5> : tensor<4x1xf32>
  %y = mha.dense %x, %c : tensor<?x4xf32>, tensor<4x1xf32>
  return %y : tensor<?x1xf32>
}
// expected-error @+1 {{'mha.training' op 'ignore_index' needs the loss 'cross_entropy', got 'bce'}}
mha.training model = @model loss = bce optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 4 ignore_index = -1

// -----

func.func @negative_positions_dim(%ids: tensor<?x?xi64>) {
  // expected-error @+1 {{'mha.positions' op 'dim' 2 is not a dimension of 'input' (rank 2)}}
  %p = mha.positions %ids dim = 2 : tensor<?x?xi64>
  return
}

// -----

func.func @negative_sinusoidal_odd(%ids: tensor<?x?xi64>) {
  // expected-error @+1 {{'mha.sinusoidal_positions' op expects an even, positive 'features' (sin and cos pairs), got 5}}
  %p = mha.sinusoidal_positions %ids dim = 1 features = 5 : tensor<?x?xi64>
  return
}

// -----

func.func @negative_sinusoidal_dim(%ids: tensor<?x?xi64>) {
  // expected-error @+1 {{'mha.sinusoidal_positions' op 'dim' 3 is not a dimension of 'input' (rank 2)}}
  %p = mha.sinusoidal_positions %ids dim = 3 features = 4 : tensor<?x?xi64>
  return
}

// -----

func.func @dropout_rate(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'mha.dropout' op 'rate' must lie in [0, 1), got 1}}
  %y = mha.dropout %x rate = 1.000000e+00 : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @rotary_odd(%x: tensor<2x4x5xf32>) -> tensor<2x4x5xf32> {
  // expected-error @+1 {{'mha.rotary' op expects a static, even feature size (rotated in pairs), got 'tensor<2x4x5xf32>'}}
  %y = mha.rotary %x : tensor<2x4x5xf32>
  return %y : tensor<2x4x5xf32>
}

// -----

func.func @rotary_rank(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'mha.rotary' op expects [..., seq, features], got rank 1}}
  %y = mha.rotary %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @rotary_base(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'mha.rotary' op 'base' must be positive}}
  %y = mha.rotary %x {base = 0.000000e+00 : f32} : tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// mha.online_attention
//===----------------------------------------------------------------------===//

func.func @f(%q: tensor<16xf32>, %k: tensor<16xf32>, %v: tensor<16xf32>, %acc: tensor<16xf32>, %m: tensor<f32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op expects a query of rank at least 2, got 1}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<16xf32>, tensor<f32>, tensor<f32>
  return
}

// -----

func.func @f(%q: tensor<16x64xf32>, %k: tensor<1x32x64xf32>, %v: tensor<32x8xf32>, %acc: tensor<16x8xf32>, %m: tensor<16xf32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op expects key, value and acc of the query's rank 2}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<16x64xf32>, tensor<1x32x64xf32>, tensor<32x8xf32> -> tensor<16x8xf32>, tensor<16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%q: tensor<16x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x8xf32>, %acc: tensor<16x8xf32>, %m: tensor<16x1xf32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op expects max and sum of rank 1}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<16x64xf32>, tensor<32x64xf32>, tensor<32x8xf32> -> tensor<16x8xf32>, tensor<16x1xf32>, tensor<16x1xf32>
  return
}

// -----

func.func @f(%q: tensor<16x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x8xf32>, %acc: tensor<16x8xf32>, %m: tensor<16xf32>, %i: index, %s: f32) {
  // A transposed key is [D, Sk]: here D = 32 against the query's 64.
  // expected-error @+1 {{'mha.online_attention' op query depth 64 differs from the key depth 32}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) key_transposed outs(%acc, %m, %m) : tensor<16x64xf32>, tensor<32x64xf32>, tensor<32x8xf32> -> tensor<16x8xf32>, tensor<16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%q: tensor<16x64xf32>, %k: tensor<32x64xf32>, %v: tensor<31x8xf32>, %acc: tensor<16x8xf32>, %m: tensor<16xf32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op key length 32 differs from the value length 31}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<16x64xf32>, tensor<32x64xf32>, tensor<31x8xf32> -> tensor<16x8xf32>, tensor<16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%q: tensor<4x16x64xf32>, %k: tensor<3x32x64xf32>, %v: tensor<4x32x8xf32>, %acc: tensor<4x16x8xf32>, %m: tensor<4x16xf32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op batch dimension 0 of the key is 3, expected 1 or the query's 4}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<4x16x64xf32>, tensor<3x32x64xf32>, tensor<4x32x8xf32> -> tensor<4x16x8xf32>, tensor<4x16xf32>, tensor<4x16xf32>
  return
}

// -----

func.func @f(%q: tensor<4x16x64xf32>, %k: tensor<4x32x64xf32>, %v: tensor<4x32x8xf32>, %acc: tensor<2x16x8xf32>, %m: tensor<4x16xf32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op batch dimension 0 of the running state differs from the query's}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<4x16x64xf32>, tensor<4x32x64xf32>, tensor<4x32x8xf32> -> tensor<2x16x8xf32>, tensor<4x16xf32>, tensor<4x16xf32>
  return
}

// -----

func.func @f(%q: tensor<16x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x8xf32>, %acc: tensor<16x8xf32>, %m: tensor<15xf32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op the running state has 15 rows, the query 16}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<16x64xf32>, tensor<32x64xf32>, tensor<32x8xf32> -> tensor<16x8xf32>, tensor<15xf32>, tensor<15xf32>
  return
}

// -----

func.func @f(%q: tensor<16x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x8xf32>, %acc: tensor<16x9xf32>, %m: tensor<16xf32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op acc has 9 columns, the value depth is 8}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<16x64xf32>, tensor<32x64xf32>, tensor<32x8xf32> -> tensor<16x9xf32>, tensor<16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%q: tensor<16x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x8xf32>, %acc: tensor<16x8xf32>, %m: tensor<16xf32>, %mask: tensor<1x1x16x32xi1>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op mask of rank 4 does not broadcast to the scores' rank 2}}
  %a:3 = mha.online_attention %q, %k, %v mask(%mask : tensor<1x1x16x32xi1>) offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<16x64xf32>, tensor<32x64xf32>, tensor<32x8xf32> -> tensor<16x8xf32>, tensor<16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%q: tensor<16x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x8xf32>, %acc: tensor<16x8xf32>, %m: tensor<16xf32>, %mask: tensor<16x31xf32>, %i: index, %s: f32) {
  // expected-error @+1 {{'mha.online_attention' op mask dimension 1 is 31, expected 1 or the scores' 32}}
  %a:3 = mha.online_attention %q, %k, %v mask(%mask : tensor<16x31xf32>) offsets(%i, %i) scale(%s) outs(%acc, %m, %m) : tensor<16x64xf32>, tensor<32x64xf32>, tensor<32x8xf32> -> tensor<16x8xf32>, tensor<16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%q: memref<8x16xbf16>, %o: memref<8x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects buffers of rank 3 or more (batch dimensions, then rows and depth), got rank 2}}
  mha.gpu_attention %q, %q, %q, %o {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<8x16xbf16>, memref<8x16xbf16>, memref<8x16xbf16>, memref<8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %k: memref<2x8x16xf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects the key buffer's elements to be the query's 'bf16', got 'f16'}}
  mha.gpu_attention %q, %k, %q, %q {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xf32>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects f16 or bf16 buffers, or f32 ones with tf32 (the kernels compute on tensor cores), got f32}}
  mha.gpu_attention %q, %q, %q, %q {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xf32>, memref<2x8x16xf32>, memref<2x8x16xf32>, memref<2x8x16xf32>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects f32 buffers with tf32 (TF32 roundings of f32 operands), got 'bf16'}}
  mha.gpu_attention %q, %q, %q, %q {scale = 1.0 : f32, block_q = 64, block_k = 64, tf32} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %v: memref<2x8x16xbf16, strided<[256, 32, 1]>>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects the value buffer to have the identity layout}}
  mha.gpu_attention %q, %q, %v, %q {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16, strided<[256, 32, 1]>>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %k: memref<3x8x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects the key buffer's batch dimension 0 to be 2 like the query's, got 3}}
  mha.gpu_attention %q, %k, %k, %q {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<3x8x16xbf16>, memref<3x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x24xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects a static depth that is a positive multiple of 16 (the tensor cores' k), got 24 in the query buffer}}
  mha.gpu_attention %q, %q, %q, %q {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x24xbf16>, memref<2x8x24xbf16>, memref<2x8x24xbf16>, memref<2x8x24xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %v: memref<2x8x32xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects every buffer's depth to be the query's 16, got 32 in the value buffer}}
  mha.gpu_attention %q, %q, %v, %q {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x32xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %v: memref<2x9x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects the value buffer to have the key's 8 rows, got 9}}
  mha.gpu_attention %q, %q, %v, %q {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x9x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %o: memref<2x7x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects the output buffer to have the query's 8 rows, got 7}}
  mha.gpu_attention %q, %q, %q, %o {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x7x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects block_q to be a multiple of 16 in [16, 512], got 24}}
  mha.gpu_attention %q, %q, %q, %q {scale = 1.0 : f32, block_q = 24, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects block_k to be a multiple of 16 in [16, 1024], got 0}}
  mha.gpu_attention %q, %q, %q, %q {scale = 1.0 : f32, block_q = 64, block_k = 0} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %o: memref<2x8x16xi16>) {
  // expected-error @+1 {{'mha.gpu_attention' op operand #3 must be memref of 16-bit float or bfloat16 type or 32-bit float values}}
  mha.gpu_attention %q, %q, %q, %o {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xi16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %l: memref<2x8x1xf32>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects the lse buffer to have rank 2 and the identity layout, got 'memref<2x8x1xf32>'}}
  mha.gpu_attention %q, %q, %q, %q lse(%l : memref<2x8x1xf32>) {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %l: memref<2x9xf32>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects the lse buffer's dimension 1 to be 8 like the query's, got 9}}
  mha.gpu_attention %q, %q, %q, %q lse(%l : memref<2x9xf32>) {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %m: memref<1x2x8x8xi1>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects a mask buffer of rank at most 3 with the identity layout, got 'memref<1x2x8x8xi1>'}}
  mha.gpu_attention %q, %q, %q, %q mask(%m : memref<1x2x8x8xi1>) {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %m: memref<8x7xf32>) {
  // expected-error @+1 {{'mha.gpu_attention' op expects mask dimension 1 to be 1 or the scores' 8, got 7}}
  mha.gpu_attention %q, %q, %q, %q mask(%m : memref<8x7xf32>) {scale = 1.0 : f32, block_q = 64, block_k = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %k: memref<2x9x16xbf16>, %l: memref<2x8xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects the key_grad buffer to have the key's 9 rows, got 8}}
  mha.gpu_attention_grad %q, %k, %k, %q, %l, %q, %q, %q, %k {scale = 1.0 : f32, block_rows = 64, key_tile = 64, query_tile = 64} : memref<2x8x16xbf16>, memref<2x9x16xbf16>, memref<2x9x16xbf16>, memref<2x8x16xbf16>, memref<2x8xf32>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x9x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %k: memref<2x9x16xbf16>, %l: memref<2x8xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects the query_grad buffer to have the query's 8 rows, got 9}}
  mha.gpu_attention_grad %q, %k, %k, %q, %l, %q, %k, %k, %k {scale = 1.0 : f32, block_rows = 64, key_tile = 64, query_tile = 64} : memref<2x8x16xbf16>, memref<2x9x16xbf16>, memref<2x9x16xbf16>, memref<2x8x16xbf16>, memref<2x8xf32>, memref<2x8x16xbf16>, memref<2x9x16xbf16>, memref<2x9x16xbf16>, memref<2x9x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %h: memref<2x8x16xf16>, %l: memref<2x8xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects the output_grad buffer's elements to be the query's 'bf16', got 'f16'}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %h, %q, %q, %q {scale = 1.0 : f32, block_rows = 64, key_tile = 64, query_tile = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8xf32>, memref<2x8x16xf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %l: memref<2x9xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects the lse buffer's dimension 1 to be 8 like the query's, got 9}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %q, %q, %q {scale = 1.0 : f32, block_rows = 64, key_tile = 64, query_tile = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x9xf32>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xf32>, %l: memref<2x8xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects f16 or bf16 buffers, or f32 ones with tf32 (the kernels compute on tensor cores), got f32}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %q, %q, %q {scale = 1.0 : f32, block_rows = 64, key_tile = 64, query_tile = 64} : memref<2x8x16xf32>, memref<2x8x16xf32>, memref<2x8x16xf32>, memref<2x8x16xf32>, memref<2x8xf32>, memref<2x8x16xf32>, memref<2x8x16xf32>, memref<2x8x16xf32>, memref<2x8x16xf32>
  return
}

// -----

func.func @f(%q: memref<2x8x16xf16>, %l: memref<2x8xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects f32 buffers with tf32 (TF32 roundings of f32 operands), got 'f16'}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %q, %q, %q {scale = 1.0 : f32, block_rows = 64, key_tile = 64, query_tile = 64, tf32} : memref<2x8x16xf16>, memref<2x8x16xf16>, memref<2x8x16xf16>, memref<2x8x16xf16>, memref<2x8xf32>, memref<2x8x16xf16>, memref<2x8x16xf16>, memref<2x8x16xf16>, memref<2x8x16xf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %l: memref<2x8xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects block_rows to be a multiple of 16 in [16, 512], got 8}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %q, %q, %q {scale = 1.0 : f32, block_rows = 8, key_tile = 64, query_tile = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8xf32>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %l: memref<2x8xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects key_tile to be a multiple of 16 in [16, 1024], got 2048}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %q, %q, %q {scale = 1.0 : f32, block_rows = 64, key_tile = 2048, query_tile = 64} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8xf32>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%q: memref<2x8x16xbf16>, %l: memref<2x8xf32>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op expects query_tile to be a multiple of 16 in [16, 1024], got 40}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %q, %q, %q {scale = 1.0 : f32, block_rows = 64, key_tile = 64, query_tile = 40} : memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8xf32>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>, memref<2x8x16xbf16>
  return
}

// -----

func.func @f(%x: memref<2x3x8x8xbf16>, %y: memref<2x3x8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects matrices or a batch of them (rank 2 or 3), got an lhs of rank 4}}
  mha.gpu_matmul %x, %x, %y {block_m = 64, block_n = 64, block_k = 32} : memref<2x3x8x8xbf16>, memref<2x3x8x8xbf16>, memref<2x3x8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %w: memref<2x8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the rhs buffer to have the lhs's rank 2, got 3}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<2x8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %y: memref<8x8xf32, strided<[16, 1]>>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the output buffer to have the identity layout}}
  mha.gpu_matmul %x, %x, %y {block_m = 64, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<8x8xbf16>, memref<8x8xf32, strided<[16, 1]>>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %w: memref<8x8xf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the rhs's elements to be the lhs's 'bf16', got 'f16'}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<8x8xf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x16xbf16>, %w: memref<8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the rhs's rows to be the lhs's columns, got 8 and 16}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32} : memref<8x16xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %y: memref<9x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the output's rows to be the lhs's, got 9 and 8}}
  mha.gpu_matmul %x, %x, %y {block_m = 64, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<8x8xbf16>, memref<9x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %w: memref<8x16xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the output's columns to be the rhs's, got 8 and 16}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<8x16xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<2x8x8xbf16>, %w: memref<3x8x8xbf16>, %y: memref<2x8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the rhs's batch size to be the lhs's, got 3 and 2}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32} : memref<2x8x8xbf16>, memref<3x8x8xbf16>, memref<2x8x8xf32>
  return
}

// -----

func.func @f(%x: memref<2x8x8xbf16>, %y: memref<4x8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the output's batch size to be the lhs's, got 4 and 2}}
  mha.gpu_matmul %x, %x, %y {block_m = 64, block_n = 64, block_k = 32} : memref<2x8x8xbf16>, memref<2x8x8xbf16>, memref<4x8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %y: memref<8x8xf32>, %i: memref<8x16xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the init buffer to have the output's shape, got 'memref<8x16xf32>'}}
  mha.gpu_matmul %x, %x, %y init(%i : memref<8x16xf32>) {block_m = 64, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x12xbf16>, %w: memref<12x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects K (the lhs's columns) to be a multiple of 8 (rows copied 16 bytes at a time), got 12}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32} : memref<8x12xbf16>, memref<12x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %w: memref<8x20xbf16>, %y: memref<8x20xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects N (the rhs's columns) to be a multiple of 8 (rows copied 16 bytes at a time), got 20}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<8x20xbf16>, memref<8x20xf32>
  return
}

// -----

func.func @f(%x: memref<8x16xbf16>, %w: memref<8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the transposed rhs's columns to be the lhs's columns, got 8 and 16}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32, rhs_transposed} : memref<8x16xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<16x8xbf16>, %w: memref<8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the rhs's rows to be the transposed lhs's rows, got 8 and 16}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32, lhs_transposed} : memref<16x8xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x16xbf16>, %w: memref<8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the output's rows to be the transposed lhs's columns, got 8 and 16}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32, lhs_transposed} : memref<8x16xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %w: memref<16x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects the output's columns to be the transposed rhs's rows, got 8 and 16}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32, rhs_transposed} : memref<8x8xbf16>, memref<16x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x12xbf16>, %w: memref<8x8xbf16>, %y: memref<12x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects M (the transposed lhs's columns) to be a multiple of 8 (rows copied 16 bytes at a time), got 12}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32, lhs_transposed} : memref<8x12xbf16>, memref<8x8xbf16>, memref<12x8xf32>
  return
}

// -----

func.func @f(%x: memref<12x8xbf16>, %w: memref<8x12xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects K (the transposed rhs's columns) to be a multiple of 8 (rows copied 16 bytes at a time), got 12}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32, lhs_transposed, rhs_transposed} : memref<12x8xbf16>, memref<8x12xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %w: memref<12x8xbf16>, %y: memref<8x12xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects N (the output's columns) to be a multiple of 8 (rows copied 16 bytes at a time), got 12}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 32, rhs_transposed} : memref<8x8xbf16>, memref<12x8xbf16>, memref<8x12xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_n to be a multiple of 16 in [16, 256], got 272}}
  mha.gpu_matmul %x, %x, %y {block_m = 48, block_n = 272, block_k = 32} : memref<8x8xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_m to be a multiple of 16 in [16, 512], got 40}}
  mha.gpu_matmul %x, %x, %y {block_m = 40, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_k to be a multiple of 16 in [16, 256], got 8}}
  mha.gpu_matmul %x, %x, %y {block_m = 64, block_n = 64, block_k = 8} : memref<8x8xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xbf16>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_m to be a multiple of 32 (32 rows a warp), got 48}}
  mha.gpu_matmul %x, %x, %y {block_m = 48, block_n = 64, block_k = 32} : memref<8x8xbf16>, memref<8x8xbf16>, memref<8x8xf32>
  return
}

// -----

// f32 operands (the CUDA-core kernel): rows and N multiples of 4, its own
// tile rules.
func.func @f(%x: memref<8x6xf32>, %w: memref<6x8xf32>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects K (the lhs's columns) to be a multiple of 4 (rows copied 16 bytes at a time), got 6}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 16} : memref<8x6xf32>, memref<6x8xf32>, memref<8x8xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xf32>, %w: memref<10x8xf32>, %y: memref<8x10xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects N (the output's columns) to be a multiple of 4 (rows copied 16 bytes at a time), got 10}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 16, rhs_transposed} : memref<8x8xf32>, memref<10x8xf32>, memref<8x10xf32>
  return
}

// -----

func.func @f(%x: memref<8x12xf32>, %y: memref<8x12xf32>, %w: memref<12x12xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_m of f32 operands to be a multiple of 64 (16 threads of groups of 4), got 32}}
  mha.gpu_matmul %x, %w, %y {block_m = 32, block_n = 64, block_k = 16} : memref<8x12xf32>, memref<12x12xf32>, memref<8x12xf32>
  return
}

// -----

func.func @f(%x: memref<8x12xf32>, %y: memref<8x12xf32>, %w: memref<12x12xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_n of f32 operands to be a multiple of 64 (16 threads of groups of 4), got 48}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 48, block_k = 16} : memref<8x12xf32>, memref<12x12xf32>, memref<8x12xf32>
  return
}

// -----

func.func @f(%x: memref<8x12xf32>, %y: memref<8x12xf32>, %w: memref<12x12xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_k of f32 operands to be a multiple of 4 in [4, 64], got 6}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 6} : memref<8x12xf32>, memref<12x12xf32>, memref<8x12xf32>
  return
}

// -----

func.func @f(%x: memref<8x16xbf16>, %y: memref<8x16xf32>, %w: memref<16x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects f32 operands with tf32 (TF32 rounds f32 ones), got 'bf16'}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 16, tf32} : memref<8x16xbf16>, memref<16x16xbf16>, memref<8x16xf32>
  return
}

// -----

func.func @f(%x: memref<8x12xf32>, %y: memref<8x12xf32>, %w: memref<12x12xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_k with tf32 to be a multiple of 8 in [8, 64], got 4}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 4, tf32} : memref<8x12xf32>, memref<12x12xf32>, memref<8x12xf32>
  return
}

// -----

func.func @f(%x: memref<8x12xf32>, %y: memref<8x12xf32>, %w: memref<12x12xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op expects block_m to be a multiple of 32 (32 rows a warp), got 48}}
  mha.gpu_matmul %x, %w, %y {block_m = 48, block_n = 64, block_k = 8, tf32} : memref<8x12xf32>, memref<12x12xf32>, memref<8x12xf32>
  return
}

// -----

func.func @f(%x: memref<8x8xf64>, %y: memref<8x8xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op operand #0 must be memref of 16-bit float or bfloat16 type or 32-bit float values}}
  mha.gpu_matmul %x, %x, %y {block_m = 64, block_n = 64, block_k = 16} : memref<8x8xf64>, memref<8x8xf64>, memref<8x8xf32>
  return
}
