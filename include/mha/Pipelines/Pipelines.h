//===- Pipelines.h - mha compilation pipelines ------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the pipelines that take a model file down to code: one
// options struct and one builder each, used by mha-opt (through their
// registration), mha-run, tests and benchmarks alike.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_PIPELINES_PIPELINES_H
#define MHA_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;

namespace mha {

/// Options of the `mha-lower-to-cpu` pipeline.
struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  PassOptions::Option<bool> vectorize{
      *this, "vectorize",
      llvm::cl::desc("Tile and vectorize matmul-like ops (else scalar loops)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> mTile{
      *this, "m-tile", llvm::cl::desc("Rows of a matmul register block"),
      llvm::cl::init(8)};
  PassOptions::Option<int64_t> nTile{
      *this, "n-tile", llvm::cl::desc("Columns of a matmul register block"),
      llvm::cl::init(32)};
  PassOptions::Option<int64_t> kTile{
      *this, "k-tile", llvm::cl::desc("Reduction step of a matmul block"),
      llvm::cl::init(16)};
  PassOptions::Option<bool> packMatmuls{
      *this, "pack-matmuls",
      llvm::cl::desc("Block matmuls for the caches and pack panels of B"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> blockM{
      *this, "block-m",
      llvm::cl::desc("Rows of A per cache block of a packed matmul"),
      llvm::cl::init(128)};
  PassOptions::Option<int64_t> blockK{
      *this, "block-k",
      llvm::cl::desc("Reduction steps per packed panel of B (each panel is "
                     "one pass over C)"),
      llvm::cl::init(1024)};
  PassOptions::Option<bool> bf16Matmuls{
      *this, "bf16-matmuls",
      llvm::cl::desc("Mixed precision: round the f32 operands of the model's "
                     "matrix products to bf16, accumulating in f32 "
                     "(mha-bf16-matmuls)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> avx512BF16{
      *this, "avx512-bf16",
      llvm::cl::desc("The target has AVX-512 BF16: bf16 matrices are "
                     "multiplied (into f32) with its dot products, else "
                     "widened to f32 first; mha-run sets it from the host"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> outlineKernels{
      *this, "outline-kernels",
      llvm::cl::desc("Compile each distinct register-block kernel once, as a "
                     "function its matmuls call (mha-outline-kernels)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> parallelRows{
      *this, "parallel-rows",
      llvm::cl::desc("Output rows of a matmul per parallel task when threads "
                     "!= 1 (a multiple of m-tile)"),
      llvm::cl::init(64)};
  PassOptions::Option<unsigned> threads{
      *this, "threads",
      llvm::cl::desc("Threads for parallel loops (OpenMP): 0 = the runtime's "
                     "default (every core), 1 = sequential code"),
      llvm::cl::init(0)};
  PassOptions::Option<bool> flashAttention{
      *this, "flash-attention",
      llvm::cl::desc("Fused, tiled attention with online softmax (else its "
                     "decomposition)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> attentionBlockQ{
      *this, "attention-block-q",
      llvm::cl::desc("Queries per flash-attention block (0: derived)"),
      llvm::cl::init(0)};
  PassOptions::Option<int64_t> attentionBlockK{
      *this, "attention-block-k",
      llvm::cl::desc("Keys per flash-attention block (0: derived from the "
                     "head depth and the host's L1 data cache)"),
      llvm::cl::init(0)};
};

/// Builds `mha-lower-to-cpu` on a module pass manager: parameters to
/// arguments, mha to linalg on tensors, tiling and vectorization of the
/// matmul-like ops, one-shot bufferization with ownership-based deallocation
/// (every returned buffer is a fresh allocation owned by the caller),
/// parallel loops (scf.forall) to OpenMP, and lowering of everything to the
/// LLVM dialect. Transcendental functions
/// without an LLVM intrinsic (erf, tanh) become libm calls.
void buildMHALowerToCPUPipeline(OpPassManager &pm,
                                const CPUPipelineOptions &options);

/// Options of the front end every pipeline starts with.
struct FrontEndOptions {
  /// The flash lowering of attention (else its decomposition).
  bool flashAttention = true;
  /// Flash-attention blocks (0: derived).
  int64_t attentionBlockQ = 0;
  int64_t attentionBlockK = 0;
  /// Attention forward through its tiled form as per-row loops
  /// (mha-tile-attention with one query per tile, then
  /// mha-online-attention-to-loops): one parallel iteration per query row,
  /// no temporaries; for the GPU, whose threads take the rows.
  bool rowLoopAttention = false;
  /// Eligible attention ops (f16/bf16, static depth a multiple of 16, no
  /// mask) to the GPU's tensor-core kernel (mha-gpu-attention-kernel-ops),
  /// with its tiles.
  bool tensorCoreAttention = false;
  /// f32 attention, forward and backward, to the tensor-core kernels on
  /// TF32 roundings of its operands (mha-gpu-attention-kernel-ops{tf32}).
  bool tf32Attention = false;
  int64_t tensorCoreBlockQ = 64;
  int64_t tensorCoreBlockK = 0;
  /// f32 attention, forward and backward, computed in bf16
  /// (mha-bf16-attention), first.
  bool bf16Attention = false;
};

/// Adds the front end every pipeline shares: parameters to arguments,
/// attention chains fused (mha-fuse-attention), then mha to linalg on
/// tensors (attention blocks derived from the host's L1 data cache).
void buildMHAFrontEnd(OpPassManager &pm, const FrontEndOptions &options);

/// Adds one-shot bufferization across function boundaries (identity
/// layouts) with ownership-based deallocation: every returned buffer is a
/// fresh allocation the caller owns.
void buildMHABufferization(OpPassManager &pm);

/// How mha-lower-to-gpu embeds the compiled kernels.
enum class GPUBinaryFormat { Cubin, PTX, Fatbin };

/// Options of the `mha-lower-to-gpu` pipeline.
struct GPUPipelineOptions : public PassPipelineOptions<GPUPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("The GPU's architecture (sm_80, sm_90a, ...)"),
      llvm::cl::init("sm_80")};
  PassOptions::Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features of the kernels (+ptx80: PTX ISA 8.0, "
                     "which sm_90a needs)"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<GPUBinaryFormat> format{
      *this, "format",
      llvm::cl::desc("What the kernels are embedded as"),
      llvm::cl::init(GPUBinaryFormat::Cubin),
      llvm::cl::values(
          clEnumValN(GPUBinaryFormat::Cubin, "bin",
                     "a cubin, made by the CUDA toolkit's ptxas"),
          clEnumValN(GPUBinaryFormat::PTX, "isa",
                     "PTX, compiled by the driver when loaded"),
          clEnumValN(GPUBinaryFormat::Fatbin, "fatbin",
                     "a fat binary (ptxas and fatbinary)"))};
  PassOptions::Option<int64_t> blockSize{
      *this, "block-size",
      llvm::cl::desc("Threads per block of an element-wise kernel"),
      llvm::cl::init(256)};
  PassOptions::Option<bool> emulate{
      *this, "emulate",
      llvm::cl::desc("Run the block/thread-mapped loop nests sequentially on "
                     "the host CPU instead of launching kernels (checks the "
                     "GPU mapping's numerics without a GPU; the memory "
                     "calls, mgpu*, are the runner's to emulate)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> tensorCores{
      *this, "tensor-cores",
      llvm::cl::desc("Attention in f16/bf16 (static depth a multiple of 16, "
                     "masks too) by the tensor-core flash-attention kernel, "
                     "and f16/bf16 matrix products (K and N static multiples "
                     "of 8) by the tensor-core matmul kernel (mma.sync, "
                     "sm_80 and later; emulated with emulate)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> f32MatmulKernel{
      *this, "f32-matmul-kernel",
      llvm::cl::desc("f32 matrix products (rows and N multiples of 4) by "
                     "the shared-memory tiled matmul kernel on CUDA cores "
                     "(else one thread per output element)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> tf32Matmuls{
      *this, "tf32-matmuls",
      llvm::cl::desc("f32 matrix products (rows and N multiples of 4) by "
                     "the tensor-core matmul kernel on TF32 roundings of "
                     "their operands (10 bits of mantissa, as PyTorch's "
                     "allow_tf32; mma.sync m16n8k8, sm_80 and later), "
                     "instead of the CUDA-core kernel; and f32 attention, "
                     "forward and backward (static depth a multiple of 16; "
                     "the backward up to depth 80), by the tensor-core "
                     "attention kernels, likewise rounded"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> bf16Attention{
      *this, "bf16-attention",
      llvm::cl::desc("Mixed precision: f32 attention, forward and backward, "
                     "computed on bf16 roundings of its operands "
                     "(mha-bf16-attention), so that tensor-cores takes it"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> bf16Matmuls{
      *this, "bf16-matmuls",
      llvm::cl::desc("Mixed precision: the f32 matrix products' operands "
                     "rounded to bf16, f32 accumulation (mha-bf16-matmuls), "
                     "so that tensor-cores takes them"),
      llvm::cl::init(false)};
  PassOptions::Option<int64_t> attentionBlockQ{
      *this, "attention-block-q",
      llvm::cl::desc("Query rows per block of the tensor-core attention "
                     "kernel (16 per warp)"),
      llvm::cl::init(64)};
  PassOptions::Option<int64_t> attentionBlockK{
      *this, "attention-block-k",
      llvm::cl::desc("Keys per shared-memory tile of the tensor-core "
                     "attention kernel (0: the largest of 64, 32, 16 that "
                     "fits the depth)"),
      llvm::cl::init(0)};
  PassOptions::Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("The CUDA toolkit (ptxas, libdevice); default: "
                     "$CUDA_HOME, $CUDA_PATH or $CUDA_ROOT, else "
                     "/usr/local/cuda"),
      llvm::cl::init("")};
};

/// Builds `mha-lower-to-gpu` on a module pass manager: the CPU pipeline's
/// front end and bufferization (attention decomposed), every linalg op a
/// parallel loop nest mapped to one kernel launch, buffers in GPU memory
/// behind an unchanged host interface (mha-gpu-device-buffers), kernels
/// lowered through NVVM into a binary for `chip` embedded in host code that
/// calls MLIR's GPU runtime functions (mgpu*, which mha-run provides over
/// the CUDA driver).
void buildMHALowerToGPUPipeline(OpPassManager &pm,
                                const GPUPipelineOptions &options);

/// Builds `mha-gpu-kernels-to-llvm`, the second half of `mha-lower-to-gpu`:
/// from host code on device buffers with its kernels at the gpu.launch
/// level (after mha-gpu-map-parallel-loops and
/// mha-gpu-lower-tensor-core-kernels) to the LLVM dialect, the kernels
/// outlined into one module, lowered through NVVM and compiled for `chip`
/// (with `emulate`, the launches' loop nests stay host code). Of the
/// options it reads chip, features, format, cuda-path and emulate.
void buildMHAGPUKernelsToLLVMPipeline(OpPassManager &pm,
                                      const GPUPipelineOptions &options);

/// Registers the pipelines with the global pass-pipeline registry.
void registerMHAPipelines();

} // namespace mha
} // namespace mlir

#endif // MHA_PIPELINES_PIPELINES_H
