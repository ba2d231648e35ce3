// RUN: mha-opt %s -convert-mha-to-linalg="attention-block-q=32 attention-block-k=16" -canonicalize -cse -split-input-file | FileCheck %s
// RUN: mha-opt %s -convert-mha-to-linalg="flash-attention=false" -split-input-file | FileCheck %s --check-prefix=DECOMPOSED
// RUN: mha-opt %s -convert-mha-to-linalg="l1-cache-bytes=32768" -canonicalize -split-input-file | FileCheck %s --check-prefix=DERIVED
// RUN: not mha-opt %s -convert-mha-to-linalg="attention-block-k=-1" -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not mha-opt %s -convert-mha-to-linalg="attention-block-q=100000" -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// Causal flash attention: Kᵀ of each batch element, then a parallel loop
// over (batch element, block of 32 queries) pairs (scf.forall, each pair
// writing its own rows), each a loop over blocks of 16 keys that stops
// after the block's last query (keys past it are all masked). The scores
// exist only as a [bq, bk] tile; the running max m, sum l and accumulator
// acc are updated in place.
// CHECK-LABEL: func.func @attention_causal
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[SCALE:.*]] = arith.constant 2.500000e-01 : f32
// CHECK: %[[OUTS:.*]] = tensor.empty() : tensor<2x100x16xf32>
// Kᵀ of every batch element (in parallel), each once for all its query
// blocks, in a buffer whose rows are 100 + 16 floats apart (rows 4 KiB
// apart would share L1 sets).
// CHECK: %[[PADDED:.*]] = tensor.empty() : tensor<2x16x116xf32>
// CHECK: %[[KTALL:.*]] = scf.forall (%[[KBATCH:.*]]) in (2) shared_outs(%[[KTS:.*]] = %[[PADDED]])
// CHECK: %[[KTVIEW:.*]] = tensor.extract_slice %[[KTS]][%[[KBATCH]], 0, 0] [1, 16, 100] [1, 1, 1] : tensor<2x16x116xf32> to tensor<16x100xf32>
// CHECK: %[[KTB:.*]] = linalg.transpose ins(%{{.*}} : tensor<100x16xf32>) outs(%[[KTVIEW]] : tensor<16x100xf32>)
// CHECK: tensor.parallel_insert_slice %[[KTB]] into %[[KTS]][%[[KBATCH]], 0, 0] [1, 16, 100]
// 2 batch elements x ceil(100 / 32) = 4 query blocks in parallel, each a
// loop of one block (marked for peeling: full blocks get static shapes).
// CHECK: %[[ALL:.*]] = scf.forall (%[[B:.*]], %[[QI:.*]]) in (2, 4) shared_outs(%[[OUT:.*]] = %[[OUTS]]) -> (tensor<2x100x16xf32>)
// CHECK: %[[KT:.*]] = tensor.extract_slice %[[KTALL]][%[[B]], 0, 0] [1, 16, 100] [1, 1, 1] : tensor<2x16x116xf32> to tensor<16x100xf32>
// CHECK: %[[START:.*]] = arith.muli %[[QI]], %c32 : index
// CHECK: %[[STOP:.*]] = arith.addi %[[START]], %c32 : index
// CHECK: %[[END:.*]] = arith.minsi %[[STOP]], %c100 : index
// CHECK: %[[NROWS:.*]] = arith.subi %[[END]], %[[START]] : index
// CHECK: %[[ROWS:.*]] = scf.for %[[QB:.*]] = %[[START]] to %[[END]] step %c32 iter_args(%[[OUT2:.*]] = %{{.*}}) -> (tensor<?x16xf32>)
// CHECK: %[[BQ:.*]] = affine.min #{{.*}}(%[[QB]])[%[[END]]]
// CHECK: %[[QT:.*]] = tensor.extract_slice %{{.*}}[%[[B]], %[[QB]], 0] [1, %[[BQ]], 16] [1, 1, 1] : tensor<2x100x16xf32> to tensor<?x16xf32>
// CHECK: %[[QEND:.*]] = arith.addi %[[QB]], %[[BQ]] : index
// CHECK: %[[KEND:.*]] = arith.minsi %[[QEND]], %c100 : index
// Key blocks that end before the block's first query are seen whole by all
// its queries: a first loop over them has no causal compare; only the
// second, over the diagonal blocks, masks.
// CHECK: %[[NEXT:.*]] = arith.addi %[[QB]], %c1 : index
// CHECK: %[[NB:.*]] = arith.divui %[[NEXT]], %c16 : index
// CHECK: %[[WHOLE:.*]] = arith.muli %[[NB]], %c16 : index
// CHECK: %[[KDIAG:.*]] = arith.minsi %[[KEND]], %[[WHOLE]] : index
// CHECK: %[[BELOW:.*]]:3 = scf.for %{{.*}} = %c0 to %[[KDIAG]] step %c16
// CHECK-NOT: arith.cmpi sgt
// CHECK: } {mha.peel}
// CHECK: %[[R:.*]]:3 = scf.for %[[KB:.*]] = %[[KDIAG]] to %[[KEND]] step %c16 iter_args(%[[M:.*]] = %[[BELOW]]#0, %[[L:.*]] = %[[BELOW]]#1, %[[ACC:.*]] = %[[BELOW]]#2) -> (tensor<?xf32>, tensor<?xf32>, tensor<?x16xf32>)
// CHECK: %[[KTT:.*]] = tensor.extract_slice %[[KT]][0, %[[KB]]] [16, %{{.*}}] [1, 1] : tensor<16x100xf32> to tensor<16x?xf32>
// CHECK: %[[S:.*]] = linalg.matmul ins(%[[QT]], %[[KTT]] : tensor<?x16xf32>, tensor<16x?xf32>)
// Scaled scores, -inf past the diagonal (only diagonal blocks have any).
// CHECK: %[[SM:.*]] = linalg.generic {{.*}} ins(%[[S]] : tensor<?x?xf32>)
// CHECK: arith.mulf %{{.*}}, %[[SCALE]]
// CHECK: %[[I:.*]] = arith.addi %[[QB]], %{{.*}} : index
// CHECK: %[[J:.*]] = arith.addi %[[KB]], %{{.*}} : index
// CHECK: %[[AFTER:.*]] = arith.cmpi sgt, %[[J]], %[[I]] : index
// CHECK: arith.select %[[AFTER]], %[[NEGINF]], %{{.*}} : f32
// CHECK: %[[BMAX:.*]] = linalg.reduce ins(%[[SM]] : tensor<?x?xf32>)
// CHECK: arith.maximumf
// alpha = exp(m - max(m, block max)) rescales the old sums.
// CHECK: %[[ALPHA:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[BMAX]] : tensor<?xf32>, tensor<?xf32>)
// CHECK: math.exp
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[SM]], %[[M]], %[[BMAX]] : tensor<?x?xf32>, tensor<?xf32>, tensor<?xf32>)
// CHECK: math.exp
// CHECK: %[[ROWSUM:.*]] = linalg.reduce ins(%[[P]] : tensor<?x?xf32>)
// CHECK: %[[PV:.*]] = linalg.matmul ins(%[[P]], %{{.*}} : tensor<?x?xf32>, tensor<?x16xf32>)
// CHECK: %[[LNEW:.*]] = linalg.generic {{.*}} ins(%[[ALPHA]], %[[ROWSUM]] : tensor<?xf32>, tensor<?xf32>) outs(%[[L]] : tensor<?xf32>)
// CHECK: %[[ACCNEW:.*]] = linalg.generic {{.*}} ins(%[[PV]], %[[ALPHA]] : tensor<?x16xf32>, tensor<?xf32>) outs(%[[ACC]] : tensor<?x16xf32>)
// CHECK: %[[MNEW:.*]] = linalg.generic {{.*}} ins(%[[BMAX]] : tensor<?xf32>) outs(%[[M]] : tensor<?xf32>)
// CHECK: scf.yield %[[MNEW]], %[[LNEW]], %[[ACCNEW]]
// O = acc / l, zeros for rows without keys, written into the output.
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%[[R]]#2, %[[R]]#1 : tensor<?x16xf32>, tensor<?xf32>)
// CHECK: arith.divf
// CHECK: %[[AT:.*]] = arith.subi %[[QB]], %[[START]] : index
// CHECK: tensor.insert_slice %[[O]] into %[[OUT2]][%[[AT]], 0] [%[[BQ]], 16]
// Both block loops are marked for peeling (mha-tile-and-vectorize).
// CHECK: } {mha.peel}
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %[[ROWS]] into %[[OUT]][%[[B]], %[[START]], 0] [1, %[[NROWS]], 16]
// CHECK-NOT: tensor<100x100xf32>
// DECOMPOSED-LABEL: func.func @attention_causal
// DECOMPOSED-NOT: scf.for
// DECOMPOSED: linalg.batch_matmul {{.*}} -> tensor<2x100x100xf32>
// Derived blocks for D = 16 and a 32 KiB L1: 128 queries; a K tile of
// 512 · 16 floats would fill L1, so the largest allowed block, 256 keys.
// DERIVED-LABEL: func.func @attention_causal
// DERIVED: scf.for {{.*}} step %c128
// DERIVED: scf.for {{.*}} step %c256
// BAD: attention block sizes must lie in [0, 1024] (0: derived)
func.func @attention_causal(%q: tensor<2x100x16xf32>, %k: tensor<2x100x16xf32>, %v: tensor<2x100x16xf32>) -> tensor<2x100x16xf32> {
  %o = mha.attention %q, %k, %v causal : tensor<2x100x16xf32>, tensor<2x100x16xf32>, tensor<2x100x16xf32>
  return %o : tensor<2x100x16xf32>
}

