// mha-gpu-lower-tensor-core-kernels: mha.gpu_attention as one kernel (a block
// of block_q/16 warps per block_q query rows of a batch position, keys and
// values staged in shared memory block_k rows at a time, Q.K^T and P.V on
// the tensor cores, the online softmax in registers), and the same
// computation emulated on the host (each block's threads as vector lanes).
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels -canonicalize -cse | FileCheck %s
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels=emulate -canonicalize -cse | FileCheck %s --check-prefix=EMU

// Causal, f16, 40 queries and 50 keys, depth 32, blocks of 32 queries (2
// warps, 64 threads) and tiles of 16 keys.
// CHECK-LABEL: func.func @f
// Batch positions (2 x 3) in x, query blocks (ceil(40 / 32)) in y; the key
// and value tiles in shared memory, rows padded by 8 elements. (The launch's
// guard against an empty grid folds away with static sizes.)
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %{{.*}}) in (%{{.*}} = %c6, %{{.*}} = %c2, %{{.*}} = %c1) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1) workgroup(%[[KS:.*]] : memref<16x40xf16, #gpu.address_space<workgroup>>, %[[VS:.*]] : memref<16x40xf16, #gpu.address_space<workgroup>>)
// CHECK: %[[LANE:.*]] = arith.remui %[[T]], %c32
// The warp's query fragments, two elements (4 bytes) a load, rows clamped
// into the 40.
// CHECK: arith.minui %{{.*}}, %c39
// CHECK: vector.load %{{.*}}[%[[BX]], %{{.*}}, %{{.*}}] {alignment = 4 : i64} : memref<6x40x32xf16>, vector<2xf16>
// Causal: the key tiles end at the one holding the block's last row's key
// (and at ceil(50 / 16) = 4).
// CHECK: %[[LAST:.*]] = arith.ceildivui %{{.*}}, %c16
// CHECK: %[[TILES:.*]] = arith.minui %[[LAST]], %c4
// The first key tile's copy, issued before the loop if there is a tile:
// 16 bytes (8 elements) a cp.async (16 x 32 / 8 = 64 copies, one a
// thread), a row past the last key (clamped to 49) reading no byte and so
// zero-filled.
// CHECK: %[[ANY:.*]] = arith.cmpi ugt, %[[TILES]], %c0
// CHECK: scf.if %[[ANY]] {
// CHECK: %[[KEYROW:.*]] = arith.divui %[[T]], %c4
// CHECK: %[[INRANGE:.*]] = arith.cmpi ult, %[[KEYROW]], %c50
// CHECK: %[[CLAMPED:.*]] = arith.minui %[[KEYROW]], %c49
// CHECK: %[[READ:.*]] = arith.select %[[INRANGE]], %c8, %c0
// CHECK: nvgpu.device_async_copy %{{.*}}[%[[BX]], %[[CLAMPED]], %{{.*}}], %[[KS]][%[[KEYROW]], %{{.*}}], 8, %[[READ]] {bypassL1} : memref<6x50x32xf16> to memref<16x40xf16, #gpu.address_space<workgroup>>
// CHECK-NEXT: {{^ *}$}}
// State: two row maxima, two partial row sums, 4 x 32/8 accumulators.
// CHECK: scf.for %[[I:.*]] = %c0 to %[[TILES]] step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// Each tile: the key tile awaited (this thread's copies committed and
// waited for, then a barrier), the value tile's copy issued...
// CHECK: %[[GROUP:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[GROUP]] {numGroups = 0 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.device_async_copy %{{.*}}, %[[VS]][%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// Scores: 2 tiles of 8 keys x 2 steps of 16 of depth on the tensor cores,
// each B fragment one ldmatrix of two 8 x 8 matrices of the key tile
// (8 keys x 16 of depth). Lane l gives the address of row l % 8 of matrix
// (l / 8) % 2, 8 columns further for the second.
// CHECK: %[[EIGHTS:.*]] = arith.divui %[[LANE]], %c8 : index
// CHECK: %[[MATRIX:.*]] = arith.remui %[[EIGHTS]], %c2 : index
// CHECK: %[[ROW:.*]] = arith.remui %[[LANE]], %c8 : index
// CHECK: %[[COLUMN:.*]] = arith.muli %[[MATRIX]], %c8 : index
// CHECK: nvgpu.ldmatrix %[[KS]][%[[ROW]], %[[COLUMN]]] {numTiles = 2 : i32, transpose = false} : memref<16x40xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// CHECK: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[KS]][%[[ROW]], %{{.*}}] {numTiles = 2 : i32, transpose = false}
// CHECK: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[KS]][%{{.*}}, %[[COLUMN]]] {numTiles = 2 : i32, transpose = false}
// CHECK: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[KS]]
// CHECK: nvvm.mma.sync A[{{.*}}]  B[{{.*}}]  C[{{.*}}]  {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// Masked (past the last key; causal) to -inf, the row maximum across the
// row's four threads, exp2.
// CHECK: arith.cmpi ult
// CHECK: arith.cmpi ule
// CHECK: arith.select %{{.*}}, %{{.*}}, %cst
// ...then the value tile awaited, and the next key tile's copy issued if
// there is one, to run during the softmax and P.V.
// CHECK: nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait
// CHECK-NEXT: gpu.barrier
// CHECK: %[[NEXT:.*]] = arith.addi %[[I]], %c1
// CHECK: %[[MORE:.*]] = arith.cmpi ult, %[[NEXT]], %[[TILES]]
// CHECK: scf.if %[[MORE]] {
// CHECK: nvgpu.device_async_copy %{{.*}}, %[[KS]][
// CHECK-NEXT: {{^ *}$}}
// CHECK: gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32 : f32
// CHECK: gpu.shuffle  xor %{{.*}}, %c2_i32, %c32_i32 : f32
// CHECK: math.exp2
// P.V: 4 tiles of 8 output columns, each with the B fragment of its 8
// value columns (16 keys: two 8 x 8 matrices) by a transposing ldmatrix.
// CHECK-NOT: memref.load %[[VS]]
// CHECK: nvgpu.ldmatrix %[[VS]][%[[VROW:.*]], %c0] {numTiles = 2 : i32, transpose = true} : memref<16x40xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// CHECK: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[VS]][%[[VROW]], %c8] {numTiles = 2 : i32, transpose = true}
// CHECK: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[VS]][%[[VROW]], %c16] {numTiles = 2 : i32, transpose = true}
// CHECK: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[VS]][%[[VROW]], %c24] {numTiles = 2 : i32, transpose = true}
// CHECK: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// After the keys: the sums across the row, each row stored if it exists.
// CHECK: gpu.shuffle  xor
// CHECK: scf.if
// CHECK: vector.store %{{.*}}, %{{.*}}[%[[BX]], %{{.*}}, %{{.*}}] {alignment = 4 : i64} : memref<6x40x32xf16>, vector<2xf16>
// CHECK: gpu.terminator
func.func @f(%q: memref<2x3x40x32xf16>, %k: memref<2x3x50x32xf16>, %v: memref<2x3x50x32xf16>, %o: memref<2x3x40x32xf16>) {
  mha.gpu_attention %q, %k, %v, %o {scale = 0.25 : f32, causal, block_q = 32, block_k = 16}
      : memref<2x3x40x32xf16>, memref<2x3x50x32xf16>, memref<2x3x50x32xf16>, memref<2x3x40x32xf16>
  return
}

// Emulated: the grid's blocks in sequence on the host, a block's work a
// function of its own (kept out of line), its 64 threads as the lanes of
// vectors; no GPU op; mma.sync a call of the emulation (the ISA's fragment
// layout, in f32); the loop's state in a host buffer.
// EMU-LABEL: func.func private @__mha_emulated_block_0(
// EMU-SAME: attributes {passthrough = ["noinline"]}
// EMU-NOT: gpu.
// EMU: %[[NAN:.*]] = arith.constant dense<0x7E00> : vector<64xf16>
// EMU: vector.step : vector<64xindex>
// cp.async emulated: a copy is in flight until the wait, its data aside in
// the tile's landing buffer and the tile's chunk NaN (the first key tile's
// copy, before the loop); at the wait, each pending copy lands.
// EMU: scf.if
// EMU: call @__mha_emulated_scatter_f16_64(%{{.*}}, %{{.*}}, %[[NAN]],
// EMU: memref.store %true, %[[PENDING:arg[0-9]+]][] : memref<i1>
// EMU: memref.alloc() : memref<20x64xf32>
// EMU: %[[LANDS:.*]] = memref.load %[[PENDING]][] : memref<i1>
// EMU-NEXT: scf.if %[[LANDS]] {
// EMU-NEXT: memref.copy %{{.*}}, %{{.*}} : memref<16x40xf16> to memref<16x40xf16>
// EMU-NEXT: memref.store %false, %[[PENDING]][] : memref<i1>
// ldmatrix emulated: lane 4g + t of each warp (32 lanes) reads, of matrix
// j, row g from the address that lane 8j + g of its warp gives...
// EMU: %[[KEYROW:.*]] = vector.shuffle %[[ADDRESS:.*]], %[[ADDRESS]] [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 32, 32, 32, 32, 33,
// EMU: call @__mha_emulated_gather_f16_64(%{{.*}}, %{{.*}})
// EMU: vector.shuffle %[[ADDRESS]], %[[ADDRESS]] [8, 8, 8, 8, 9, 9, 9, 9, 10,
// EMU: call @__mha_emulated_mma_f16_64
// EMU-COUNT-3: call @__mha_emulated_mma_f16_64
// EMU: vector.shuffle
// ... and transposed (the value tile), its column g's elements 2t and
// 2t + 1 from the addresses of lanes 8j + 2t and 8j + 2t + 1.
// EMU: vector.shuffle %[[VADDRESS:.*]], %[[VADDRESS]] [0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6, {{.*}}, 32, 34, 36, 38,
// EMU: vector.shuffle %[[VADDRESS]], %[[VADDRESS]] [1, 3, 5, 7, 1, 3, 5, 7,
// EMU: vector.shuffle %[[VADDRESS]], %[[VADDRESS]] [8, 10, 12, 14, 8, 10, 12, 14,
// EMU: vector.shuffle %[[VADDRESS]], %[[VADDRESS]] [9, 11, 13, 15, 9, 11, 13, 15,
// EMU-COUNT-4: call @__mha_emulated_mma_f16_64
// EMU-LABEL: func.func @f
// EMU: scf.for %{{.*}} = %c0 to %c6
// EMU: scf.for %{{.*}} = %c0 to %c2
// EMU: call @__mha_emulated_block_0(

// With an lse buffer: after the output rows, each row's log-sum-exp (the
// base-2 maximum times ln 2, plus log of the sum; -inf for a row that saw
// no key), stored by the first of the row's four threads.
// CHECK-LABEL: func.func @lse
// CHECK: gpu.launch
// CHECK: %[[LN:.*]] = math.log
// CHECK: %[[LSE:.*]] = arith.select %{{.*}}, %{{.*}}, %cst
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %{{.*}}, %c0
// CHECK: %[[STORE:.*]] = arith.andi %{{.*}}, %[[FIRST]]
// CHECK: scf.if %[[STORE]] {
// CHECK-NEXT: memref.store %[[LSE]], %{{.*}}[%{{.*}}, %{{.*}}] : memref<2x40xf32>
// EMU-LABEL: func.func private @__mha_emulated_block_1(
// EMU: call @__mha_emulated_mma_bf16_64
// EMU: math.log
// EMU-LABEL: func.func @lse
// EMU: call @__mha_emulated_block_1(
func.func @lse(%q: memref<2x40x32xbf16>, %o: memref<2x40x32xbf16>, %l: memref<2x40xf32>) {
  mha.gpu_attention %q, %q, %q, %o lse(%l : memref<2x40xf32>) {scale = 0.25 : f32, block_q = 32, block_k = 16}
      : memref<2x40x32xbf16>, memref<2x40x32xbf16>, memref<2x40x32xbf16>, memref<2x40x32xbf16>
  return
}

// A mask [B, 1, Sq, Sk] broadcast over heads: its strides along the scores'
// dimensions (0 for the heads), the block's offset from its batch position
// (split by the query's batch sizes, 3 heads), each score's element read
// and added (a float mask) to the natural score before the base-2 domain.
// CHECK-LABEL: func.func @masked
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %{{.*}} {{\[}}[0, 1, 2, 3]] : memref<2x1x40x40xf32> into memref<3200xf32>
// CHECK: gpu.launch
// CHECK: %[[REST:.*]] = arith.divui %{{.*}}, %c3 :
// CHECK: %[[BATCH:.*]] = arith.remui %[[REST]], %c2 :
// CHECK: arith.muli %[[BATCH]], %c1600
// CHECK: scf.for
// CHECK: %[[ELEMENT:.*]] = memref.load %[[FLAT]][%{{.*}}] : memref<3200xf32>
// CHECK: arith.addf %{{.*}}, %[[ELEMENT]] : f32
// EMU-LABEL: func.func private @__mha_emulated_block_2(
// EMU: call @__mha_emulated_mma_bf16_64
// EMU-LABEL: func.func @masked
// EMU: call @__mha_emulated_block_2(
func.func @masked(%q: memref<2x3x40x32xbf16>, %o: memref<2x3x40x32xbf16>, %m: memref<2x1x40x40xf32>) {
  mha.gpu_attention %q, %q, %q, %o mask(%m : memref<2x1x40x40xf32>) {scale = 0.25 : f32, block_q = 32, block_k = 16}
      : memref<2x3x40x32xbf16>, memref<2x3x40x32xbf16>, memref<2x3x40x32xbf16>, memref<2x3x40x32xbf16>
  return
}

// The backward (mha.gpu_attention_grad, causal, 40 queries and 50 keys at
// depth 32): D = rowsum(dO ⊙ O) in device memory from the first kernel to
// the second, freed after them.
// * dQ: blocks of 32 query rows (2 warps), per warp its rows' D (across the
//   row's four threads) stored by one thread of four; the value tile 0
//   copied before the loop; per tile of 16 keys: its value tile waited for,
//   its key tile's copies started, dP = dO·Vᵀ (2 tiles of 8 keys x 2 steps
//   of depth) while they fly; the key tile waited for, the next value
//   tile's copies started, S = Q·Kᵀ (2 x 2), P from the log-sum-exp
//   (exp2), dQ += dS·K (4 tiles of 8 columns) while they fly; dQ stored.
// * dK and dV: blocks of 32 key rows; causal blocks start at the query tile
//   of their first key; per tile of 32 queries, the query and dO tiles
//   staged between two barriers (both are read to the tile's last
//   products), Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ (4 x 2 each), each query's lse and
//   D read, dV += Pᵀ·dO and dK += dSᵀ·Q (4 x 2 each: 32 mma.sync in all); dK
//   and dV stored.
// CHECK-LABEL: func.func @grad
// CHECK: %[[DELTA:.*]] = gpu.alloc  (%c2, %c40) : memref<?x?xf32>
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2, %{{.*}} = %c2, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c64,
// CHECK: gpu.shuffle  xor
// CHECK: memref.store %{{.*}}, %[[DELTA]]
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy
// CHECK: scf.for
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.device_async_copy
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: gpu.barrier
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy
// CHECK-NOT: nvvm.mma.sync
// CHECK: }
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: math.exp2
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: vector.store %{{.*}}, %arg3[
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2, %{{.*}} = %c2, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c64,
// CHECK: %[[FIRSTKEY:.*]] = arith.muli %{{.*}}, %c32 : index
// CHECK: %[[FIRST:.*]] = arith.divui %[[FIRSTKEY]], %c32 : index
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: scf.for %{{.*}} = %[[FIRST]] to %c2
// CHECK: gpu.barrier
// CHECK: nvgpu.device_async_copy
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: memref.load %arg2
// CHECK: memref.load %[[DELTA]]
// CHECK: math.exp2
// CHECK-COUNT-28: nvvm.mma.sync
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: scf.yield
// CHECK: vector.store %{{.*}}, %arg4[
// CHECK: vector.store %{{.*}}, %arg5[
// CHECK: gpu.terminator
// CHECK: gpu.dealloc  %[[DELTA]]
// Emulated: D in host memory, the two kernels' blocks each a function.
// EMU-LABEL: func.func private @__mha_emulated_block_3(
// EMU: call @__mha_emulated_mma_bf16_64
// EMU-LABEL: func.func private @__mha_emulated_block_4(
// EMU: call @__mha_emulated_mma_bf16_64
// EMU-LABEL: func.func @grad
// EMU: %[[DELTA:.*]] = memref.alloc() : memref<2x40xf32>
// EMU: %[[CAST:.*]] = memref.cast %[[DELTA]]
// EMU: call @__mha_emulated_block_3(
// EMU-SAME: %[[CAST]]
// EMU: call @__mha_emulated_block_4(
// EMU-SAME: %[[CAST]]
// EMU: memref.dealloc %[[DELTA]]
// One function per operation (gather, scatter, mma), element type and
// block size, after the others, kept out of line, the lanes in a loop (a
// gather's lanes into a stack buffer, read as one vector).
// EMU: func.func private @__mha_emulated_gather_f16_64(%{{.*}}: memref<?xf16>, %{{.*}}: vector<64xindex>) -> vector<64xf16> attributes {passthrough = ["noinline"]}
// EMU: %[[STAGING:.*]] = memref.alloca() : memref<64xf16>
// EMU: scf.for %[[LANE:.*]] = %c0 to %c64 step %c1 {
// EMU: memref.store %{{.*}}, %[[STAGING]][%[[LANE]]]
// EMU: vector.load %[[STAGING]][%c0] : memref<64xf16>, vector<64xf16>
// EMU: func.func private @__mha_emulated_scatter_f16_64(%{{.*}}: memref<?xf16>, %{{.*}}: vector<64xindex>, %{{.*}}: vector<64xf16>, %{{.*}}: vector<64xi1>) attributes {passthrough = ["noinline"]}
// EMU: func.func private @__mha_emulated_mma_f16_64(%{{.*}}: vector<64xf16>
// EMU: func.func private @__mha_emulated_mma_bf16_64(%{{.*}}: vector<64xbf16>
// EMU-NOT: gpu.
func.func @grad(%q: memref<2x40x32xbf16>, %k: memref<2x50x32xbf16>, %l: memref<2x40xf32>,
                %dq: memref<2x40x32xbf16>, %dk: memref<2x50x32xbf16>, %dv: memref<2x50x32xbf16>) {
  mha.gpu_attention_grad %q, %k, %k, %q, %l, %q, %dq, %dk, %dv
      {scale = 0.25 : f32, causal, block_rows = 32, key_tile = 16, query_tile = 32}
      : memref<2x40x32xbf16>, memref<2x50x32xbf16>, memref<2x50x32xbf16>, memref<2x40x32xbf16>, memref<2x40xf32>,
        memref<2x40x32xbf16>, memref<2x40x32xbf16>, memref<2x50x32xbf16>, memref<2x50x32xbf16>
  return
}
