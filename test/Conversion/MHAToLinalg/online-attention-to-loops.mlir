// RUN: mha-opt %s -mha-online-attention-to-loops -split-input-file -verify-diagnostics | FileCheck %s
// RUN: mha-opt %s -mha-online-attention-to-loops=check-sizes=false -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=NOCHECK

// A tile as loops on tensors: query rows, then keys, with the online
// update per key: s = scale·q·k, the mask added, m' = max(m, s), alpha and
// p as exp (0 while m or m' is -inf), l' = alpha·l + p, acc' = alpha·acc +
// p·v. The depths are static, so the query row and the accumulator row are
// vectors (a GPU thread's registers): read once per row, the accumulator
// carried through the keys and written once; each key's and value's row
// one vector read (bf16 extended), the dot a reduction. Causal: each row's
// key loop ends at its last visible key, min(Sk, max(0, qb + i - kb + 1)),
// so no causal test is left in the loop.
// CHECK-LABEL: func.func @tile
// CHECK-SAME: (%[[Q:[^ ]+]]: tensor<1x16x64xf32>{{.*}}, %[[K:[^ ]+]]: tensor<1x32x64xbf16>{{.*}}, %[[V:[^ ]+]]: tensor<1x32x48xf32>{{.*}}, %[[BIAS:[^ ]+]]: tensor<32xf32>{{.*}}, %[[ACC:[^ ]+]]: tensor<1x16x48xf32>{{.*}}, %[[M:[^ ]+]]: tensor<1x16xf32>{{.*}}, %[[L:[^ ]+]]: tensor<1x16xf32>{{.*}}, %[[QB:[^ ]+]]: index{{.*}}, %[[KB:[^ ]+]]: index{{.*}}, %[[S:[^ ]+]]: f32
// CHECK-NOT: cf.assert
// CHECK: %[[KEYS:.*]] = tensor.dim %[[K]], %{{.*}} : tensor<1x32x64xbf16>
// CHECK: %[[ROWS:.*]]:3 = scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A0:.*]] = %[[ACC]], %[[M0:.*]] = %[[M]], %[[L0:.*]] = %[[L]])
// CHECK: %[[MI:.*]] = tensor.extract %[[M0]][%{{.*}}, %[[I]]]
// CHECK: %[[LI:.*]] = tensor.extract %[[L0]][%{{.*}}, %[[I]]]
// CHECK: %[[QROW:.*]] = vector.transfer_read %[[Q]][%{{.*}}, %[[I]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x16x64xf32>, vector<64xf32>
// CHECK: %[[AROW:.*]] = vector.transfer_read %[[A0]][%{{.*}}, %[[I]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x16x48xf32>, vector<48xf32>
// CHECK: %[[QI:.*]] = arith.addi %[[QB]], %[[I]]
// CHECK: %[[LAST:.*]] = arith.subi %[[QI]], %[[KB]]
// CHECK: %[[NEXT:.*]] = arith.addi %[[LAST]], %{{.*}}
// CHECK: %[[POS:.*]] = arith.maxsi %{{.*}}, %[[NEXT]]
// CHECK: %[[END:.*]] = arith.minsi %[[KEYS]], %[[POS]]
// CHECK: %[[KL:.*]]:3 = scf.for %[[J:.*]] = %{{.*}} to %[[END]] step %{{.*}} iter_args(%[[MR:.*]] = %[[MI]], %[[LR:.*]] = %[[LI]], %[[AR:.*]] = %[[AROW]]) -> (f32, f32, vector<48xf32>)
// CHECK: %[[KROW:.*]] = vector.transfer_read %[[K]][%{{.*}}, %[[J]], %{{.*}}]{{.*}} : tensor<1x32x64xbf16>, vector<64xbf16>
// CHECK: %[[KF:.*]] = arith.extf %[[KROW]] : vector<64xbf16> to vector<64xf32>
// CHECK: %[[PROD:.*]] = arith.mulf %[[QROW]], %[[KF]] : vector<64xf32>
// CHECK: %[[DOT:.*]] = vector.reduction <add>, %[[PROD]] fastmath<reassoc,contract>
// CHECK: %[[SC:.*]] = arith.mulf %[[DOT]], %[[S]]
// CHECK: %[[BE:.*]] = tensor.extract %[[BIAS]][%[[J]]]
// CHECK: %[[SM:.*]] = arith.addf %[[SC]], %[[BE]]
// CHECK-NOT: arith.cmpi
// CHECK: %[[MNEW:.*]] = arith.maximumf %[[MR]], %[[SM]]
// CHECK: %[[EA:.*]] = math.exp
// CHECK: %[[ALPHA:.*]] = arith.select %{{.*}}, %{{.*}}, %[[EA]]
// CHECK: %[[EP:.*]] = math.exp
// CHECK: %[[P:.*]] = arith.select %{{.*}}, %{{.*}}, %[[EP]]
// CHECK: %[[LA:.*]] = arith.mulf %[[LR]], %[[ALPHA]]
// CHECK: %[[LNEW:.*]] = arith.addf %[[LA]], %[[P]]
// CHECK: %[[VROW:.*]] = vector.transfer_read %[[V]][%{{.*}}, %[[J]], %{{.*}}]{{.*}} : tensor<1x32x48xf32>, vector<48xf32>
// CHECK: %[[BA:.*]] = vector.broadcast %[[ALPHA]] : f32 to vector<48xf32>
// CHECK: %[[SCALED:.*]] = arith.mulf %[[AR]], %[[BA]]
// CHECK: %[[BP:.*]] = vector.broadcast %[[P]] : f32 to vector<48xf32>
// CHECK: %[[ANEW:.*]] = vector.fma %[[BP]], %[[VROW]], %[[SCALED]]
// CHECK: scf.yield %[[MNEW]], %[[LNEW]], %[[ANEW]]
// CHECK: %[[AOUT:.*]] = vector.transfer_write %[[KL]]#2, %[[A0]][%{{.*}}, %[[I]], %{{.*}}] {in_bounds = [true]}
// CHECK: %[[MOUT:.*]] = tensor.insert %[[KL]]#0 into %[[M0]][%{{.*}}, %[[I]]]
// CHECK: %[[LOUT:.*]] = tensor.insert %[[KL]]#1 into %[[L0]][%{{.*}}, %[[I]]]
// CHECK: scf.yield %[[AOUT]], %[[MOUT]], %[[LOUT]]
// CHECK: return %[[ROWS]]#0, %[[ROWS]]#1, %[[ROWS]]#2
func.func @tile(%q: tensor<1x16x64xf32>, %k: tensor<1x32x64xbf16>, %v: tensor<1x32x48xf32>, %bias: tensor<32xf32>,
                %acc: tensor<1x16x48xf32>, %m: tensor<1x16xf32>, %l: tensor<1x16xf32>, %qb: index, %kb: index, %s: f32)
    -> (tensor<1x16x48xf32>, tensor<1x16xf32>, tensor<1x16xf32>) {
  %a:3 = mha.online_attention %q, %k, %v mask(%bias : tensor<32xf32>) offsets(%qb, %kb) scale(%s) causal outs(%acc, %m, %l)
      : tensor<1x16x64xf32>, tensor<1x32x64xbf16>, tensor<1x32x48xf32> -> tensor<1x16x48xf32>, tensor<1x16xf32>, tensor<1x16xf32>
  return %a#0, %a#1, %a#2 : tensor<1x16x48xf32>, tensor<1x16xf32>, tensor<1x16xf32>
}