// -----

// A key-padding mask [B, 1, 1, Sk]: each block reads a [1, bk] tile at its
// batch element (the head dimension broadcast), and a boolean selects.
// attention_with_lse also writes lse = m + log(l) per row (-inf when l = 0).
// CHECK-LABEL: func.func @attention_padding_mask_lse
// The boolean mask is read as bytes (vectorized i1 loads would be packed
// bits, which an i1 buffer is not).
// CHECK: %[[BYTES:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<2x1x1x?xi1>) outs(%{{.*}} : tensor<2x1x1x?xi8>)
// CHECK: arith.extui %{{.*}} : i1 to i8
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[QI:.*]]) in (2, 4, %{{.*}})
// CHECK: scf.for %[[QB:.*]] = %{{.*}} to %{{.*}} step %c32
// CHECK: scf.for %[[KB:.*]] = %c0 to %{{.*}} step %c16
// CHECK: %[[MT:.*]] = tensor.extract_slice %[[BYTES]][%[[B]], 0, 0, %[[KB]]] [1, 1, 1, %{{.*}}] [1, 1, 1, 1] : tensor<2x1x1x?xi8> to tensor<1x?xi8>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[MT]] : tensor<?x?xf32>, tensor<1x?xi8>)
// CHECK: %[[KEEP:.*]] = arith.cmpi ne, %{{.*}}, %c0_i8 : i8
// CHECK: arith.select %[[KEEP]], %{{.*}}, %{{.*}} : f32
// CHECK: math.log
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[%{{.*}}] [%{{.*}}] [1] : tensor<?xf32> into tensor<?xf32>
// CHECK: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%[[B]], %[[H]], %{{.*}}] [1, 1, %{{.*}}] [1, 1, 1] : tensor<?xf32> into tensor<2x4x?xf32>
func.func @attention_padding_mask_lse(%q: tensor<2x4x?x8xf32>, %keep: tensor<2x1x1x?xi1>) -> (tensor<2x4x?x8xf32>, tensor<2x4x?xf32>) {
  %o, %lse = mha.attention_with_lse %q, %q, %q mask(%keep : tensor<2x1x1x?xi1>) : tensor<2x4x?x8xf32>, tensor<2x4x?x8xf32>, tensor<2x4x?x8xf32>
  return %o, %lse : tensor<2x4x?x8xf32>, tensor<2x4x?xf32>
}

