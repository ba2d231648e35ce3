// RUN: mha-opt %s -mha-attention-grad-to-loops -canonicalize -cse -split-input-file | FileCheck %s

// attention_grad as three parallel loops, one row of the gradients per
// iteration, no Sq x Sk tensor: the sizes checked first (on the host); over
// query rows (batch, head, i): D_i = dO_i·O_i, the keys j <= i (causal),
// s = mask(scale·q_i·k_j), P = exp(s - lse_i) (0 where s is -inf),
// dS = P·(dO_i·v_j - D_i), dQ_i += dS·k_j, then dQ_i·scale rounded to bf16,
// D_i kept; over key rows j: the queries i >= j, dV_j += P·dO_i (no value
// row, no D); over key rows j again: dK_j += dS·q_i, then dK_j·scale (a
// thread holds fewer rows than with dK and dV in one loop).
// CHECK-LABEL: func.func @grad
// CHECK-SAME: (%[[Q:[^ ]+]]: tensor<2x4x?x16xbf16>{{.*}}, %[[K:[^ ]+]]: tensor<2x4x?x16xbf16>{{.*}}, %[[V:[^ ]+]]: tensor<2x4x?x8xbf16>{{.*}}, %[[O:[^ ]+]]: tensor<2x4x?x8xbf16>{{.*}}, %[[LSE:[^ ]+]]: tensor<2x4x?xf32>{{.*}}, %[[DO:[^ ]+]]: tensor<2x4x?x8xbf16>{{.*}}, %[[M:[^ ]+]]: tensor<2x1x1x?xi1>
// CHECK-DAG: %[[SCALE:.*]] = arith.constant 2.500000e-01 : f32
// CHECK-DAG: %[[SCALEV:.*]] = arith.constant dense<2.500000e-01> : vector<16xf32>
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[SK:.*]] = tensor.dim %[[K]]
// CHECK: cf.assert {{.*}} "{{.*}}dimension 2 of 'key' does not match dimension 2 of 'value' at run time"
// CHECK: cf.assert {{.*}} "{{.*}}dimension 3 of 'mask' does not match dimension 2 of 'key' at run time"
// CHECK: %[[SQ:.*]] = tensor.dim %[[Q]]
// CHECK: cf.assert {{.*}} "{{.*}}dimension 2 of 'result' does not match dimension 2 of 'query' at run time"
// CHECK: cf.assert {{.*}} "{{.*}}dimension 2 of 'result_grad' does not match dimension 2 of 'query' at run time"
// CHECK: cf.assert {{.*}} "{{.*}}dimension 2 of 'lse' does not match dimension 2 of 'query' at run time"
// CHECK: %[[ROWS:.*]]:2 = scf.forall (%[[B:.*]], %[[H:.*]], %[[I:.*]]) in (2, 4, %[[SQ]]) shared_outs(%[[DQO:.*]] = %{{.*}}, %[[DO2:.*]] = %{{.*}}) -> (tensor<2x4x?x16xbf16>, tensor<2x4x?xf32>)
// CHECK: %[[QR:.*]] = arith.extf {{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: %[[DOR:.*]] = arith.extf {{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: %[[OR:.*]] = arith.extf {{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: %[[DOO:.*]] = arith.mulf %[[DOR]], %[[OR]]
// CHECK: %[[DI:.*]] = vector.reduction <add>, %[[DOO]]
// CHECK: %[[L:.*]] = tensor.extract %[[LSE]][%[[B]], %[[H]], %[[I]]]
// CHECK: %[[I1:.*]] = arith.addi %[[I]], %{{.*}}
// CHECK: %[[END:.*]] = arith.minsi %[[SK]], %[[I1]]
// CHECK: %[[DQ:.*]] = scf.for %[[J:.*]] = %{{.*}} to %[[END]] step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (vector<16xf32>)
// CHECK: %[[KR:.*]] = arith.extf {{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: %[[VR:.*]] = arith.extf {{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: %[[QK:.*]] = arith.mulf %[[QR]], %[[KR]]
// CHECK: %[[DOT:.*]] = vector.reduction <add>, %[[QK]]
// CHECK: %[[S:.*]] = arith.mulf %[[DOT]], %[[SCALE]]
// CHECK: %[[KEEP:.*]] = tensor.extract %[[M]][%[[B]], %{{.*}}, %{{.*}}, %[[J]]]
// CHECK: %[[SM:.*]] = arith.select %[[KEEP]], %[[S]], %[[NEGINF]]
// CHECK: %[[MASKED:.*]] = arith.cmpf oeq, %[[SM]], %[[NEGINF]]
// CHECK: %[[SL:.*]] = arith.subf %[[SM]], %[[L]]
// CHECK: %[[E:.*]] = math.exp %[[SL]]
// CHECK: %[[P:.*]] = arith.select %[[MASKED]], %{{.*}}, %[[E]]
// CHECK: %[[DOV:.*]] = arith.mulf %[[DOR]], %[[VR]]
// CHECK: %[[DP:.*]] = vector.reduction <add>, %[[DOV]]
// CHECK: %[[DPD:.*]] = arith.subf %[[DP]], %[[DI]]
// CHECK: %[[DS:.*]] = arith.mulf %[[P]], %[[DPD]]
// CHECK: %[[DSB:.*]] = vector.broadcast %[[DS]] : f32 to vector<16xf32>
// CHECK: %[[NEXT:.*]] = vector.fma %[[DSB]], %[[KR]], %[[ACC]]
// CHECK: scf.yield %[[NEXT]]
// CHECK: %[[DQS:.*]] = arith.mulf %[[DQ]], %[[SCALEV]]
// CHECK: arith.truncf %[[DQS]] : vector<16xf32> to vector<16xbf16>
// CHECK: tensor.insert %[[DI]]
// CHECK: scf.forall.in_parallel
// CHECK: %[[DVS:.*]] = scf.forall (%[[B3:.*]], %[[H3:.*]], %[[J3:.*]]) in (2, 4, %[[SK]]) shared_outs
// CHECK: %[[START3:.*]] = arith.minsi %[[J3]], %[[SQ]]
// CHECK: %[[V3:.*]] = scf.for %[[I3:.*]] = %[[START3]] to %[[SQ]] step %{{.*}} iter_args(%[[DV:.*]] = %{{.*}}) -> (vector<8xf32>)
// CHECK-NOT: %[[ROWS]]#1
// CHECK: %[[KEEP3:.*]] = tensor.extract %[[M]][%[[B3]], %{{.*}}, %{{.*}}, %[[J3]]]
// CHECK: arith.select %[[KEEP3]]
// CHECK: math.exp
// CHECK: %[[P3:.*]] = arith.select
// CHECK: %[[DOR3:.*]] = arith.extf {{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: %[[PB:.*]] = vector.broadcast %[[P3]] : f32 to vector<8xf32>
// CHECK: %[[DVN:.*]] = vector.fma %[[PB]], %[[DOR3]], %[[DV]]
// CHECK: scf.yield %[[DVN]]
// CHECK: arith.truncf %[[V3]] : vector<8xf32> to vector<8xbf16>
// CHECK: %[[DKS:.*]] = scf.forall (%[[B2:.*]], %[[H2:.*]], %[[J2:.*]]) in (2, 4, %[[SK]]) shared_outs
// CHECK: %[[START:.*]] = arith.minsi %[[J2]], %[[SQ]]
// CHECK: %[[KV:.*]] = scf.for %[[I2:.*]] = %[[START]] to %[[SQ]] step %{{.*}} iter_args(%[[DK:.*]] = %{{.*}}) -> (vector<16xf32>)
// CHECK: %[[QR2:.*]] = arith.extf {{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: arith.extf {{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: tensor.extract %[[LSE]][%[[B2]], %[[H2]], %[[I2]]]
// CHECK: %[[DI2:.*]] = tensor.extract %[[ROWS]]#1[%[[B2]], %[[H2]], %[[I2]]]
// CHECK: %[[KEEP2:.*]] = tensor.extract %[[M]][%[[B2]], %{{.*}}, %{{.*}}, %[[J2]]]
// CHECK: arith.select %[[KEEP2]]
// CHECK: math.exp
// CHECK: %[[P2:.*]] = arith.select
// CHECK: %[[DS2:.*]] = arith.mulf %[[P2]], %{{.*}}
// CHECK: %[[DSB2:.*]] = vector.broadcast %[[DS2]] : f32 to vector<16xf32>
// CHECK: %[[DKN:.*]] = vector.fma %[[DSB2]], %[[QR2]], %[[DK]]
// CHECK: scf.yield %[[DKN]]
// CHECK: arith.mulf %[[KV]], %[[SCALEV]]
// CHECK: return %[[ROWS]]#0, %[[DKS]], %[[DVS]]
func.func @grad(%q: tensor<2x4x?x16xbf16>, %k: tensor<2x4x?x16xbf16>, %v: tensor<2x4x?x8xbf16>, %o: tensor<2x4x?x8xbf16>,
                %lse: tensor<2x4x?xf32>, %do: tensor<2x4x?x8xbf16>, %m: tensor<2x1x1x?xi1>)
    -> (tensor<2x4x?x16xbf16>, tensor<2x4x?x16xbf16>, tensor<2x4x?x8xbf16>) {
  %g:3 = mha.attention_grad %q, %k, %v, %o, %lse, %do mask(%m : tensor<2x1x1x?xi1>) causal
      : tensor<2x4x?x16xbf16>, tensor<2x4x?x16xbf16>, tensor<2x4x?x8xbf16>, tensor<2x4x?x8xbf16>, tensor<2x4x?xf32>
  return %g#0, %g#1, %g#2 : tensor<2x4x?x16xbf16>, tensor<2x4x?x16xbf16>, tensor<2x4x?x8xbf16>
}

