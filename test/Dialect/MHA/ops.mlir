// RUN: mha-opt %s | mha-opt | FileCheck %s
// RUN: mha-opt %s --mlir-print-op-generic | mha-opt | FileCheck %s

// Round trip of every mha op and attribute, in the custom and generic forms.

// CHECK: mha.param @w : tensor<16x8xf32> init <glorot_uniform>
mha.param @w : tensor<16x8xf32> init <glorot_uniform>
// CHECK: mha.param @g : tensor<8x8xf32> init <glorot_normal>
mha.param @g : tensor<8x8xf32> init <glorot_normal>
// CHECK: mha.param @b : tensor<8xf32> init <zeros>
mha.param @b : tensor<8xf32> init <zeros>
// CHECK: mha.param @o : tensor<8xbf16> init <ones>
mha.param @o : tensor<8xbf16> init <ones>
// CHECK: mha.param @n : tensor<4x8xf32> init <normal, std = 0.02>
mha.param @n : tensor<4x8xf32> init <normal, std = 2.0e-2>
// CHECK: mha.param @u : tensor<4xf16> init <uniform, limit = 0.5>
mha.param @u : tensor<4xf16> init <uniform, limit = 0.5>

// CHECK-LABEL: func.func @get_param
func.func @get_param() -> tensor<16x8xf32> {
  // CHECK: mha.get_param @w : tensor<16x8xf32>
  %w = mha.get_param @w : tensor<16x8xf32>
  return %w : tensor<16x8xf32>
}

// CHECK-LABEL: func.func @dense
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x?x16xf32> {mha.name = "x"}, %[[W:[^:]*]]: tensor<16x8xf32> {mha.name = "w"}, %[[B:[^:]*]]: tensor<8xf32> {mha.name = "b"})
func.func @dense(%x: tensor<?x?x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>)
    -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  // CHECK: mha.dense %[[X]], %[[W]], %[[B]] : tensor<?x?x16xf32>, tensor<16x8xf32>, tensor<8xf32>
  %0 = mha.dense %x, %w, %b : tensor<?x?x16xf32>, tensor<16x8xf32>, tensor<8xf32>
  // CHECK: mha.dense %[[X]], %[[W]] : tensor<?x?x16xf32>, tensor<16x8xf32>
  %1 = mha.dense %x, %w : tensor<?x?x16xf32>, tensor<16x8xf32>
  return %0, %1 : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @heads
func.func @heads(%x: tensor<2x?x512xbf16>) -> tensor<2x?x512xbf16> {
  // CHECK: %[[H:.*]] = mha.split_heads %{{.*}} into 8 heads : tensor<2x?x512xbf16>
  %h = mha.split_heads %x into 8 heads : tensor<2x?x512xbf16>
  // CHECK: mha.merge_heads %[[H]] : tensor<2x8x?x64xbf16>
  %m = mha.merge_heads %h : tensor<2x8x?x64xbf16>
  return %m : tensor<2x?x512xbf16>
}

// CHECK-LABEL: func.func @matmuls
func.func @matmuls(%q: tensor<2x4x16x8xf32>, %k: tensor<2x4x?x8xf32>,
                   %a: tensor<4x3xf16>, %b: tensor<3x5xf16>)
    -> (tensor<2x4x16x?xf32>, tensor<4x5xf16>, tensor<4x5xf16>) {
  // CHECK: mha.scaled_matmul %{{.*}}, %{{.*}} : tensor<2x4x16x8xf32>, tensor<2x4x?x8xf32>
  %s = mha.scaled_matmul %q, %k : tensor<2x4x16x8xf32>, tensor<2x4x?x8xf32>
  // CHECK: mha.scaled_matmul %{{.*}}, %{{.*}} untransposed {scale = 2.500000e-01 : f32} : tensor<4x3xf16>, tensor<3x5xf16>
  %t = mha.scaled_matmul %a, %b untransposed {scale = 0.25 : f32} : tensor<4x3xf16>, tensor<3x5xf16>
  // CHECK: mha.matmul %{{.*}}, %{{.*}} : tensor<4x3xf16>, tensor<3x5xf16>
  %m = mha.matmul %a, %b : tensor<4x3xf16>, tensor<3x5xf16>
  return %s, %t, %m : tensor<2x4x16x?xf32>, tensor<4x5xf16>, tensor<4x5xf16>
}