// -----

// The fused backward (sequential here: the mask gradient sums over batch
// elements; otherwise batch elements run in an scf.forall as in the
// forward): an outer loop over blocks of 16 keys, an inner one over
// the blocks of 32 queries that can see them (causal: from the query block
// holding the first key), recomputing P from lse on the tile. dK and dV of
// the key block accumulate in linalg.matmul inits; dQ's rows and the
// additive mask's gradient (per key, so summed over the queries: a reduction
// iterator) accumulate into their regions.
// CHECK-LABEL: func.func @attention_grad_causal
// CHECK: %[[R:.*]]:4 = scf.for %[[KB:.*]] = %c0 to %c100 step %c16 iter_args(%[[DQ:.*]] = %{{.*}}, %[[DK:.*]] = %{{.*}}, %[[DV:.*]] = %{{.*}}, %[[DM:.*]] = %{{.*}})
// CHECK: %[[QBLK:.*]] = arith.divui %[[KB]], %c32 : index
// CHECK: %[[QSTART:.*]] = arith.muli %[[QBLK]], %c32 : index
// CHECK: %[[IN:.*]]:4 = scf.for %[[QB:.*]] = %[[QSTART]] to %c100 step %c32 iter_args(%[[DKACC:.*]] = %{{.*}}, %[[DVACC:.*]] = %{{.*}}, %[[DQ2:.*]] = %[[DQ]], %[[DM2:.*]] = %[[DM]])
// CHECK: %[[LSE:.*]] = tensor.extract_slice %{{.*}}[%[[QB]]] [%{{.*}}] [1] : tensor<100xf32> to tensor<?xf32>
// CHECK: math.exp
// CHECK: %[[DVNEW:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x?xf32>, tensor<?x16xf32>) outs(%[[DVACC]] : tensor<?x16xf32>)
// CHECK: %[[DKNEW:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<?x?xf32>, tensor<?x16xf32>) outs(%[[DKACC]] : tensor<?x16xf32>)
// CHECK: %[[DQNEW:.*]] = tensor.insert_slice %{{.*}} into %[[DQ2]][%[[QB]], 0]
// CHECK: %[[OLD:.*]] = tensor.extract_slice %[[DM2]][%[[KB]]] [%{{.*}}] [1] : tensor<100xf32> to tensor<?xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]} ins(%{{.*}} : tensor<?x?xf32>) outs(%[[OLD]] : tensor<?xf32>)
// CHECK: %[[DMNEW:.*]] = tensor.insert_slice %{{.*}} into %[[DM2]][%[[KB]]]
// CHECK: scf.yield %[[DKNEW]], %[[DVNEW]], %[[DQNEW]], %[[DMNEW]]
// CHECK: tensor.insert_slice %{{.*}} into %[[DK]][%[[KB]], 0]
// CHECK: tensor.insert_slice %{{.*}} into %[[DV]][%[[KB]], 0]
// CHECK-NOT: tensor<100x100xf32>
// DECOMPOSED-LABEL: func.func @attention_grad_causal
// DECOMPOSED: tensor<100x100xf32>
func.func @attention_grad_causal(%q: tensor<100x16xf32>, %o: tensor<100x16xf32>, %lse: tensor<100xf32>, %bias: tensor<100xf32>) -> (tensor<100x16xf32>, tensor<100x16xf32>, tensor<100x16xf32>, tensor<100xf32>) {
  %dq, %dk, %dv, %db = mha.attention_grad %q, %q, %q, %o, %lse, %o mask(%bias : tensor<100xf32>) causal : tensor<100x16xf32>, tensor<100x16xf32>, tensor<100x16xf32>, tensor<100x16xf32>, tensor<100xf32>, mask_grad tensor<100xf32>
  return %dq, %dk, %dv, %db : tensor<100x16xf32>, tensor<100x16xf32>, tensor<100x16xf32>, tensor<100xf32>
}

