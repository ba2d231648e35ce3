// mha-gpu-matmul-kernel-ops: an eligible linalg.matmul or
// linalg.batch_matmul (f16/bf16 operands, f32 accumulator, default maps or
// transposed operands, each operand's rows and N multiples of 8: static
// ones here, dynamic ones at run time, the product kept for the other case)
// becomes mha.gpu_matmul on its operands' buffers, after the host's checks
// of the dynamic sizes; an operand that is a linalg.transpose of its last
// two dimensions is read in place (the transpose dropped when nothing else
// uses it); a product of f16/bf16 (tensor-cores) or f32 (f32: the CUDA-core
// kernel, rows and N multiples of 4, tiles of its own) left as it is gets a
// remark naming the reason; other products are left without a word, and so
// are the kinds the options turn off. With tf32, f32 products become
// mha.gpu_matmul with tf32 (the tensor-core kernel on TF32 roundings), on
// the f32 tiles, even with f32=0; other products as they were.
// RUN: mha-opt %s --mha-gpu-matmul-kernel-ops="block-m=32 block-n=64 block-k=16 f32-block-m=64 f32-block-n=192 f32-block-k=8" --split-input-file | FileCheck %s
// RUN: mha-opt %s --mha-gpu-matmul-kernel-ops --split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: mha-opt %s --mha-gpu-matmul-kernel-ops="tensor-cores=0 f32=0" --split-input-file 2>&1 | FileCheck %s --check-prefix=NONE
// RUN: mha-opt %s --mha-gpu-matmul-kernel-ops="tensor-cores=0" --split-input-file 2>&1 | FileCheck %s --check-prefix=F32
// RUN: mha-opt %s --mha-gpu-matmul-kernel-ops="tensor-cores=0 f32=0 tf32=1" --split-input-file 2>&1 | FileCheck %s --check-prefix=TF32
// RUN: mha-opt %s --mha-gpu-matmul-kernel-ops="tf32=1" --split-input-file 2>&1 | FileCheck %s --check-prefix=TF32-HALF
// NONE-NOT: mha.gpu_matmul
// NONE-NOT: remark
// F32-NOT: remark: not on tensor cores
// F32-NOT: mha.gpu_matmul {{.*}}bf16
// F32-NOT: mha.gpu_matmul {{.*}}f16
// F32-NOT: tf32
// F32: mha.gpu_matmul {{.*}}xf32>, memref<{{.*}}xf32>, memref<{{.*}}xf32>
// F32-NOT: tf32
// F32-NOT: remark: not on tensor cores
// F32-NOT: mha.gpu_matmul {{.*}}bf16
// F32-NOT: mha.gpu_matmul {{.*}}f16
// TF32-NOT: mha.gpu_matmul {{.*}}bf16
// TF32-NOT: mha.gpu_matmul {{.*}}f16
// TF32-NOT: mha.gpu_matmul {{.*[^2]}}} : memref<{{[0-9x?]*}}xf32>
// TF32: mha.gpu_matmul {{.*}}block_k = 16 : i64, block_m = 128 : i64, block_n = 128 : i64{{.*}}tf32} : memref<{{.*}}xf32>, memref<{{.*}}xf32>, memref<{{.*}}xf32>
// TF32-NOT: mha.gpu_matmul {{.*}}bf16
// TF32-NOT: mha.gpu_matmul {{.*}}f16
// TF32-NOT: mha.gpu_matmul {{.*[^2]}}} : memref<{{[0-9x?]*}}xf32>
// TF32-HALF: mha.gpu_matmul {{.*}}bf16
// TF32-HALF: mha.gpu_matmul {{.*}}tf32} : memref<{{.*}}xf32>
// REMARK-NOT: remark
// REMARK: :148:8: remark: not on tensor cores: K (the lhs's columns) is not a multiple of 8
// REMARK: :149:8: remark: not on tensor cores: N (the rhs's columns) is not a multiple of 8
// REMARK: :150:8: remark: not on tensor cores: its accumulator is not f32
// REMARK: :152:8: remark: not on tensor cores: the rhs's indexing map is neither the default one nor its transpose
// REMARK: :154:8: remark: not on tensor cores: M (the transposed lhs's columns) is not a multiple of 8
// REMARK: :156:8: remark: not on tensor cores: K (the transposed rhs's columns) is not a multiple of 8
// REMARK: :318:8: remark: not in the f32 matmul kernel: K (the lhs's columns) is not a multiple of 4
// REMARK: :319:8: remark: not in the f32 matmul kernel: N (the rhs's columns) is not a multiple of 4
// REMARK-NOT: remark