// -----

// Dynamic depths: scalar loops, the dot over the depth and the
// accumulator row updated element by element in place. A boolean mask
// selects; a transposed key is read [d, j]; dynamic sizes are checked
// first, also with check-sizes=false, as this op is no tile of a parallel
// loop.
// CHECK-LABEL: func.func @bool_transposed
// CHECK: cf.assert
// CHECK: scf.for
// CHECK: %[[DOT:.*]] = scf.for {{.*}} -> (f32)
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x?xf32>
// CHECK: %[[KEEP:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x?xi1>
// CHECK: arith.select %[[KEEP]]
// CHECK: scf.for {{.*}} -> (tensor<?x?xf32>)
// CHECK: tensor.insert
// NOCHECK-LABEL: func.func @bool_transposed
// NOCHECK: cf.assert
// NOCHECK: scf.for
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

// -----

// A tile inside a parallel loop (what mha-tile-attention makes): checked by
// default; with check-sizes=false (the GPU pipeline, whose mha-tile-attention
// checked the whole op on the host) not, as the check would be in a kernel.
// CHECK-LABEL: func.func @tile_in_forall
// CHECK: scf.forall
// CHECK: cf.assert
// NOCHECK-LABEL: func.func @tile_in_forall
// NOCHECK: scf.forall
// NOCHECK-NOT: cf.assert
// NOCHECK: scf.forall.in_parallel
func.func @tile_in_forall(%q: tensor<?x?xf32>, %k: tensor<?x?xf32>, %v: tensor<?x?xf32>, %acc: tensor<?x?xf32>,
                          %m: tensor<?xf32>, %s: f32, %n: index) -> tensor<?x?xf32> {
  %r = scf.forall (%i) in (%n) shared_outs(%o = %acc) -> tensor<?x?xf32> {
    %a:3 = mha.online_attention %q, %k, %v offsets(%i, %i) scale(%s) outs(%acc, %m, %m)
        : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>, tensor<?xf32>, tensor<?xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %a#0 into %o[0, 0] [%n, %n] [1, 1] : tensor<?x?xf32> into tensor<?x?xf32>
    }
  }
  return %r : tensor<?x?xf32>
}
