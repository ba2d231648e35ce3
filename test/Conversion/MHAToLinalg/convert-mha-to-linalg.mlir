// RUN: mha-opt %s -convert-mha-to-linalg -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @dense
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x16xf32>, %[[W:.*]]: tensor<16x8xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<?x?x16xf32> into tensor<?x16xf32>
// CHECK: %[[INIT:.*]] = linalg.broadcast ins(%[[B]] : tensor<8xf32>) outs(%{{.*}} : tensor<?x8xf32>) dimensions = [0]
// CHECK: %[[MM:.*]] = linalg.matmul ins(%[[X2]], %[[W]] : tensor<?x16xf32>, tensor<16x8xf32>) outs(%[[INIT]] : tensor<?x8xf32>)
// CHECK: tensor.expand_shape %[[MM]] {{\[\[}}0, 1], [2]] output_shape [%{{.*}}, %{{.*}}, 8] : tensor<?x8xf32> into tensor<?x?x8xf32>
func.func @dense(%x: tensor<?x?x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %0 = mha.dense %x, %w, %b : tensor<?x?x16xf32>, tensor<16x8xf32>, tensor<8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// bf16 operands: the matmul accumulates into f32, truncated at the end.
// CHECK-LABEL: func.func @dense_bf16
// CHECK: %[[ACC:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<4x8xf32>)
// CHECK: %[[MM:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<4x16xbf16>, tensor<16x8xbf16>) outs(%[[ACC]] : tensor<4x8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[MM]] : tensor<4x8xf32>) outs(%{{.*}} : tensor<4x8xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @dense_bf16(%x: tensor<4x16xbf16>, %w: tensor<16x8xbf16>) -> tensor<4x8xbf16> {
  %0 = mha.dense %x, %w : tensor<4x16xbf16>, tensor<16x8xbf16>
  return %0 : tensor<4x8xbf16>
}

// -----