// Dynamic rows, an accumulator of zeros: not read (no init); M checked on
// the host; the result a new buffer read back as a tensor.
// CHECK-LABEL: func.func @zeros
// CHECK-SAME: (%[[X:.*]]: tensor<?x40xbf16>, %[[W:.*]]: tensor<40x136xbf16>)
// CHECK: %[[ACC:.*]] = linalg.fill
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x136xf32>
// CHECK: %[[M1:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[M2:.*]] = tensor.dim %[[ACC]], %c0
// CHECK: %[[SAME:.*]] = arith.cmpi eq, %[[M1]], %[[M2]]
// CHECK: cf.assert %[[SAME]], "{{.*}}gpu-matmul-kernel-ops.mlir:{{[0-9]+}}:8: 'linalg.matmul' op: dimension 0 of 'lhs' does not match dimension 0 of 'init' at run time"
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
// are multiples of 8 at run time, else the product as it was, each writing
// the one result buffer (the dispatch yields no buffer).
// CHECK-LABEL: func.func @dynamic_k
// CHECK-SAME: (%[[X:.*]]: tensor<48x?xbf16>, %[[DY:.*]]: tensor<?x?xbf16>, %[[ACC:.*]]: tensor<48x?xf32>)
// CHECK: %[[K:.*]] = tensor.dim %[[X]], %c1
// CHECK: %[[KR:.*]] = arith.remui %[[K]], %c8
// CHECK: %[[KOK:.*]] = arith.cmpi eq, %[[KR]], %c0
// CHECK: %[[N:.*]] = tensor.dim %[[DY]], %c1
// CHECK: %[[NR:.*]] = arith.remui %[[N]], %c8
// CHECK: %[[NOK:.*]] = arith.cmpi eq, %[[NR]], %c0
// CHECK: %[[OK:.*]] = arith.andi %[[KOK]], %[[NOK]]
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<48x?xf32>
// CHECK: scf.if %[[OK]] {
// CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %[[OUT]] init(%{{.*}} : memref<48x?xf32>)
// CHECK: } else {
// CHECK: %[[L:.*]] = linalg.matmul ins(%[[X]], %[[DY]] : tensor<48x?xbf16>, tensor<?x?xbf16>) outs(%[[ACC]] : tensor<48x?xf32>)
// CHECK: bufferization.materialize_in_destination %[[L]] in restrict writable %[[OUT]] : (tensor<48x?xf32>, memref<48x?xf32>) -> ()
// CHECK: }
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<48x?xf32> to tensor<48x?xf32>
// CHECK: return %[[Y]]
func.func @dynamic_k(%x: tensor<48x?xbf16>, %dy: tensor<?x?xbf16>, %acc: tensor<48x?xf32>) -> tensor<48x?xf32> {
  %y = linalg.matmul ins(%x, %dy : tensor<48x?xbf16>, tensor<?x?xbf16>) outs(%acc : tensor<48x?xf32>) -> tensor<48x?xf32>
  return %y : tensor<48x?xf32>
}

// -----

