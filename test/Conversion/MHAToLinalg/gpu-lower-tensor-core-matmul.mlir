// mha-gpu-lower-tensor-core-kernels: mha.gpu_matmul as one kernel (a block
// of block_m/32 warps per block_m x block_n outputs, 32 rows a warp in two
// tiles of 16, lhs and rhs tiles of
// block_k staged in shared memory in two stages, mma.sync with f32
// accumulators started from init; f32 operands: 256 threads on CUDA cores,
// each with a block of outputs, fused multiply-adds from 16-byte loads of
// the tiles; f32 operands with tf32: the tensor-core kernel, mma.sync
// m16n8k8 on TF32 roundings), and the same computation emulated on the host
// (each block's threads as vector lanes; the f32 kernel's own work lane by
// lane).
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels -canonicalize -cse | FileCheck %s
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels=emulate -canonicalize -cse | FileCheck %s --check-prefix=EMU

// Dynamic M, K = 40 (three steps of 16: the last one half zeros), N = 24
// (two column tiles of 16: the second half past N), blocks of 64 rows (2
// warps, 64 threads).
// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%[[X:.*]]: memref<?x40xbf16> {{.*}}, %[[W:.*]]: memref<40x24xbf16> {{.*}}, %[[Y:.*]]: memref<?x24xf32> {{.*}}, %[[I:.*]]: memref<?x24xf32>
// Matrices as a batch of one.
// CHECK-DAG: %[[XB:.*]] = memref.expand_shape %[[X]] {{\[\[}}0, 1], [2]] output_shape [1, %{{.*}}, 40] : memref<?x40xbf16> into memref<1x?x40xbf16>
// CHECK-DAG: %[[WB:.*]] = memref.expand_shape %[[W]] {{\[\[}}0, 1], [2]] output_shape [1, 40, 24]
// CHECK-DAG: %[[YB:.*]] = memref.expand_shape %[[Y]]
// CHECK-DAG: %[[IB:.*]] = memref.expand_shape %[[I]]
// Output tiles (row tiles x 2 column tiles x the batch of 1) in x; no
// launch without rows. Two stages of an lhs tile [64, 16 + 8] and an rhs tile
// [16, 16 + 8] (rows padded by 8 elements).
// CHECK: %[[M:.*]] = memref.dim %[[XB]], %c1
// CHECK: %[[ROWTILES:.*]] = arith.ceildivui %[[M]], %c64
// CHECK: %[[TILES:.*]] = arith.muli %[[ROWTILES]], %c2
// CHECK: %[[ANY:.*]] = arith.cmpi ugt, %[[TILES]], %c0
// CHECK: scf.if %[[ANY]] {
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[TILES]], %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1) workgroup(%[[A0:.*]] : memref<64x24xbf16, #gpu.address_space<workgroup>>, %[[B0:.*]] : memref<16x24xbf16, #gpu.address_space<workgroup>>, %[[A1:.*]] : memref<64x24xbf16, #gpu.address_space<workgroup>>, %[[B1:.*]] : memref<16x24xbf16, #gpu.address_space<workgroup>>)
// The block's tile of its batch position (the batch position, then its
// row tile and column tile, column tiles fastest).
// CHECK-DAG: %[[TILE:.*]] = arith.remui %[[BX]], %[[TILES]]
// CHECK-DAG: %[[BATCHPOS:.*]] = arith.divui %[[BX]], %[[TILES]]
// CHECK-DAG: %[[ROWTILE:.*]] = arith.divui %[[TILE]], %c2
// CHECK-DAG: %[[COLTILE:.*]] = arith.remui %[[TILE]], %c2
// The accumulators start from init (two f32 a load, 8 bytes: 2 row tiles x
// 2 rows x 2 column tiles), rows and columns clamped into it (columns to
// N - 2 = 22).
// CHECK: arith.minui %{{.*}}, %c22
// CHECK-COUNT-8: vector.load %[[IB]][%[[BATCHPOS]], %{{.*}}, %{{.*}}] {alignment = 8 : i64} : memref<1x?x24xf32>, vector<2xf32>
// Step 0's tiles before the loop: the lhs tile, two cp.async of 8 elements
// (16 bytes) a thread, none past M or K (then 0 bytes read: zero-filled);
// the rhs tile (32 chunks, threads 0-31), none past K or N.
// CHECK: nvgpu.device_async_copy %[[XB]][%[[BATCHPOS]], %{{.*}}, %{{.*}}], %[[A0]][%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_copy %[[XB]][%[[BATCHPOS]], %{{.*}}, %{{.*}}], %[[A0]][%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// CHECK: %[[RHSTHREADS:.*]] = arith.cmpi ult, %[[T]], %c32
// CHECK: scf.if %[[RHSTHREADS]] {
// CHECK: arith.cmpi ult, %{{.*}}, %c24
// CHECK: nvgpu.device_async_copy %[[WB]][%[[BATCHPOS]], %{{.*}}, %{{.*}}], %[[B0]][%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// Three steps; each waits for its tiles (and for every thread to be done
// with the other stage), picks its stage, starts the next step's copies
// into the other one, then multiplies.
// CHECK: %[[ACC:.*]]:16 = scf.for %[[S:.*]] = %c0 to %c3 step %c1 iter_args
// CHECK: %[[GROUP:.*]] = nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_wait %[[GROUP]] {numGroups = 0 : i32}
// CHECK: gpu.barrier
// CHECK: %[[PARITY:.*]] = arith.remui %[[S]], %c2
// CHECK: %[[EVEN:.*]] = arith.cmpi eq, %[[PARITY]], %c0
// CHECK: %[[LHS:.*]] = arith.select %[[EVEN]], %[[A0]], %[[A1]]
// CHECK: %[[RHS:.*]] = arith.select %[[EVEN]], %[[B0]], %[[B1]]
// CHECK: %[[NEXT:.*]] = arith.addi %[[S]], %c1
// CHECK: %[[MORE:.*]] = arith.cmpi ult, %[[NEXT]], %c3
// CHECK: scf.if %[[MORE]] {
// CHECK: %[[NEXTLHS:.*]] = arith.select %[[EVEN]], %[[A1]], %[[A0]]
// CHECK: %[[NEXTRHS:.*]] = arith.select %[[EVEN]], %[[B1]], %[[B0]]
// CHECK: nvgpu.device_async_copy %[[XB]][{{.*}}], %[[NEXTLHS]][{{.*}}], 8
// CHECK: nvgpu.device_async_copy %[[WB]][{{.*}}], %[[NEXTRHS]][{{.*}}], 8
// The warp's A fragments of its two row tiles from the lhs tile (two
// ldmatrix each, columns 0 and 8), then per 8 output columns a B fragment
// of the rhs tile's columns (.trans), used by an mma.sync of each row tile.
// CHECK: nvgpu.ldmatrix %[[LHS]][%[[ROW0:.*]], %c0] {numTiles = 2 : i32, transpose = false}
// CHECK: nvgpu.ldmatrix %[[LHS]][%[[ROW0]], %c8] {numTiles = 2 : i32, transpose = false}
// CHECK: nvgpu.ldmatrix %[[LHS]][%[[ROW1:.*]], %c0] {numTiles = 2 : i32, transpose = false}
// CHECK: nvgpu.ldmatrix %[[LHS]][%[[ROW1]], %c8] {numTiles = 2 : i32, transpose = false}
// CHECK: nvgpu.ldmatrix %[[RHS]][%{{.*}}, %c0] {numTiles = 2 : i32, transpose = true}
// CHECK: nvvm.mma.sync A[{{.*}}] B[%[[BA:.*]], %[[BB:.*]]] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// CHECK: nvvm.mma.sync A[{{.*}}] B[%[[BA]], %[[BB]]]
// CHECK: nvgpu.ldmatrix %[[RHS]][%{{.*}}, %c8] {numTiles = 2 : i32, transpose = true}
// CHECK: nvvm.mma.sync
// CHECK: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// The outputs, two f32 (8 bytes) a store, where the row is before M and the
// column before N.
// CHECK: %[[INCOLUMNS:.*]] = arith.cmpi ult, %{{.*}}, %c24
// CHECK: %[[INROWS:.*]] = arith.cmpi ult, %{{.*}}, %[[M]]
// CHECK: %[[STORE:.*]] = arith.andi %[[INROWS]], %[[INCOLUMNS]]
// CHECK: scf.if %[[STORE]] {
// CHECK: %[[PAIR:.*]] = vector.from_elements %[[ACC]]#0, %[[ACC]]#1 : vector<2xf32>
// CHECK: vector.store %[[PAIR]], %[[YB]][%[[BATCHPOS]], %{{.*}}, %{{.*}}] {alignment = 8 : i64}
// CHECK-COUNT-7: vector.store %{{.*}}, %[[YB]]
// CHECK: gpu.terminator

// Emulated: each block a function of its own, run in sequence over the
// grid; a step's tiles and their copies' landing buffers and pending flags
// chosen by the step's parity, the copies in flight until the next wait.
// EMU-LABEL: func.func private @__mha_emulated_block_0
// EMU: scf.for
// EMU: memref.copy %{{.*}}, %{{.*}} : memref<64x24xbf16> to memref<64x24xbf16>
// EMU: %[[EVEN:.*]] = arith.cmpi eq
// EMU: scf.if
// EMU-DAG: arith.select %[[EVEN]], %{{.*}}, %{{.*}} : memref<64x24xbf16>
// EMU-DAG: %[[PENDING:.*]] = arith.select %[[EVEN]], %{{.*}}, %{{.*}} : memref<i1>
// EMU: memref.store %true, %[[PENDING]][] : memref<i1>
// EMU: func.call @__mha_emulated_mma_bf16_64
// EMU: func.call @__mha_emulated_mma_bf16_64
// EMU-LABEL: func.func @matmul
// EMU-NOT: gpu.launch
// EMU: call @__mha_emulated_block_0
func.func @matmul(%x: memref<?x40xbf16>, %w: memref<40x24xbf16>, %y: memref<?x24xf32>, %i: memref<?x24xf32>) {
  mha.gpu_matmul %x, %w, %y init(%i : memref<?x24xf32>) {block_m = 64, block_n = 16, block_k = 16}
      : memref<?x40xbf16>, memref<40x24xbf16>, memref<?x24xf32>
  return
}

// Both operands transposed, read as they are stored: lhs [K, M] = [40, ?],
// rhs [N, K] = [24, 40]; blocks of 64 x 32 outputs. M is the lhs's columns.
// The stages' tiles are the stored windows: lhs [16 of K, 64 + 8], rhs [32
// of N, 16 + 8]; the lhs's copies bounded by K (rows) and M (columns), the
// rhs's by N (rows) and K (columns). The A fragments by ldmatrix .trans of
// the lhs tile, the B fragments by ldmatrix of the rhs tile's rows (no
// .trans): the same fragments as the untransposed kernel's.
// CHECK-LABEL: func.func @transposed
// CHECK-SAME: (%[[X:.*]]: memref<40x?xbf16> {{.*}}, %[[W:.*]]: memref<24x40xbf16>
// CHECK-DAG: %[[XB:.*]] = memref.expand_shape %[[X]] {{\[\[}}0, 1], [2]] output_shape [1, 40, %{{.*}}] : memref<40x?xbf16> into memref<1x40x?xbf16>
// CHECK-DAG: %[[WB:.*]] = memref.expand_shape %[[W]]
// CHECK: %[[M:.*]] = memref.dim %[[XB]], %c2
// CHECK: %[[ROWTILES:.*]] = arith.ceildivui %[[M]], %c64
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %[[ROWTILES]], {{.*}} workgroup(%[[A0:.*]] : memref<16x72xbf16, #gpu.address_space<workgroup>>, %[[B0:.*]] : memref<32x24xbf16, #gpu.address_space<workgroup>>, %[[A1:.*]] : memref<16x72xbf16, #gpu.address_space<workgroup>>, %[[B1:.*]] : memref<32x24xbf16, #gpu.address_space<workgroup>>)
// CHECK: arith.cmpi ult, %{{.*}}, %c40
// CHECK: arith.cmpi ult, %{{.*}}, %[[M]]
// CHECK: nvgpu.device_async_copy %[[XB]][{{.*}}], %[[A0]][{{.*}}], 8
// CHECK: arith.cmpi ult, %{{.*}}, %c24
// CHECK: arith.cmpi ult, %{{.*}}, %c40
// CHECK: nvgpu.device_async_copy %[[WB]][{{.*}}], %[[B0]][{{.*}}], 8
// CHECK: scf.for
// CHECK: %[[LHS:.*]] = arith.select %{{.*}}, %[[A0]], %[[A1]]
// CHECK: %[[RHS:.*]] = arith.select %{{.*}}, %[[B0]], %[[B1]]
// CHECK-COUNT-4: nvgpu.ldmatrix %[[LHS]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = true}
// CHECK: nvgpu.ldmatrix %[[RHS]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = false}
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[RHS]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = false}
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[RHS]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = false}
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[RHS]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = false}
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK-NOT: nvgpu.ldmatrix
// CHECK: scf.yield
// EMU-LABEL: func.func @transposed
// EMU-NOT: gpu.launch
// EMU: call @__mha_emulated_block_1
func.func @transposed(%x: memref<40x?xbf16>, %w: memref<24x40xbf16>, %y: memref<?x24xf32>) {
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 32, block_k = 16, lhs_transposed, rhs_transposed}
      : memref<40x?xbf16>, memref<24x40xbf16>, memref<?x24xf32>
  return
}