// CHECK-LABEL: func.func @split_heads
// CHECK: %[[E:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] output_shape [%{{.*}}, %{{.*}}, 8, 64] : tensor<?x?x512xf32> into tensor<?x?x8x64xf32>
// CHECK: linalg.transpose ins(%[[E]] : tensor<?x?x8x64xf32>) outs(%{{.*}} : tensor<?x8x?x64xf32>) permutation = [0, 2, 1, 3]
func.func @split_heads(%x: tensor<?x?x512xf32>) -> tensor<?x8x?x64xf32> {
  %0 = mha.split_heads %x into 8 heads : tensor<?x?x512xf32>
  return %0 : tensor<?x8x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @merge_heads
// CHECK: %[[T:.*]] = linalg.transpose ins(%{{.*}} : tensor<?x8x?x64xf32>) outs(%{{.*}} : tensor<?x?x8x64xf32>) permutation = [0, 2, 1, 3]
// CHECK: tensor.collapse_shape %[[T]] {{\[\[}}0], [1], [2, 3]] : tensor<?x?x8x64xf32> into tensor<?x?x512xf32>
func.func @merge_heads(%x: tensor<?x8x?x64xf32>) -> tensor<?x?x512xf32> {
  %0 = mha.merge_heads %x : tensor<?x8x?x64xf32>
  return %0 : tensor<?x?x512xf32>
}

// -----

// Batch dimensions beyond one are collapsed around a batch_matmul; the key
// is transposed and the default scale 1/sqrt(64) applied.
// CHECK-LABEL: func.func @scaled_matmul
// CHECK: %[[KT:.*]] = linalg.transpose ins(%{{.*}} : tensor<2x8x?x64xf32>) outs(%{{.*}} : tensor<2x8x64x?xf32>) permutation = [0, 1, 3, 2]
// CHECK: %[[K3:.*]] = tensor.collapse_shape %[[KT]] {{\[\[}}0, 1], [2], [3]]
// CHECK: %[[BMM:.*]] = linalg.batch_matmul ins(%{{.*}}, %[[K3]] : tensor<16x?x64xf32>, tensor<16x64x?xf32>)
// CHECK: %[[E:.*]] = tensor.expand_shape %[[BMM]] {{\[\[}}0, 1], [2], [3]]
// CHECK: %[[SCALE:.*]] = arith.constant 1.250000e-01 : f32
// CHECK: linalg.generic {{.*}} ins(%[[E]] : tensor<2x8x?x?xf32>)
// CHECK: arith.mulf %{{.*}}, %[[SCALE]] : f32
func.func @scaled_matmul(%q: tensor<2x8x?x64xf32>, %k: tensor<2x8x?x64xf32>) -> tensor<2x8x?x?xf32> {
  %0 = mha.scaled_matmul %q, %k : tensor<2x8x?x64xf32>, tensor<2x8x?x64xf32>
  return %0 : tensor<2x8x?x?xf32>
}

// -----

// A dynamic contraction size: the scale is computed at run time.
// CHECK-LABEL: func.func @scaled_matmul_dynamic_k
// CHECK: %[[MM:.*]] = linalg.matmul
// CHECK: %[[KF:.*]] = arith.sitofp %{{.*}} : i64 to f32
// CHECK: %[[S:.*]] = math.rsqrt %[[KF]] : f32
// CHECK: linalg.generic {{.*}} ins(%[[MM]] : tensor<?x?xf32>)
// CHECK: arith.mulf %{{.*}}, %[[S]] : f32
func.func @scaled_matmul_dynamic_k(%q: tensor<?x?xf32>, %k: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = mha.scaled_matmul %q, %k : tensor<?x?xf32>, tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// CHECK-LABEL: func.func @matmul
// CHECK: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<2x4x3xf32>, tensor<2x3x5xf32>) outs(%{{.*}} : tensor<2x4x5xf32>)
func.func @matmul(%a: tensor<2x4x3xf32>, %b: tensor<2x3x5xf32>) -> tensor<2x4x5xf32> {
  %0 = mha.matmul %a, %b : tensor<2x4x3xf32>, tensor<2x3x5xf32>
  return %0 : tensor<2x4x5xf32>
}

// -----

// Max-subtracted softmax; a row of -inf shifts by 0 and divides to 0.
// CHECK-LABEL: func.func @softmax
// CHECK: %[[MAX:.*]] = linalg.reduce ins(%{{.*}} : tensor<4x8xf32>) outs(%{{.*}} : tensor<4xf32>) dimensions = [1]
// CHECK: arith.maximumf
// CHECK: %[[EXP:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[MAX]] : tensor<4x8xf32>, tensor<4xf32>)
// CHECK: arith.cmpf oeq
// CHECK: arith.select
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: %[[SUM:.*]] = linalg.reduce ins(%[[EXP]] : tensor<4x8xf32>) outs(%{{.*}} : tensor<4xf32>) dimensions = [1]
// CHECK: linalg.generic {{.*}} ins(%[[EXP]], %[[SUM]] : tensor<4x8xf32>, tensor<4xf32>)
// CHECK: arith.divf
// CHECK: arith.select
func.func @softmax(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = mha.softmax %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @reduce_mean_keep_dims
// CHECK: %[[SUM:.*]] = linalg.reduce ins(%{{.*}} : tensor<2x?x4xf32>) outs(%{{.*}} : tensor<2x4xf32>) dimensions = [1]
// CHECK: arith.addf
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<2x4xf32>)
// CHECK: arith.divf
// CHECK: tensor.expand_shape %[[MEAN]] {{\[\[}}0], [1, 2]] output_shape [2, 1, 4] : tensor<2x4xf32> into tensor<2x1x4xf32>
func.func @reduce_mean_keep_dims(%x: tensor<2x?x4xf32>) -> tensor<2x1x4xf32> {
  %0 = mha.reduce mean %x dims = [1] keep_dims : tensor<2x?x4xf32>
  return %0 : tensor<2x1x4xf32>
}

// -----

// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$LAST:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[$UNIT:.*]] = affine_map<(d0, d1, d2) -> (d0, 0, 0)>
// CHECK-LABEL: func.func @broadcasting
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$LAST]], #[[$ID]]]
// CHECK: arith.addf
// CHECK: linalg.generic {indexing_maps = [#[[$UNIT]], #[[$ID]], #[[$ID]]]
// CHECK: arith.mulf
func.func @broadcasting(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>, %c: tensor<2x1x1xf32>) -> tensor<2x3x4xf32> {
  %0 = mha.add %x, %b : tensor<2x3x4xf32>, tensor<4xf32>
  %1 = mha.mul %c, %0 : tensor<2x1x1xf32>, tensor<2x3x4xf32>
  return %1 : tensor<2x3x4xf32>
}