// Left as they are: K or N not a multiple of 8, an f16 accumulator, f64
// operands (no remark), an rhs broadcast along N (neither map), a
// transposed lhs whose M is not a multiple of 8, a transposed rhs whose K
// is not.
// CHECK-LABEL: func.func @left
// CHECK-NOT: mha.gpu_matmul
// CHECK-COUNT-7: linalg.matmul
// CHECK-NOT: mha.gpu_matmul
func.func @left(%x: tensor<4x12xbf16>, %w: tensor<12x8xbf16>, %v: tensor<8x12xbf16>, %acc: tensor<4x8xf32>, %acc12: tensor<4x12xf32>,
                %h: tensor<4x8xf16>, %ht: tensor<8x8xf16>, %hacc: tensor<4x8xf16>, %f: tensor<4x8xf64>, %f8: tensor<8x8xf64>, %r: tensor<8xbf16>, %s: tensor<4x8xbf16>,
                %u: tensor<8x4xbf16>, %t: tensor<8x8xbf16>, %y: tensor<12x8xbf16>, %z: tensor<8x12xbf16>, %acc8: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x12xf32>, tensor<4x8xf16>, tensor<4x8xf64>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) {
  %a = linalg.matmul ins(%x, %w : tensor<4x12xbf16>, tensor<12x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %b = linalg.matmul ins(%s, %v : tensor<4x8xbf16>, tensor<8x12xbf16>) outs(%acc12 : tensor<4x12xf32>) -> tensor<4x12xf32>
  %c = linalg.matmul ins(%h, %ht : tensor<4x8xf16>, tensor<8x8xf16>) outs(%hacc : tensor<4x8xf16>) -> tensor<4x8xf16>
  %d = linalg.matmul ins(%f, %f8 : tensor<4x8xf64>, tensor<8x8xf64>) outs(%f : tensor<4x8xf64>) -> tensor<4x8xf64>
  %e = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%s, %r : tensor<4x8xbf16>, tensor<8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %g = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%u, %t : tensor<8x4xbf16>, tensor<8x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %i = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%y, %z : tensor<12x8xbf16>, tensor<8x12xbf16>) outs(%acc8 : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %a, %b, %c, %d, %e, %g, %i : tensor<4x8xf32>, tensor<4x12xf32>, tensor<4x8xf16>, tensor<4x8xf64>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>
}

// -----

// Transposed operands by their indexing maps: read as they are stored, the
// kernel told which are transposed; sizes checked where M, K and N are in
// each (K: the lhs's rows and the rhs's columns); the rhs's dynamic K, its
// rows' length, a multiple of 8 at run time.
// CHECK-LABEL: func.func @transposed_maps
// CHECK-SAME: (%[[A:.*]]: tensor<?x24xbf16>, %[[B:.*]]: tensor<40x?xbf16>, %[[C:.*]]: tensor<24x40xf32>)
// CHECK: %[[KB:.*]] = tensor.dim %[[B]], %c1
// CHECK: %[[KR:.*]] = arith.remui %[[KB]], %c8
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[KR]], %c0
// CHECK: scf.if %[[OK]]
// CHECK: %[[K1:.*]] = tensor.dim %[[A]], %c0
// CHECK: %[[K2:.*]] = tensor.dim %[[B]], %c1
// CHECK: arith.cmpi eq, %[[K1]], %[[K2]]
// CHECK: cf.assert {{.*}}dimension 0 of 'lhs' does not match dimension 1 of 'rhs'
// CHECK-DAG: %[[AB:.*]] = bufferization.to_buffer %[[A]] read_only : tensor<?x24xbf16> to memref<?x24xbf16>
// CHECK-DAG: %[[BB:.*]] = bufferization.to_buffer %[[B]] read_only : tensor<40x?xbf16> to memref<40x?xbf16>
// CHECK: mha.gpu_matmul %[[AB]], %[[BB]], %{{.*}} init(%{{.*}} : memref<24x40xf32>) {block_k = 16 : i64, block_m = 32 : i64, block_n = 64 : i64, lhs_transposed, rhs_transposed} : memref<?x24xbf16>, memref<40x?xbf16>, memref<24x40xf32>
// CHECK: } else {
// CHECK: linalg.matmul indexing_maps
func.func @transposed_maps(%a: tensor<?x24xbf16>, %b: tensor<40x?xbf16>, %c: tensor<24x40xf32>) -> tensor<24x40xf32> {
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%a, %b : tensor<?x24xbf16>, tensor<40x?xbf16>) outs(%c : tensor<24x40xf32>) -> tensor<24x40xf32>
  return %y : tensor<24x40xf32>
}