// f32 operands: the CUDA-core kernel. 256 threads a block (16 x 16), each
// with 4 x 4 outputs of a 64 x 64 block (block_m / 16 x block_n / 16) in
// groups of 4; tiles of 8 of K padded by 16 bytes (lhs [64, 8 + 4], rhs
// [8, 64 + 4]) copied 16 bytes (4 elements) at a time, two stages; dynamic
// M, K = 40 (five steps), N = 72 (a second column tile of 8). Each 4 of K:
// the thread's 4 rows' 4 of K from the lhs tile (one 16-byte load a row),
// its 4 columns at each of the 4 of K from the rhs tile (one load a row of
// K), 64 fused multiply-adds; two such a step. The accumulators start from
// init (loaded 4 at a time) and are stored 4 at a time.
// CHECK-LABEL: func.func @f32
// CHECK-SAME: (%[[X:.*]]: memref<?x40xf32> {{.*}}, %[[W:.*]]: memref<40x72xf32> {{.*}}, %[[Y:.*]]: memref<?x72xf32> {{.*}}, %[[I:.*]]: memref<?x72xf32>
// CHECK-DAG: %[[XB:.*]] = memref.expand_shape %[[X]]
// CHECK-DAG: %[[WB:.*]] = memref.expand_shape %[[W]]
// CHECK-DAG: %[[YB:.*]] = memref.expand_shape %[[Y]]
// CHECK-DAG: %[[IB:.*]] = memref.expand_shape %[[I]]
// CHECK: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c256, %{{.*}} = %c1, %{{.*}} = %c1) workgroup(%[[A0:.*]] : memref<64x12xf32, #gpu.address_space<workgroup>>, %[[B0:.*]] : memref<8x68xf32, #gpu.address_space<workgroup>>, %[[A1:.*]] : memref<64x12xf32, #gpu.address_space<workgroup>>, %[[B1:.*]] : memref<8x68xf32, #gpu.address_space<workgroup>>)
// CHECK-COUNT-4: vector.load %[[IB]][{{.*}}] {alignment = 16 : i64} : memref<1x?x72xf32>, vector<4xf32>
// CHECK: nvgpu.device_async_copy %[[XB]][{{.*}}], %[[A0]][{{.*}}], 4
// CHECK: nvgpu.device_async_copy %[[WB]][{{.*}}], %[[B0]][{{.*}}], 4
// CHECK: scf.for %{{.*}} = %c0 to %c5 step %c1 iter_args
// CHECK: %[[LHS:.*]] = arith.select %{{.*}}, %[[A0]], %[[A1]]
// CHECK: %[[RHS:.*]] = arith.select %{{.*}}, %[[B0]], %[[B1]]
// CHECK: nvgpu.device_async_copy %[[XB]]
// CHECK: nvgpu.device_async_copy %[[WB]]
// CHECK-COUNT-4: vector.load %[[LHS]][%{{.*}}, %c0] {alignment = 16 : i64} : memref<64x12xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// CHECK: vector.load %[[RHS]][%c0, %{{.*}}] {alignment = 16 : i64}
// CHECK: vector.load %[[RHS]][%c1, %{{.*}}] {alignment = 16 : i64}
// CHECK: vector.load %[[RHS]][%c2, %{{.*}}] {alignment = 16 : i64}
// CHECK: vector.load %[[RHS]][%c3, %{{.*}}] {alignment = 16 : i64}
// CHECK-COUNT-64: math.fma
// CHECK-COUNT-4: vector.load %[[LHS]][%{{.*}}, %c4] {alignment = 16 : i64}
// CHECK: vector.load %[[RHS]][%c4, %{{.*}}] {alignment = 16 : i64}
// CHECK-COUNT-3: vector.load %[[RHS]]
// CHECK-COUNT-64: math.fma
// CHECK-NOT: math.fma
// CHECK: scf.yield
// CHECK-COUNT-4: vector.store %{{.*}}, %[[YB]][{{.*}}] {alignment = 16 : i64} : memref<1x?x72xf32>, vector<4xf32>
// CHECK-NOT: nvvm.mma.sync
// CHECK-NOT: nvgpu.ldmatrix
// CHECK: gpu.terminator
// EMU-LABEL: func.func @f32
// EMU-NOT: gpu.launch
// EMU: call @__mha_emulated_block_2
func.func @f32(%x: memref<?x40xf32>, %w: memref<40x72xf32>, %y: memref<?x72xf32>, %i: memref<?x72xf32>) {
  mha.gpu_matmul %x, %w, %y init(%i : memref<?x72xf32>) {block_m = 64, block_n = 64, block_k = 8}
      : memref<?x40xf32>, memref<40x72xf32>, memref<?x72xf32>
  return
}