// CHECK-LABEL: func.func @softmax_and_reduce
func.func @softmax_and_reduce(%x: tensor<2x?x8xf32>)
    -> (tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x8xf32>, tensor<2x?x1xf32>, tensor<?xf32>) {
  // CHECK: mha.softmax %{{.*}} : tensor<2x?x8xf32>
  %0 = mha.softmax %x : tensor<2x?x8xf32>
  // CHECK: mha.softmax %{{.*}} axis = 1 : tensor<2x?x8xf32>
  %1 = mha.softmax %x axis = 1 : tensor<2x?x8xf32>
  // CHECK: mha.reduce mean %{{.*}} dims = [1] : tensor<2x?x8xf32>
  %2 = mha.reduce mean %x dims = [1] : tensor<2x?x8xf32>
  // CHECK: mha.reduce max %{{.*}} dims = [-1] keep_dims : tensor<2x?x8xf32>
  %3 = mha.reduce max %x dims = [-1] keep_dims : tensor<2x?x8xf32>
  // CHECK: mha.reduce sum %{{.*}} dims = [0, 2] : tensor<2x?x8xf32>
  %4 = mha.reduce sum %x dims = [0, 2] : tensor<2x?x8xf32>
  return %0, %1, %2, %3, %4 : tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<2x8xf32>, tensor<2x?x1xf32>, tensor<?xf32>
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>, %c: tensor<?x1x1xf32>)
    -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  // CHECK: mha.add %{{.*}}, %{{.*}} : tensor<2x3x4xf32>, tensor<4xf32>
  %0 = mha.add %x, %b : tensor<2x3x4xf32>, tensor<4xf32>
  // CHECK: mha.mul %{{.*}}, %{{.*}} : tensor<2x3x4xf32>, tensor<?x1x1xf32>
  %1 = mha.mul %0, %c : tensor<2x3x4xf32>, tensor<?x1x1xf32>
  // CHECK: mha.relu %{{.*}} : tensor<2x3x4xf32>
  %2 = mha.relu %1 : tensor<2x3x4xf32>
  // CHECK: mha.gelu %{{.*}} : tensor<2x3x4xf32>
  %3 = mha.gelu %2 : tensor<2x3x4xf32>
  // CHECK: mha.gelu %{{.*}} approximate : tensor<2x3x4xf32>
  %4 = mha.gelu %3 approximate : tensor<2x3x4xf32>
  // CHECK: mha.sigmoid %{{.*}} : tensor<2x3x4xf32>
  %5 = mha.sigmoid %4 : tensor<2x3x4xf32>
  // CHECK: mha.tanh %{{.*}} : tensor<2x3x4xf32>
  %6 = mha.tanh %5 : tensor<2x3x4xf32>
  return %1, %6 : tensor<2x3x4xf32>, tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @layer_norm
func.func @layer_norm(%x: tensor<?x?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>)
    -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  // CHECK: mha.layer_norm %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32>
  %0 = mha.layer_norm %x, %g, %b : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32>
  // CHECK: mha.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999997E-7 : f32}
  %1 = mha.layer_norm %x, %g, %b {epsilon = 1.0e-6 : f32} : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32>
  return %0, %1 : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @attention
func.func @attention(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x32xf32>,
                     %keep: tensor<?x1x1x?xi1>, %bias: tensor<?x?xf32>)
    -> (tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>) {
  // CHECK: mha.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32>
  %0 = mha.attention %q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32>
  // CHECK: mha.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x1x?xi1>) causal :
  %1 = mha.attention %q, %k, %v mask(%keep : tensor<?x1x1x?xi1>) causal : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32>
  // CHECK: mha.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x?xf32>) {scale = 1.000000e-01 : f32} :
  %2 = mha.attention %q, %k, %v mask(%bias : tensor<?x?xf32>) {scale = 0.1 : f32} : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x32xf32>
  return %0, %1, %2 : tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>, tensor<?x8x?x32xf32>
}