// -----

// A dense layer's gradients: dW = xᵀ · dy and dx = dy · Wᵀ, the transposes
// read in place and dropped. The batch's rows are K of dW: its rows, not
// columns, of x and dy, so a dynamic count needs no run-time dispatch.
// CHECK-LABEL: func.func @dense_grads
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xbf16>, %[[W:.*]]: tensor<64x32xbf16>, %[[DY:.*]]: tensor<?x32xbf16>)
// CHECK-NOT: linalg.transpose
// CHECK-NOT: scf.if
// CHECK: cf.assert {{.*}}dimension 0 of 'lhs' does not match dimension 0 of 'rhs'
// CHECK: %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only
// CHECK: %[[DYB:.*]] = bufferization.to_buffer %[[DY]] read_only
// CHECK: mha.gpu_matmul %[[XB]], %[[DYB]], %{{.*}} {{{.*}}lhs_transposed} : memref<?x64xbf16>, memref<?x32xbf16>, memref<64x32xf32>
// CHECK: %[[DYB2:.*]] = bufferization.to_buffer %[[DY]] read_only
// CHECK: %[[WB:.*]] = bufferization.to_buffer %[[W]] read_only
// CHECK: mha.gpu_matmul %[[DYB2]], %[[WB]], %{{.*}} {{{.*}}rhs_transposed} : memref<?x32xbf16>, memref<64x32xbf16>, memref<?x64xf32>
// CHECK-NOT: linalg.transpose
// CHECK-NOT: linalg.matmul
func.func @dense_grads(%x: tensor<?x64xbf16>, %w: tensor<64x32xbf16>, %dy: tensor<?x32xbf16>) -> (tensor<64x32xf32>, tensor<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %rows = tensor.dim %x, %c0 : tensor<?x64xbf16>
  %xt0 = tensor.empty(%rows) : tensor<64x?xbf16>
  %xt = linalg.transpose ins(%x : tensor<?x64xbf16>) outs(%xt0 : tensor<64x?xbf16>) permutation = [1, 0]
  %dw0 = tensor.empty() : tensor<64x32xf32>
  %dwz = linalg.fill ins(%zero : f32) outs(%dw0 : tensor<64x32xf32>) -> tensor<64x32xf32>
  %dw = linalg.matmul ins(%xt, %dy : tensor<64x?xbf16>, tensor<?x32xbf16>) outs(%dwz : tensor<64x32xf32>) -> tensor<64x32xf32>
  %wt0 = tensor.empty() : tensor<32x64xbf16>
  %wt = linalg.transpose ins(%w : tensor<64x32xbf16>) outs(%wt0 : tensor<32x64xbf16>) permutation = [1, 0]
  %dx0 = tensor.empty(%rows) : tensor<?x64xf32>
  %dxz = linalg.fill ins(%zero : f32) outs(%dx0 : tensor<?x64xf32>) -> tensor<?x64xf32>
  %dx = linalg.matmul ins(%dy, %wt : tensor<?x32xbf16>, tensor<32x64xbf16>) outs(%dxz : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %dw, %dx : tensor<64x32xf32>, tensor<?x64xf32>
}

// -----

// A batch's transpose (of its last two dimensions) read in place (kept for
// the run-time fallback and for its other use); a transposed map of a
// transpose reads the stored operand as it is; a dynamic N of a transposed
// rhs is checked on the output (N is the rhs's rows).
// CHECK-LABEL: func.func @batch_transposes
// CHECK-SAME: (%[[A:.*]]: tensor<2x8x16xf16>, %[[B:.*]]: tensor<2x?x16xf16>, %[[C:.*]]: tensor<2x8x?xf32>, %[[D:.*]]: tensor<2x8x16xf16>)
// CHECK: linalg.transpose ins(%[[A]]
// CHECK: %[[BT:.*]] = linalg.transpose ins(%[[B]] : tensor<2x?x16xf16>)
// CHECK: %[[N:.*]] = tensor.dim %[[C]], %c2
// CHECK: %[[NR:.*]] = arith.remui %[[N]], %c8
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[NR]], %c0
// CHECK: scf.if %[[OK]]
// CHECK: %[[AB:.*]] = bufferization.to_buffer %[[A]] read_only
// CHECK: %[[BB:.*]] = bufferization.to_buffer %[[B]] read_only
// CHECK: mha.gpu_matmul %[[AB]], %[[BB]], %{{.*}} init({{.*}}) {block_k = 16 : i64, block_m = 32 : i64, block_n = 64 : i64, rhs_transposed} : memref<2x8x16xf16>, memref<2x?x16xf16>, memref<2x8x?xf32>
// CHECK: } else {
// CHECK: linalg.batch_matmul
// CHECK: %[[DB:.*]] = bufferization.to_buffer %[[D]] read_only
// CHECK: %[[BB2:.*]] = bufferization.to_buffer %[[B]] read_only
// CHECK: mha.gpu_matmul %[[DB]], %[[BB2]], %{{.*}} {{{.*}}, rhs_transposed} : memref<2x8x16xf16>, memref<2x?x16xf16>, memref<2x8x?xf32>
// CHECK: return {{.*}}, %[[BT]]
func.func @batch_transposes(%a: tensor<2x8x16xf16>, %b: tensor<2x?x16xf16>, %c: tensor<2x8x?xf32>, %d: tensor<2x8x16xf16>) -> (tensor<2x8x?xf32>, tensor<2x8x?xf32>, tensor<2x16x?xf16>) {
  %c1 = arith.constant 1 : index
  %n = tensor.dim %b, %c1 : tensor<2x?x16xf16>
  %at0 = tensor.empty() : tensor<2x16x8xf16>
  %at = linalg.transpose ins(%a : tensor<2x8x16xf16>) outs(%at0 : tensor<2x16x8xf16>) permutation = [0, 2, 1]
  %bt0 = tensor.empty(%n) : tensor<2x16x?xf16>
  %bt = linalg.transpose ins(%b : tensor<2x?x16xf16>) outs(%bt0 : tensor<2x16x?xf16>) permutation = [0, 2, 1]
  %y = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, k, m)>, affine_map<(b, m, n, k) -> (b, k, n)>, affine_map<(b, m, n, k) -> (b, m, n)>]
         ins(%at, %bt : tensor<2x16x8xf16>, tensor<2x16x?xf16>) outs(%c : tensor<2x8x?xf32>) -> tensor<2x8x?xf32>
  %z = linalg.batch_matmul ins(%d, %bt : tensor<2x8x16xf16>, tensor<2x16x?xf16>) outs(%c : tensor<2x8x?xf32>) -> tensor<2x8x?xf32>
  return %y, %z, %bt : tensor<2x8x?xf32>, tensor<2x8x?xf32>, tensor<2x16x?xf16>
}