// Both f32 operands transposed, read in place: the tiles as stored (lhs
// [8, 64 + 4], rhs [64, 8 + 4]); the thread's rows' 4 of K by one load a
// row of K of the lhs tile, its columns' by one load a column of the rhs
// tile; no init (zeros).
// CHECK-LABEL: func.func @f32_transposed
// CHECK: gpu.launch {{.*}} workgroup(%[[A0:.*]] : memref<8x68xf32, #gpu.address_space<workgroup>>, %[[B0:.*]] : memref<64x12xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<8x68xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<64x12xf32, #gpu.address_space<workgroup>>)
// CHECK-NOT: vector.load
// CHECK: scf.for
// CHECK: %[[LHS:.*]] = arith.select %{{.*}}, %[[A0]], %{{.*}}
// CHECK: %[[RHS:.*]] = arith.select %{{.*}}, %[[B0]], %{{.*}}
// CHECK: vector.load %[[LHS]][%c0, %{{.*}}] {alignment = 16 : i64}
// CHECK: vector.load %[[LHS]][%c1, %{{.*}}] {alignment = 16 : i64}
// CHECK: vector.load %[[LHS]][%c2, %{{.*}}] {alignment = 16 : i64}
// CHECK: vector.load %[[LHS]][%c3, %{{.*}}] {alignment = 16 : i64}
// CHECK-COUNT-4: vector.load %[[RHS]][%{{.*}}, %c0] {alignment = 16 : i64}
// CHECK-COUNT-64: math.fma
// CHECK: vector.load %[[LHS]][%c4, %{{.*}}] {alignment = 16 : i64}
// CHECK-COUNT-3: vector.load %[[LHS]]
// CHECK-COUNT-4: vector.load %[[RHS]][%{{.*}}, %c4] {alignment = 16 : i64}
// CHECK-COUNT-64: math.fma
// CHECK-NOT: math.fma
// CHECK: scf.yield
// CHECK-COUNT-16: vector.store %{{.*}} {alignment = 4 : i64} : memref<1x?x72xf32>, vector<1xf32>
// CHECK-NOT: vector.store
// CHECK: gpu.terminator
// Emulated, the copies lane-wide, each thread's own work (its first
// accumulators, a step's products, its stores) lane by lane: functions
// that loop over the 256 lanes running the GPU thread's scalar code, the
// accumulators in a host buffer [value, lane] (checked at the end of the
// file, where the module's emulation functions are).
// EMU-LABEL: func.func @f32_transposed
// EMU-NOT: gpu.launch
// EMU: call @__mha_emulated_block_3
func.func @f32_transposed(%x: memref<40x?xf32>, %w: memref<72x40xf32>, %y: memref<?x72xf32>) {
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 64, block_k = 8, lhs_transposed, rhs_transposed}
      : memref<40x?xf32>, memref<72x40xf32>, memref<?x72xf32>
  return
}