// CHECK-LABEL: func.func @apply_mask
func.func @apply_mask(%s: tensor<2x4x4xf32>, %keep: tensor<4xi1>) -> tensor<2x4x4xf32> {
  // CHECK: mha.apply_mask %{{.*}} mask(%{{.*}} : tensor<4xi1>) causal zero_fill : tensor<2x4x4xf32>
  %g = mha.apply_mask %s mask(%keep : tensor<4xi1>) causal zero_fill : tensor<2x4x4xf32>
  // CHECK: mha.apply_mask %{{.*}} causal : tensor<2x4x4xf32>
  %0 = mha.apply_mask %s causal : tensor<2x4x4xf32>
  // CHECK: mha.apply_mask %{{.*}} mask(%{{.*}} : tensor<4xi1>) : tensor<2x4x4xf32>
  %1 = mha.apply_mask %0 mask(%keep : tensor<4xi1>) : tensor<2x4x4xf32>
  return %1 : tensor<2x4x4xf32>
}

// CHECK-LABEL: func.func @losses
func.func @losses(%p: tensor<?x1xf32>, %y: tensor<?x1xf32>, %logits: tensor<?x10xf32>, %labels: tensor<?xi64>)
    -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
  // CHECK: mha.bce_loss %{{.*}}, %{{.*}} : tensor<?x1xf32>, tensor<?x1xf32>
  %0 = mha.bce_loss %p, %y : tensor<?x1xf32>, tensor<?x1xf32>
  // CHECK: mha.bce_loss %{{.*}}, %{{.*}} from_logits : tensor<?x1xf32>, tensor<?x1xf32>
  %1 = mha.bce_loss %p, %y from_logits : tensor<?x1xf32>, tensor<?x1xf32>
  // CHECK: mha.mse_loss %{{.*}}, %{{.*}} : tensor<?x1xf32>, tensor<?x1xf32>
  %2 = mha.mse_loss %p, %y : tensor<?x1xf32>, tensor<?x1xf32>
  // CHECK: mha.cross_entropy %{{.*}}, %{{.*}} : tensor<?x10xf32>, tensor<?xi64>
  %3 = mha.cross_entropy %logits, %labels : tensor<?x10xf32>, tensor<?xi64>
  // CHECK: mha.cross_entropy %{{.*}}, %{{.*}} ignore_index = -1 : tensor<?x10xf32>, tensor<?xi64>
  %4 = mha.cross_entropy %logits, %labels ignore_index = -1 : tensor<?x10xf32>, tensor<?xi64>
  return %0, %1, %2, %4 : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
}

// CHECK: mha.training model = @model loss = bce_logits optimizer = <adamw, learning_rate = 0.001, beta1 = 0.8, weight_decay = 0.01> epochs = 3 batch_size = 16 metrics = ["accuracy", "mae"] dataset = <npy, validation_split = 0.1, data = "x.npy", labels = "y.npy">
func.func @model(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %w = mha.get_param @w : tensor<16x8xf32>
  %y = mha.dense %x, %w : tensor<?x16xf32>, tensor<16x8xf32>
  return %y : tensor<?x8xf32>
}
mha.training model = @model loss = bce_logits
    optimizer = <adamw, learning_rate = 1.0e-3, weight_decay = 0.01, beta1 = 0.8>
    epochs = 3 batch_size = 16 metrics = ["accuracy", "mae"]
    dataset = <npy, data = "x.npy", labels = "y.npy", validation_split = 0.1>