// -----

// Dynamic sizes the verifier could not compare are checked at run time.
// CHECK-LABEL: func.func @runtime_size_checks
// CHECK-SAME: (%[[A:.*]]: tensor<?x4xf32>, %[[B:.*]]: tensor<?x4xf32>)
// CHECK: %[[DA:.*]] = tensor.dim %[[A]], %{{.*}} : tensor<?x4xf32>
// CHECK: %[[DB:.*]] = tensor.dim %[[B]], %{{.*}} : tensor<?x4xf32>
// CHECK: %[[EQ:.*]] = arith.cmpi eq, %[[DA]], %[[DB]] : index
// CHECK: cf.assert %[[EQ]], "{{.*}}convert-mha-to-linalg.mlir:{{[0-9]+}}:8: 'mha.add' op: dimension 0 of 'lhs' does not match dimension 0 of 'rhs' at run time"
func.func @runtime_size_checks(%a: tensor<?x4xf32>, %b: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = mha.add %a, %b : tensor<?x4xf32>, tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Static sizes need no check.
// CHECK-LABEL: func.func @negative_static_sizes
// CHECK-NOT: cf.assert
func.func @negative_static_sizes(%a: tensor<2x4xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %0 = mha.add %a, %b : tensor<2x4xf32>, tensor<4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @activations
// CHECK: arith.maximumf
// CHECK: math.erf
// CHECK: math.tanh
// CHECK: math.exp
// CHECK: math.tanh
func.func @activations(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = mha.relu %x : tensor<8xf32>
  %1 = mha.gelu %0 : tensor<8xf32>
  %2 = mha.gelu %1 approximate : tensor<8xf32>
  %3 = mha.sigmoid %2 : tensor<8xf32>
  %4 = mha.tanh %3 : tensor<8xf32>
  return %4 : tensor<8xf32>
}

// -----

// CHECK-LABEL: func.func @layer_norm
// CHECK: linalg.reduce
// CHECK: linalg.reduce
// CHECK: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
// CHECK: linalg.generic
// CHECK: arith.addf %{{.*}}, %[[EPS]] : f32
// CHECK: math.rsqrt
func.func @layer_norm(%x: tensor<?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<?x16xf32> {
  %0 = mha.layer_norm %x, %g, %b : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

// Boolean mask by select, causal by comparing the two last loop indices.
// CHECK-LABEL: func.func @apply_mask
// CHECK: linalg.generic
// CHECK: ^bb0(%[[S:.*]]: f32, %[[KEEP:.*]]: i1, %{{.*}}: f32):
// CHECK: %[[M:.*]] = arith.select %[[KEEP]], %[[S]], %{{.*}} : f32
// CHECK: %[[I:.*]] = linalg.index 1 : index
// CHECK: %[[J:.*]] = linalg.index 2 : index
// CHECK: %[[FUT:.*]] = arith.cmpi ugt, %[[J]], %[[I]] : index
// CHECK: arith.select %[[FUT]], %{{.*}}, %[[M]] : f32
func.func @apply_mask(%s: tensor<2x4x4xf32>, %keep: tensor<2x1x4xi1>) -> tensor<2x4x4xf32> {
  %0 = mha.apply_mask %s mask(%keep : tensor<2x1x4xi1>) causal : tensor<2x4x4xf32>
  return %0 : tensor<2x4x4xf32>
}

// -----

// mha.attention gets the flash lowering (flash-attention.mlir tests it in
// detail): block loops, marked for peeling, and no mha op left.
// CHECK-LABEL: func.func @attention
// CHECK: scf.for
// CHECK: linalg.matmul
// CHECK: linalg.reduce
// CHECK: math.exp
// CHECK: linalg.matmul
// CHECK: } {mha.peel}
// CHECK-NOT: mha.{{[a-z_]+}} %
func.func @attention(%q: tensor<4x8xf32>, %k: tensor<6x8xf32>, %v: tensor<6x2xf32>) -> tensor<4x2xf32> {
  %0 = mha.attention %q, %k, %v : tensor<4x8xf32>, tensor<6x8xf32>, tensor<6x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// CHECK-LABEL: func.func @losses
// CHECK: math.log1p
// CHECK: linalg.reduce {{.*}} dimensions = [0, 1]
// Labels are checked against the class count before any is used.
// CHECK: %[[C5:.*]] = arith.index_cast %{{.*}} : index to i32
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]
// CHECK: arith.cmpi sge, %{{.*}}, %{{.*}} : i32
// CHECK: arith.cmpi slt, %{{.*}}, %[[C5]] : i32
// CHECK: cf.assert %{{.*}}, "{{.*}}: 'mha.cross_entropy' op: a label lies outside [0, the number of classes = 5) at run time"
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x5xf32>
func.func @losses(%p: tensor<?x1xf32>, %y: tensor<?x1xf32>, %l: tensor<?x5xf32>, %c: tensor<?xi32>) -> (tensor<f32>, tensor<f32>) {
  %0 = mha.bce_loss %p, %y from_logits : tensor<?x1xf32>, tensor<?x1xf32>
  %1 = mha.cross_entropy %l, %c : tensor<?x5xf32>, tensor<?xi32>
  return %0, %1 : tensor<f32>, tensor<f32>
}

// -----

// Declarations are consumed; compute ops are gone.
// CHECK-LABEL: module
// CHECK-NOT: mha.param
// CHECK-NOT: mha.training
// CHECK: func.func @model(%{{.*}}: tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK-NOT: mha.param
mha.param @w : tensor<4x4xf32> init <zeros>
func.func @model(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}
mha.training model = @model loss = mse optimizer = <sgd, learning_rate = 0.1> epochs = 1 batch_size = 1

// -----

// An embedding gathers rows: every id is first checked against the table's
// row count (one assert), then a generic over [ids..., D] reads
// table[id, d] with tensor.extract.
// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[T:[^:]*]]: tensor<50x8xf32>{{.*}}, %[[IDS:[^:]*]]: tensor<?x3xi32>
// CHECK: %[[C50:.*]] = arith.constant 50 : index
// CHECK: %[[V:.*]] = arith.index_cast %[[C50]] : index to i32
// CHECK: %[[OK:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]} ins(%[[IDS]] : tensor<?x3xi32>)
// CHECK: arith.cmpi slt, %{{.*}}, %[[V]] : i32
// CHECK: %[[ALL:.*]] = tensor.extract %[[OK]][]
// CHECK: cf.assert %[[ALL]], "{{.*}}'mha.embedding' op: a token id lies outside [0, the table's row count = 50) at run time"
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[IDS]] : tensor<?x3xi32>) outs(%{{.*}} : tensor<?x3x8xf32>)
// CHECK: ^bb0(%[[ID:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[COL:.*]] = linalg.index 2 : index
// CHECK: %[[E:.*]] = tensor.extract %[[T]][%[[ROW]], %[[COL]]] : tensor<50x8xf32>
// CHECK: linalg.yield %[[E]]
func.func @embedding(%table: tensor<50x8xf32>, %ids: tensor<?x3xi32>) -> tensor<?x3x8xf32> {
  %x = mha.embedding %table, %ids : tensor<50x8xf32>, tensor<?x3xi32>
  return %x : tensor<?x3x8xf32>
}

// -----

// With ignore_index, the label check accepts it, ignored rows read class 0
// and contribute 0, and the sum is divided by the number of kept labels
// (at least 1).
// CHECK-LABEL: func.func @cross_entropy_ignore
// CHECK: arith.cmpi eq, %{{.*}}, %{{.*}} : i64
// CHECK: arith.ori
// CHECK: cf.assert %{{.*}}, "{{.*}}a label lies outside [0, the number of classes = 5) and is not the ignore index -100 at run time"
// CHECK: %[[IGN:.*]] = arith.cmpi eq, %{{.*}}, %{{.*}} : i64
// CHECK: %[[ROW:.*]] = arith.select %[[IGN]], %{{.*}}, %{{.*}} : index
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %[[ROW]]]
// CHECK: arith.select %[[IGN]], %{{.*}}, %{{.*}} : f32
// CHECK: %[[KEPT:.*]] = arith.maximumf %{{.*}}, %{{.*}} : f32
// CHECK: arith.divf %{{.*}}, %[[KEPT]] : f32
func.func @cross_entropy_ignore(%logits: tensor<?x5xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
  %l = mha.cross_entropy %logits, %labels ignore_index = -100 : tensor<?x5xf32>, tensor<?xi64>
  return %l : tensor<f32>
}

// -----

// positions: an iota along the chosen dimension, as i64.
// CHECK-LABEL: func.func @positions
// CHECK: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[S:.*]] = tensor.dim %{{.*}}, %[[C1]] : tensor<?x?xi64>
// CHECK: %[[E:.*]] = tensor.empty(%[[S]]) : tensor<?xi64>
// CHECK: linalg.generic {{.*}} outs(%[[E]] : tensor<?xi64>)
// CHECK: %[[I:.*]] = linalg.index 0 : index
// CHECK: %[[V:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK: linalg.yield %[[V]] : i64
func.func @positions(%ids: tensor<?x?xi64>) -> tensor<?xi64> {
  %p = mha.positions %ids dim = 1 : tensor<?x?xi64>
  return %p : tensor<?xi64>
}

// -----

// With an offset, its value is added to every position.
// CHECK-LABEL: func.func @positions_offset
// CHECK-SAME: (%{{.*}}: tensor<1x1xi64>, %[[OFF:.*]]: tensor<i64>)
// CHECK: %[[O:.*]] = tensor.extract %[[OFF]][] : tensor<i64>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1xi64>)
// CHECK: %[[I:.*]] = linalg.index 0 : index
// CHECK: %[[V:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK: %[[P:.*]] = arith.addi %[[V]], %[[O]] : i64
// CHECK: linalg.yield %[[P]] : i64
func.func @positions_offset(%ids: tensor<1x1xi64>, %off: tensor<i64>) -> tensor<1xi64> {
  %p = mha.positions %ids dim = 1 offset(%off : tensor<i64>) : tensor<1x1xi64>
  return %p : tensor<1xi64>
}

// -----

// sinusoidal_positions: per element, the pair's frequency exp(-ln(10000)
// 2i / D) times the position, then sin for even columns and cos for odd.
// CHECK-LABEL: func.func @sinusoidal
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x8xf32>)
// CHECK: %[[P:.*]] = linalg.index 0 : index
// CHECK: %[[C:.*]] = linalg.index 1 : index
// CHECK: %[[PAIR:.*]] = arith.divui %[[C]], %{{.*}} : index
// CHECK: %[[EVEN:.*]] = arith.muli %[[PAIR]], %{{.*}} : index
// CHECK: math.exp
// CHECK: %[[ANGLE:.*]] = arith.mulf
// CHECK: %[[ISEVEN:.*]] = arith.cmpi eq, %[[C]], %[[EVEN]] : index
// CHECK: %[[SIN:.*]] = math.sin %[[ANGLE]] : f32
// CHECK: %[[COS:.*]] = math.cos %[[ANGLE]] : f32
// CHECK: arith.select %[[ISEVEN]], %[[SIN]], %[[COS]] : f32
func.func @sinusoidal(%ids: tensor<?x?xi64>) -> tensor<?x8xf32> {
  %p = mha.sinusoidal_positions %ids dim = 1 features = 8 : tensor<?x?xi64>
  return %p : tensor<?x8xf32>
}