// TF32 (f32 operands, tf32): the tensor-core kernel's warps (64 rows: 2
// warps of 32, 64 threads) on f32 tiles (rows padded by 4 elements), each
// step of 8 of K one mma.sync m16n8k8 on TF32 operands a warp tile and 8
// columns. A: two ldmatrix of 32-bit elements (rows g and g + 8, then 4
// columns on) a row tile; B: one element a load from the untransposed rhs
// tile (rows t and t + 4, column g); every element rounded by
// cvt.rna.tf32.f32 (nvvm.convert.float.to.tf32, to nearest, ties away) as
// it is read. The C layout is the f16 kernel's: stored as pairs.
// CHECK-LABEL: func.func @tf32
// CHECK: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1) workgroup(%[[A0:.*]] : memref<64x12xf32, #gpu.address_space<workgroup>>, %[[B0:.*]] : memref<8x36xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<64x12xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<8x36xf32, #gpu.address_space<workgroup>>)
// CHECK: nvgpu.device_async_copy {{.*}}, 4, {{.*}} : memref<1x?x40xf32> to memref<64x12xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: %[[LHS:.*]] = arith.select %{{.*}}, %[[A0]], %{{.*}}
// CHECK: %[[RHS:.*]] = arith.select %{{.*}}, %[[B0]], %{{.*}}
// CHECK: nvgpu.ldmatrix %[[LHS]][%{{.*}}, %c0] {numTiles = 2 : i32, transpose = false} : memref<64x12xf32, #gpu.address_space<workgroup>> -> vector<2x1xf32>
// CHECK: nvgpu.ldmatrix %[[LHS]][%{{.*}}, %c4] {numTiles = 2 : i32, transpose = false} : memref<64x12xf32, #gpu.address_space<workgroup>> -> vector<2x1xf32>
// CHECK-COUNT-4: nvvm.convert.float.to.tf32 %{{.*}} {rnd = #nvvm.fp_rnd_mode<rna>}
// CHECK-COUNT-2: nvgpu.ldmatrix %[[LHS]]
// CHECK-COUNT-4: nvvm.convert.float.to.tf32
// CHECK: %[[B:.*]] = memref.load %[[RHS]][%{{.*}}, %{{.*}}] : memref<8x36xf32, #gpu.address_space<workgroup>>
// CHECK: memref.load %[[RHS]]
// CHECK-COUNT-2: nvvm.convert.float.to.tf32
// CHECK: nvvm.mma.sync A[{{.*}}]  B[{{.*}}]  C[{{.*}}]  {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<tf32>, multiplicandBPtxType = #nvvm.mma_type<tf32>, shape = #nvvm.shape<m = 16, n = 8, k = 8>}
// CHECK-COUNT-7: nvvm.mma.sync {{.*}}tf32{{.*}}k = 8
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: vector.store %{{.*}} {alignment = 8 : i64} : memref<1x?x72xf32>, vector<2xf32>
// CHECK: gpu.terminator
// EMU-LABEL: func.func private @__mha_emulated_block_4
// EMU: arith.bitcast %{{.*}} : vector<64xf32> to vector<64xi32>
// EMU: arith.addi %{{.*}}, %cst{{.*}} : vector<64xi32>
// EMU: func.call @__mha_emulated_mma_tf32_f32_64
// EMU-LABEL: func.func @tf32(
// EMU-NOT: gpu.launch
// EMU: call @__mha_emulated_block_4
func.func @tf32(%x: memref<?x40xf32>, %w: memref<40x72xf32>, %y: memref<?x72xf32>, %i: memref<?x72xf32>) {
  mha.gpu_matmul %x, %w, %y init(%i : memref<?x72xf32>) {block_m = 64, block_n = 32, block_k = 8, tf32}
      : memref<?x40xf32>, memref<40x72xf32>, memref<?x72xf32>
  return
}

