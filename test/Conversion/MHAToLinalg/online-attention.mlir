// RUN: mha-opt %s -convert-mha-to-linalg -split-input-file -verify-diagnostics | FileCheck %s

// One tile of the tiled form: S = Q·Kᵀ (K transposed first), the scaled,
// masked scores (an additive mask added; causal: key kb + j after query
// qb + i is -inf), the block's row maximum, alpha = exp(m - m_new), P =
// exp(S - m_new), and the state updated in place: l = alpha·l + rowsum(P),
// acc = alpha·acc + P·V, m = max(m, rowmax).
// CHECK-LABEL: func.func @tile
// CHECK-SAME: (%[[Q:[^ ]+]]: tensor<16x64xf32>{{.*}}, %[[K:[^ ]+]]: tensor<32x64xf32>{{.*}}, %[[V:[^ ]+]]: tensor<32x48xf32>{{.*}}, %[[BIAS:[^ ]+]]: tensor<1x32xf32>{{.*}}, %[[ACC:[^ ]+]]: tensor<16x48xf32>{{.*}}, %[[M:[^ ]+]]: tensor<16xf32>{{.*}}, %[[L:[^ ]+]]: tensor<16xf32>{{.*}}, %[[QB:[^ ]+]]: index{{.*}}, %[[KB:[^ ]+]]: index{{.*}}, %[[S:[^ ]+]]: f32
// CHECK: %[[KT:.*]] = linalg.transpose ins(%[[K]] : tensor<32x64xf32>)
// CHECK: %[[QK:.*]] = linalg.matmul ins(%[[Q]], %[[KT]] : tensor<16x64xf32>, tensor<64x32xf32>)
// CHECK: %[[SCORES:.*]] = linalg.generic {{.*}} ins(%[[QK]], %[[BIAS]] : tensor<16x32xf32>, tensor<1x32xf32>)
// CHECK: arith.mulf %{{.*}}, %[[S]]
// CHECK: %[[I:.*]] = arith.addi %[[QB]], %{{.*}} : index
// CHECK: %[[J:.*]] = arith.addi %[[KB]], %{{.*}} : index
// CHECK: arith.addf
// CHECK: arith.cmpi sgt, %[[J]], %[[I]] : index
// CHECK: %[[ROWMAX:.*]] = linalg.reduce ins(%[[SCORES]] : tensor<16x32xf32>)
// CHECK: arith.maximumf
// CHECK: %[[ALPHA:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[ROWMAX]] : tensor<16xf32>, tensor<16xf32>)
// CHECK: math.exp
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[SCORES]], %[[M]], %[[ROWMAX]] : tensor<16x32xf32>, tensor<16xf32>, tensor<16xf32>)
// CHECK: math.exp
// CHECK: %[[ROWSUM:.*]] = linalg.reduce ins(%[[P]] : tensor<16x32xf32>)
// CHECK: %[[PV:.*]] = linalg.matmul ins(%[[P]], %[[V]] : tensor<16x32xf32>, tensor<32x48xf32>)
// CHECK: %[[LNEW:.*]] = linalg.generic {{.*}} ins(%[[ALPHA]], %[[ROWSUM]] : tensor<16xf32>, tensor<16xf32>) outs(%[[L]] : tensor<16xf32>)
// CHECK: %[[ACCNEW:.*]] = linalg.generic {{.*}} ins(%[[PV]], %[[ALPHA]] : tensor<16x48xf32>, tensor<16xf32>) outs(%[[ACC]] : tensor<16x48xf32>)
// CHECK: %[[MNEW:.*]] = linalg.generic {{.*}} ins(%[[ROWMAX]] : tensor<16xf32>) outs(%[[M]] : tensor<16xf32>)
// CHECK: return %[[ACCNEW]], %[[MNEW]], %[[LNEW]]
func.func @tile(%q: tensor<16x64xf32>, %k: tensor<32x64xf32>, %v: tensor<32x48xf32>, %bias: tensor<1x32xf32>,
                %acc: tensor<16x48xf32>, %m: tensor<16xf32>, %l: tensor<16xf32>, %qb: index, %kb: index, %s: f32)
    -> (tensor<16x48xf32>, tensor<16xf32>, tensor<16xf32>) {
  %a:3 = mha.online_attention %q, %k, %v mask(%bias : tensor<1x32xf32>) offsets(%qb, %kb) scale(%s) causal outs(%acc, %m, %l)
      : tensor<16x64xf32>, tensor<32x64xf32>, tensor<32x48xf32> -> tensor<16x48xf32>, tensor<16xf32>, tensor<16xf32>
  return %a#0, %a#1, %a#2 : tensor<16x48xf32>, tensor<16xf32>, tensor<16xf32>
}