// CHECK-LABEL: func.func @gradient_ops
func.func @gradient_ops(%x: tensor<?x?x16xf32>, %dy: tensor<?x?x8xf32>, %g: tensor<f32>,
                        %q: tensor<2x4x8xf32>, %lse: tensor<2x4xf32>, %keep: tensor<2x1x4xi1>,
                        %l: tensor<?x10xf32>, %c: tensor<?xi32>) {
  // CHECK: mha.sub %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<f32>
  %0 = mha.sub %dy, %g : tensor<?x?x8xf32>, tensor<f32>
  // CHECK: mha.transpose %{{.*}} perm = [0, 2, 1] : tensor<?x?x16xf32>
  %1 = mha.transpose %x perm = [0, 2, 1] : tensor<?x?x16xf32>
  // CHECK: mha.broadcast_to %{{.*}} like %{{.*}} dims = [] : tensor<?x1x8xf32>, tensor<?x?x8xf32>
  %k = mha.reduce sum %dy dims = [1] keep_dims : tensor<?x?x8xf32>
  %2 = mha.broadcast_to %k like %dy dims = [] : tensor<?x1x8xf32>, tensor<?x?x8xf32>
  // CHECK: mha.broadcast_to %{{.*}} like %{{.*}} dims = [0, 1] average : tensor<8xf32>, tensor<?x?x8xf32>
  %r = mha.reduce mean %dy dims = [0, 1] : tensor<?x?x8xf32>
  %3 = mha.broadcast_to %r like %dy dims = [0, 1] average : tensor<8xf32>, tensor<?x?x8xf32>
  // CHECK: mha.reduce_to %{{.*}} like %{{.*}} : tensor<?x?x8xf32>, tensor<8xf32>
  %4 = mha.reduce_to %dy like %r : tensor<?x?x8xf32>, tensor<8xf32>
  // CHECK: mha.dense_weight_grad %{{.*}}, %{{.*}} : tensor<?x?x16xf32>, tensor<?x?x8xf32>
  %5 = mha.dense_weight_grad %x, %dy : tensor<?x?x16xf32>, tensor<?x?x8xf32>
  // CHECK: mha.relu_grad %{{.*}}, %{{.*}} : tensor<?x?x8xf32>
  %6 = mha.relu_grad %dy, %dy : tensor<?x?x8xf32>
  // CHECK: mha.gelu_grad %{{.*}}, %{{.*}} approximate : tensor<?x?x8xf32>
  %7 = mha.gelu_grad %dy, %dy approximate : tensor<?x?x8xf32>
  // CHECK: mha.attention_with_lse %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x1x4xi1>) causal : tensor<2x4x8xf32>
  %o, %s = mha.attention_with_lse %q, %q, %q mask(%keep : tensor<2x1x4xi1>) causal : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
  // CHECK: mha.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} causal {scale = 5.000000e-01 : f32} :
  %dq, %dk, %dv = mha.attention_grad %q, %q, %q, %o, %s, %q causal {scale = 0.5 : f32} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>
  // CHECK: mha.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<4x4xf32>) : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>, mask_grad tensor<4x4xf32>
  %bias = arith.constant dense<0.5> : tensor<4x4xf32>
  %dq2, %dk2, %dv2, %dbias = mha.attention_grad %q, %q, %q, %o, %s, %q mask(%bias : tensor<4x4xf32>) : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4xf32>, mask_grad tensor<4x4xf32>
  // CHECK: mha.bce_loss_grad %{{.*}}, %{{.*}}, %{{.*}} from_logits : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<f32>
  %8 = mha.bce_loss_grad %dy, %dy, %g from_logits : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<f32>
  // CHECK: mha.mse_loss_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<f32>
  %9 = mha.mse_loss_grad %dy, %dy, %g : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<f32>
  // CHECK: mha.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x10xf32>, tensor<?xi32>, tensor<f32>
  %10 = mha.cross_entropy_grad %l, %c, %g : tensor<?x10xf32>, tensor<?xi32>, tensor<f32>
  // CHECK: mha.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} ignore_index = 0 : tensor<?x10xf32>, tensor<?xi32>, tensor<f32>
  %11 = mha.cross_entropy_grad %l, %c, %g ignore_index = 0 : tensor<?x10xf32>, tensor<?xi32>, tensor<f32>
  return
}