// -----

// An additive mask's gradient in use (an Sq x Sk result) and a dynamic
// depth (rows cannot be vectors) are left to the decomposition.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: scf.forall
// CHECK: mha.attention_grad {{.*}} mask_grad
// CHECK: mha.attention_grad
// CHECK-NOT: scf.forall
func.func @left_alone(%q: tensor<1x8x16xf32>, %o: tensor<1x8x16xf32>, %lse: tensor<1x8xf32>, %bias: tensor<8x8xf32>,
                      %qd: tensor<8x?xf32>, %od: tensor<8x?xf32>, %lsed: tensor<8xf32>)
    -> (tensor<1x8x16xf32>, tensor<8x8xf32>, tensor<8x?xf32>) {
  %g:4 = mha.attention_grad %q, %q, %q, %o, %lse, %o mask(%bias : tensor<8x8xf32>)
      : tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8xf32>, mask_grad tensor<8x8xf32>
  %h:3 = mha.attention_grad %qd, %qd, %qd, %od, %lsed, %od
      : tensor<8x?xf32>, tensor<8x?xf32>, tensor<8x?xf32>, tensor<8x?xf32>, tensor<8xf32>
  return %g#0, %g#3, %h#0 : tensor<1x8x16xf32>, tensor<8x8xf32>, tensor<8x?xf32>
}
