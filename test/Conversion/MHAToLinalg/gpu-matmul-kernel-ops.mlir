// mha-gpu-matmul-kernel-ops: an eligible linalg.matmul or
// linalg.batch_matmul (f16/bf16 operands, f32 accumulator, default maps, K
// and N multiples of 8: static ones here, dynamic ones at run time, the
// product kept for the other case) becomes mha.gpu_matmul on its operands'
// buffers, after the host's checks of the dynamic sizes; an f16/bf16
// product left as it is gets a remark naming the reason; an f32 one is left
// without a word.
// RUN: mha-opt %s --mha-gpu-matmul-kernel-ops="block-m=32 block-n=64 block-k=16" --split-input-file | FileCheck %s
// RUN: mha-opt %s --mha-gpu-matmul-kernel-ops --split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// REMARK-NOT: remark
// REMARK: :109:8: remark: not on tensor cores: K (the lhs's columns) is not a multiple of 8
// REMARK: :110:8: remark: not on tensor cores: N (the rhs's columns) is not a multiple of 8
// REMARK: :111:8: remark: not on tensor cores: its accumulator is not f32
// REMARK: :113:8: remark: not on tensor cores: an operand is transposed (indexing maps)
// REMARK-NOT: remark

// Dynamic rows, an accumulator of zeros: not read (no init); M checked on
// the host; the result a new buffer read back as a tensor.
// CHECK-LABEL: func.func @zeros
// CHECK-SAME: (%[[X:.*]]: tensor<?x40xbf16>, %[[W:.*]]: tensor<40x136xbf16>)
// CHECK: %[[ACC:.*]] = linalg.fill
// CHECK: %[[M1:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[M2:.*]] = tensor.dim %[[ACC]], %c0
// CHECK: %[[SAME:.*]] = arith.cmpi eq, %[[M1]], %[[M2]]
// CHECK: cf.assert %[[SAME]], "{{.*}}gpu-matmul-kernel-ops.mlir:{{[0-9]+}}:8: 'linalg.matmul' op: dimension 0 of 'lhs' does not match dimension 0 of 'init' at run time"
// CHECK-DAG: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x136xf32>
// CHECK-DAG: %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<?x40xbf16> to memref<?x40xbf16>
// CHECK-DAG: %[[WB:.*]] = bufferization.to_buffer %[[W]] read_only : tensor<40x136xbf16> to memref<40x136xbf16>
// CHECK: mha.gpu_matmul %[[XB]], %[[WB]], %[[OUT]] {block_k = 16 : i64, block_m = 32 : i64, block_n = 64 : i64} : memref<?x40xbf16>, memref<40x136xbf16>, memref<?x136xf32>
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<?x136xf32> to tensor<?x136xf32>
// CHECK-NOT: linalg.matmul
// CHECK: return %[[Y]]
func.func @zeros(%x: tensor<?x40xbf16>, %w: tensor<40x136xbf16>) -> tensor<?x136xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x40xbf16>
  %empty = tensor.empty(%m) : tensor<?x136xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x136xf32>) -> tensor<?x136xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x40xbf16>, tensor<40x136xbf16>) outs(%acc : tensor<?x136xf32>) -> tensor<?x136xf32>
  return %y : tensor<?x136xf32>
}

// -----

// A batch, f16, an accumulator that is not zeros (a bias): read as init.
// Static sizes: no check.
// CHECK-LABEL: func.func @batch_init
// CHECK-SAME: (%[[A:.*]]: tensor<3x17x64xf16>, %[[B:.*]]: tensor<3x64x24xf16>, %[[C:.*]]: tensor<3x17x24xf32>)
// CHECK-NOT: cf.assert
// CHECK-DAG: %[[CB:.*]] = bufferization.to_buffer %[[C]] read_only : tensor<3x17x24xf32> to memref<3x17x24xf32>
// CHECK-DAG: %[[OUT:.*]] = memref.alloc() : memref<3x17x24xf32>
// CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %[[OUT]] init(%[[CB]] : memref<3x17x24xf32>) {block_k = 16 : i64, block_m = 32 : i64, block_n = 64 : i64} : memref<3x17x64xf16>, memref<3x64x24xf16>, memref<3x17x24xf32>
// CHECK-NOT: linalg.batch_matmul
func.func @batch_init(%a: tensor<3x17x64xf16>, %b: tensor<3x64x24xf16>, %c: tensor<3x17x24xf32>) -> tensor<3x17x24xf32> {
  %y = linalg.batch_matmul ins(%a, %b : tensor<3x17x64xf16>, tensor<3x64x24xf16>) outs(%c : tensor<3x17x24xf32>) -> tensor<3x17x24xf32>
  return %y : tensor<3x17x24xf32>
}

// -----