// -----

// Without a mask gradient or broadcast keys, the backward's batch elements
// are independent: an scf.forall, each computing its own dQ, dK, dV.
// CHECK-LABEL: func.func @attention_grad_parallel
// CHECK: %[[G:.*]]:3 = scf.forall (%[[B:.*]]) in (3) shared_outs(%[[DQ:.*]] = %{{.*}}, %[[DK:.*]] = %{{.*}}, %[[DV:.*]] = %{{.*}})
// CHECK: %[[L:.*]]:3 = scf.for %{{.*}} = %c0 to %c50 step %c16
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %[[L]]#0 into %[[DQ]][%[[B]], 0, 0] [1, 40, 8]
// CHECK: tensor.parallel_insert_slice %[[L]]#1 into %[[DK]][%[[B]], 0, 0] [1, 50, 8]
// CHECK: tensor.parallel_insert_slice %[[L]]#2 into %[[DV]][%[[B]], 0, 0] [1, 50, 8]
func.func @attention_grad_parallel(%q: tensor<3x40x8xf32>, %k: tensor<3x50x8xf32>, %o: tensor<3x40x8xf32>, %lse: tensor<3x40xf32>) -> (tensor<3x40x8xf32>, tensor<3x50x8xf32>, tensor<3x50x8xf32>) {
  %dq, %dk, %dv = mha.attention_grad %q, %k, %k, %o, %lse, %o : tensor<3x40x8xf32>, tensor<3x50x8xf32>, tensor<3x50x8xf32>, tensor<3x40x8xf32>, tensor<3x40xf32>
  return %dq, %dk, %dv : tensor<3x40x8xf32>, tensor<3x50x8xf32>, tensor<3x50x8xf32>
}
