//===- Passes.td - mha code generation passes --------------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Target-level transformations on the linalg/vector IR the mha dialect lowers
// to.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_TRANSFORMS_PASSES_TD
#define MHA_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def MHATileAndVectorizePass
    : Pass<"mha-tile-and-vectorize", "::mlir::func::FuncOp"> {
  let summary = "Tile linalg matmul-like ops into register blocks and vectorize them";
  let description = [{
    Tiles every `linalg.matmul` and `linalg.batch_matmul` (on tensors) into
    `m-tile` × `n-tile` output blocks with a `k-tile` reduction step (batch
    dimension 1), peels the tile loops so that every full tile has a static
    shape, and vectorizes the full tiles into `vector.contract`. The remainder
    tiles at the edges of dynamically sized or non-divisible operands stay
    `linalg` ops (scalar loops later), so any size is handled without masks. The defaults (8 × 32 × 16)
    fit AVX-512's 32 registers of 16 f32: an 8 × 32 accumulator block is 16
    registers.

    With `parallel-rows` = R > 0, each matmul not already inside a parallel
    loop is first split into blocks of R output rows (and single batch
    elements) by an `scf.forall`, whose iterations the pipeline runs on
    every core; each block is then tiled as above.

    With `pack-matmuls` (the default), each `linalg.matmul` on f32 that is
    not inside a loop is first blocked for the caches: its reduction is cut
    into panels of `block-k` steps, each panel of B is copied once into
    column panels of `n-tile` contiguous columns ([N / n-tile, block-k,
    n-tile]), and A's rows are taken `block-m` at a time (`parallel-rows` at
    a time, in an `scf.forall`, when that is set), so that a register block
    streams one contiguous panel instead of striding through B. Columns and
    reduction steps short of a whole panel stay plain matmuls on slices.
    With `bf16-dot-products`, a matmul of bf16 operands into f32 is packed
    too, in pairs of reduction steps
    ([N / n-tile, block-k / 2, 2 · n-tile]: the layout of AVX-512 BF16's
    `vdpbf16ps`), and each panel's product is emitted as vector code:
    `m-tile` × `n-tile` f32 accumulators in registers, updated per pair of
    steps by `x86vector.avx512.dot` with A's pair broadcast. Without it, bf16
    tiles are widened to f32 and multiplied like f32 ones.

    With `fuse-activations` (the default), when such a matmul's loop over
    row blocks is outermost (its reduction fits one panel) and each of its
    iterations writes one block of whole rows, the matmul's initial value
    (a Dense's bias, a `linalg.broadcast` or `linalg.fill`) is made block by
    block inside the loop, and an element-wise `linalg.generic` on its
    result (the Dense's activation) is computed on each block inside the
    loop too: bias, product and activation are one pass over the output.

    Matrix transposes (`linalg.transpose` of f32 swapping the last two
    dimensions: weight gradients' xᵀ, transposed operands) are tiled into
    16 × 16 blocks the same way, and each full block becomes a read, a
    `vector.transpose` and a write, which `mha-lower-to-cpu` lowers to
    shuffles in registers; as scalar loops, a transpose reads one element
    per cache line (8x slower on a [2048, 512] matrix).
  }];
  let options = [
    Option<"mTile", "m-tile", "int64_t", "8", "rows of the output block">,
    Option<"nTile", "n-tile", "int64_t", "32", "columns of the output block">,
    Option<"kTile", "k-tile", "int64_t", "16", "reduction step">,
    Option<"parallelRows", "parallel-rows", "int64_t", "0",
           "rows of the output per parallel task (scf.forall over row "
           "blocks, later OpenMP); 0: sequential. Matmuls already inside a "
           "parallel loop stay sequential">,
    Option<"packMatmuls", "pack-matmuls", "bool", "true",
           "block matmuls for the caches and pack panels of B">,
    Option<"blockM", "block-m", "int64_t", "128",
           "rows of A per cache block (L2) when packing">,
    Option<"fuseActivations", "fuse-activations", "bool", "true",
           "move an element-wise op on a blocked matmul's result (a "
           "Dense's activation) and its initial value (the bias) into the "
           "matmul's loop over row blocks">,
    Option<"bf16Dot", "bf16-dot-products", "bool", "false",
           "pack bf16 x bf16 -> f32 matmuls in pairs of reduction steps and "
           "multiply them with AVX-512 BF16 dot products "
           "(x86vector.avx512.dot; the target must have avx512bf16)">,
    Option<"blockK", "block-k", "int64_t", "1024",
           "reduction steps per packed panel of B (each panel is one pass "
           "over C: 2048^3 ran at 0.65 of peak with 256, 0.79-0.86 with "
           "1024)">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
    "::mlir::x86vector::X86VectorDialect",
  ];
}

def MHABF16MatmulsPass : Pass<"mha-bf16-matmuls", "::mlir::func::FuncOp"> {
  let summary = "Round the f32 operands of matrix products to bf16";
  let description = [{
    The compute half of mixed precision: every `linalg.matmul` and
    `linalg.batch_matmul` on f32 tensors (a model's Dense layers and
    matrix products, forward and backward, but not the block products inside
    a fused lowering's loops, such as flash attention's) gets its two
    operands rounded to bf16 (to nearest even) and keeps its f32
    accumulator and result. Weights, activations, gradients and the
    optimizer's state stay f32; only the products' inputs lose precision, as
    in PyTorch's autocast to bf16. With AVX-512 BF16, `mha-tile-and-vectorize`
    then multiplies them with its dot products.

    `mha-lower-to-cpu{bf16-matmuls}` runs it after `convert-mha-to-linalg`;
    `mha.training ... precision = bf16` and `mha-run --precision bf16` select
    it.

    With `round-before-transposes` (`mha-lower-to-gpu{bf16-matmuls}`), an
    operand that is a `linalg.transpose` is rounded before it: the transpose
    moves bf16 and stays the product's operand, which the GPU's
    tensor-core matmul kernel then reads in place
    (`mha-gpu-matmul-kernel-ops`). The CPU keeps the f32 transpose, which
    `mha-tile-and-vectorize` tiles.
  }];
  let options = [
    Option<"roundBeforeTransposes", "round-before-transposes", "bool",
           "false",
           "Round a transposed operand before its transpose (the transpose "
           "then moves bf16 and feeds the product)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MHABF16AttentionPass : Pass<"mha-bf16-attention", "::mlir::func::FuncOp"> {
  let summary = "Compute f32 attention, forward and backward, in bf16";
  let description = [{
    Mixed precision on the GPU: each `mha.attention`,
    `mha.attention_with_lse` and `mha.attention_grad` on f32 operands
    (without a mask gradient in use) gets its f32 operands rounded to bf16
    (to nearest even: query, key, value, an additive mask, the backward's
    output and output gradient; not the log-sum-exp) and is computed in
    bf16, its results (but the log-sum-exp, which stays f32) widened back
    to f32. The tensor-core kernels (`mha-gpu-attention-kernel-ops`) then
    take it: bf16 products accumulated in f32, as PyTorch's autocast to
    bf16 computes attention. Weights, activations, gradients and the
    optimizer's state stay f32.

    `mha-lower-to-gpu{bf16-attention}` runs it first in its front end;
    `mha-run --precision bf16 --device gpu` (or `mha.training ... precision
    = bf16`) selects it.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MHAExpandShapeToReinterpretCastPass
    : Pass<"mha-expand-shape-to-reinterpret-cast"> {
  let summary = "Rewrite memref.expand_shape of contiguous buffers as reinterpret_cast";
  let description = [{
    Rewrites each `memref.expand_shape` whose source has the identity layout
    into a `memref.reinterpret_cast` of the source with the expanded sizes and
    their row-major strides (static where the sizes allow). With dynamic
    output sizes, MLIR 22.1's `expand-strided-metadata` crashes on
    `memref.expand_shape`; the CPU pipeline runs this pass right before it.
    Expansions of non-contiguous views are left alone.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

def MHAAssertsToRuntimeErrorsPass
    : Pass<"mha-asserts-to-runtime-errors", "::mlir::ModuleOp"> {
  let summary = "Report failed cf.assert checks to the host instead of aborting";
  let description = [{
    Rewrites each `cf.assert %ok, "message"` into
    `scf.if (!%ok) { func.call @mha_runtime_error(<message>) }`, the message
    being a null-terminated LLVM global string. The host that runs the code
    (mha-run's JIT) defines `mha_runtime_error(const char *)`: it stops the
    call and reports the message as an error, where upstream's lowering of
    `cf.assert` would abort the whole process.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def MHAStridedCopiesToLoopsPass
    : Pass<"mha-strided-copies-to-loops", "::mlir::func::FuncOp"> {
  let summary = "Rewrite memref.copy of non-contiguous buffers as linalg.copy";
  let description = [{
    `memref.copy` between buffers that are not both contiguous (subviews of
    tiles, strided views) lowers to a call to `memrefCopy` from MLIR's C
    runner utilities, a library the JIT does not load. This pass rewrites
    such copies into `linalg.copy`, which `convert-linalg-to-loops` turns
    into plain loops; copies between identity-layout buffers stay
    `memref.copy` (a `memcpy` intrinsic).
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
  ];
}

def MHAOutlineKernelsPass : Pass<"mha-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Move each register-block kernel loop into a function of its own";
  let description = [{
    On buffers, after `mha-tile-and-vectorize` and bufferization: every
    innermost `scf.for` without results whose body computes register blocks
    (a `vector.contract`, masked or not, on `vector.transfer_read`/`write` of
    `memref.subview` views, with index and float arithmetic) or transposes
    blocks of a matrix (a `vector.transpose` between such transfers) becomes
    a call of a new private
    function `@__mha_kernel_N` (internal linkage in LLVM, so that a kernel
    called once is inlined back). The function's memref arguments have dynamic
    sizes, offset and strides, except a unit innermost stride, which stays
    static (contiguous vector loads); the call site casts the views to them.
    Kernels that differ only in the shapes and strides of their matrices are
    then the same function, which `duplicate-function-elimination` merges:
    a model compiles each distinct kernel once instead of once per matmul.
  }];
  let dependentDialects = [
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

def MHAVerifyLLVMLoweringPass
    : Pass<"mha-verify-llvm-lowering", "::mlir::ModuleOp"> {
  let summary = "Fail unless a module is fully lowered and safe to JIT";
  let description = [{
    The last stage of `mha-lower-to-cpu`: turns what would otherwise surface
    later as an LLVM translation failure, a JIT link error or a stack
    overflow at run time into a compile-time error at the offending op:

    * every op must be in the `llvm` dialect, or `omp` (which LLVM's
      OpenMPIRBuilder translates); an op left by a conversion, such as
      `builtin.unrealized_conversion_cast`, is an error;
    * every `llvm.alloca` must be in the entry block of its function (or of
      an OpenMP region, an outlined function once translated) with a
      constant size, so that no stack allocation grows with the trip count
      of a loop (and so with the problem size);
    * every external function must be one the host provides to the JIT
      (`mha::isHostRuntimeFunction`: malloc/free, the C math library and
      `mha_runtime_error`), so that no symbol is missing at link time.
  }];
}

def MHAGPUDeviceBuffersPass
    : Pass<"mha-gpu-device-buffers", "::mlir::ModuleOp"> {
  let summary = "Place a bufferized model's buffers in GPU memory";
  let description = [{
    The memory half of `mha-lower-to-gpu`, on buffers: every buffer the
    code computes on lives in the GPU's memory, and the functions keep
    their host interface (host buffers in, fresh host buffers out, which the
    caller owns and frees), so that `mha-run` calls them as it calls CPU
    code.

    * `memref.alloc` / `memref.dealloc` outside kernels become `gpu.alloc` /
      `gpu.dealloc`, and `memref.copy` becomes `gpu.memcpy` (strided copies
      must have become loops first: `mha-strided-copies-to-loops`);
    * a public function copies each memref argument into a new device buffer
      on entry (`gpu.memcpy`), and each returned buffer into a new host
      buffer before it returns, freeing the device buffers it made and the
      ones it returns;
    * constants (`memref.get_global`, in host memory) are copied to the
      device where they are used;
    * a public function's `mha.device_resident_arguments = array<i64: ...>`
      lists arguments that are already device buffers: they are read where
      they are (a device copy is made only when the function writes one, so
      the caller's keeps its value) and never copied back; its
      `mha.device_resident_results` lists results returned as device
      buffers, each a fresh allocation the caller owns (a returned view,
      constant or argument is first copied into one, as is a buffer
      returned several times for all its returns but the last). `mha-run`
      keeps a training step's parameters and optimizer state on the device
      this way. A position out of range, of a value that is not a buffer,
      or listed twice, and either attribute on a private function (called
      on device buffers already), are errors.

    A function whose host code still reads or writes buffers outside loops
    (what `mha-gpu-map-parallel-loops` turns into kernels) is rejected
    there, not here. `memref.alloca` outside kernels is an error: the stack
    is host memory.
  }];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

def MHAGPUReductionsInnermostPass
    : Pass<"mha-gpu-reductions-innermost", "::mlir::func::FuncOp"> {
  let summary = "Reorder linalg.generic loops so that reductions are innermost";
  let description = [{
    On `linalg.generic` ops (buffers or tensors), permutes the iteration
    space so that every parallel dimension comes before every reduction
    dimension, keeping their relative orders. A mean over the middle axis
    of [B, S, D] then becomes a parallel loop over (B, D) around a sequential
    loop over S, which `mha-gpu-map-parallel-loops` maps to threads, instead
    of a parallel loop nested inside a sequential one, which no GPU mapping
    takes.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def MHAGPUMergeKernelModulesPass
    : Pass<"mha-gpu-merge-kernel-modules", "::mlir::ModuleOp"> {
  let summary = "Move every outlined GPU kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` gives each kernel a `gpu.module` of its own, and
    each module is compiled (LLVM's NVPTX back end, then ptxas) and loaded
    separately: the seed classifier's training step has hundreds. This
    pass moves every kernel into one module, `@mha_kernels`, named after
    the module it came from, and updates the launches: one compilation and
    one module load per model.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def MHAGPUAlignSharedMemoryPass
    : Pass<"mha-gpu-align-shared-memory", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Align every kernel's shared-memory buffers for 16-byte access";
  let description = [{
    A kernel's workgroup (shared-memory) buffers become, in NVVM, globals
    aligned to their element type (2 bytes for f16/bf16), but the
    tensor-core attention kernels store 16 bytes at a time into them and
    read them with `ldmatrix`, whose row addresses must be 16-byte
    aligned: ptxas may place such a buffer at any address its declared
    alignment allows. This pass gives each workgroup attribution of each
    `gpu.func` in the module an `llvm.align` of `alignment` bytes (keeping
    a larger one), which `convert-gpu-to-nvvm` carries to the global.
    Runs after kernel outlining.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", "16",
           "Bytes each shared-memory buffer is aligned to">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def MHAGPUMapParallelLoopsPass
    : Pass<"mha-gpu-map-parallel-loops", "::mlir::func::FuncOp"> {
  let summary = "Map the parallel loops of a bufferized model to GPU blocks and threads";
  let description = [{
    The compute half of `mha-lower-to-gpu`, on buffers, after
    `convert-linalg-to-parallel-loops`: each outermost `scf.parallel` is
    collapsed into one dimension (the last dimension varying fastest, so
    that neighbouring threads touch neighbouring elements), tiled by
    `block-size` and mapped: tiles to `block_x`, elements of a tile to
    `thread_x` (with a bounds check), nested parallel loops run in sequence
    in their thread, and each becomes a `gpu.launch` of ceil(N / block-size)
    blocks of `block-size` threads (`convert-parallel-loops-to-gpu`'s
    patterns); a parallel loop that cannot be converted (one nested in a
    sequential loop) is an error, never host code on device memory.

    In each thread's work, a reduction loop that loads, updates and stores
    back one element of its output (what a linalg reduction lowers to)
    keeps that element in a register: loaded once before the loop, carried
    by it, stored once after (the loop comes from a linalg op, whose inputs
    and output do not alias).

    Loops and accesses to buffers left outside any parallel loop (a
    reduction to a scalar, a sequential loop, a parallel loop of one
    iteration folded away) become a one-thread kernel of their own, so no
    host code touches device memory. A value such a kernel computes and
    later code uses goes through a device buffer of one element: stored in
    its kernel, loaded inside the later kernel that uses it, or copied to
    the host where host code uses it.

    In kernels, vector rows read or written in bounds along the innermost
    dimension (`vector.transfer_read/write`, the attention rows' registers)
    become `vector.load/store` with `alignment = 16` where the address is
    provably a multiple of 16 bytes from its `gpu.alloc` (static strides and
    view offsets that are multiples of 16 bytes), which the GPU reads 16
    bytes per instruction.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "256",
           "threads per block of a mapped loop">,
    Option<"convert", "convert", "bool", "true",
           "convert the mapped loops into gpu.launch (false: leave the "
           "mapped loop nests, which then run sequentially on the host, "
           "and the rest of the host code as it is)">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // MHA_TRANSFORMS_PASSES_TD