// CHECK-LABEL: func.func @optimizer_update
func.func @optimizer_update(%p: tensor<4x2xf32>, %g: tensor<4x2xf32>, %t: tensor<f32>) {
  // CHECK: mha.optimizer_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} <adamw, learning_rate = 0.001, weight_decay = 0.1> : tensor<4x2xf32>, tensor<f32>
  %a:3 = mha.optimizer_update %p, %g, %p, %p, %t <adamw, learning_rate = 0.001, weight_decay = 0.1> : tensor<4x2xf32>, tensor<f32>
  // CHECK: mha.optimizer_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} <sgd, learning_rate = 0.1, momentum = 0.9> : tensor<4x2xf32>, tensor<f32>
  %s:3 = mha.optimizer_update %p, %g, %p, %p, %t <sgd, learning_rate = 0.1, momentum = 0.9> : tensor<4x2xf32>, tensor<f32>
  return
}

// CHECK-LABEL: func.func @layer_norm_grad
func.func @layer_norm_grad(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // CHECK: mha.layer_norm_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<8xf32>
  %dx, %dg, %db = mha.layer_norm_grad %x, %g, %x {epsilon = 1.0e-5 : f32} : tensor<?x8xf32>, tensor<8xf32>
  return
}

// CHECK-LABEL: func.func @reduce_max_grad
func.func @reduce_max_grad(%x: tensor<2x4xf32>, %m: tensor<2x1xf32>) {
  // CHECK: mha.reduce_max_grad %{{.*}}, %{{.*}}, %{{.*}} dims = [1] keep_dims : tensor<2x4xf32>, tensor<2x1xf32>
  %0 = mha.reduce_max_grad %x, %m, %m dims = [1] keep_dims : tensor<2x4xf32>, tensor<2x1xf32>
  return
}

// CHECK-LABEL: func.func @embedding
func.func @embedding(%table: tensor<256x8xf32>, %ids: tensor<?x?xi64>, %ids32: tensor<4xi32>, %dy: tensor<?x?x8xf32>)
    -> (tensor<?x?x8xf32>, tensor<4x8xf32>, tensor<256x8xf32>) {
  // CHECK: mha.embedding %{{.*}}, %{{.*}} : tensor<256x8xf32>, tensor<?x?xi64>
  %x = mha.embedding %table, %ids : tensor<256x8xf32>, tensor<?x?xi64>
  // CHECK: mha.embedding %{{.*}}, %{{.*}} : tensor<256x8xf32>, tensor<4xi32>
  %y = mha.embedding %table, %ids32 : tensor<256x8xf32>, tensor<4xi32>
  // CHECK: mha.embedding_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<256x8xf32>, tensor<?x?xi64>, tensor<?x?x8xf32>
  %g = mha.embedding_grad %table, %ids, %dy : tensor<256x8xf32>, tensor<?x?xi64>, tensor<?x?x8xf32>
  return %x, %y, %g : tensor<?x?x8xf32>, tensor<4x8xf32>, tensor<256x8xf32>
}

// CHECK-LABEL: func.func @positions
func.func @positions(%ids: tensor<?x?xi64>, %x: tensor<2x5x8xf32>) -> (tensor<?xi64>, tensor<5xi64>) {
  // CHECK: mha.positions %{{.*}} dim = 1 : tensor<?x?xi64>
  %p = mha.positions %ids dim = 1 : tensor<?x?xi64>
  // CHECK: mha.positions %{{.*}} dim = 1 : tensor<2x5x8xf32>
  %q = mha.positions %x dim = 1 : tensor<2x5x8xf32>
  // CHECK: mha.sinusoidal_positions %{{.*}} dim = 1 features = 8 : tensor<?x?xi64>
  %s = mha.sinusoidal_positions %ids dim = 1 features = 8 : tensor<?x?xi64>
  return %p, %q : tensor<?xi64>, tensor<5xi64>
}