// TF32, both operands transposed: A one element a load from the lhs tile
// [K, M] (rows t and t + 4, columns g and g + 8), B by ldmatrix of the rhs
// tile's rows [N, K] (8 columns of N, K 4 at a time).
// CHECK-LABEL: func.func @tf32_transposed
// CHECK: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c32, {{.*}} workgroup(%[[A0:[a-z0-9]+]] : memref<8x36xf32, #gpu.address_space<workgroup>>, %[[B0:[a-z0-9]+]] : memref<16x12xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: %[[LHS:.*]] = arith.select %{{.*}}, %[[A0]], %{{.*}}
// CHECK: %[[RHS:.*]] = arith.select %{{.*}}, %[[B0]], %{{.*}}
// CHECK-COUNT-4: memref.load %[[LHS]][%{{.*}}, %{{.*}}] : memref<8x36xf32, #gpu.address_space<workgroup>>
// CHECK: nvgpu.ldmatrix %[[RHS]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = false} : memref<16x12xf32, #gpu.address_space<workgroup>> -> vector<2x1xf32>
// CHECK: nvvm.mma.sync {{.*}}tf32{{.*}}k = 8
// CHECK-NOT: ldmatrix %[[LHS]]
// CHECK: scf.yield
func.func @tf32_transposed(%x: memref<40x?xf32>, %w: memref<72x40xf32>, %y: memref<?x72xf32>) {
  mha.gpu_matmul %x, %w, %y {block_m = 32, block_n = 16, block_k = 8, lhs_transposed, rhs_transposed, tf32}
      : memref<40x?xf32>, memref<72x40xf32>, memref<?x72xf32>
  return
}

// The emulation functions, at the end of the module: @f32_transposed's
// step and stores lane by lane; the TF32 mma.sync (m16n8k8: 8 of K).
// EMU-LABEL: func.func private @__mha_emulated_simt_step_1(
// EMU-SAME: memref<16x256xf32>, %{{.*}}: memref<8x68xf32>, %{{.*}}: memref<64x12xf32>)
// EMU: scf.for %[[LANE:.*]] = %c0 to %c256 step %c1 {
// EMU-COUNT-16: memref.load %{{.*}}[%{{.*}}, %[[LANE]]] : memref<16x256xf32>
// EMU: vector.load %{{.*}} {alignment = 16 : i64} : memref<8x68xf32>, vector<4xf32>
// EMU-COUNT-64: math.fma {{.*}} : f32
// EMU-COUNT-16: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %[[LANE]]] : memref<16x256xf32>
// EMU-LABEL: func.func private @__mha_emulated_simt_store_1(
// EMU: scf.for
// EMU-COUNT-16: vector.store %{{.*}} : memref<1x?x72xf32>, vector<1xf32>
// EMU-LABEL: func.func private @__mha_emulated_mma_tf32_f32_64(
// EMU: scf.for %{{.*}} = %c0 to %c8 step %c1 iter_args