// -----

// A product inside a loop (a fused lowering's tile; the loop may become a
// kernel, which launches no kernel) is left as it is, without a remark.
// CHECK-LABEL: func.func @in_loop
// CHECK-NOT: mha.gpu_matmul
// CHECK: scf.forall
// CHECK: linalg.matmul
// CHECK-NOT: mha.gpu_matmul
func.func @in_loop(%x: tensor<4x32x64xbf16>, %w: tensor<64x16xbf16>, %acc: tensor<4x32x16xf32>) -> tensor<4x32x16xf32> {
  %r = scf.forall (%i) in (4) shared_outs(%o = %acc) -> (tensor<4x32x16xf32>) {
    %xs = tensor.extract_slice %x[%i, 0, 0] [1, 32, 64] [1, 1, 1] : tensor<4x32x64xbf16> to tensor<32x64xbf16>
    %os = tensor.extract_slice %o[%i, 0, 0] [1, 32, 16] [1, 1, 1] : tensor<4x32x16xf32> to tensor<32x16xf32>
    %p = linalg.matmul ins(%xs, %w : tensor<32x64xbf16>, tensor<64x16xbf16>) outs(%os : tensor<32x16xf32>) -> tensor<32x16xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %p into %o[%i, 0, 0] [1, 32, 16] [1, 1, 1] : tensor<32x16xf32> into tensor<4x32x16xf32>
    }
  }
  return %r : tensor<4x32x16xf32>
}

