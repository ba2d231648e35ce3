// RUN: mha-opt %s -mha-tile-attention="block-q=16 block-k=32" -canonicalize | FileCheck %s
// RUN: not mha-opt %s -mha-tile-attention="block-q=0" 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: mha-tile-attention: block-q must be positive and block-k at least 0 (0: all keys in one tile)

// attention_with_lse through the TilingInterface of mha.online_attention:
// the state starts at acc = 0, max = -inf, sum = 0; an scf.forall over
// (batch, head, block of 16 queries) slices the queries, the state, the
// keys and values of its batch position and the mask (broadcast over heads
// and queries: read at 0); in it an scf.for over blocks of 32 keys carries the
// state through one online_attention per tile, whose offsets are the tile's
// first query and key; then O = acc / sum and lse = max + log(sum).
// CHECK-LABEL: func.func @lse
// CHECK-SAME: (%[[Q:[^ ]+]]: tensor<2x3x37x16xf32>{{.*}}, %[[K:[^ ]+]]: tensor<2x3x45x16xf32>{{.*}}, %[[V:[^ ]+]]: tensor<2x3x45x8xf32>{{.*}}, %[[M:[^ ]+]]: tensor<2x1x1x45xi1>
// CHECK-DAG: %[[SCALE:.*]] = arith.constant 2.500000e-01 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[ACC0:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<2x3x37x8xf32>)
// CHECK: %[[MAX0:.*]] = linalg.fill ins(%[[NEGINF]] : f32) outs(%{{.*}} : tensor<2x3x37xf32>)
// CHECK: %[[SUM0:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<2x3x37xf32>)
// CHECK: %[[STATE:.*]]:3 = scf.forall (%[[B:.*]], %[[H:.*]], %[[QB:.*]]) = (0, 0, 0) to (2, 3, 37) step (1, 1, 16) shared_outs(%[[ACC:.*]] = %[[ACC0]], %[[MAX:.*]] = %[[MAX0]], %[[SUM:.*]] = %[[SUM0]])
// CHECK: %[[ROWS:.*]] = affine.min #{{.*}}(%[[QB]])
// CHECK: %[[QT:.*]] = tensor.extract_slice %[[Q]][%[[B]], %[[H]], %[[QB]], 0] [1, 1, %[[ROWS]], 16]
// CHECK: %[[KT:.*]] = tensor.extract_slice %[[K]][%[[B]], %[[H]], 0, 0] [1, 1, 45, 16]
// CHECK: %[[VT:.*]] = tensor.extract_slice %[[V]][%[[B]], %[[H]], 0, 0] [1, 1, 45, 8]
// CHECK: %[[MT:.*]] = tensor.extract_slice %[[M]][%[[B]], 0, 0, 0] [1, 1, 1, 45]
// Causal: the key blocks past the query block's last key are skipped, the
// loop ending at min(45, max(0, qb + rows)).
// CHECK: %[[VISIBLE:.*]] = arith.addi %[[QB]], %[[ROWS]]
// CHECK: %[[POS:.*]] = arith.maxsi %[[VISIBLE]], %{{.*}}
// CHECK: %[[END:.*]] = arith.minsi %[[POS]], %{{.*}}
// CHECK: %[[LOOP:.*]]:3 = scf.for %[[KB:.*]] = %{{.*}} to %[[END]] step %{{.*}} iter_args(%[[A:.*]] = %{{.*}}, %[[MX:.*]] = %{{.*}}, %[[SM:.*]] = %{{.*}})
// CHECK: %[[COLS:.*]] = affine.min #{{.*}}(%[[KB]])
// CHECK: %[[KTILE:.*]] = tensor.extract_slice %[[KT]][0, 0, %[[KB]], 0] [1, 1, %[[COLS]], 16]
// CHECK: %[[VTILE:.*]] = tensor.extract_slice %[[VT]][0, 0, %[[KB]], 0] [1, 1, %[[COLS]], 8]
// CHECK: %[[MTILE:.*]] = tensor.extract_slice %[[MT]][0, 0, 0, %[[KB]]] [1, 1, 1, %[[COLS]]]
// CHECK: mha.online_attention %{{.*}}, %[[KTILE]], %[[VTILE]] mask(%[[MTILE]] : tensor<1x1x1x?xi1>) offsets(%[[QB]], %[[KB]]) scale(%[[SCALE]]) causal outs(
// CHECK: scf.yield
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %[[LOOP]]#0 into %[[ACC]][%[[B]], %[[H]], %[[QB]], 0] [1, 1, %[[ROWS]], 8]
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%[[STATE]]#0, %[[STATE]]#2 : tensor<2x3x37x8xf32>, tensor<2x3x37xf32>)
// CHECK: arith.divf
// CHECK: %[[L:.*]] = linalg.generic {{.*}} ins(%[[STATE]]#1, %[[STATE]]#2 : tensor<2x3x37xf32>, tensor<2x3x37xf32>)
// CHECK: math.log
// CHECK: return %[[O]], %[[L]]
func.func @lse(%q: tensor<2x3x37x16xf32>, %k: tensor<2x3x45x16xf32>, %v: tensor<2x3x45x8xf32>, %m: tensor<2x1x1x45xi1>) -> (tensor<2x3x37x8xf32>, tensor<2x3x37xf32>) {
  %o, %l = mha.attention_with_lse %q, %k, %v mask(%m : tensor<2x1x1x45xi1>) causal : tensor<2x3x37x16xf32>, tensor<2x3x45x16xf32>, tensor<2x3x45x8xf32>
  return %o, %l : tensor<2x3x37x8xf32>, tensor<2x3x37xf32>
}

// Dynamic sizes and bf16 operands: the sizes the verifier could not compare
// are checked before the loops (tiles are slices over the query's and key's
// ranges), the scale is 1/sqrt(D) at run time, the online state f32, the
// output truncated back to bf16.
// CHECK-LABEL: func.func @dynamic_bf16
// CHECK: cf.assert %{{.*}}, "{{.*}}'mha.attention' op: dimension 1 of 'query' does not match dimension 1 of 'key' at run time"
// CHECK: cf.assert %{{.*}}, "{{.*}}'mha.attention' op: dimension 0 of 'key' does not match dimension 0 of 'value' at run time"
// Not causal: every key block is visited (the loop runs to Sk).
// CHECK: math.rsqrt
// CHECK: scf.forall
// CHECK-NOT: arith.minsi
// CHECK: scf.for %{{.*}} = %{{.*}} to %dim{{.*}} step
// CHECK: mha.online_attention {{.*}} : tensor<?x?xbf16>, tensor<?x?xbf16>, tensor<?x?xbf16> -> tensor<?x?xf32>, tensor<?xf32>, tensor<?xf32>
// CHECK: arith.truncf {{.*}} : f32 to bf16
func.func @dynamic_bf16(%q: tensor<?x?xbf16>, %k: tensor<?x?xbf16>, %v: tensor<?x?xbf16>) -> tensor<?x?xbf16> {
  %o = mha.attention %q, %k, %v : tensor<?x?xbf16>, tensor<?x?xbf16>, tensor<?x?xbf16>
  return %o : tensor<?x?xbf16>
}