// -----

// A tile with unit batch dimensions (as tiling makes it) is lowered on its
// matrices; a transposed key needs no transpose; a boolean mask selects.
// CHECK-LABEL: func.func @unit_batch
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1, 2], [3]] : tensor<1x1x16x64xf32> into tensor<16x64xf32>
// CHECK-NOT: linalg.transpose
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x64xf32>, tensor<64x32xf32>)
// CHECK: arith.select
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1, 2], [3]] {{.*}} : tensor<16x48xf32> into tensor<1x1x16x48xf32>
func.func @unit_batch(%q: tensor<1x1x16x64xbf16>, %kt: tensor<1x1x64x32xbf16>, %v: tensor<1x1x32x48xbf16>, %mask: tensor<1x1x1x32xi1>,
                      %acc: tensor<1x1x16x48xf32>, %m: tensor<1x1x16xf32>, %l: tensor<1x1x16xf32>, %i: index, %s: f32)
    -> tensor<1x1x16x48xf32> {
  %a:3 = mha.online_attention %q, %kt, %v mask(%mask : tensor<1x1x1x32xi1>) offsets(%i, %i) scale(%s) key_transposed outs(%acc, %m, %l)
      : tensor<1x1x16x64xbf16>, tensor<1x1x64x32xbf16>, tensor<1x1x32x48xbf16> -> tensor<1x1x16x48xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>
  return %a#0 : tensor<1x1x16x48xf32>
}

// -----

func.func @untiled(%q: tensor<2x16x64xf32>, %k: tensor<2x32x64xf32>, %v: tensor<2x32x48xf32>,
                   %acc: tensor<2x16x48xf32>, %m: tensor<2x16xf32>, %i: index, %s: f32) -> tensor<2x16x48xf32> {
  // expected-error @+2 {{'mha.online_attention' op is lowered one batch position at a time: tile its batch dimensions by 1 first (dimension 0 of an operand is 2)}}
  // expected-error @+1 {{failed to legalize operation 'mha.online_attention'}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m)
      : tensor<2x16x64xf32>, tensor<2x32x64xf32>, tensor<2x32x48xf32> -> tensor<2x16x48xf32>, tensor<2x16xf32>, tensor<2x16xf32>
  return %a#0 : tensor<2x16x48xf32>
}

// -----

func.func @dynamic_batch(%q: tensor<?x16x64xf32>, %k: tensor<?x32x64xf32>, %v: tensor<?x32x48xf32>,
                         %acc: tensor<?x16x48xf32>, %m: tensor<?x16xf32>, %i: index, %s: f32) -> tensor<?x16x48xf32> {
  // expected-error @+2 {{'mha.online_attention' op is lowered one batch position at a time: tile its batch dimensions by 1 first (dimension 0 of an operand is dynamic)}}
  // expected-error @+1 {{failed to legalize operation 'mha.online_attention'}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m)
      : tensor<?x16x64xf32>, tensor<?x32x64xf32>, tensor<?x32x48xf32> -> tensor<?x16x48xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  return %a#0 : tensor<?x16x48xf32>
}

// -----

// A scalar mask (rank 0) broadcasts to every score; an empty tile (no
// queries) lowers too.
// CHECK-LABEL: func.func @scalar_mask_empty
// CHECK: linalg.matmul
// CHECK: return
func.func @scalar_mask_empty(%q: tensor<0x64xf32>, %k: tensor<0x64xf32>, %v: tensor<0x8xf32>, %acc: tensor<0x8xf32>, %m: tensor<0xf32>,
                             %mask: tensor<f32>, %i: index, %s: f32) -> tensor<0x8xf32> {
  %a:3 = mha.online_attention %q, %k, %v mask(%mask : tensor<f32>) offsets(%i, %i) scale(%s) causal outs(%acc, %m, %m)
      : tensor<0x64xf32>, tensor<0x64xf32>, tensor<0x8xf32> -> tensor<0x8xf32>, tensor<0xf32>, tensor<0xf32>
  return %a#0 : tensor<0x8xf32>
}