// -----

// f32 operands: the CUDA-core kernel with its own tiles (f32-block-*); a
// dense layer's input gradient dy·wᵀ, w read in place; a dynamic N checked
// to be a multiple of 4 at run time.
// CHECK-LABEL: func.func @f32
// CHECK-SAME: (%[[DY:.*]]: tensor<?x12xf32>, %[[W:.*]]: tensor<20x12xf32>, %[[A:.*]]: tensor<8x16xf32>, %[[B:.*]]: tensor<16x?xf32>, %[[C:.*]]: tensor<8x?xf32>)
// CHECK-NOT: linalg.transpose
// CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} {block_k = 8 : i64, block_m = 64 : i64, block_n = 192 : i64, rhs_transposed} : memref<?x12xf32>, memref<20x12xf32>, memref<?x20xf32>
// CHECK: %[[N:.*]] = tensor.dim %[[B]], %c1
// CHECK: %[[NR:.*]] = arith.remui %[[N]], %c4
// CHECK: %[[NOK:.*]] = arith.cmpi eq, %[[NR]], %c0
// CHECK: scf.if %[[NOK]] {
// CHECK: mha.gpu_matmul %{{.*}}, %{{.*}}, %{{.*}} init(%{{.*}} : memref<8x?xf32>) {block_k = 8 : i64, block_m = 64 : i64, block_n = 192 : i64} : memref<8x16xf32>, memref<16x?xf32>, memref<8x?xf32>
// CHECK: } else {
// CHECK: linalg.matmul
// CHECK: bufferization.materialize_in_destination
func.func @f32(%dy: tensor<?x12xf32>, %w: tensor<20x12xf32>, %a: tensor<8x16xf32>, %b: tensor<16x?xf32>, %c: tensor<8x?xf32>) -> (tensor<?x20xf32>, tensor<8x?xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %dy, %c0 : tensor<?x12xf32>
  %te = tensor.empty() : tensor<12x20xf32>
  %wt = linalg.transpose ins(%w : tensor<20x12xf32>) outs(%te : tensor<12x20xf32>) permutation = [1, 0]
  %empty = tensor.empty(%m) : tensor<?x20xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x20xf32>) -> tensor<?x20xf32>
  %dx = linalg.matmul ins(%dy, %wt : tensor<?x12xf32>, tensor<12x20xf32>) outs(%acc : tensor<?x20xf32>) -> tensor<?x20xf32>
  %y = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x?xf32>) outs(%c : tensor<8x?xf32>) -> tensor<8x?xf32>
  return %dx, %y : tensor<?x20xf32>, tensor<8x?xf32>
}

// -----

// f32 products the kernel cannot read: K or N not a multiple of 4.
// CHECK-LABEL: func.func @f32_left
// CHECK-NOT: mha.gpu_matmul
// CHECK-COUNT-2: linalg.matmul
// CHECK-NOT: mha.gpu_matmul
func.func @f32_left(%x: tensor<4x6xf32>, %w: tensor<6x8xf32>, %acc: tensor<4x8xf32>, %v: tensor<8x10xf32>, %acc10: tensor<4x10xf32>, %s: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x10xf32>) {
  %a = linalg.matmul ins(%x, %w : tensor<4x6xf32>, tensor<6x8xf32>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %b = linalg.matmul ins(%s, %v : tensor<4x8xf32>, tensor<8x10xf32>) outs(%acc10 : tensor<4x10xf32>) -> tensor<4x10xf32>
  return %a, %b : tensor<4x8xf32>, tensor<4x10xf32>
}