// The built-in padded task and inputs bound by name to files.
// CHECK-LABEL: func.func private @datasets()
// CHECK-SAME: named = #mha.dataset<npy, data = {keep = "keep.npy", tokens = "ids.npy"}, labels = "y.npy">
// CHECK-SAME: padded = #mha.dataset<padded, samples = 64, seq_len = 12, seed = 3>
// CHECK-SAME: text = #mha.dataset<text, seq_len = 32, validation_split = 0.1, data = "book.txt">
func.func private @datasets() attributes {
  text = #mha.dataset<text, seq_len = 32, data = "book.txt", validation_split = 0.1>,
  padded = #mha.dataset<padded, samples = 64, seq_len = 12, seed = 3>,
  named = #mha.dataset<npy, data = {tokens = "ids.npy", keep = "keep.npy"}, labels = "y.npy">}

// CHECK-LABEL: func.func @rotary_and_dropout
func.func @rotary_and_dropout(%q: tensor<?x8x?x64xf32>, %n: tensor<i64>) -> (tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>) {
  // CHECK: mha.rotary %{{.*}} : tensor<?x8x?x64xf32>
  %a = mha.rotary %q : tensor<?x8x?x64xf32>
  // CHECK: mha.rotary %{{.*}} offset(%{{.*}} : tensor<i64>) inverse {base = 5.000000e+05 : f32} : tensor<?x8x?x64xf32>
  %b = mha.rotary %q offset(%n : tensor<i64>) inverse {base = 5.000000e+05 : f32} : tensor<?x8x?x64xf32>
  // CHECK: mha.dropout %{{.*}} rate = 1.000000e-01 key(%{{.*}} : tensor<i64>) {stream = 2 : i64} : tensor<?x8x?x64xf32>
  %c = mha.dropout %q rate = 1.000000e-01 key(%n : tensor<i64>) {stream = 2 : i64} : tensor<?x8x?x64xf32>
  return %a, %b, %c : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
}

// CHECK-LABEL: func.func @online_attention
func.func @online_attention(%q: tensor<2x8x16x64xf32>, %k: tensor<2x1x32x64xbf16>, %v: tensor<2x1x32x48xbf16>,
                            %kt: tensor<64x32xf32>, %q2: tensor<16x64xf32>, %v2: tensor<32x48xf32>,
                            %m: tensor<2x1x1x32xi1>, %bias: tensor<16x32xf32>,
                            %acc: tensor<2x8x16x48xf32>, %mx: tensor<2x8x16xf32>, %sm: tensor<2x8x16xf32>,
                            %acc2: tensor<16x48xf32>, %mx2: tensor<16xf32>, %sm2: tensor<16xf32>,
                            %i: index, %j: index, %s: f32) -> (tensor<2x8x16x48xf32>, tensor<16x48xf32>) {
  // CHECK: mha.online_attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x1x1x32xi1>) offsets(%{{.*}}, %{{.*}}) scale(%{{.*}}) causal outs(%{{.*}}, %{{.*}}, %{{.*}}) : tensor<2x8x16x64xf32>, tensor<2x1x32x64xbf16>, tensor<2x1x32x48xbf16> -> tensor<2x8x16x48xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
  %a:3 = mha.online_attention %q, %k, %v mask(%m : tensor<2x1x1x32xi1>) offsets(%i, %j) scale(%s) causal outs(%acc, %mx, %sm)
      : tensor<2x8x16x64xf32>, tensor<2x1x32x64xbf16>, tensor<2x1x32x48xbf16> -> tensor<2x8x16x48xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
  // CHECK: mha.online_attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<16x32xf32>) offsets(%{{.*}}, %{{.*}}) scale(%{{.*}}) key_transposed outs(%{{.*}}, %{{.*}}, %{{.*}}) : tensor<16x64xf32>, tensor<64x32xf32>, tensor<32x48xf32> -> tensor<16x48xf32>, tensor<16xf32>, tensor<16xf32>
  %b:3 = mha.online_attention %q2, %kt, %v2 mask(%bias : tensor<16x32xf32>) offsets(%i, %j) scale(%s) key_transposed outs(%acc2, %mx2, %sm2)
      : tensor<16x64xf32>, tensor<64x32xf32>, tensor<32x48xf32> -> tensor<16x48xf32>, tensor<16xf32>, tensor<16xf32>
  return %a#0, %b#0 : tensor<2x8x16x48xf32>, tensor<16x48xf32>
}

// CHECK-LABEL: func.func @gpu_attention
func.func @gpu_attention(%q: memref<?x8x?x64xbf16>, %k: memref<?x8x?x64xbf16>, %o: memref<?x8x?x64xbf16>,
                         %h: memref<2x5x32xf16>, %l: memref<2x5xf32>, %m: memref<5x1xi1>,
                         %f: memref<2x5x64xf32>) {
  // CHECK: mha.gpu_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {block_k = 64 : i64, block_q = 64 : i64, causal, scale = 1.250000e-01 : f32} : memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>
  mha.gpu_attention %q, %k, %k, %o {scale = 0.125 : f32, causal, block_q = 64, block_k = 64}
      : memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>
  // CHECK: mha.gpu_attention %{{.*}} {block_k = 16 : i64, block_q = 16 : i64, scale = 1.000000e+00 : f32} : memref<2x5x32xf16>
  mha.gpu_attention %h, %h, %h, %h {scale = 1.0 : f32, block_q = 16, block_k = 16}
      : memref<2x5x32xf16>, memref<2x5x32xf16>, memref<2x5x32xf16>, memref<2x5x32xf16>
  // CHECK: mha.gpu_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} lse(%{{.*}} : memref<2x5xf32>) {block_k = 16 : i64, block_q = 16 : i64, scale = 1.000000e+00 : f32}
  mha.gpu_attention %h, %h, %h, %h lse(%l : memref<2x5xf32>) {scale = 1.0 : f32, block_q = 16, block_k = 16}
      : memref<2x5x32xf16>, memref<2x5x32xf16>, memref<2x5x32xf16>, memref<2x5x32xf16>
  // CHECK: mha.gpu_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} lse(%{{.*}} : memref<2x5xf32>) mask(%{{.*}} : memref<5x1xi1>) {block_k = 16 : i64, block_q = 16 : i64, scale = 1.000000e+00 : f32}
  mha.gpu_attention %h, %h, %h, %h lse(%l : memref<2x5xf32>) mask(%m : memref<5x1xi1>) {scale = 1.0 : f32, block_q = 16, block_k = 16}
      : memref<2x5x32xf16>, memref<2x5x32xf16>, memref<2x5x32xf16>, memref<2x5x32xf16>
  // f32 buffers on their TF32 roundings.
  // CHECK: mha.gpu_attention %{{.*}} {block_k = 32 : i64, block_q = 64 : i64, causal, scale = 1.250000e-01 : f32, tf32} : memref<2x5x64xf32>
  mha.gpu_attention %f, %f, %f, %f {scale = 0.125 : f32, causal, block_q = 64, block_k = 32, tf32}
      : memref<2x5x64xf32>, memref<2x5x64xf32>, memref<2x5x64xf32>, memref<2x5x64xf32>
  return
}

// CHECK-LABEL: func.func @gpu_matmul
func.func @gpu_matmul(%x: memref<?x256xbf16>, %w: memref<256x512xbf16>, %y: memref<?x512xf32>,
                      %a: memref<3x?x64xf16>, %b: memref<3x64x24xf16>, %c: memref<3x?x24xf32>,
                      %xt: memref<256x?xbf16>, %wt: memref<512x256xbf16>,
                      %f: memref<?x12xf32>, %fw: memref<20x12xf32>, %fy: memref<?x20xf32>) {
  // CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} init(%{{.*}} : memref<?x512xf32>) {block_k = 32 : i64, block_m = 64 : i64, block_n = 128 : i64} : memref<?x256xbf16>, memref<256x512xbf16>, memref<?x512xf32>
  mha.gpu_matmul %x, %w, %y init(%y : memref<?x512xf32>) {block_m = 64, block_n = 128, block_k = 32}
      : memref<?x256xbf16>, memref<256x512xbf16>, memref<?x512xf32>
  // CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 16 : i64, block_m = 32 : i64, block_n = 16 : i64} : memref<3x?x64xf16>, memref<3x64x24xf16>, memref<3x?x24xf32>
  mha.gpu_matmul %a, %b, %c {block_m = 32, block_n = 16, block_k = 16}
      : memref<3x?x64xf16>, memref<3x64x24xf16>, memref<3x?x24xf32>
  // Transposed operands: lhs [K, M], rhs [N, K].
  // CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 32 : i64, block_m = 64 : i64, block_n = 128 : i64, lhs_transposed, rhs_transposed} : memref<256x?xbf16>, memref<512x256xbf16>, memref<?x512xf32>
  mha.gpu_matmul %xt, %wt, %y {block_m = 64, block_n = 128, block_k = 32, lhs_transposed, rhs_transposed}
      : memref<256x?xbf16>, memref<512x256xbf16>, memref<?x512xf32>
  // f32 operands (the CUDA-core kernel).
  // CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 16 : i64, block_m = 128 : i64, block_n = 64 : i64, rhs_transposed} : memref<?x12xf32>, memref<20x12xf32>, memref<?x20xf32>
  mha.gpu_matmul %f, %fw, %fy {block_m = 128, block_n = 64, block_k = 16, rhs_transposed}
      : memref<?x12xf32>, memref<20x12xf32>, memref<?x20xf32>
  // f32 operands on tensor cores, rounded to TF32 (block_m a multiple of
  // 32, block_k of 8).
  // CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 8 : i64, block_m = 32 : i64, block_n = 16 : i64, rhs_transposed, tf32} : memref<?x12xf32>, memref<20x12xf32>, memref<?x20xf32>
  mha.gpu_matmul %f, %fw, %fy {block_m = 32, block_n = 16, block_k = 8, rhs_transposed, tf32}
      : memref<?x12xf32>, memref<20x12xf32>, memref<?x20xf32>
  return
}

// CHECK-LABEL: func.func @gpu_attention_grad
func.func @gpu_attention_grad(%q: memref<?x8x?x64xbf16>, %k: memref<?x8x?x64xbf16>, %l: memref<?x8x?xf32>,
                              %h: memref<2x5x32xf16>, %hk: memref<2x7x32xf16>, %hl: memref<2x5xf32>, %m: memref<5x7xf16>,
                              %f: memref<2x5x32xf32>, %fk: memref<2x7x32xf32>) {
  // CHECK: mha.gpu_attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {block_rows = 64 : i64, causal, key_tile = 64 : i64, query_tile = 32 : i64, scale = 1.250000e-01 : f32} : memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?xf32>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>
  mha.gpu_attention_grad %q, %k, %k, %q, %l, %q, %q, %k, %k
      {scale = 0.125 : f32, causal, block_rows = 64, key_tile = 64, query_tile = 32}
      : memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?xf32>,
        memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>
  // CHECK: mha.gpu_attention_grad {{.*}} mask(%{{.*}} : memref<5x7xf16>) {block_rows = 16 : i64, key_tile = 16 : i64, query_tile = 16 : i64, scale = 1.000000e+00 : f32} : memref<2x5x32xf16>, memref<2x7x32xf16>
  mha.gpu_attention_grad %h, %hk, %hk, %h, %hl, %h, %h, %hk, %hk mask(%m : memref<5x7xf16>)
      {scale = 1.0 : f32, block_rows = 16, key_tile = 16, query_tile = 16}
      : memref<2x5x32xf16>, memref<2x7x32xf16>, memref<2x7x32xf16>, memref<2x5x32xf16>, memref<2x5xf32>,
        memref<2x5x32xf16>, memref<2x5x32xf16>, memref<2x7x32xf16>, memref<2x7x32xf16>
  // CHECK: mha.gpu_attention_grad {{.*}} {block_rows = 64 : i64, key_tile = 32 : i64, query_tile = 32 : i64, scale = 1.250000e-01 : f32, tf32} : memref<2x5x32xf32>, memref<2x7x32xf32>
  mha.gpu_attention_grad %f, %fk, %fk, %f, %hl, %f, %f, %fk, %fk
      {scale = 0.125 : f32, block_rows = 64, key_tile = 32, query_tile = 32, tf32}
      : memref<2x5x32xf32>, memref<2x7x32xf32>, memref<2x7x32xf32>, memref<2x5x32xf32>, memref<2x5xf32>,
        memref<2x5x32xf32>, memref<2x5x32xf32>, memref<2x7x32xf32>, memref<2x7x32xf32>
  return
}