// -----

// With an offset, the angle is that of offset + row.
// CHECK-LABEL: func.func @sinusoidal_offset
// CHECK: %[[O:.*]] = tensor.extract %{{.*}}[] : tensor<i64>
// CHECK: linalg.generic
// CHECK: %[[R:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK: %[[P:.*]] = arith.addi %[[R]], %[[O]] : i64
// CHECK: %[[PF:.*]] = arith.sitofp %[[P]] : i64 to f32
// CHECK: arith.mulf %[[PF]]
func.func @sinusoidal_offset(%ids: tensor<1x1xi64>, %off: tensor<i64>) -> tensor<1x8xf32> {
  %p = mha.sinusoidal_positions %ids dim = 1 features = 8 offset(%off : tensor<i64>) : tensor<1x1xi64>
  return %p : tensor<1x8xf32>
}

// -----

// dropout with a key: per element, the row-major index hashed with the key
// and the stream (SplitMix64's finalizer), its top 24 bits against
// rate * 2^24 (0.25 -> 4194304), kept values scaled by 1 / (1 - rate).
// CHECK-LABEL: func.func @dropout
// CHECK: %[[K:.*]] = tensor.extract %{{.*}}[] : tensor<i64>
// CHECK: %[[BASE:.*]] = arith.addi
// CHECK: linalg.generic
// CHECK: %[[I0:.*]] = linalg.index 0 : index
// CHECK: %[[R:.*]] = arith.muli %[[I0]], %{{.*}} : index
// CHECK: %[[I1:.*]] = linalg.index 1 : index
// CHECK: %[[IDX:.*]] = arith.addi %[[R]], %[[I1]] : index
// CHECK: arith.index_cast %[[IDX]] : index to i64
// CHECK: arith.shrui
// CHECK: arith.xori
// CHECK: %[[C40:.*]] = arith.constant 40 : i64
// CHECK: %[[DRAW:.*]] = arith.shrui %{{.*}}, %[[C40]] : i64
// CHECK: %[[T:.*]] = arith.constant 4194304 : i64
// CHECK: %[[KEEP:.*]] = arith.cmpi uge, %[[DRAW]], %[[T]] : i64
// CHECK: %[[SCALED:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: arith.select %[[KEEP]], %[[SCALED]], %{{.*}} : f32
// CHECK: func.func @dropout_inactive(%[[X:[^:]*]]: tensor<?x8xf32>)
// CHECK-NEXT: return %[[X]]
func.func @dropout(%x: tensor<?x8xf32>, %k: tensor<i64>) -> tensor<?x8xf32> {
  %y = mha.dropout %x rate = 2.500000e-01 key(%k : tensor<i64>) {stream = 2 : i64} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
func.func @dropout_inactive(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = mha.dropout %x rate = 2.500000e-01 : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// rotary: each element reads its pair partner (the other of 2i, 2i+1) and
// combines both with cos and sin of θ = (offset + position) * base^(-2i/D);
// even features take -sin of the partner, odd ones +sin.
// CHECK-LABEL: func.func @rotary
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x2x?x8xf32>, %[[OFF:[^:]*]]: tensor<i64>)
// CHECK: %[[O:.*]] = tensor.extract %[[OFF]][] : tensor<i64>
// CHECK: linalg.generic
// CHECK: %[[S:.*]] = linalg.index 2 : index
// CHECK: %[[C:.*]] = linalg.index 3 : index
// CHECK: %[[EVEN:.*]] = arith.cmpi eq, %[[C]], %{{.*}} : index
// CHECK: %[[PIDX:.*]] = arith.select %[[EVEN]], %{{.*}}, %{{.*}} : index
// CHECK: %[[PARTNER:.*]] = tensor.extract %[[X]][%{{.*}}, %{{.*}}, %[[S]], %[[PIDX]]] : tensor<?x2x?x8xf32>
// CHECK: %[[P:.*]] = arith.index_cast %[[S]] : index to i64
// CHECK: arith.addi %[[P]], %[[O]] : i64
// CHECK: %[[F:.*]] = math.exp
// CHECK: %[[ANGLE:.*]] = arith.mulf %{{.*}}, %[[F]] : f32
// CHECK: math.cos %[[ANGLE]] : f32
// CHECK: math.sin %[[ANGLE]] : f32
// CHECK: arith.select %[[EVEN]], %{{.*}}, %{{.*}} : f32
func.func @rotary(%x: tensor<?x2x?x8xf32>, %off: tensor<i64>) -> tensor<?x2x?x8xf32> {
  %y = mha.rotary %x offset(%off : tensor<i64>) : tensor<?x2x?x8xf32>
  return %y : tensor<?x2x?x8xf32>
}