// Dynamic rows and batch sizes checked against each other and the
// accumulator's.
// CHECK-LABEL: func.func @dynamic_batch
// CHECK: cf.assert {{.*}}dimension 1 of 'lhs' does not match dimension 1 of 'init'
// CHECK: cf.assert {{.*}}dimension 0 of 'lhs' does not match dimension 0 of 'rhs'
// CHECK: cf.assert {{.*}}dimension 0 of 'lhs' does not match dimension 0 of 'init'
// CHECK: mha.gpu_matmul
func.func @dynamic_batch(%a: tensor<?x?x16xbf16>, %b: tensor<?x16x8xbf16>, %c: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %y = linalg.batch_matmul ins(%a, %b : tensor<?x?x16xbf16>, tensor<?x16x8xbf16>) outs(%c : tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return %y : tensor<?x?x8xf32>
}

// -----

// A dynamic K (a weight's gradient: K the rows) and N: the kernel when both
// are multiples of 8 at run time, else the product as it was.
// CHECK-LABEL: func.func @dynamic_k
// CHECK-SAME: (%[[X:.*]]: tensor<48x?xbf16>, %[[DY:.*]]: tensor<?x?xbf16>, %[[ACC:.*]]: tensor<48x?xf32>)
// CHECK: %[[K:.*]] = tensor.dim %[[X]], %c1
// CHECK: %[[KR:.*]] = arith.remui %[[K]], %c8
// CHECK: %[[KOK:.*]] = arith.cmpi eq, %[[KR]], %c0
// CHECK: %[[N:.*]] = tensor.dim %[[DY]], %c1
// CHECK: %[[NR:.*]] = arith.remui %[[N]], %c8
// CHECK: %[[NOK:.*]] = arith.cmpi eq, %[[NR]], %c0
// CHECK: %[[OK:.*]] = arith.andi %[[KOK]], %[[NOK]]
// CHECK: %[[Y:.*]] = scf.if %[[OK]] -> (tensor<48x?xf32>) {
// CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %[[OUT:.*]] init(%{{.*}} : memref<48x?xf32>)
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[OUT]]
// CHECK: scf.yield %[[T]]
// CHECK: } else {
// CHECK: %[[L:.*]] = linalg.matmul ins(%[[X]], %[[DY]] : tensor<48x?xbf16>, tensor<?x?xbf16>) outs(%[[ACC]] : tensor<48x?xf32>)
// CHECK: scf.yield %[[L]]
// CHECK: return %[[Y]]
func.func @dynamic_k(%x: tensor<48x?xbf16>, %dy: tensor<?x?xbf16>, %acc: tensor<48x?xf32>) -> tensor<48x?xf32> {
  %y = linalg.matmul ins(%x, %dy : tensor<48x?xbf16>, tensor<?x?xbf16>) outs(%acc : tensor<48x?xf32>) -> tensor<48x?xf32>
  return %y : tensor<48x?xf32>
}

// -----

// Left as they are: K or N not a multiple of 8, an f16 accumulator, f32
// operands (no remark), a transposed operand.
// CHECK-LABEL: func.func @left
// CHECK-NOT: mha.gpu_matmul
// CHECK-COUNT-4: linalg.matmul
// CHECK-NOT: mha.gpu_matmul
func.func @left(%x: tensor<4x12xbf16>, %w: tensor<12x8xbf16>, %v: tensor<8x12xbf16>, %acc: tensor<4x8xf32>, %acc12: tensor<4x12xf32>,
                %h: tensor<4x8xf16>, %ht: tensor<8x8xf16>, %hacc: tensor<4x8xf16>, %f: tensor<4x8xf32>, %f8: tensor<8x8xf32>, %t: tensor<8x8xbf16>, %s: tensor<4x8xbf16>) -> (tensor<4x8xf32>, tensor<4x12xf32>, tensor<4x8xf16>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %a = linalg.matmul ins(%x, %w : tensor<4x12xbf16>, tensor<12x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %b = linalg.matmul ins(%s, %v : tensor<4x8xbf16>, tensor<8x12xbf16>) outs(%acc12 : tensor<4x12xf32>) -> tensor<4x12xf32>
  %c = linalg.matmul ins(%h, %ht : tensor<4x8xf16>, tensor<8x8xf16>) outs(%hacc : tensor<4x8xf16>) -> tensor<4x8xf16>
  %d = linalg.matmul ins(%f, %f8 : tensor<4x8xf32>, tensor<8x8xf32>) outs(%f : tensor<4x8xf32>) -> tensor<4x8xf32>
  %e = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%s, %t : tensor<4x8xbf16>, tensor<8x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %a, %b, %c, %d, %e : tensor<4x8xf32>, tensor<4x12xf32>, tensor<4x8xf16>, tensor<4x8xf32>, tensor<4x8xf32>
}
