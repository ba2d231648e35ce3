//===- Passes.td - mha conversion passes -------------------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Cross-dialect lowerings out of the mha dialect.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_CONVERSION_PASSES_TD
#define MHA_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertMHAToLinalgPass : Pass<"convert-mha-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower every mha compute op to linalg, tensor, arith and math";
  let description = [{
    Lowers the mha dialect's compute ops to tensors and `linalg`:

    * named linalg ops where they exist: `linalg.matmul` / `linalg.batch_matmul`
      for `dense`, `matmul` and `scaled_matmul` (batch dimensions beyond one
      are collapsed), `linalg.transpose` for `split_heads` / `merge_heads` and
      transposed keys, `linalg.reduce` for reductions, `linalg.broadcast` for
      biases;
    * `linalg.generic` for element-wise ops, broadcasting, masks, layer norm,
      softmax and the losses. Softmax subtracts the row maximum and returns
      zeros for a row of `-inf` (`linalg.softmax` would return NaN there, so
      it is not used).

    `mha.attention` and `mha.attention_with_lse` get the flash lowering
    (`flash-attention`, on by default): loops over batch elements, blocks of
    `attention-block-q` queries and blocks of `attention-block-k` keys with
    an online softmax, so no Sq × Sk matrix exists; with `causal`, key blocks
    past a query block are skipped. `mha.attention_grad` gets the fused
    backward: per key block, the query blocks that can see it recompute the
    probabilities from the saved log-sum-exp on a tile and accumulate dK, dV,
    dQ (and an additive mask's gradient) blockwise. Block sizes of 0 are
    derived from the head depth and `l1-cache-bytes`. With
    `flash-attention=false` all three go through their decomposition (the
    reference semantics, Sq × Sk matrices). f16/bf16 operands are extended to f32, computed and
    accumulated in f32, and truncated at the end.

    Sizes the verifier could not compare because they are dynamic (batch and
    sequence lengths of different inputs, contraction sizes, broadcast
    dimensions, head divisibility) are checked at run time with `cf.assert`,
    whose message names the op's location, the operands and dimensions.

    Parameters must already be function arguments (`mha-params-to-arguments`);
    the module-level `mha.param` and `mha.training` declarations, consumed by
    drivers before lowering, are erased, with the `mha.param` argument tags
    that name them.
  }];
  let options = [
    Option<"flashAttention", "flash-attention", "bool", "true",
           "fused, tiled attention with online softmax (else its decomposition)">,
    Option<"attentionBlockQ", "attention-block-q", "int64_t", "0",
           "queries per block of the flash lowering (0: derived)">,
    Option<"attentionBlockK", "attention-block-k", "int64_t", "0",
           "keys per block of the flash lowering (0: derived)">,
    Option<"l1CacheBytes", "l1-cache-bytes", "int64_t", "32768",
           "L1 data cache size the derived block sizes fit">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MHATileAttentionPass : Pass<"mha-tile-attention", "::mlir::func::FuncOp"> {
  let summary = "Tile attention through its tiled form, mha.online_attention";
  let description = [{
    Rewrites `mha.attention` and `mha.attention_with_lse` into one
    `mha.online_attention` over all keys from the initial state (acc = 0,
    max = −∞, sum = 0), tiled through its `TilingInterface`: an
    `scf.forall` over batch positions and blocks of `block-q` queries, in
    each an `scf.for` over blocks of `block-k` keys carrying the state, each
    iteration an `mha.online_attention` on slices (its offsets moved to the
    tile's first query and key). The state is then normalized: O = acc /
    sum (zero rows where no key was seen), lse = max + log(sum) (−∞ there).
    No Sq × Sk matrix exists; `convert-mha-to-linalg` lowers the tiles.

    This is the flash lowering from the tiled form alone, independent of the
    target: what a new backend reuses. The CPU pipeline's own flash lowering
    builds the same tiles in loops tuned for its caches and vector units
    (Kᵀ transposed once per batch element, blocks derived from the L1
    size). Causal: each query block's key loop ends after the block holding
    its last visible key, so key blocks past the diagonal are not visited.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", "64", "queries per tile">,
    Option<"blockK", "block-k", "int64_t", "64",
           "keys per tile (0: all keys in one tile, no key loop)">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MHAAttentionGradToLoopsPass
    : Pass<"mha-attention-grad-to-loops", "::mlir::func::FuncOp"> {
  let summary = "Lower mha.attention_grad to per-row parallel loops";
  let description = [{
    Each `mha.attention_grad` with static depths (and no additive mask
    gradient in use) becomes three `scf.forall` loops on tensors whose
    iterations each own one row of the gradients, so that no Sq × Sk
    matrix exists and no element is written by two iterations:

    * over query rows i: D_i = dO_i·O_i; over the keys j the row sees (all,
      or j ≤ i when causal), s = mask(scale·q_i·k_j), P = exp(s − lse_i)
      (0 where s is −inf), dS = P·(dO_i·v_j − D_i), dQ_i += dS·k_j; then
      dQ_i ·= scale, and D_i stored for the second loop;
    * over key rows j: over the queries that see key j, the same P,
      dV_j += P·dO_i;
    * over key rows j again: the same P and dS, dK_j += dS·q_i; then
      dK_j ·= scale.

    The rows are vectors (a GPU thread's registers). The GPU pipeline maps
    each loop to one kernel of a thread per row; dV and dK have a loop each
    (the scores computed once more) so that a thread holds fewer rows: with
    both in one loop the key-row kernel spilled heavily. Sizes are checked on the
    host before the loops. Other `mha.attention_grad` ops are left to
    `convert-mha-to-linalg`'s decomposition.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def MHAOnlineAttentionToLoopsPass
    : Pass<"mha-online-attention-to-loops", "::mlir::func::FuncOp"> {
  let summary = "Lower tiles of mha.online_attention to per-row scalar loops";
  let description = [{
    Each `mha.online_attention` whose batch dimensions are 1 (a tile, as
    `mha-tile-attention` makes them) becomes scalar `scf.for` loops on
    tensors: query rows one after another and, within a row, keys one after
    another with the online update s = scale·q·k (masked, causal by the
    offsets), m' = max(m, s), α = exp(m − m'), p = exp(s − m'), l' = α·l +
    p, acc' = α·acc + p·v, the running state read and written in place
    (`tensor.extract` / `tensor.insert`): no temporary tensor, so the loops
    run inside a GPU thread once the tiled form's parallel loop over query
    rows is mapped to threads (`mha-lower-to-gpu`). Where the depths are
    static, a query row and an accumulator row are vectors carried through
    the row's keys (registers of a GPU thread), each key and value row one
    vector load. Causal tiles stop each row's key loop at its last visible
    key. Dynamic sizes are checked at run time first, as by the linalg
    lowering; with `check-sizes=false` (`mha-lower-to-gpu`), not those of
    tiles inside an `scf.forall` (the tiles of `mha-tile-attention`, which
    checked the whole op's sizes on the host before tiling; a check inside
    a kernel could not report).
  }];
  let options = [
    Option<"checkSizes", "check-sizes", "bool", "true",
           "Check the tiles' dynamic sizes at run time">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def MHAGPUAttentionKernelOpsPass
    : Pass<"mha-gpu-attention-kernel-ops", "::mlir::func::FuncOp"> {
  let summary = "Give eligible attention ops (forward and backward) to the "
                "tensor-core kernels";
  let description = [{
    Each `mha.attention` or `mha.attention_with_lse` (the forward of
    training) the tensor-core kernel computes — query, key and
    value all f16 or all bf16, at least one batch dimension, a static depth that is a multiple of 16 and equal for the
    three (a mask and `causal` are fine) — becomes `mha.gpu_attention` on
    their buffers (`bufferization.to_buffer`, a new output buffer, and
    `bufferization.to_tensor` of it for the result), after the run-time
    checks of the operands' sizes (on the host). Other attention ops are
    left to the rest of the pipeline. `block-q` (query rows per block of
    threads, 16 per warp) and `block-k` (keys per shared-memory tile) set
    the kernel's tiles; `mha-gpu-lower-tensor-core-kernels` checks them
    against the GPU's shared memory and registers. With `block-k=0` (the
    default) each op gets the largest tile of 64, 32 or 16 keys that fits
    its depth, and an op no tile fits (f16/bf16 above depth 256, TF32
    above 144) is left to the rest of the pipeline.

    With `tf32`, each `mha.attention` and `mha.attention_with_lse` of f32
    operands of that shape also becomes `mha.gpu_attention`, with `tf32`:
    its two products on tensor cores on TF32 roundings of their operands,
    an opt-in (as PyTorch's `allow_tf32`); its tiles derived as above, from
    64, 32 or 16 keys (f32 tiles take twice the shared memory: 32 keys at
    depth 128). Each `mha.attention_grad` of f32 operands becomes
    `mha.gpu_attention_grad` with `tf32` likewise (below), up to depth 80
    (its registers' estimate). `tensor-cores=0` leaves f16/bf16 attention
    to the rest of the pipeline.

    Each `mha.attention_grad` of f16 or bf16 operands of that shape whose
    additive mask's gradient, if any, is unused becomes likewise
    `mha.gpu_attention_grad` (after the run-time checks of all its
    operands' sizes), with new buffers for dQ, dK and dV and tiles derived
    from the depth (blocks of 64 rows; the largest tile of 64, 32 or 16 keys
    for its dQ kernel and of queries for its dK/dV kernel that fits shared
    memory and the registers' estimate: 64 and 64 up to depth 64, 64 and 16
    at depth 128; TF32: 64 and 64 up to depth 32, 64 and 32 at depth 64, 64
    and 16 at depth 80); a depth no tile fits (above 128, TF32 above 80)
    leaves it to the per-row backward. Key and value batch sizes must be the query's (no broadcast).

    Each attention op left to the rest of the pipeline gets a remark naming
    the reason (`not on tensor cores: its operands are not f16 or bf16`,
    `... its depth is not a static multiple of 16`, ...), so that a user who
    asked for tensor cores learns which ops did not take them and why.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", "64",
           "Query rows per block of threads (a multiple of 16)">,
    Option<"blockK", "block-k", "int64_t", "0",
           "Keys per shared-memory tile (a multiple of 16; 0: the largest "
           "of 64, 32, 16 that fits the depth)">,
    Option<"tensorCores", "tensor-cores", "bool", "true",
           "f16/bf16 attention (forward and backward) to the tensor-core "
           "kernels">,
    Option<"tf32", "tf32", "bool", "false",
           "f32 attention (forward and backward) to the tensor-core "
           "kernels on TF32 roundings of its operands">,
  ];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MHAGPUMatmulKernelOpsPass
    : Pass<"mha-gpu-matmul-kernel-ops", "::mlir::func::FuncOp"> {
  let summary = "Give eligible matrix products to the tiled matmul kernels";
  let description = [{
    Each `linalg.matmul` or `linalg.batch_matmul` on tensors, outside loops
    (not a fused lowering's tile, whose loop may become a kernel), that a
    tiled matmul kernel computes — lhs and rhs both f16 or both bf16
    (`tensor-cores`: the tensor-core kernel) or both f32 (`f32`: the
    shared-memory tiled kernel on CUDA cores; `tf32`: the tensor-core
    kernel on TF32 roundings of them, `mha.gpu_matmul`'s `tf32`, an opt-in
    as PyTorch's `allow_tf32`: it keeps 10 bits of each operand's
    mantissa), an f32 accumulator, the
    default indexing maps or ones that transpose an operand, each operand's
    rows (its last dimension) and N multiples of 16 bytes of elements (8
    of f16/bf16, 4 of f32) — becomes `mha.gpu_matmul` on its operands'
    buffers (`bufferization.to_buffer`, a new output buffer, and
    `bufferization.to_tensor` of it for the result), after the run-time
    checks that the sizes agree (on the host). A dynamic size that must be
    such a multiple is checked at run time: the kernel when it is, the
    product as it was otherwise (an `scf.if`). An operand that is a
    `linalg.transpose` of its last two dimensions is read in place
    (`lhs_transposed` / `rhs_transposed`: the transpose's input), the
    transpose dropped when nothing else uses it. An accumulator that is a
    `linalg.fill` of zero is not read (no `init`). These are the products
    of f32 models, of f16/bf16 ones (dense layers, `mha.matmul`: f32
    accumulation) and of f32 ones under `mha-bf16-matmuls`
    (`mha-lower-to-gpu{bf16-matmuls}`, `mha-run --precision bf16`).

    A product of a kind the options select that stays to the rest of the
    pipeline (one thread per output element) gets a remark naming the
    reason.
  }];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", "true",
           "f16/bf16 products to the tensor-core kernel (mma.sync)">,
    Option<"f32", "f32", "bool", "true",
           "f32 products to the shared-memory tiled kernel on CUDA cores">,
    Option<"tf32", "tf32", "bool", "false",
           "f32 products to the tensor-core kernel on TF32 operands (each "
           "rounded to 10 bits of mantissa; with the f32-block-* tiles), "
           "instead of the CUDA-core kernel">,
    Option<"blockM", "block-m", "int64_t", "128",
           "Output rows per block of the tensor-core kernel (a multiple of "
           "32: 32 a warp)">,
    Option<"blockN", "block-n", "int64_t", "128",
           "Output columns per block of the tensor-core kernel (a multiple "
           "of 16)">,
    Option<"blockK", "block-k", "int64_t", "32",
           "Columns of lhs (rows of rhs) per shared-memory stage of the "
           "tensor-core kernel (a multiple of 16)">,
    Option<"f32BlockM", "f32-block-m", "int64_t", "128",
           "Output rows per block of the f32 kernel (a multiple of 64; "
           "with tf32, of 32)">,
    Option<"f32BlockN", "f32-block-n", "int64_t", "128",
           "Output columns per block of the f32 kernel (a multiple of 64; "
           "with tf32, of 16)">,
    Option<"f32BlockK", "f32-block-k", "int64_t", "16",
           "Columns of lhs (rows of rhs) per shared-memory stage of the f32 "
           "kernel (a multiple of 4; with tf32, of 8)">,
  ];
  let dependentDialects = [
    "::mlir::mha::MHADialect",
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::cf::ControlFlowDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MHAGPULowerTensorCoreKernelsPass
    : Pass<"mha-gpu-lower-tensor-core-kernels", "::mlir::ModuleOp"> {
  let summary = "Lower mha.gpu_attention, mha.gpu_attention_grad and "
                "mha.gpu_matmul to tensor-core kernels (gpu.launch)";
  let description = [{
    Each `mha.gpu_attention` (on device buffers) becomes one `gpu.launch`:
    a block of `block_q / 16` warps per `block_q` query rows of a batch
    position (grid: query blocks × batch positions), launched only when
    there are rows. Each warp holds its 16 query rows as `mma.sync` A
    fragments for the whole kernel; per tile of `block_k` keys the block's
    threads copy the keys and values into shared memory (`cp.async`, 16
    bytes a copy, rows padded by 8 elements against bank conflicts, zeros
    past the last key; the value tile copied while the scores are
    computed, the next key tile while the softmax and P·V are), then each
    warp computes its 16 × `block_k` scores with
    `nvvm.mma.sync` (m16n8k16, f32 accumulation), masks keys past the end
    (and, with `causal`, after the row), updates the online softmax in
    registers (row maxima across the four threads of a row by
    `gpu.shuffle xor`, exp2 with the scale folded in, the row sums reduced
    once at the end), and accumulates P·V with `mma.sync` (P rounded to
    the operands' type, as the tensor cores take it). The `mma.sync` B
    fragments come from the shared tiles by `nvgpu.ldmatrix`, two 8 × 8
    matrices a load (transposed for the value tile, whose columns are the
    fragments' rows). Causal blocks stop at
    the tile holding their last row's key. The output rows are divided by
    their sums (zeros for a row that saw no key) and stored in the
    operands' type; with an `lse` buffer, one thread of each row also
    stores its log-sum-exp.

    Each `mha.gpu_attention_grad` becomes two kernels on the same stream,
    with D = rowsum(dO ⊙ O) passed from the first to the second in a device
    buffer: over blocks of `block_rows` query rows, D of the block's rows,
    then per tile of `key_tile` keys (keys and values staged in shared
    memory, causal blocks stopping at their last row's tile) S = Q·Kᵀ and
    dP = dO·Vᵀ by `mma.sync`, P = exp(S − lse) (0 for a row that saw no
    key), dS = P ⊙ (dP − D), dQ += dS·K (dS rounded to the operands' type),
    dQ scaled and stored; over blocks of `block_rows` key rows, per tile of
    `query_tile` queries (queries and dO staged, causal blocks starting at
    the tile of their first key) the same transposed, Sᵀ = K·Qᵀ and
    dPᵀ = V·dOᵀ, dV += Pᵀ·dO and dK += dSᵀ·Q, both stored. No atomics: each
    gradient element has one writer (the scores are computed twice, once
    per kernel).

    Each `mha.gpu_matmul` becomes one kernel: a block of `block_m / 32`
    warps per `block_m` × `block_n` tile of the output of a batch position
    (grid: column tiles × row tiles × batch positions, in x), each warp 32
    rows of it (two tiles of 16) in `mma.sync` accumulators (f32), started
    from `init` or zeros. Per
    step of `block_k` the block's threads copy the lhs's `block_m` ×
    `block_k` tile and the rhs's `block_k` × `block_n` tile into shared
    memory (`cp.async`, zeros past the last row or column), two stages:
    step i + 1's tiles are copied while step i's are multiplied. The lhs's
    A fragments come by `ldmatrix`, the rhs's B fragments by `ldmatrix`
    with `.trans` (its columns), each B fragment used by both of a warp's
    row tiles. The accumulators are stored as f32 pairs,
    rows and columns past the output's last skipped.

    The tiles must fit the GPU: the two shared-memory tiles within 48 KiB
    (the static limit of a block) and an estimate of the registers a thread
    needs (accumulators, fragments, scores) within 255; otherwise an error
    names the op, the kernel and the tile sizes.

    With `emulate`, each op becomes instead loops over the grid's blocks on
    the host that run a block's threads in lockstep as the lanes of vectors
    (loads and stores as gathers and scatters, shuffles as permutations of
    lanes, no barriers, mma.sync and ldmatrix emulated from the PTX ISA's
    layout of their fragments: ldmatrix's rows read at the addresses the
    lanes give; a cp.async copy in flight until the wait, the tile NaN
    meanwhile): the same tiling, fragments, masks and online softmax, run
    on the CPU to check their numerics without a GPU; each block's work is
    a function of its own, and the lanes' loads, stores and mma.sync calls
    of functions kept out of line (`noinline`), so that the host compiler
    takes seconds, not minutes. (A module pass: the emulation adds
    functions to the module.)
  }];
  let options = [
    Option<"emulate", "emulate", "bool", "false",
           "Run each block's threads as vector lanes on the host">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // MHA_CONVERSION_PASSES_TD
