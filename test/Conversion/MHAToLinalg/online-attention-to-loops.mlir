// RUN: mha-opt %s -mha-online-attention-to-loops -split-input-file -verify-diagnostics | FileCheck %s

// A tile as scalar loops on tensors: query rows, then keys, with the online
// update per key and the state read and written in place (no temporary
// tensor): s = scale·q·k (the dot a loop over the depth), the mask added,
// the causal test on the offsets, m' = max(m, s), alpha and p as exp (0
// while m or m' is -inf), l' = alpha·l + p, acc' = alpha·acc + p·v.
// CHECK-LABEL: func.func @tile
// CHECK-SAME: (%[[Q:[^ ]+]]: tensor<1x16x64xf32>{{.*}}, %[[K:[^ ]+]]: tensor<1x32x64xbf16>{{.*}}, %[[V:[^ ]+]]: tensor<1x32x48xf32>{{.*}}, %[[BIAS:[^ ]+]]: tensor<32xf32>{{.*}}, %[[ACC:[^ ]+]]: tensor<1x16x48xf32>{{.*}}, %[[M:[^ ]+]]: tensor<1x16xf32>{{.*}}, %[[L:[^ ]+]]: tensor<1x16xf32>{{.*}}, %[[QB:[^ ]+]]: index{{.*}}, %[[KB:[^ ]+]]: index{{.*}}, %[[S:[^ ]+]]: f32
// CHECK: %[[ROWS:.*]]:3 = scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A0:.*]] = %[[ACC]], %[[M0:.*]] = %[[M]], %[[L0:.*]] = %[[L]])
// CHECK: %[[MI:.*]] = tensor.extract %[[M0]][%{{.*}}, %[[I]]]
// CHECK: %[[LI:.*]] = tensor.extract %[[L0]][%{{.*}}, %[[I]]]
// CHECK: %[[KEYS:.*]]:3 = scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[MR:.*]] = %[[MI]], %[[LR:.*]] = %[[LI]], %[[AR:.*]] = %[[A0]])
// CHECK: %[[DOT:.*]] = scf.for %[[D:[^ ]+]] = {{.*}} -> (f32)
// CHECK: tensor.extract %[[Q]][%{{.*}}, %[[I]], %[[D]]]
// CHECK: %[[KE:.*]] = tensor.extract %[[K]][%{{.*}}, %[[J]], %[[D]]]
// CHECK: arith.extf %[[KE]] : bf16 to f32
// CHECK: %[[SC:.*]] = arith.mulf %[[DOT]], %[[S]]
// CHECK: %[[BE:.*]] = tensor.extract %[[BIAS]][%[[J]]]
// CHECK: %[[QI:.*]] = arith.addi %[[QB]], %[[I]]
// CHECK: %[[KJ:.*]] = arith.addi %[[KB]], %[[J]]
// CHECK: arith.addf %[[SC]], %[[BE]]
// CHECK: arith.cmpi sgt, %[[KJ]], %[[QI]]
// CHECK: %[[MNEW:.*]] = arith.maximumf %[[MR]], %{{.*}}
// CHECK: math.exp
// CHECK: math.exp
// CHECK: %[[UPD:.*]] = scf.for %[[D2:[^ ]+]] = {{.*}} iter_args(%[[T:[^ ]+]] = %[[AR]])
// CHECK: tensor.extract %[[T]][%{{.*}}, %[[I]], %[[D2]]]
// CHECK: tensor.extract %[[V]][%{{.*}}, %[[J]], %[[D2]]]
// CHECK: tensor.insert %{{.*}} into %[[T]][%{{.*}}, %[[I]], %[[D2]]]
// CHECK: scf.yield %[[MNEW]], %{{.*}}, %[[UPD]]
// CHECK: tensor.insert %[[KEYS]]#0 into %[[M0]][%{{.*}}, %[[I]]]
// CHECK: tensor.insert %[[KEYS]]#1 into %[[L0]][%{{.*}}, %[[I]]]
// CHECK: return %[[ROWS]]#0, %[[ROWS]]#1, %[[ROWS]]#2
func.func @tile(%q: tensor<1x16x64xf32>, %k: tensor<1x32x64xbf16>, %v: tensor<1x32x48xf32>, %bias: tensor<32xf32>,
                %acc: tensor<1x16x48xf32>, %m: tensor<1x16xf32>, %l: tensor<1x16xf32>, %qb: index, %kb: index, %s: f32)
    -> (tensor<1x16x48xf32>, tensor<1x16xf32>, tensor<1x16xf32>) {
  %a:3 = mha.online_attention %q, %k, %v mask(%bias : tensor<32xf32>) offsets(%qb, %kb) scale(%s) causal outs(%acc, %m, %l)
      : tensor<1x16x64xf32>, tensor<1x32x64xbf16>, tensor<1x32x48xf32> -> tensor<1x16x48xf32>, tensor<1x16xf32>, tensor<1x16xf32>
  return %a#0, %a#1, %a#2 : tensor<1x16x48xf32>, tensor<1x16xf32>, tensor<1x16xf32>
}

// -----

// A boolean mask selects; a transposed key is read [d, j]; dynamic sizes
// are checked first.
// CHECK-LABEL: func.func @bool_transposed
// CHECK: cf.assert
// CHECK: scf.for
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x?xf32>
// CHECK: %[[KEEP:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x?xi1>
// CHECK: arith.select %[[KEEP]]
func.func @bool_transposed(%q: tensor<?x?xf32>, %kt: tensor<?x?xf32>, %v: tensor<?x?xf32>, %mask: tensor<?x?xi1>,
                           %acc: tensor<?x?xf32>, %m: tensor<?xf32>, %i: index, %s: f32) -> tensor<?x?xf32> {
  %a:3 = mha.online_attention %q, %kt, %v mask(%mask : tensor<?x?xi1>) offsets(%i, %i) scale(%s) key_transposed outs(%acc, %m, %m)
      : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>, tensor<?xf32>, tensor<?xf32>
  return %a#0 : tensor<?x?xf32>
}

// -----

func.func @untiled(%q: tensor<2x16x64xf32>, %k: tensor<2x32x64xf32>, %v: tensor<2x32x48xf32>,
                   %acc: tensor<2x16x48xf32>, %m: tensor<2x16xf32>, %i: index, %s: f32) -> tensor<2x16x48xf32> {
  // expected-error @+1 {{'mha.online_attention' op is lowered to loops one batch position at a time: tile its batch dimensions by 1 first}}
  %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m)
      : tensor<2x16x64xf32>, tensor<2x32x64xf32>, tensor<2x32x48xf32> -> tensor<2x16x48xf32>, tensor<2x16xf32>, tensor<2x16xf32>
  return %a#0 : tensor<2x16x48xf32>
}
