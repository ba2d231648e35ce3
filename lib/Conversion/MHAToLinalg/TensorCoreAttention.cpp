//===- TensorCoreAttention.cpp - Attention as one tensor-core kernel ------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the two passes of the GPU's tensor-core attention:
//
// * mha-gpu-attention-kernel-ops: an eligible mha.attention or
//   mha.attention_with_lse (f16/bf16, static depth a multiple of 16) becomes
//   mha.gpu_attention on its operands' buffers, after the host's checks of
//   their sizes;
// * mha-gpu-lower-tensor-core-kernels: mha.gpu_attention becomes one
//   gpu.launch, the flash-attention forward as FlashAttention-2 computes it
//   on Ampere and later: a block of warps per block of query rows, 16 rows
//   a warp; keys and values staged in shared memory a tile at a time; Q·Kᵀ
//   and P·V by nvvm.mma.sync (m16n8k16, f32 accumulators); the online
//   softmax on the accumulator fragments, in registers.
//
// The fragments of mma.sync m16n8k16 (PTX ISA, "Matrix fragments for
// mma.m16n8k16"), for lane = 4·g + t (g the group, t the thread in it):
//   A (16 × 16, rows × k): 4 registers of two elements, register r holding
//     row g + 8·(r%2), columns 2t, 2t+1, plus 8 when r ≥ 2;
//   B (16 × 8, k × columns): 2 registers, register r holding k rows 2t + 8r
//     and 2t + 8r + 1 of column g;
//   C (16 × 8): 4 f32 values, c[2r + e] at matrix row g + 8r, column
//     2t + e.
// So a thread holds two query rows (g and g + 8 of its warp's 16), and the
// C fragments of two adjacent 8-key score tiles are, rounded, the A fragment
// of the 16 keys for P·V: no data moves between lanes but the row maxima
// and sums (across the four threads t of a group). (nvgpu.mma.sync would be
// the natural op, but its lowering to NVVM takes no bf16 operands in LLVM
// 22: the kernel builds nvvm.mma.sync itself.)
//
// The B fragments come from shared memory by ldmatrix (PTX ISA, "Warp-level
// matrix load instruction: ldmatrix"), two 8 × 8 matrices a load: matrix j
// has its rows' addresses given by lanes 8j to 8j + 7, and lane 4g + t
// receives, of each matrix, row g's elements 2t and 2t + 1 (or, with
// .trans, column g's). A key tile's rows are B fragments as stored; a value
// tile's columns are, transposed.
//
// The same builder also emits the kernel for the host (emulate): a block's
// threads in lockstep as vector lanes, so CI checks its numerics on a CPU.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAGPUATTENTIONKERNELOPSPASS
#define GEN_PASS_DEF_MHAGPUMATMULKERNELOPSPASS
#define GEN_PASS_DEF_MHAGPULOWERTENSORCOREKERNELSPASS
#include "mha/Conversion/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;
using namespace mlir::mha::detail;

//===----------------------------------------------------------------------===//
// mha-gpu-attention-kernel-ops
//===----------------------------------------------------------------------===//

namespace {
/// Static shared memory of a block of threads (without a dynamic opt-in).
constexpr int64_t kMaxSharedBytes = 48 * 1024;
/// Registers a thread can address.
constexpr int64_t kMaxRegisters = 255;
/// Bytes each shared-memory row is padded by (8 f16/bf16 elements): rows
/// then start 16 bytes apart modulo 128, so the 8 groups of a warp reading
/// a B fragment hit different banks.
constexpr int64_t kRowPaddingBytes = 16;
/// Bytes one thread copies per load (cp.async's largest, 8 f16/bf16
/// elements or 4 f32 ones).
constexpr int64_t kCopyBytes = 16;
/// Threads of a block of the f32 matmul kernel: 16 × 16, each with
/// `block_m / 16` × `block_n / 16` outputs.
constexpr int64_t kSimtThreads = 256;
/// Output rows a warp of the matmul kernel owns: two tiles of 16, so that
/// each B fragment read from shared memory serves two mma.sync.
constexpr int64_t kMatmulWarpRows = 32;

/// Which kernel a shape is of: the forward, or one of the backward's two.
enum class KernelKind { Forward, QueryGrad, KeyValueGrad, Matmul };

/// A kernel's tiles and what they need of the GPU: blocks of `blockRows`
/// rows, 16 a warp (query rows; key rows in the backward's dK/dV kernel),
/// and two shared-memory tiles of `tileRows` rows of the other side (keys
/// and values; queries and dO in the dK/dV kernel) at `depth`. The matmul
/// kernel: blocks of `blockRows` × `depth` outputs (M × N), `tileRows` of
/// K a step, two stages of an lhs tile [blockRows, tileRows] and an rhs
/// tile [tileRows, depth], each transposed (as the operand is stored) when
/// `lhsTransposed` / `rhsTransposed`; its operands' elements
/// `elementBytes` wide (2: on tensor cores, 4: f32 on CUDA cores, or with
/// `tf32` on tensor cores, mma.sync m16n8k8 on their TF32 roundings).
struct KernelShape {
  KernelKind kind;
  int64_t blockRows, tileRows, depth;
  bool lhsTransposed = false, rhsTransposed = false;
  int64_t elementBytes = 2;
  bool tf32 = false;
  /// Whether this is the f32 matmul kernel (CUDA cores, no warp roles).
  bool simt() const {
    return kind == KernelKind::Matmul && elementBytes == 4 && !tf32;
  }
  /// Elements a copy moves, and each shared-memory row is padded by.
  int64_t copyWidth() const { return kCopyBytes / elementBytes; }
  int64_t padding() const { return kRowPaddingBytes / elementBytes; }
  /// Rows a warp owns (in tiles of 16).
  int64_t warpRows() const {
    return kind == KernelKind::Matmul ? kMatmulWarpRows : 16;
  }
  int64_t warps() const {
    return simt() ? kSimtThreads / 32 : blockRows / warpRows();
  }
  int64_t threads() const { return 32 * warps(); }
  /// The shared-memory tiles' shapes (rows padded by padding() elements).
  SmallVector<SmallVector<int64_t, 2>> tileShapes() const {
    int64_t pad = padding();
    if (kind != KernelKind::Matmul)
      return {{tileRows, depth + pad}, {tileRows, depth + pad}};
    SmallVector<int64_t, 2> lhs = {blockRows, tileRows + pad},
                            rhs = {tileRows, depth + pad};
    if (lhsTransposed)
      lhs = {tileRows, blockRows + pad};
    if (rhsTransposed)
      rhs = {depth, tileRows + pad};
    return {lhs, rhs, lhs, rhs};
  }
  int64_t sharedBytes() const {
    int64_t elements = 0;
    for (ArrayRef<int64_t> tile : tileShapes())
      elements += tile[0] * tile[1];
    return elementBytes * elements;
  }
  /// 32-bit registers of a thread, estimated from what stays live, plus 32
  /// for indices, addresses and loads in flight:
  /// * forward: the output accumulators (depth/2), the query's fragments
  ///   (depth/4), the scores and their rounded fragments (3·tile/4).
  ///   Against ptxas for sm_80 (CUDA 13, blocks of 64 and 128 queries):
  ///   93-255 registers measured for depths 64, 128 and 256 and tiles of
  ///   16-128 keys; the only tiles that spilled (depth 256 with 64 or 128
  ///   keys: 4 and 428-496 bytes) are the only ones this puts above 255.
  /// * dQ: the query's and dO's fragments (depth/4 each), dQ's
  ///   accumulators (depth/2), the scores and dP (tile/2 each), dS's
  ///   fragments (tile/4).
  /// * dK/dV: the key's and value's fragments (depth/4 each), dK's and dV's
  ///   accumulators (depth/2 each), the scores and dP (tile/2 each), the
  ///   fragments of P and dS (tile/4 each).
  /// * matmul: the accumulators (depth: 32 rows × N a warp), a step's A
  ///   fragments (tile/2).
  /// * TF32 matmul (registers()): the accumulators (depth), a step's B
  ///   registers (depth·tile/32: ptxas issues a step's loads early), its A
  ///   registers three times over (3·tile: as loaded, as rounded, and the
  ///   next ones in flight), 8 more. Against ptxas for sm_80 and sm_90a
  ///   (CUDA 13): of 128 x 64 to 128 x 160 outputs with 16 of K, 32 x 64
  ///   to 32 x 80 with 32 and 32 x 64 with 48, the tiles that spilled
  ///   (128 x 160 x 16, 32 x 80 x 32, 32 x 64 x 48) are above 255 and
  ///   those that did not below, but for 128 x 144 x 16 (255 registers, no
  ///   spill), refused.
  /// * TF32 forward (registers()): the output accumulators (depth/2), the
  ///   query's registers (depth/2: one f32 element each), depth/2 more and
  ///   tile/2 (the scores), 16 more: a fit to ptxas for sm_80 (CUDA 13,
  ///   blocks of 64 queries), where the value loads ptxas issues ahead cost
  ///   more than the rounded probabilities. Of 110-255 registers measured
  ///   for depths 16-192 and tiles of 16-128 keys, the tiles that spilled
  ///   (depth 160 with 32 keys, 192 with 16) are above 255, the rest below
  ///   but for depth 160 and 176 with 16 keys (238 and 255 registers, no
  ///   spill), refused.
  /// * TF32 backward (registers()): fits to ptxas for sm_80 and sm_90a
  ///   (CUDA 13, blocks of 64 rows, depths 16-128, tiles of 16-64), every
  ///   fragment twice the f16/bf16 one's (a register an element). dQ:
  ///   3·depth/2 + tile + 64, within about 10 of what was measured at
  ///   depths 48-112 (no dQ kernel spilled at tiles the shared memory
  ///   takes). dK/dV: 2·(depth + tile) + 32. The dK/dV kernels measured
  ///   spilled from depth + tile = 112 on (depth 48 with 64 queries and 80
  ///   with 32 for sm_90a; 64 with 64, 80 with 48, 96 with 32, 112 and
  ///   128 with 16 for both), and none below; this puts 112 above 255 and
  ///   96 below. So the TF32 backward takes depths up to 80.
  /// ptxas decides; this refuses tiles that would spill.
  static int64_t registersFor(KernelKind kind, int64_t depth, int64_t tile) {
    switch (kind) {
    case KernelKind::Matmul:
      return depth + tile / 2 + 32;
    case KernelKind::Forward:
      return 3 * depth / 4 + 3 * tile / 4 + 32;
    case KernelKind::QueryGrad:
      return depth + 5 * tile / 4 + 32;
    case KernelKind::KeyValueGrad:
      return 3 * depth / 2 + 3 * tile / 2 + 32;
    }
    llvm_unreachable("a kernel kind");
  }
  /// * the f32 matmul: its outputs (blockRows/16 × depth/16), and a step's
  ///   4 of K of its rows and columns (4 · (blockRows/16 + depth/16)).
  int64_t registers() const {
    if (simt())
      return (blockRows / 16) * (depth / 16) + 4 * (blockRows / 16) +
             4 * (depth / 16) + 32;
    if (!tf32)
      return registersFor(kind, depth, tileRows);
    switch (kind) {
    case KernelKind::Matmul:
      return depth + depth * tileRows / 32 + 3 * tileRows + 8;
    case KernelKind::Forward:
      return 3 * depth / 2 + tileRows / 2 + 16;
    case KernelKind::QueryGrad:
      return 3 * depth / 2 + tileRows + 64;
    case KernelKind::KeyValueGrad:
      return 2 * depth + 2 * tileRows + 32;
    }
    llvm_unreachable("a kernel kind");
  }
  bool fits() const {
    return sharedBytes() <= kMaxSharedBytes && registers() <= kMaxRegisters;
  }
  /// An attention kernel's shape: f16/bf16 operands, or (`tf32`) f32 ones.
  static KernelShape attention(KernelKind kind, int64_t blockRows,
                               int64_t tileRows, int64_t depth,
                               bool tf32 = false) {
    return KernelShape{kind,  blockRows, tileRows,     depth,
                       false, false,     tf32 ? 4 : 2, tf32};
  }
  /// The largest tile (64, 32 or 16 rows) that fits at `depth`, or 0.
  static int64_t derivedTile(KernelKind kind, int64_t blockRows, int64_t depth,
                             bool tf32 = false) {
    for (int64_t tile : {64, 32, 16})
      if (attention(kind, blockRows, tile, depth, tf32).fits())
        return tile;
    return 0;
  }
  /// What the tiles are, for a diagnostic: "tiles of 64 queries x 32 keys".
  std::string describe() const {
    std::string rows = std::to_string(blockRows),
                tile = std::to_string(tileRows);
    switch (kind) {
    case KernelKind::Forward:
      return "tiles of " + rows + " queries x " + tile + " keys";
    case KernelKind::QueryGrad:
      return "the dQ kernel's tiles of " + rows + " queries x " + tile +
             " keys";
    case KernelKind::KeyValueGrad:
      return "the dK/dV kernel's tiles of " + rows + " keys x " + tile +
             " queries";
    case KernelKind::Matmul:
      return "tiles of " + rows + " x " + std::to_string(depth) +
             " outputs and " + tile + " of K";
    }
    llvm_unreachable("a kernel kind");
  }
  /// What the two shared-memory tiles hold.
  StringRef tiles() const {
    return kind == KernelKind::KeyValueGrad ? "the query and dO tiles"
           : kind == KernelKind::Matmul     ? "two stages of lhs and rhs tiles"
                                            : "the key and value tiles";
  }
  /// The option or attribute that sets the tile.
  StringRef tileOption() const {
    return kind == KernelKind::Forward     ? "block-k"
           : kind == KernelKind::QueryGrad ? "key_tile"
           : kind == KernelKind::Matmul    ? "block_m, block_n or block_k"
                                           : "query_tile";
  }
};

/// The backward's block of rows (both kernels).
constexpr int64_t kGradBlockRows = 64;

constexpr const char *kNotHalfPrecision = "its operands are not f16 or bf16";

/// Why `operands` (query, key, value, then more of the query's or value's
/// shape) have no shape the kernels take, or "": one rank of at least 3,
/// the key's and value's batch sizes the query's (none broadcast), one
/// static depth that is a multiple of 16.
std::string shapeIneligibility(ArrayRef<Value> operands) {
  auto q = cast<RankedTensorType>(operands[0].getType());
  int64_t rank = q.getRank();
  int64_t depth = q.getDimSize(rank - 1);
  if (rank < 3)
    return "it has no batch dimension";
  for (Value operand : operands) {
    auto type = cast<RankedTensorType>(operand.getType());
    if (type.getRank() != rank)
      return "its operands have different ranks";
    if (type.getDimSize(rank - 1) != depth)
      return "its depths differ";
    // (Equal static sizes, or both dynamic and checked on the host: a
    // static 1 against another size would be a broadcast.)
    for (int64_t d = 0; d < rank - 2; ++d)
      if (type.getDimSize(d) != q.getDimSize(d))
        return "its batch dimensions differ or broadcast";
  }
  if (ShapedType::isDynamic(depth) || depth % 16 != 0)
    return "its depth is not a static multiple of 16";
  return "";
}

/// Why the tensor-core kernel cannot compute `op` (mha.attention or
/// mha.attention_with_lse), or "" when it can; f32 operands only with
/// `tf32` (on their TF32 roundings).
template <typename OpTy>
std::string ineligibility(OpTy op, int64_t blockQ, int64_t blockK, bool tf32) {
  auto q = cast<RankedTensorType>(op.getQuery().getType());
  auto k = cast<RankedTensorType>(op.getKey().getType());
  auto v = cast<RankedTensorType>(op.getValue().getType());
  Type element = q.getElementType();
  tf32 = tf32 && element.isF32();
  if (!element.isF16() && !element.isBF16() && !tf32)
    return kNotHalfPrecision;
  if (k.getElementType() != element || v.getElementType() != element ||
      cast<RankedTensorType>(op.getResult().getType()).getElementType() !=
          element)
    return "its operands' element types differ";
  int64_t rank = q.getRank();
  if (std::string reason = shapeIneligibility(
          {op.getQuery(), op.getKey(), op.getValue(), op.getResult()});
      !reason.empty())
    return reason;
  // Derived tiles: none fits this depth (given ones are checked when the
  // kernel is built, and refused there with the reason).
  int64_t depth = q.getDimSize(rank - 1);
  if (!blockK &&
      !KernelShape::derivedTile(KernelKind::Forward, blockQ, depth, tf32))
    return "no tile of keys fits its depth in shared memory and registers";
  return "";
}

/// Why the backward's tensor-core kernels cannot compute `op`, or "" when
/// they can; f32 operands only with `tf32`.
std::string ineligibility(AttentionGradOp op, bool tf32) {
  if (op.getMaskGrad() && !op.getMaskGrad().use_empty())
    return "it computes the mask's gradient";
  SmallVector<Value> operands = {op.getQuery(), op.getKey(), op.getValue(),
                                 op.getResult(), op.getResultGrad()};
  Type element = cast<RankedTensorType>(operands[0].getType()).getElementType();
  tf32 = tf32 && element.isF32();
  if (!element.isF16() && !element.isBF16() && !tf32)
    return kNotHalfPrecision;
  for (Value operand : operands)
    if (cast<RankedTensorType>(operand.getType()).getElementType() != element)
      return "its operands' element types differ";
  if (std::string reason = shapeIneligibility(operands); !reason.empty())
    return reason;
  auto q = cast<RankedTensorType>(op.getQuery().getType());
  if (cast<RankedTensorType>(op.getLse().getType()).getRank() !=
      q.getRank() - 1)
    return "its lse is not of the query's rows";
  int64_t depth = q.getDimSize(q.getRank() - 1);
  for (KernelKind kind : {KernelKind::QueryGrad, KernelKind::KeyValueGrad})
    if (!KernelShape::derivedTile(kind, kGradBlockRows, depth, tf32))
      return "no tile fits its depth in shared memory and registers";
  return "";
}

/// The identity-layout buffer type of `type`.
MemRefType bufferType(RankedTensorType type) {
  return MemRefType::get(type.getShape(), type.getElementType());
}

/// A read-only buffer of `tensor` (for a kernel op).
Value readOnlyBuffer(OpBuilder &b, Location loc, Value tensor) {
  return bufferization::ToBufferOp::create(
      b, loc, bufferType(tensorType(tensor)), tensor, /*read_only=*/true);
}

/// A new buffer of `type`'s shape, its dynamic sizes those of `like`'s
/// leading dimensions.
Value allocLike(OpBuilder &b, Location loc, RankedTensorType type,
                Value like) {
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(b, loc, like, d));
  return memref::AllocOp::create(b, loc, bufferType(type), sizes);
}

template <typename OpTy>
void toKernelOp(OpBuilder &b, OpTy op, int64_t blockQ, int64_t blockK) {
  Location loc = op.getLoc();
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  int64_t depth = queryType.getDimSize(queryType.getRank() - 1);
  // (f32 reaches here only as TF32.)
  bool tf32 = queryType.getElementType().isF32();
  if (!blockK)
    blockK = KernelShape::derivedTile(KernelKind::Forward, blockQ, depth, tf32);
  b.setInsertionPoint(op);
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
  // (Batch dimensions are equal, never broadcast: static ones by the
  // verifier, dynamic ones checked here.)
  checkAttentionSizes(b, op, q, k, v, op.getMask());
  // The scale, a constant as the depth is static.
  Value scaleValue = defaultScaleOr(b, loc, q, op.getScaleAttr());
  FloatAttr scale;
  if (!matchPattern(scaleValue, m_Constant(&scale)))
    llvm_unreachable("a static depth gives a constant scale");
  if (scaleValue.use_empty())
    scaleValue.getDefiningOp()->erase();

  Value qBuffer = readOnlyBuffer(b, loc, q),
        kBuffer = readOnlyBuffer(b, loc, k),
        vBuffer = readOnlyBuffer(b, loc, v);
  Value maskBuffer =
      op.getMask() ? readOnlyBuffer(b, loc, op.getMask()) : Value();
  SmallVector<Value> outputs;
  for (Value result : op->getResults())
    outputs.push_back(
        allocLike(b, loc, cast<RankedTensorType>(result.getType()), q));
  GPUAttentionOp::create(b, loc, qBuffer, kBuffer, vBuffer, outputs[0],
                         outputs.size() > 1 ? outputs[1] : Value(), maskBuffer,
                         b.getF32FloatAttr(scale.getValueAsDouble()),
                         op.getCausal() ? b.getUnitAttr() : UnitAttr(),
                         b.getI64IntegerAttr(blockQ),
                         b.getI64IntegerAttr(blockK),
                         tf32 ? b.getUnitAttr() : UnitAttr());
  for (auto [result, buffer] : llvm::zip(op->getResults(), outputs))
    result.replaceAllUsesWith(bufferization::ToTensorOp::create(
        b, loc, result.getType(), buffer, /*restrict=*/true,
        /*writable=*/true));
  op.erase();
}

void toKernelOp(OpBuilder &b, AttentionGradOp op) {
  Location loc = op.getLoc();
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  int64_t depth = queryType.getDimSize(queryType.getRank() - 1);
  // (f32 reaches here only as TF32.)
  bool tf32 = queryType.getElementType().isF32();
  b.setInsertionPoint(op);
  checkAttentionGradSizes(b, op);
  Value scaleValue = defaultScaleOr(b, loc, op.getQuery(), op.getScaleAttr());
  FloatAttr scale;
  if (!matchPattern(scaleValue, m_Constant(&scale)))
    llvm_unreachable("a static depth gives a constant scale");
  if (scaleValue.use_empty())
    scaleValue.getDefiningOp()->erase();
  SmallVector<Value> inputs;
  for (Value operand : {op.getQuery(), op.getKey(), op.getValue(),
                        op.getResult(), op.getLse(), op.getResultGrad()})
    inputs.push_back(readOnlyBuffer(b, loc, operand));
  Value mask = op.getMask() ? readOnlyBuffer(b, loc, op.getMask()) : Value();
  // dQ has the query's shape, dK and dV the key's and value's.
  SmallVector<Value> grads;
  for (auto [grad, like] : {std::pair(op.getQueryGrad(), op.getQuery()),
                            std::pair(op.getKeyGrad(), op.getKey()),
                            std::pair(op.getValueGrad(), op.getValue())})
    grads.push_back(
        allocLike(b, loc, cast<RankedTensorType>(grad.getType()), like));
  GPUAttentionGradOp::create(
      b, loc, inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5],
      grads[0], grads[1], grads[2], mask,
      b.getF32FloatAttr(scale.getValueAsDouble()),
      op.getCausal() ? b.getUnitAttr() : UnitAttr(),
      b.getI64IntegerAttr(kGradBlockRows),
      b.getI64IntegerAttr(KernelShape::derivedTile(
          KernelKind::QueryGrad, kGradBlockRows, depth, tf32)),
      b.getI64IntegerAttr(KernelShape::derivedTile(
          KernelKind::KeyValueGrad, kGradBlockRows, depth, tf32)),
      tf32 ? b.getUnitAttr() : UnitAttr());
  SmallVector<Value> results = {op.getQueryGrad(), op.getKeyGrad(),
                                op.getValueGrad()};
  for (auto [result, buffer] : llvm::zip(results, grads))
    result.replaceAllUsesWith(bufferization::ToTensorOp::create(
        b, loc, result.getType(), buffer, /*restrict=*/true,
        /*writable=*/true));
  // (An unused mask gradient: ineligibility checked.)
  op.erase();
}

struct MHAGPUAttentionKernelOpsPass final
    : mha::impl::MHAGPUAttentionKernelOpsPassBase<
          MHAGPUAttentionKernelOpsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      // Only the ops asked about: every one with tensor-cores, the f32
      // ones with tf32.
      if (!isa<AttentionOp, AttentionWithLSEOp, AttentionGradOp>(op))
        return;
      bool f32 = cast<RankedTensorType>(op->getOperand(0).getType())
                     .getElementType()
                     .isF32();
      if (!tensorCores && !(tf32 && f32))
        return;
      std::string reason;
      if (auto attention = dyn_cast<AttentionOp>(op))
        reason = ineligibility(attention, blockQ, blockK, tf32);
      else if (auto attention = dyn_cast<AttentionWithLSEOp>(op))
        reason = ineligibility(attention, blockQ, blockK, tf32);
      else
        reason = ineligibility(cast<AttentionGradOp>(op), tf32);
      if (reason.empty()) {
        ops.push_back(op);
        return;
      }
      // Asked for tensor cores, told why not (the per-row kernels compute
      // it, correctly, on CUDA cores).
      // (At the op's location, without the op: the user wrote it.)
      InFlightDiagnostic remark = emitRemark(op->getLoc())
                                  << "not on tensor cores: " << reason;
      if (reason == kNotHalfPrecision)
        remark << " (tf32, mha-run --gpu-f32-matmuls tf32, computes f32 "
                  "attention on TF32 roundings; bf16-attention, mha-run "
                  "--precision bf16, on bf16 roundings)";
    });
    OpBuilder b(&getContext());
    for (Operation *op : ops) {
      if (auto attention = dyn_cast<AttentionOp>(op))
        toKernelOp(b, attention, blockQ, blockK);
      else if (auto attention = dyn_cast<AttentionWithLSEOp>(op))
        toKernelOp(b, attention, blockQ, blockK);
      else
        toKernelOp(b, cast<AttentionGradOp>(op));
    }
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// mha-gpu-matmul-kernel-ops
//===----------------------------------------------------------------------===//

namespace {
/// A product's operands as the kernel reads them: each the tensor it is
/// stored in, and whether that is the operand's transpose (the product's
/// indexing map transposes it, or it is a linalg.transpose of its last two
/// dimensions, read in place).
struct MatmulSources {
  Value lhs, rhs;
  bool lhsTransposed = false, rhsTransposed = false;
};

/// The sources of `op` (a linalg.matmul or linalg.batch_matmul), or why the
/// kernel cannot read them: an indexing map that is neither the default
/// nor its transpose.
FailureOr<MatmulSources> matmulSources(linalg::LinalgOp op,
                                       std::string &reason) {
  MLIRContext *context = op.getContext();
  int64_t loops = op.getNumLoops(), batch = loops - 3;
  // Loops (batch,) m, n, k.
  auto map = [&](int64_t x, int64_t y) {
    SmallVector<AffineExpr> results;
    for (int64_t d = 0; d < batch; ++d)
      results.push_back(getAffineDimExpr(d, context));
    results.push_back(getAffineDimExpr(batch + x, context));
    results.push_back(getAffineDimExpr(batch + y, context));
    return AffineMap::get(loops, 0, results, context);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  MatmulSources sources;
  sources.lhs = op.getDpsInputs()[0];
  sources.rhs = op.getDpsInputs()[1];
  auto refuse = [&](const char *why) -> FailureOr<MatmulSources> {
    reason = why;
    return failure();
  };
  if (maps[0] == map(2, 0))
    sources.lhsTransposed = true;
  else if (maps[0] != map(0, 2))
    return refuse("the lhs's indexing map is neither the default one nor "
                  "its transpose");
  if (maps[1] == map(1, 2))
    sources.rhsTransposed = true;
  else if (maps[1] != map(2, 1))
    return refuse("the rhs's indexing map is neither the default one nor "
                  "its transpose");
  if (maps[2] != map(0, 1))
    return refuse("the output's indexing map is not the default one");
  // A transpose of the last two dimensions read in place.
  for (auto [source, transposed] :
       {std::pair(&sources.lhs, &sources.lhsTransposed),
        std::pair(&sources.rhs, &sources.rhsTransposed)})
    if (auto transpose = source->getDefiningOp<linalg::TransposeOp>();
        transpose && transpose.hasPureTensorSemantics() &&
        transpose.getPermutation() ==
            ArrayRef(lastTwoSwapped(transpose.getPermutation().size()))) {
      *source = transpose.getInput();
      *transposed = !*transposed;
    }
  return sources;
}

/// Why the tiled matmul kernels cannot compute `op` (a linalg.matmul or
/// linalg.batch_matmul of f16/bf16 or f32 operands) from `sources`, or ""
/// when one can.
std::string matmulIneligibility(linalg::LinalgOp op,
                                const MatmulSources &sources) {
  auto lhs = cast<RankedTensorType>(sources.lhs.getType());
  auto rhs = cast<RankedTensorType>(sources.rhs.getType());
  auto acc = cast<RankedTensorType>(op.getDpsInits()[0].getType());
  if (rhs.getElementType() != lhs.getElementType())
    return "its operands' element types differ";
  if (!acc.getElementType().isF32())
    return "its accumulator is not f32";
  // (The maps give both operands the output's rank.)
  int64_t rank = lhs.getRank();
  // Each operand's rows are copied 16 bytes at a time, the outputs stored
  // in groups. (Dynamic sizes are checked at run time.)
  int64_t multiple = GPUMatmulOp::rowMultiple(lhs.getElementType());
  for (auto [what, size] :
       {std::pair(sources.lhsTransposed ? "M (the transposed lhs's columns)"
                                        : "K (the lhs's columns)",
                  lhs.getDimSize(rank - 1)),
        std::pair(sources.rhsTransposed ? "K (the transposed rhs's columns)"
                                        : "N (the rhs's columns)",
                  rhs.getDimSize(rank - 1)),
        std::pair("N (the output's columns)", acc.getDimSize(rank - 1))})
    if (!ShapedType::isDynamic(size) && size % multiple != 0)
      return std::string(what) + " is not a multiple of " +
             std::to_string(multiple);
  return "";
}

/// `op` (eligible) as mha.gpu_matmul on the buffers of `sources`, after
/// the host's checks of their dynamic sizes; with a dynamic size that must
/// be a multiple of 16 bytes of elements (an operand's rows, N), only when
/// all are at run time (else `op` as it was).
void toKernelOp(OpBuilder &b, linalg::LinalgOp op, const MatmulSources &sources,
                int64_t blockM, int64_t blockN, int64_t blockK, bool tf32) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  Value lhs = sources.lhs, rhs = sources.rhs, acc = op.getDpsInits()[0];
  int64_t rank = tensorType(lhs).getRank();
  int64_t multiple = GPUMatmulOp::rowMultiple(tensorType(lhs).getElementType());
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  // Whether the dynamic ones of the rows and N are multiples (N is the
  // rhs's rows unless it is transposed).
  Value aligned;
  for (Value operand : {lhs, rhs, sources.rhsTransposed ? acc : Value()}) {
    if (!operand || !tensorType(operand).isDynamicDim(rank - 1))
      continue;
    Value size = tensor::DimOp::create(b, loc, operand, rank - 1);
    Value isMultiple = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::RemUIOp::create(
            b, loc, size, arith::ConstantIndexOp::create(b, loc, multiple)),
        arith::ConstantIndexOp::create(b, loc, 0));
    aligned =
        aligned ? arith::AndIOp::create(b, loc, aligned, isMultiple).getResult()
                : isMultiple;
  }
  // The result's buffer, written by the kernel or (a dynamic size not a
  // multiple) by the product as it was: the dispatch yields no buffer (a
  // buffer chosen at run time would have no allocation the GPU pipeline
  // could free after returning it).
  Value output = allocLike(b, loc, resultType, acc);
  scf::IfOp dispatch;
  if (aligned) {
    dispatch = scf::IfOp::create(b, loc, TypeRange{}, aligned,
                                 /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(dispatch.elseBlock());
    Operation *other = b.clone(*op);
    auto store = bufferization::MaterializeInDestinationOp::create(
        b, loc, TypeRange{}, other->getResult(0), output);
    store.setRestrict(true);
    store.setWritable(true);
  }
  {
    OpBuilder::InsertionGuard guard(b);
    if (dispatch)
      b.setInsertionPointToStart(dispatch.thenBlock());
    // (Static sizes agree by the linalg op's verifier.)
    MatmulDims dims =
        GPUMatmulOp::dims(rank, sources.lhsTransposed, sources.rhsTransposed);
    int64_t rows = rank - 2, columns = rank - 1;
    checkSameSize(b, op, lhs, dims.lhsK, "lhs", rhs, dims.rhsK, "rhs");
    checkSameSize(b, op, lhs, dims.lhsM, "lhs", acc, rows, "init");
    checkSameSize(b, op, rhs, dims.rhsN, "rhs", acc, columns, "init");
    if (rank == 3) {
      checkSameSize(b, op, lhs, 0, "lhs", rhs, 0, "rhs");
      checkSameSize(b, op, lhs, 0, "lhs", acc, 0, "init");
    }
    // An accumulator of zeros is not read.
    Value init;
    auto fill = acc.getDefiningOp<linalg::FillOp>();
    if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
      init = readOnlyBuffer(b, loc, acc);
    UnitAttr unit = b.getUnitAttr();
    GPUMatmulOp::create(
        b, loc, readOnlyBuffer(b, loc, lhs), readOnlyBuffer(b, loc, rhs),
        output, init, b.getI64IntegerAttr(blockM), b.getI64IntegerAttr(blockN),
        b.getI64IntegerAttr(blockK), sources.lhsTransposed ? unit : UnitAttr(),
        sources.rhsTransposed ? unit : UnitAttr(), tf32 ? unit : UnitAttr());
  }
  Value result = bufferization::ToTensorOp::create(
      b, loc, resultType, output, /*restrict=*/true, /*writable=*/true);
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}

struct MHAGPUMatmulKernelOpsPass final
    : mha::impl::MHAGPUMatmulKernelOpsPassBase<MHAGPUMatmulKernelOpsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<std::pair<linalg::LinalgOp, MatmulSources>> ops;
    getOperation().walk([&](linalg::LinalgOp op) {
      // A model's products, not the tiles of a fused lowering's loops
      // (whose loops may become kernels themselves: a kernel launches no
      // kernel).
      if (!isa<linalg::MatmulOp, linalg::BatchMatmulOp>(op.getOperation()) ||
          op->getParentOfType<LoopLikeOpInterface>())
        return;
      Type element = getElementTypeOrSelf(op.getDpsInputs()[0].getType());
      bool half = element.isF16() || element.isBF16();
      // Products of other kinds (f64, integers; those the options leave
      // out) stay on the loops without a word.
      if (!(half && tensorCores) && !(element.isF32() && (f32 || tf32)))
        return;
      std::string reason;
      FailureOr<MatmulSources> sources;
      if (!op.hasPureTensorSemantics())
        reason = "it is not on tensors";
      else if (sources = matmulSources(op, reason); succeeded(sources))
        reason = matmulIneligibility(op, *sources);
      if (reason.empty())
        ops.push_back({op, *sources});
      else
        emitRemark(op.getLoc()) << (half ? "not on tensor cores: "
                                         : "not in the f32 matmul kernel: ")
                                << reason;
    });
    OpBuilder b(&getContext());
    SetVector<Operation *> transposes;
    for (auto &[op, sources] : ops) {
      for (Value input : op.getDpsInputs())
        if (auto transpose = input.getDefiningOp<linalg::TransposeOp>())
          transposes.insert(transpose);
      if (getElementTypeOrSelf(sources.lhs.getType()).isF32())
        toKernelOp(b, op, sources, f32BlockM, f32BlockN, f32BlockK, tf32);
      else
        toKernelOp(b, op, sources, blockM, blockN, blockK, /*tf32=*/false);
    }
    // The transposes read in place, unless something else uses them.
    for (Operation *transpose : transposes)
      if (transpose->use_empty())
        transpose->erase();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// mha-gpu-lower-tensor-core-kernels
//===----------------------------------------------------------------------===//

namespace {
/// An index constant.
/// The first free name `__mha_emulated_<what>_<n>` of `module` (an
/// emulation's function of its own).
std::string freshEmulationName(ModuleOp module, StringRef what) {
  std::string name;
  for (int64_t n = 0; name.empty() || module.lookupSymbol(name); ++n)
    name = ("__mha_emulated_" + what + "_" + Twine(n)).str();
  return name;
}

Value idx(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// `buffer` [B..., S, D] as [B, S, D], or with `rowsOnly` [B..., S] as
/// [B, S] (batch dimensions collapsed).
Value collapseBatch(OpBuilder &b, Location loc, Value buffer,
                    bool rowsOnly = false) {
  int64_t rank = cast<MemRefType>(buffer.getType()).getRank();
  int64_t kept = rowsOnly ? 1 : 2;
  SmallVector<ReassociationIndices> groups(1);
  for (int64_t d = 0; d < rank - kept; ++d)
    groups[0].push_back(d);
  for (int64_t d = rank - kept; d < rank; ++d)
    groups.push_back({d});
  return memref::CollapseShapeOp::create(b, loc, buffer, groups);
}

/// Two f16/bf16 elements of a row (loaded or stored together).
using Pair = std::pair<Value, Value>;
/// An operand register of mma.sync, as its elements: two f16/bf16 (packed
/// into one 32-bit register only at the mma), or one f32 already rounded to
/// TF32.
using Register = SmallVector<Value, 2>;
/// A thread's part of an mma.sync operand: A 4 registers, B 2 (m16n8k16 on
/// f16/bf16, m16n8k8 on TF32).
using Operand = SmallVector<Register, 4>;
/// A thread's part of an accumulator: 4 f32 values.
using Accumulator = SmallVector<Value, 4>;

/// The buffers and sizes a kernel works on: the [B, S, D] views of the
/// forward's query, key, value and output and of the backward's dO and
/// gradients; lse and the backward's D = rowsum(dO ⊙ O) [B, Sq] (f32); Sq
/// and Sk (uniform values, index).
struct KernelOperands {
  Value q, k, v, out, lse, outGrad, qGrad, kGrad, vGrad, delta, rows, keys;
  /// The mask as one dimension, the batch sizes of the query (to split
  /// a block's batch position), and the mask's strides along the scores'
  /// batch dimensions, rows and keys (0 where it broadcasts); uniform.
  Value mask;
  SmallVector<Value> batchSizes, maskBatchStrides;
  Value maskRowStride, maskKeyStride;
};

/// The buffers and sizes of a matmul kernel: lhs [B, M, K] (transposed:
/// [B, K, M]), rhs [B, K, N] (transposed: [B, N, K]), output and (if any)
/// init [B, M, N]; M, K, N and the steps of K (uniform index values; the
/// operands' rows and N multiples of 8).
struct MatmulOperands {
  Value lhs, rhs, out, init, rows, k, n, steps;
};

/// Builds what one thread of the kernel does, in one of two forms:
///
/// * on the GPU (`lanes` = 0): the body of a gpu.launch, every value a
///   thread's scalar, warp collectives as gpu.shuffle and nvvm.mma.sync;
/// * emulated (`lanes` = the block's threads): the same computation for
///   all the threads of a block at once, in lockstep on the host CPU, every
///   per-thread value a vector with one lane per thread: loads and stores
///   are gathers and scatters, a shuffle a permutation of lanes, a barrier
///   nothing (all threads are at the same point), and mma.sync is emulated
///   from its definition (each lane's fragments scattered into the
///   matrices by the ISA's ownership of fragment elements, multiplied, the
///   result gathered back). The tiling, fragment assembly, masking and
///   online softmax are the same code in both: the emulation checks them
///   on the CPU.
class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, const KernelShape &shape,
                Type element, float scale, bool causal, int64_t lanes)
      : b(b), loc(loc), shape(shape), element(element), scale(scale),
        // log2(e) folded into the scale: exp(x·scale) = exp2(x·scale·log2 e).
        scaleLog2(scale * float(M_LOG2E)), causal(causal), lanes(lanes) {}

  /// Starts a block's threads: `thread` is the thread id, or in the
  /// emulation the lanes' ids; the emulation also takes its scratch
  /// buffers (the matrices of mma.sync and the lanes' staging buffers).
  void begin(Value thread, ArrayRef<Value> scratchBuffers = {});
  /// Emulated: the shared tiles' landing buffers (same shape) and pending
  /// flags (memref<i1>, false), for copies in flight.
  void emulateCopies(ArrayRef<Value> tiles, ArrayRef<Value> landings,
                     ArrayRef<Value> pending) {
    for (auto [tile, landing, flag] : llvm::zip(tiles, landings, pending))
      inFlight[tile] = {landing, flag};
  }

  /// The kernels' work for block (`batch`, `block`) (uniform index values)
  /// with the shared-memory tiles `tile0` and `tile1`:
  /// * the forward (mha.gpu_attention): a block of query rows, the key and
  ///   value tiles;
  void buildForward(const KernelOperands &operands, Value batch, Value block,
                    Value tile0, Value tile1);
  /// * the backward's first kernel: a block of query rows, the key and
  ///   value tiles; D of its rows, then dQ;
  void buildQueryGrad(const KernelOperands &operands, Value batch, Value block,
                      Value tile0, Value tile1);
  /// * the backward's second kernel: a block of key rows, the query and dO
  ///   tiles; dK and dV.
  void buildKeyValueGrad(const KernelOperands &operands, Value batch,
                         Value block, Value tile0, Value tile1);
  /// * the matmul (mha.gpu_matmul): output tile (`rowTile`, `columnTile`)
  ///   of batch position `batch`, with the lhs and rhs tiles of two stages
  ///   (`tiles`: lhs 0, rhs 0, lhs 1, rhs 1).
  void buildMatmul(const MatmulOperands &operands, Value batch, Value rowTile,
                   Value columnTile, ArrayRef<Value> tiles);

private:
  /// The matmul kernels' products (one step's tiles, the accumulators;
  /// returns the next accumulators).
  using MatmulStep =
      function_ref<SmallVector<Value>(Value, Value, ArrayRef<Value>)>;
  /// The steps of K of an output tile from row `firstRow` and column
  /// `firstColumn` (per-thread) with the two stages of `tiles`: each step
  /// waits for its tiles, issues the next step's copies into the other
  /// stage and runs `step` on its own while they fly; returns the final
  /// accumulators (`init` where K is 0).
  SmallVector<Value> matmulSteps(const MatmulOperands &operands, Value batch,
                                 Value firstRow, Value firstColumn,
                                 ArrayRef<Value> tiles, ArrayRef<Value> init,
                                 MatmulStep step);
  /// The f32 matmul (shape.simt()): buildMatmul's work on CUDA cores.
  void buildSimtMatmul(const MatmulOperands &operands, Value batch,
                       Value rowTile, Value columnTile, ArrayRef<Value> tiles);
  /// The f32 matmul's view of one thread (`threadId`, per-thread) of the
  /// block of output tile (`rowTile`, `columnTile`) at batch position
  /// `batch` (uniform): that tile's first row and column, M and N, and the
  /// tile rows (shape.blockRows / 16) and columns (shape.depth / 16) whose
  /// outputs the thread sums (row r, column j at r·columns + j of its
  /// accumulators).
  struct SimtThread {
    Value batch, firstRow, firstColumn, rows, columns;
    SmallVector<Value> row, column;
  };
  SimtThread simtThread(Value threadId, Value batch, Value rowTile,
                        Value columnTile, Value rows, Value columns);
  /// Its accumulators' first values: from `init` (null: zeros).
  SmallVector<Value> simtInit(const SimtThread &at, Value init);
  /// The products of one step's tiles (block_k of K, in order) added to
  /// its accumulators `state`.
  SmallVector<Value> simtStep(const SimtThread &at, Value lhsTile,
                              Value rhsTile, ArrayRef<Value> state);
  /// Stores its accumulators `acc` in `out` (those inside M and N).
  void simtStore(const SimtThread &at, ArrayRef<Value> acc, Value out);
  /// Emulated: `body` for each lane in turn, built as the GPU's code for
  /// one thread (lanes = 0; the lane's id the argument `thread`), in a
  /// function of its own that takes `args` (uniform values and buffers; the
  /// body gets the function's arguments in their place). For a thread's
  /// work that no other thread's depends on: lane-wide vectors of it cost
  /// the host compiler seconds per kernel.
  void eachLane(StringRef what, ValueRange args,
                function_ref<void(Value thread, ValueRange args)> body);

  /// A per-thread value of `type` broadcast from a uniform one.
  Value perThread(Value uniform) {
    if (!lanes)
      return uniform;
    return vector::BroadcastOp::create(
        b, loc, VectorType::get({lanes}, uniform.getType()), uniform);
  }
  Value c(int64_t value) { return perThread(idx(b, loc, value)); }
  Value f32(float value) {
    return perThread(arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                                    APFloat(value)));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  /// The per-thread type of an f16/bf16 element.
  Type halfType() {
    return lanes ? Type(VectorType::get({lanes}, element)) : element;
  }
  Value allLanes() {
    auto type = VectorType::get({lanes}, b.getI1Type());
    return arith::ConstantOp::create(b, loc, type,
                                     DenseElementsAttr::get(type, true));
  }

  /// The element of `buffer` (identity layout) at per-thread `indices`.
  Value load(Value buffer, ArrayRef<Value> indices) {
    if (!lanes)
      return memref::LoadOp::create(b, loc, buffer, indices);
    return gatherLanes(flat(buffer), linear(buffer, indices));
  }
  /// Stores `value` at per-thread `indices` where `mask` (i1, per thread)
  /// holds; a null mask: everywhere.
  void store(Value value, Value buffer, ArrayRef<Value> indices, Value mask) {
    if (!lanes) {
      if (!mask) {
        memref::StoreOp::create(b, loc, value, buffer, indices);
        return;
      }
      auto branch = scf::IfOp::create(b, loc, mask, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(branch.thenBlock());
      memref::StoreOp::create(b, loc, value, buffer, indices);
      return;
    }
    scatterLanes(flat(buffer), linear(buffer, indices), value, mask);
  }
  /// Emulated: the module's function `name` of `type`, its body built by
  /// `body` (given the arguments, returning the results) the first time it
  /// is asked for. The lanes' loops live in such functions, called from the
  /// kernel: inline, the host compiler's loop passes take minutes over a
  /// kernel's thousands of them.
  func::FuncOp
  emulationFunction(StringRef name, FunctionType type,
                    function_ref<SmallVector<Value>(ValueRange)> body) {
    auto module =
        b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
    if (auto existing = module.lookupSymbol<func::FuncOp>(name))
      return existing;
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    auto function = func::FuncOp::create(b, loc, name, type);
    function.setPrivate();
    // Kept out of line by the host compiler too (LLVM's noinline, which
    // the conversion to the LLVM dialect carries as `passthrough`).
    function->setAttr("passthrough",
                      b.getArrayAttr({b.getStringAttr("noinline")}));
    b.setInsertionPointToStart(function.addEntryBlock());
    func::ReturnOp::create(b, loc, body(function.getArguments()));
    return function;
  }
  /// The name of an emulation function for elements of `type`.
  std::string emulationName(StringRef what, Type type) {
    std::string name;
    llvm::raw_string_ostream os(name);
    os << "__mha_emulated_" << what << "_" << type << "_" << lanes;
    return name;
  }
  /// Emulated: `buffer` as a one-dimensional buffer of dynamic size (the
  /// argument type of the lanes' functions).
  Value dynamicFlat(Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    auto dynamic =
        MemRefType::get({ShapedType::kDynamic}, type.getElementType());
    return type == dynamic
               ? buffer
               : memref::CastOp::create(b, loc, dynamic, buffer).getResult();
  }
  /// Emulated: the elements of the one-dimensional `buffer` at the lanes'
  /// `positions`, one lane at a time (a vector.gather would be unrolled by
  /// the host compiler into one basic block of `lanes` loads).
  Value gatherLanes(Value buffer, Value positions) {
    buffer = dynamicFlat(buffer);
    Type type = cast<MemRefType>(buffer.getType()).getElementType();
    auto vectorType = VectorType::get({lanes}, type);
    func::FuncOp function = emulationFunction(
        emulationName("gather", type),
        b.getFunctionType({buffer.getType(), positions.getType()},
                          {vectorType}),
        [&](ValueRange args) -> SmallVector<Value> {
          // Lane by lane into a stack buffer, read as one vector (a vector
          // carried through the loop, one lane inserted at a dynamic
          // position each time, costs the host a copy of the whole vector
          // per lane). Booleans staged as bytes: a vector of i1 is loaded
          // as packed bits, a buffer of i1 holds a byte each.
          bool boolean = type.isInteger(1);
          Type staged = boolean ? b.getI8Type() : type;
          Value staging = memref::AllocaOp::create(
              b, loc, MemRefType::get({lanes}, staged));
          forLanes([&](Value lane) {
            Value position = vector::ExtractOp::create(
                b, loc, args[1], ArrayRef<OpFoldResult>{lane});
            Value x = memref::LoadOp::create(b, loc, args[0], position);
            if (boolean)
              x = arith::ExtUIOp::create(b, loc, staged, x);
            memref::StoreOp::create(b, loc, x, staging, lane);
          });
          Value all =
              vector::LoadOp::create(b, loc, VectorType::get({lanes}, staged),
                                     staging, ValueRange{idx(b, loc, 0)});
          if (boolean)
            all = arith::TruncIOp::create(b, loc, vectorType, all);
          return {all};
        });
    return func::CallOp::create(b, loc, function, ValueRange{buffer, positions})
        .getResult(0);
  }
  /// The mask's element at per-thread `position` of its one-dimensional
  /// view: as stored on the GPU; emulated, floats as f32 and booleans as
  /// i1 (maskScore takes either).
  Value loadMask(Value mask, Value position) {
    if (!lanes)
      return memref::LoadOp::create(b, loc, mask, position);
    Value values = gatherLanes(mask, position);
    auto type = cast<VectorType>(values.getType());
    if (type.getElementType().isInteger(1) || type.getElementType().isF32())
      return values;
    return arith::ExtFOp::create(
        b, loc, VectorType::get({lanes}, b.getF32Type()), values);
  }
  /// Emulated: stores the lanes' `values` at their `positions` of the
  /// one-dimensional `buffer` where `mask` holds (null: everywhere).
  void scatterLanes(Value buffer, Value positions, Value values, Value mask) {
    buffer = dynamicFlat(buffer);
    Type type = cast<MemRefType>(buffer.getType()).getElementType();
    if (!mask)
      mask = allLanes();
    func::FuncOp function = emulationFunction(
        emulationName("scatter", type),
        b.getFunctionType({buffer.getType(), positions.getType(),
                           values.getType(), mask.getType()},
                          {}),
        [&](ValueRange args) -> SmallVector<Value> {
          forLanes([&](Value lane) {
            Value active = vector::ExtractOp::create(
                b, loc, args[3], ArrayRef<OpFoldResult>{lane});
            auto branch = scf::IfOp::create(b, loc, active, /*withElse=*/false);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(branch.thenBlock());
            Value position = vector::ExtractOp::create(
                b, loc, args[1], ArrayRef<OpFoldResult>{lane});
            Value x = vector::ExtractOp::create(b, loc, args[2],
                                                ArrayRef<OpFoldResult>{lane});
            memref::StoreOp::create(b, loc, x, args[0], position);
          });
          return {};
        });
    func::CallOp::create(b, loc, function,
                         ValueRange{buffer, positions, values, mask});
  }
  /// A loop over [`lower`, `upper`) (uniform index values) carrying the
  /// per-thread f32 values `init`: `body` gets the index and the state and
  /// returns the next state; returns the final one. On the GPU an scf.for
  /// with iter_args (registers); emulated, the state in a host buffer
  /// (hundreds of vectors carried through one loop take the host
  /// compiler's loop passes minutes).
  SmallVector<Value>
  stateLoop(Value lower, Value upper, ArrayRef<Value> init,
            function_ref<SmallVector<Value>(Value, ArrayRef<Value>)> body);
  /// `body` built inside an scf.if on `condition` (uniform i1).
  void ifThen(Value condition, function_ref<void()> body) {
    auto branch = scf::IfOp::create(b, loc, condition, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(branch.thenBlock());
    body();
  }
  /// A host loop over [0, `bound`) with `body` built inside (emulation).
  void forEach(int64_t bound, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, loc, idx(b, loc, 0), idx(b, loc, bound),
                                   idx(b, loc, 1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  }
  void forLanes(function_ref<void(Value)> body) { forEach(lanes, body); }
  /// `buffer` as one dimension (an identity layout: a collapse).
  Value flat(Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    return memref::CollapseShapeOp::create(
        b, loc, buffer, ArrayRef<ReassociationIndices>{all});
  }
  /// The per-thread linear position of `indices` in `buffer`.
  Value linear(Value buffer, ArrayRef<Value> indices) {
    Value position = indices[0];
    for (size_t d = 1; d < indices.size(); ++d) {
      Value size = perThread(memref::DimOp::create(b, loc, buffer, d));
      position = add(mul(position, size), indices[d]);
    }
    return position;
  }

  /// `n` (2 or 4) consecutive elements of `buffer` from `indices` (the
  /// next ones columns further): on the GPU one load (n elements' bytes,
  /// aligned to them).
  SmallVector<Value> loadRun(Value buffer, ArrayRef<Value> indices, int64_t n) {
    SmallVector<Value> elements;
    if (lanes) {
      SmallVector<Value> at(indices);
      for (int64_t e = 0; e < n; ++e) {
        elements.push_back(load(buffer, at));
        at.back() = add(at.back(), c(1));
      }
      return elements;
    }
    Type type = cast<MemRefType>(buffer.getType()).getElementType();
    auto run = vector::LoadOp::create(b, loc, VectorType::get({n}, type),
                                      buffer, indices);
    run.setAlignment(n * type.getIntOrFloatBitWidth() / 8);
    for (int64_t e = 0; e < n; ++e)
      elements.push_back(
          vector::ExtractOp::create(b, loc, run, ArrayRef<int64_t>{e}));
    return elements;
  }
  /// Stores `values` at `indices` and the next columns where `mask`
  /// (per-thread i1) holds.
  void storeRun(ArrayRef<Value> values, Value buffer, ArrayRef<Value> indices,
                Value mask) {
    if (lanes) {
      SmallVector<Value> at(indices);
      for (Value value : values) {
        store(value, buffer, at, mask);
        at.back() = add(at.back(), c(1));
      }
      return;
    }
    auto branch = scf::IfOp::create(b, loc, mask, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(branch.thenBlock());
    Type type = values.front().getType();
    int64_t n = values.size();
    Value packed = vector::FromElementsOp::create(
        b, loc, VectorType::get({n}, type), values);
    auto store = vector::StoreOp::create(b, loc, packed, buffer, indices);
    store.setAlignment(n * type.getIntOrFloatBitWidth() / 8);
  }
  /// Two consecutive elements of `buffer` at `indices` (the second one
  /// column further): on the GPU one load (4 bytes of f16/bf16, 8 of f32).
  Pair loadPair(Value buffer, ArrayRef<Value> indices) {
    SmallVector<Value> pair = loadRun(buffer, indices, 2);
    return {pair[0], pair[1]};
  }
  /// Stores `pair` at `indices` and the next column where `mask` holds.
  void storePair(Pair pair, Value buffer, ArrayRef<Value> indices, Value mask) {
    storeRun({pair.first, pair.second}, buffer, indices, mask);
  }

  /// The value of the thread `mask` lanes away (xor), on the GPU a
  /// gpu.shuffle; emulated, a permutation of the lanes.
  Value exchange(Value value, int32_t mask) {
    if (!lanes)
      return gpu::ShuffleOp::create(b, loc, value, mask, /*width=*/32,
                                    gpu::ShuffleMode::XOR)
          .getShuffleResult();
    SmallVector<int64_t> permutation;
    for (int64_t lane = 0; lane < lanes; ++lane)
      permutation.push_back(lane ^ mask);
    return vector::ShuffleOp::create(b, loc, value, value, permutation);
  }
  /// The max or sum of `value` over the four threads of a row.
  Value acrossRow(Value value, bool max) {
    for (int32_t mask : {1, 2}) {
      Value other = exchange(value, mask);
      value = max ? arith::MaximumFOp::create(b, loc, value, other).getResult()
                  : arith::AddFOp::create(b, loc, value, other).getResult();
    }
    return value;
  }

  /// `acc` + A·B (row-major A, column-major B, f32 accumulators):
  /// m16n8k16 on registers of two f16/bf16 elements, m16n8k8 (mmaTf32) on
  /// registers of one TF32 word.
  Accumulator mma(const Operand &a, const Operand &bOperand,
                  const Accumulator &acc);
  /// The same on TF32 operands (m16n8k8, shape.tf32): A 4 registers, B 2,
  /// each one element rounded by toTf32.
  Accumulator mmaTf32(ArrayRef<Value> a, ArrayRef<Value> bOperand,
                      const Accumulator &acc);
  /// nvvm.mma.sync m16n8k`k` of row-major A and column-major B registers
  /// of `type`, f32 accumulators `acc`.
  Accumulator nvvmMma(ValueRange a, ValueRange bOperand, const Accumulator &acc,
                      int64_t k, NVVM::MMATypes type);
  /// An f32 element as a TF32 operand register: rounded to 10 bits of
  /// mantissa, to nearest with ties away from zero (cvt.rna.tf32.f32, an
  /// i32 on the GPU; emulated, the rounded f32).
  Value toTf32(Value x);
  /// Emulated mma.sync: the operands' registers' elements in order (A
  /// register r element e at A[2r + e], likewise B; TF32: one a register).
  Accumulator emulatedMma(ArrayRef<Value> a, ArrayRef<Value> bOperand,
                          const Accumulator &acc);
  Accumulator emulatedMmaBody(ArrayRef<Value> a, ArrayRef<Value> bOperand,
                              const Accumulator &acc);

  /// The copy of the tile of `shape.tileRows` rows from row `first` of
  /// batch position `batch` of `source` into `shared` (zeros past `rows`):
  /// on the GPU issued (cp.async, 16 bytes a copy, not through registers),
  /// in shared memory after awaitTiles; emulated, done.
  void copyTile(Value source, Value shared, Value batch, Value first,
                Value rows) {
    copyTile(source, shared, batch, first, rows, Value(), Value(),
             shape.tileRows, shape.depth);
  }
  /// The same for a tile of `tileRows` × `tileColumns` (a multiple of
  /// shape.copyWidth()) from row `first` and column `firstColumn`
  /// (per-thread; null: 0), zeros past `rows` and past `columns` (null: no
  /// bound).
  void copyTile(Value source, Value shared, Value batch, Value first,
                Value rows, Value firstColumn, Value columns, int64_t tileRows,
                int64_t tileColumns);
  /// `x` where `condition` (uniform i1) holds, else `y`: one of two shared
  /// tiles (a stage of a pipeline); emulated, their copies in flight too.
  Value pickTile(Value condition, Value x, Value y) {
    Value tile = arith::SelectOp::create(b, loc, condition, x, y);
    if (lanes) {
      auto [landingX, pendingX] = inFlight.lookup(x);
      auto [landingY, pendingY] = inFlight.lookup(y);
      picked[tile] = {
          arith::SelectOp::create(b, loc, condition, landingX, landingY),
          arith::SelectOp::create(b, loc, condition, pendingX, pendingY)};
    }
    return tile;
  }
  /// A B operand of mma.sync from the shared `tile`: two 8 × 8 matrices,
  /// the first at (`row`, `column`) and the second at (`row` + `rowStep`,
  /// `column` + `columnStep`) (per-thread index values, the same in all
  /// threads), pair j holding row g's elements 2t and 2t + 1 of matrix j,
  /// or (`transpose`) column g's. On the GPU one nvgpu.ldmatrix (.x2), each
  /// of lanes 0-15 giving one row's address; emulated, each lane's pairs
  /// gathered from the addresses that the lanes holding their rows give.
  /// (Two matrices a load, not four: four keep twice the registers in
  /// flight, and the backward's dQ kernel at depth 128 then spills.)
  Operand tileOperand(Value tile, Value row, Value column, int64_t rowStep,
                      int64_t columnStep, bool transpose);
  /// The same two matrices of 32-bit elements (TF32 operands: 8 rows of 4
  /// elements each, not transposed): element t of row g of each.
  SmallVector<Value> tileWords(Value tile, Value row, Value column,
                               int64_t rowStep, int64_t columnStep);
  /// ldmatrix .x2 of tileOperand: each matrix's register of the thread,
  /// its 32 bits as elements of `element` (2 of f16/bf16, 1 of f32).
  SmallVector<SmallVector<Value, 2>> loadMatrices(Value tile, Value row,
                                                  Value column, int64_t rowStep,
                                                  int64_t columnStep,
                                                  bool transpose);
  /// Waits until the tiles this thread has copied are in shared memory
  /// (its cp.async copies: they are committed as a group, and all groups
  /// waited for), then for the block's threads (a barrier): after it, every
  /// tile copied before is whole, and every thread is done reading what it
  /// read before. Emulated, the copies land here (copyTile left them in
  /// flight: the tile NaN, the data aside), so a tile read before its wait
  /// or replaced before its last read gives NaN.
  void awaitTiles() {
    if (lanes) {
      // The copies land.
      for (auto &[tile, copy] : inFlight) {
        auto [landing, pending] = copy;
        auto branch = scf::IfOp::create(
            b, loc, memref::LoadOp::create(b, loc, pending).getResult(),
            /*withElse=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(branch.thenBlock());
        memref::CopyOp::create(b, loc, landing, tile);
        memref::StoreOp::create(
            b, loc, arith::ConstantIntOp::create(b, loc, 0, 1), pending);
      }
      return;
    }
    // commit_group commits every copy issued and not yet committed; the
    // group's token only orders the wait after it.
    Value group = nvgpu::DeviceAsyncCreateGroupOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), ValueRange{});
    nvgpu::DeviceAsyncWaitOp::create(b, loc, group, b.getI32IntegerAttr(0));
    gpu::BarrierOp::create(b, loc);
  }
  /// A barrier of the block's threads: every thread done with what it read
  /// before (emulated, nothing: the threads are in lockstep).
  void syncThreads() {
    if (!lanes)
      gpu::BarrierOp::create(b, loc);
  }

  // The attention kernels' products. Each helper takes and gives
  // f16/bf16 fragments (mma.sync m16n8k16) or, with shape.tf32, TF32 ones
  // (m16n8k8, every element rounded by toTf32 once, as it is read).
  // m16n8k16: A pair r holds row g + 8·(r % 2), columns 2t + 8·(r / 2) and
  // the next; B pair r, k rows 2t + 8r and the next of column g.
  // m16n8k8: A register r holds row g + 8·(r % 2), column t + 4·(r / 2); B
  // register r, k row t + 4r of column g. Both: C value j holds row
  // g + 8·(j / 2), column 2t + j % 2.

  /// The A fragments of the thread's two rows `rows` (clamped into
  /// `buffer` [B, S, D]) at batch position `batch`, one per 16 columns of
  /// depth (TF32: per 8).
  /// (`rounded` false: TF32 registers as stored, not rounded, for sums.)
  SmallVector<Operand> rowFragments(Value buffer, Value batch,
                                    ArrayRef<Value> rows, bool rounded = true);
  /// A (16 × depth, `fragments`) times the transpose of rows 8n to 8n + 7
  /// of the shared `tile`: depth step kk's B is tile row g + 8n, depth
  /// columns 16kk + 8r + 2t and the next (TF32: 8kk + 4r + t), by ldmatrix
  /// of two matrices along the row.
  Accumulator timesTileRows(ArrayRef<Operand> fragments, Value tile, int64_t n);
  /// `acc` + A (16 × tile rows, `fragments` from asOperands) times columns
  /// 8nd to 8nd + 7 of the shared `tile`: step kk's B pair r holds tile
  /// rows 16kk + 8r + 2t and the next of column g + 8nd (ldmatrix with
  /// .trans, matrices down the columns). TF32: register r of keys 8kk on
  /// is tile row 8kk + 2t + r, column g + 8nd, in asOperands' permuted k
  /// order (one element a load; rows of D + 4 words, D a multiple of 16:
  /// banks 8t + g on, no conflict).
  Accumulator timesTileColumns(ArrayRef<Operand> fragments, Value tile,
                               int64_t nd, Accumulator acc);
  /// Accumulators of 8 columns each, rounded to the operands' type, as A
  /// fragments: pair r holds row r % 2 of tile r / 2 of each two tiles. The
  /// C fragments of mma.sync are A fragments: no data moves. TF32: one
  /// fragment per tile, its 8 columns in a permuted k order (k t ↔ column
  /// 2t, k t + 4 ↔ column 2t + 1), so that a thread's own accumulators are
  /// its registers: register r is tile[2·(r % 2) + r / 2].
  SmallVector<Operand> asOperands(ArrayRef<Accumulator> tiles);
  /// Elements rounded to TF32 (toTf32), each one register.
  Operand tf32Registers(ArrayRef<Value> elements);
  /// The same elements rounded, as values (the TF32 matmul's registers).
  SmallVector<Value> roundedTf32(ArrayRef<Value> elements);
  /// The thread's two rows of block `blockIndex` (uniform) in its warp's
  /// 16-row tile `tile` (the thread's g and g + 8 of it; a warp owns
  /// shape.warpRows() rows), and the same clamped below `bound` (a row past
  /// the last computes on the last one's data and is not stored).
  struct ThreadRows {
    Value row[2], clamped[2];
  };
  ThreadRows threadRows(Value blockIndex, Value bound, int64_t tile = 0);
  /// Whether the thread stores a value of its row `row`: the row is before
  /// `bound` and the thread is the first of the row's four.
  Value rowLeader(Value row, Value bound) {
    return arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, bound),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, inGroup, c(0)));
  }
  /// The key tiles (a uniform count) of query block `blockIndex`: all of
  /// them, or (causal) up to the one holding the block's last row's key.
  Value keyTiles(const KernelOperands &operands, Value blockIndex);
  /// The offset of batch position `batch` (uniform) in the mask.
  Value maskOffset(const KernelOperands &operands, Value batch);
  /// The score `raw` (q·k) of (per-thread) `query` and `key` in the base-2
  /// domain (scale·log2 e folded in), masked as mha.attention masks
  /// (maskScore, the mask read at `offset` of the batch position), -inf
  /// for a key past the last, with `boundQuery` a query past the last, and
  /// (causal) a key after the query.
  Value score(const KernelOperands &operands, Value raw, Value query, Value key,
              Value offset, bool boundQuery);
  /// The probability exp2(`s` − `lse2`) of a base-2 score given its row's
  /// log-sum-exp in base 2; 0 for a row that saw no key (lse = -inf).
  Value probability(Value s, Value lse2);
  /// The thread's part of 16 rows' accumulators per 8 columns of depth
  /// (pair e of row i: `acc[nd][2i + e]`), times `factor[i]`, rounded and
  /// stored at rows `rows[i]` of `buffer` [B, S, D] where they are before
  /// `bound`.
  void storeRows(ValueRange acc, ArrayRef<Value> factor, Value buffer,
                 Value batch, ArrayRef<Value> rows, Value bound);

  OpBuilder &b;
  Location loc;
  const KernelShape &shape;
  Type element;
  float scale, scaleLog2;
  bool causal;
  int64_t lanes;
  /// The emulation's buffers: the matrices of an mma, A [warps, 16, 16],
  /// B [warps, 16, 8], C [warps, 16, 8] (f32); and the thread (lanes), its
  /// warp, group, thread in the group and twice that.
  SmallVector<Value> scratch;
  Value thread, warp, lane, group, inGroup, twoT;
  /// The emulation's copies in flight: each shared tile's landing buffer
  /// and pending flag.
  llvm::MapVector<Value, std::pair<Value, Value>> inFlight;
  /// The same for the tiles pickTile chose (landing and flag chosen alike).
  DenseMap<Value, std::pair<Value, Value>> picked;
};

Accumulator KernelBuilder::mma(const Operand &a, const Operand &bOperand,
                               const Accumulator &acc) {
  auto elements = [](const Operand &operand) {
    SmallVector<Value> values;
    for (const Register &r : operand)
      values.append(r.begin(), r.end());
    return values;
  };
  if (a.front().size() == 1) // TF32 words
    return mmaTf32(elements(a), elements(bOperand), acc);
  if (lanes)
    return emulatedMma(elements(a), elements(bOperand), acc);
  // One 32-bit register per pair: f16 pairs as vector<2xf16> (NVVM's
  // f16x2), bf16 pairs as i32.
  auto registers = [&](const Operand &operand) {
    SmallVector<Value> values;
    for (const Register &r : operand) {
      Value pair = vector::FromElementsOp::create(
          b, loc, VectorType::get({2}, element), ValueRange(r));
      if (element.isBF16()) {
        Value word = vector::BitCastOp::create(
            b, loc, VectorType::get({1}, b.getI32Type()), pair);
        pair = vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
      }
      values.push_back(pair);
    }
    return values;
  };
  return nvvmMma(registers(a), registers(bOperand), acc, 16,
                 element.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16);
}

Accumulator KernelBuilder::mmaTf32(ArrayRef<Value> a, ArrayRef<Value> bOperand,
                                   const Accumulator &acc) {
  if (lanes)
    return emulatedMma(a, bOperand, acc);
  return nvvmMma(a, bOperand, acc, 8, NVVM::MMATypes::tf32);
}

Accumulator KernelBuilder::nvvmMma(ValueRange a, ValueRange bOperand,
                                   const Accumulator &acc, int64_t k,
                                   NVVM::MMATypes type) {
  Type f32Type = b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {f32Type, f32Type, f32Type, f32Type});
  Value result = NVVM::MmaOp::create(
      b, loc, resultType, a, bOperand, acc, ArrayRef<int64_t>{16, 8, k},
      std::nullopt, std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  Accumulator d;
  for (int64_t j = 0; j < 4; ++j)
    d.push_back(LLVM::ExtractValueOp::create(b, loc, result, j));
  return d;
}

Value KernelBuilder::toTf32(Value x) {
  if (!lanes)
    return NVVM::ConvertFloatToTF32Op::create(
        b, loc, b.getI32Type(), x, NVVM::FPRoundingMode::RNA,
        NVVM::SaturationMode::NONE, /*relu=*/false);
  // Half of TF32's last place (2^-11 of the leading bit: bit 12) added to
  // the magnitude's bits, the 13 bits below TF32's 10 cleared: to nearest,
  // ties away from zero, a carry into the exponent rounding up a binade
  // (to infinity past the largest). Infinities and NaNs as they are.
  auto intType = VectorType::get({lanes}, b.getI32Type());
  auto splat = [&](uint32_t value) -> Value {
    return arith::ConstantOp::create(
        b, loc, intType,
        DenseElementsAttr::get(intType,
                               b.getI32IntegerAttr(int32_t(value)).getValue()));
  };
  Value bits = arith::BitcastOp::create(b, loc, intType, x);
  Value exponent = arith::AndIOp::create(b, loc, bits, splat(0x7f800000u));
  Value special = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        exponent, splat(0x7f800000u));
  Value rounded = arith::AndIOp::create(
      b, loc, arith::AddIOp::create(b, loc, bits, splat(0x1000u)),
      splat(0xffffe000u));
  return arith::BitcastOp::create(
      b, loc, x.getType(),
      arith::SelectOp::create(b, loc, special, bits, rounded));
}

Accumulator KernelBuilder::emulatedMma(ArrayRef<Value> a,
                                       ArrayRef<Value> bOperand,
                                       const Accumulator &acc) {
  // One function per module, element type and block, called for every mma
  // (a kernel makes hundreds).
  auto f32Lanes = VectorType::get({lanes}, b.getF32Type());
  SmallVector<Type> inputs;
  for (Value operand : llvm::concat<const Value>(a, bOperand))
    inputs.push_back(operand.getType());
  inputs.append(4, f32Lanes);
  for (Value matrix : scratch)
    inputs.push_back(matrix.getType());
  const int64_t aCount = a.size(), bCount = bOperand.size();
  func::FuncOp callee = emulationFunction(
      emulationName(shape.tf32 ? "mma_tf32" : "mma", element),
      b.getFunctionType(inputs, SmallVector<Type>(4, f32Lanes)),
      [&](ValueRange args) -> SmallVector<Value> {
        SmallVector<Value> aArgs(args.take_front(aCount)),
            bArgs(args.slice(aCount, bCount));
        Accumulator cArgs(args.begin() + aCount + bCount,
                          args.begin() + aCount + bCount + 4);
        // The function's own lane indices and matrices.
        Value savedWarp = warp, savedGroup = group, savedInGroup = inGroup;
        SmallVector<Value> savedScratch = scratch;
        Value thread = vector::StepOp::create(
            b, loc, VectorType::get({lanes}, b.getIndexType()));
        warp = arith::DivUIOp::create(b, loc, thread, c(32));
        Value laneInWarp = arith::RemUIOp::create(b, loc, thread, c(32));
        group = arith::DivUIOp::create(b, loc, laneInWarp, c(4));
        inGroup = arith::RemUIOp::create(b, loc, laneInWarp, c(4));
        scratch.assign(args.begin() + aCount + bCount + 4, args.end());
        Accumulator d = emulatedMmaBody(aArgs, bArgs, cArgs);
        warp = savedWarp, group = savedGroup, inGroup = savedInGroup;
        scratch = savedScratch;
        return SmallVector<Value>(d.begin(), d.end());
      });
  SmallVector<Value> operands(a.begin(), a.end());
  operands.append(bOperand.begin(), bOperand.end());
  operands.append(acc.begin(), acc.end());
  operands.append(scratch.begin(), scratch.end());
  auto call = func::CallOp::create(b, loc, callee, operands);
  return Accumulator(call.getResults().begin(), call.getResults().end());
}

Accumulator KernelBuilder::emulatedMmaBody(ArrayRef<Value> a,
                                           ArrayRef<Value> bOperand,
                                           const Accumulator &acc) {
  auto f32Lanes = VectorType::get({lanes}, b.getF32Type());
  Value zero = idx(b, loc, 0);
  auto put = [&](Value matrix, Value position, Value value) {
    if (value.getType() != f32Lanes)
      value = arith::ExtFOp::create(b, loc, f32Lanes, value);
    scatterLanes(flat(matrix), position, value, Value());
  };
  auto at = [&](Value matrix, Value row, Value column) {
    return linear(matrix, {warp, row, column});
  };
  Value twoT = mul(inGroup, c(2));
  // Which element of which matrix each lane holds (PTX ISA):
  // * mma.m16n8k16 (f16/bf16): A register r, element e: row g + 8·(r % 2),
  //   column 2t + 8·(r / 2) + e; B register r, element e: row 2t + 8r + e,
  //   column g;
  // * mma.m16n8k8 (TF32): A register r: row g + 8·(r % 2), column
  //   t + 4·(r / 2); B register r: row t + 4r, column g;
  // * both: C value j: row g + 8·(j / 2), column 2t + j % 2.
  const bool tf32 = shape.tf32;
  for (auto [i, value] : llvm::enumerate(a)) {
    int64_t r = tf32 ? i : i / 2, e = tf32 ? 0 : i % 2;
    Value column =
        tf32 ? add(inGroup, c(4 * (r / 2))) : add(twoT, c(8 * (r / 2) + e));
    put(scratch[0], at(scratch[0], add(group, c(8 * (r % 2))), column), value);
  }
  for (auto [i, value] : llvm::enumerate(bOperand)) {
    Value row =
        tf32 ? add(inGroup, c(4 * i)) : add(twoT, c(8 * (i / 2) + i % 2));
    put(scratch[1], at(scratch[1], row, group), value);
  }
  SmallVector<Value> cPositions;
  for (int64_t j = 0; j < 4; ++j) {
    cPositions.push_back(
        at(scratch[2], add(group, c(8 * (j / 2))), add(twoT, c(j % 2))));
    put(scratch[2], cPositions.back(), acc[j]);
  }
  // C += A·B for every warp, in f32.
  Value one = idx(b, loc, 1);
  const int64_t k = tf32 ? 8 : 16;
  forEach(shape.warps(), [&](Value w) {
    forEach(16, [&](Value i) {
      forEach(8, [&](Value n) {
        Value sum = memref::LoadOp::create(b, loc, scratch[2],
                                           ValueRange{w, i, n});
        auto kLoop = scf::ForOp::create(
            b, loc, zero, idx(b, loc, k), one, ValueRange{sum},
            [&](OpBuilder &nb, Location l, Value kk, ValueRange carried) {
              Value x =
                  memref::LoadOp::create(nb, l, scratch[0], ValueRange{w, i, kk});
              Value y =
                  memref::LoadOp::create(nb, l, scratch[1], ValueRange{w, kk, n});
              Value next = arith::AddFOp::create(
                  nb, l, carried[0], arith::MulFOp::create(nb, l, x, y));
              scf::YieldOp::create(nb, l, next);
            });
        memref::StoreOp::create(b, loc, kLoop.getResult(0), scratch[2],
                                ValueRange{w, i, n});
      });
    });
  });
  Accumulator d;
  for (int64_t j = 0; j < 4; ++j)
    d.push_back(gatherLanes(flat(scratch[2]), cPositions[j]));
  return d;
}

SmallVector<Value> KernelBuilder::stateLoop(
    Value lower, Value upper, ArrayRef<Value> init,
    function_ref<SmallVector<Value>(Value, ArrayRef<Value>)> body) {
  Value one = idx(b, loc, 1);
  if (!lanes) {
    auto loop = scf::ForOp::create(b, loc, lower, upper, one, init);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> state(loop.getRegionIterArgs());
    scf::YieldOp::create(b, loc, body(loop.getInductionVar(), state));
    return SmallVector<Value>(loop.getResults());
  }
  if (init.empty()) {
    auto loop = scf::ForOp::create(b, loc, lower, upper, one);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar(), {});
    return {};
  }
  auto lanesType = VectorType::get({lanes}, b.getF32Type());
  Value buffer = memref::AllocOp::create(
      b, loc, MemRefType::get({int64_t(init.size()), lanes}, b.getF32Type()));
  auto access = [&](int64_t j, Value value = Value()) -> Value {
    SmallVector<Value, 2> at = {idx(b, loc, j), idx(b, loc, 0)};
    if (value) {
      vector::StoreOp::create(b, loc, value, buffer, at);
      return value;
    }
    return vector::LoadOp::create(b, loc, lanesType, buffer, at);
  };
  for (auto [j, value] : llvm::enumerate(init))
    access(j, value);
  auto loop = scf::ForOp::create(b, loc, lower, upper, one);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> state;
    for (size_t j = 0; j < init.size(); ++j)
      state.push_back(access(j));
    for (auto [j, value] : llvm::enumerate(body(loop.getInductionVar(), state)))
      access(j, value);
  }
  SmallVector<Value> results;
  for (size_t j = 0; j < init.size(); ++j)
    results.push_back(access(j));
  memref::DeallocOp::create(b, loc, buffer);
  return results;
}

void KernelBuilder::begin(Value threadId, ArrayRef<Value> scratchBuffers) {
  scratch.assign(scratchBuffers.begin(), scratchBuffers.end());
  thread = threadId;
  warp = arith::DivUIOp::create(b, loc, thread, c(32));
  lane = arith::RemUIOp::create(b, loc, thread, c(32));
  group = arith::DivUIOp::create(b, loc, lane, c(4));
  inGroup = arith::RemUIOp::create(b, loc, lane, c(4));
  twoT = mul(inGroup, c(2));
}

void KernelBuilder::copyTile(Value source, Value shared, Value batch,
                             Value first, Value rows, Value firstColumn,
                             Value columns, int64_t tileRows,
                             int64_t tileColumns) {
  const int64_t width = shape.copyWidth();
  int64_t chunksPerRow = tileColumns / width;
  int64_t chunks = tileRows * chunksPerRow;
  Value lastRow = arith::SubIOp::create(b, loc, rows, c(1));
  Value lastChunk =
      columns ? arith::SubIOp::create(b, loc, columns, c(width)) : Value();
  for (int64_t start = 0; start < chunks; start += shape.threads()) {
    Value chunk = add(thread, c(start));
    // The last round may have fewer chunks than threads.
    Value active;
    if (start + shape.threads() > chunks)
      active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, chunk,
                                     c(chunks));
    auto copy = [&] {
      Value row = arith::DivUIOp::create(b, loc, chunk, c(chunksPerRow));
      Value column =
          mul(arith::RemUIOp::create(b, loc, chunk, c(chunksPerRow)), c(width));
      Value sourceRow = add(first, row);
      Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            sourceRow, rows);
      // A row past the last reads the last one (in bounds) and stores
      // zeros: no branch around the load. Likewise a chunk past the last
      // column (columns are a multiple of the copy width: a chunk is all in
      // or all out).
      Value clamped = arith::MinUIOp::create(b, loc, sourceRow, lastRow);
      Value sourceColumn = column;
      if (firstColumn)
        sourceColumn = add(firstColumn, column);
      if (columns) {
        inRange = arith::AndIOp::create(
            b, loc, inRange,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                  sourceColumn, columns));
        sourceColumn = arith::MinUIOp::create(b, loc, sourceColumn, lastChunk);
      }
      if (lanes) {
        // In flight until awaitTiles: the data goes to the tile's landing
        // buffer, the tile's chunk becomes NaN (what a reader before the
        // wait, or a slow reader of the tile this one replaces, may see).
        auto type = VectorType::get({lanes}, element);
        Value zeros = arith::ConstantOp::create(
            b, loc, type, DenseElementsAttr::get(type, b.getZeroAttr(element)));
        Value nans = arith::ConstantOp::create(
            b, loc, type,
            DenseElementsAttr::get(
                type, b.getFloatAttr(
                          element,
                          APFloat::getNaN(
                              cast<FloatType>(element).getFloatSemantics()))));
        auto [landing, pending] = inFlight.count(shared)
                                      ? inFlight.lookup(shared)
                                      : picked.lookup(shared);
        for (int64_t e = 0; e < width; ++e) {
          Value data = load(source, {batch, clamped, add(sourceColumn, c(e))});
          data = arith::SelectOp::create(b, loc, inRange, data, zeros);
          store(data, landing, {row, add(column, c(e))}, active);
          store(nans, shared, {row, add(column, c(e))}, active);
        }
        memref::StoreOp::create(
            b, loc, arith::ConstantIntOp::create(b, loc, 1, 1), pending);
        return;
      }
      // 16 bytes a cp.async (cached in L2 only: each block reads a tile
      // once); a row past the last reads no byte (source size 0) and is
      // filled with zeros.
      Value sourceElements =
          arith::SelectOp::create(b, loc, inRange, c(width), c(0));
      nvgpu::DeviceAsyncCopyOp::create(
          b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), shared,
          ValueRange{row, column}, source,
          ValueRange{batch, clamped, sourceColumn}, b.getIndexAttr(width),
          sourceElements, b.getUnitAttr());
    };
    if (!active || lanes) {
      copy();
      continue;
    }
    auto branch = scf::IfOp::create(b, loc, active, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(branch.thenBlock());
    copy();
  }
}

SmallVector<Operand> KernelBuilder::rowFragments(Value buffer, Value batch,
                                                 ArrayRef<Value> rows,
                                                 bool rounded) {
  SmallVector<Operand> fragments;
  if (shape.tf32) {
    for (int64_t kk = 0; kk < shape.depth / 8; ++kk) {
      SmallVector<Value> a;
      for (int64_t r = 0; r < 4; ++r)
        a.push_back(load(buffer, {batch, rows[r % 2],
                                  add(inGroup, c(8 * kk + 4 * (r / 2)))}));
      if (rounded) {
        fragments.push_back(tf32Registers(a));
        continue;
      }
      Operand fragment;
      for (Value x : a)
        fragment.push_back({x});
      fragments.push_back(fragment);
    }
    return fragments;
  }
  for (int64_t kk = 0; kk < shape.depth / 16; ++kk) {
    Operand fragment;
    for (int64_t r = 0; r < 4; ++r) {
      auto [x, y] = loadPair(
          buffer, {batch, rows[r % 2], add(twoT, c(16 * kk + 8 * (r / 2)))});
      fragment.push_back({x, y});
    }
    fragments.push_back(fragment);
  }
  return fragments;
}

Operand KernelBuilder::tileOperand(Value tile, Value row, Value column,
                                   int64_t rowStep, int64_t columnStep,
                                   bool transpose) {
  Operand pairs;
  for (const SmallVector<Value, 2> &pair :
       loadMatrices(tile, row, column, rowStep, columnStep, transpose))
    pairs.push_back(pair);
  return pairs;
}

SmallVector<Value> KernelBuilder::tileWords(Value tile, Value row, Value column,
                                            int64_t rowStep,
                                            int64_t columnStep) {
  SmallVector<Value> words;
  for (const SmallVector<Value, 2> &word :
       loadMatrices(tile, row, column, rowStep, columnStep, false))
    words.push_back(word[0]);
  return words;
}

SmallVector<SmallVector<Value, 2>>
KernelBuilder::loadMatrices(Value tile, Value row, Value column,
                            int64_t rowStep, int64_t columnStep,
                            bool transpose) {
  const int64_t count = 2;
  // Elements of a 32-bit register.
  const int64_t perRegister = 32 / element.getIntOrFloatBitWidth();
  // Lane 8j + i gives the address of matrix j's row i (lanes 16-31 repeat
  // lanes 0-15's addresses: unused, but in bounds).
  Value matrix = arith::RemUIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, lane, c(8)), c(count));
  Value addressRow = add(add(row, mul(matrix, c(rowStep))),
                         arith::RemUIOp::create(b, loc, lane, c(8)));
  Value addressColumn = add(column, mul(matrix, c(columnStep)));
  SmallVector<SmallVector<Value, 2>> registers;
  if (!lanes) {
    auto type = VectorType::get({count, perRegister}, element);
    Value loaded = nvgpu::LdMatrixOp::create(
        b, loc, type, tile, ValueRange{addressRow, addressColumn}, transpose,
        count);
    for (int64_t j = 0; j < count; ++j) {
      SmallVector<Value, 2> elements;
      for (int64_t e = 0; e < perRegister; ++e)
        elements.push_back(
            vector::ExtractOp::create(b, loc, loaded, ArrayRef<int64_t>{j, e}));
      registers.push_back(elements);
    }
    return registers;
  }
  // Emulated: lane 4g + t of a warp reads, of matrix j, row g at the
  // register's elements perRegister·t + e from the address given by lane
  // 8j + g of its warp, or (transposed, 16-bit elements) rows 2t and
  // 2t + 1 at column g from those of lanes 8j + 2t and 8j + 2t + 1.
  Value address = linear(tile, {addressRow, addressColumn});
  for (int64_t j = 0; j < count; ++j) {
    SmallVector<Value, 2> elements;
    for (int64_t e = 0; e < perRegister; ++e) {
      SmallVector<int64_t> giver;
      for (int64_t l = 0; l < lanes; ++l) {
        int64_t inWarp = l % 32, g = inWarp / 4, t = inWarp % 4;
        giver.push_back(l - inWarp + 8 * j + (transpose ? 2 * t + e : g));
      }
      Value start = vector::ShuffleOp::create(b, loc, address, address, giver);
      Value position = add(
          start, transpose ? group : add(mul(inGroup, c(perRegister)), c(e)));
      elements.push_back(gatherLanes(flat(tile), position));
    }
    registers.push_back(elements);
  }
  return registers;
}

Accumulator KernelBuilder::timesTileRows(ArrayRef<Operand> fragments,
                                         Value tile, int64_t n) {
  // Depth step kk's B fragment: the matrices at tile rows 8n to 8n + 7,
  // columns 16kk and 16kk + 8.
  Accumulator acc(4, f32(0.0f));
  for (auto [kk, fragment] : llvm::enumerate(fragments))
    acc = mma(fragment,
              shape.tf32
                  ? tf32Registers(tileWords(tile, c(8 * n), c(8 * kk),
                                            /*rowStep=*/0, /*columnStep=*/4))
                  : tileOperand(tile, c(8 * n), c(16 * kk), /*rowStep=*/0,
                                /*columnStep=*/8, /*transpose=*/false),
              acc);
  return acc;
}

Accumulator KernelBuilder::timesTileColumns(ArrayRef<Operand> fragments,
                                            Value tile, int64_t nd,
                                            Accumulator acc) {
  // Step kk's B fragment: the matrices at tile rows 16kk and 16kk + 8,
  // columns 8nd to 8nd + 7, transposed.
  for (auto [kk, fragment] : llvm::enumerate(fragments)) {
    if (!shape.tf32) {
      acc = mma(fragment,
                tileOperand(tile, c(16 * kk), c(8 * nd), /*rowStep=*/8,
                            /*columnStep=*/0, /*transpose=*/true),
                acc);
      continue;
    }
    SmallVector<Value> column;
    for (int64_t r = 0; r < 2; ++r)
      column.push_back(
          load(tile, {add(twoT, c(8 * kk + r)), add(group, c(8 * nd))}));
    acc = mma(fragment, tf32Registers(column), acc);
  }
  return acc;
}

SmallVector<Value> KernelBuilder::roundedTf32(ArrayRef<Value> elements) {
  SmallVector<Value> words;
  for (Value x : elements)
    words.push_back(toTf32(x));
  return words;
}

Operand KernelBuilder::tf32Registers(ArrayRef<Value> elements) {
  Operand registers;
  for (Value x : elements)
    registers.push_back({toTf32(x)});
  return registers;
}

SmallVector<Operand> KernelBuilder::asOperands(ArrayRef<Accumulator> tiles) {
  SmallVector<Operand> fragments;
  if (shape.tf32) {
    for (const Accumulator &tile : tiles) {
      SmallVector<Value> a;
      for (int64_t r = 0; r < 4; ++r)
        a.push_back(tile[2 * (r % 2) + r / 2]);
      fragments.push_back(tf32Registers(a));
    }
    return fragments;
  }
  for (size_t kk = 0; kk < tiles.size() / 2; ++kk) {
    Operand fragment;
    for (int64_t r = 0; r < 4; ++r) {
      const Accumulator &tile = tiles[2 * kk + r / 2];
      int64_t i = r % 2;
      fragment.push_back(
          {arith::TruncFOp::create(b, loc, halfType(), tile[2 * i]),
           arith::TruncFOp::create(b, loc, halfType(), tile[2 * i + 1])});
    }
    fragments.push_back(fragment);
  }
  return fragments;
}

KernelBuilder::ThreadRows KernelBuilder::threadRows(Value blockIndex,
                                                    Value bound, int64_t tile) {
  Value first = add(mul(perThread(blockIndex), c(shape.blockRows)),
                    add(mul(warp, c(shape.warpRows())), c(16 * tile)));
  ThreadRows rows;
  rows.row[0] = add(first, group);
  rows.row[1] = add(first, add(group, c(8)));
  Value last = arith::SubIOp::create(b, loc, bound, c(1));
  for (int64_t i = 0; i < 2; ++i)
    rows.clamped[i] = arith::MinUIOp::create(b, loc, rows.row[i], last);
  return rows;
}

Value KernelBuilder::keyTiles(const KernelOperands &operands,
                              Value blockIndex) {
  Value tileKeys = idx(b, loc, shape.tileRows);
  Value tiles = arith::CeilDivUIOp::create(b, loc, operands.keys, tileKeys);
  if (!causal)
    return tiles;
  Value visible = arith::MulIOp::create(
      b, loc, arith::AddIOp::create(b, loc, blockIndex, idx(b, loc, 1)),
      idx(b, loc, shape.blockRows));
  return arith::MinUIOp::create(
      b, loc, tiles, arith::CeilDivUIOp::create(b, loc, visible, tileKeys));
}

Value KernelBuilder::maskOffset(const KernelOperands &operands, Value batch) {
  // The position's indices from its linear index, the last batch dimension
  // fastest.
  Value offset = idx(b, loc, 0), rest = batch;
  for (int64_t d = operands.batchSizes.size() - 1; d >= 0; --d) {
    Value index = arith::RemUIOp::create(b, loc, rest, operands.batchSizes[d]);
    rest = arith::DivUIOp::create(b, loc, rest, operands.batchSizes[d]);
    offset = arith::AddIOp::create(
        b, loc, offset,
        arith::MulIOp::create(b, loc, index, operands.maskBatchStrides[d]));
  }
  return perThread(offset);
}

Value KernelBuilder::score(const KernelOperands &operands, Value raw,
                           Value query, Value key, Value offset,
                           bool boundQuery) {
  Value keys = perThread(operands.keys), rows = perThread(operands.rows);
  Value s;
  if (operands.mask) {
    // The mask as mha.attention applies it (maskScore), to the natural
    // score; then to the base-2 domain. A query or key past the last reads
    // the last one's element (in bounds; masked below).
    Value lastKey = arith::SubIOp::create(b, loc, keys, c(1));
    Value lastRow = arith::SubIOp::create(b, loc, rows, c(1));
    Value position =
        add(add(offset, mul(arith::MinUIOp::create(b, loc, query, lastRow),
                            perThread(operands.maskRowStride))),
            mul(arith::MinUIOp::create(b, loc, key, lastKey),
                perThread(operands.maskKeyStride)));
    s = arith::MulFOp::create(b, loc, raw, f32(scale));
    s = maskScore(b, loc, s, loadMask(operands.mask, position), Value(),
                  Value(), /*causal=*/false);
    s = arith::MulFOp::create(b, loc, s, f32(float(M_LOG2E)));
  } else {
    s = arith::MulFOp::create(b, loc, raw, f32(scaleLog2));
  }
  Value visible =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, key, keys);
  if (boundQuery)
    visible = arith::AndIOp::create(
        b, loc, visible,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, query, rows));
  if (causal)
    visible = arith::AndIOp::create(
        b, loc, visible,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, key, query));
  return arith::SelectOp::create(b, loc, visible, s,
                                 f32(-std::numeric_limits<float>::infinity()));
}

Value KernelBuilder::probability(Value s, Value lse2) {
  Value unseen =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, lse2,
                            f32(-std::numeric_limits<float>::infinity()));
  Value p =
      math::Exp2Op::create(b, loc, arith::SubFOp::create(b, loc, s, lse2));
  return arith::SelectOp::create(b, loc, unseen, f32(0.0f), p);
}

void KernelBuilder::storeRows(ValueRange acc, ArrayRef<Value> factor,
                              Value buffer, Value batch, ArrayRef<Value> rows,
                              Value bound) {
  for (int64_t i = 0; i < 2; ++i) {
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          rows[i], bound);
    for (int64_t nd = 0; nd < shape.depth / 8; ++nd) {
      Value pair[2];
      for (int64_t e = 0; e < 2; ++e) {
        pair[e] =
            arith::MulFOp::create(b, loc, acc[4 * nd + 2 * i + e], factor[i]);
        if (!element.isF32())
          pair[e] = arith::TruncFOp::create(b, loc, halfType(), pair[e]);
      }
      storePair({pair[0], pair[1]}, buffer,
                {batch, rows[i], add(twoT, c(8 * nd))}, inRange);
    }
  }
}

void KernelBuilder::buildForward(const KernelOperands &operands,
                                 Value batchIndex, Value queryBlockIndex,
                                 Value kShared, Value vShared) {
  Value rows = perThread(operands.rows);
  Value batch = perThread(batchIndex);
  ThreadRows queries = threadRows(queryBlockIndex, rows);
  ArrayRef<Value> row = queries.row, clampedRow = queries.clamped;
  Value offset = operands.mask ? maskOffset(operands, batchIndex) : Value();
  // The query's fragments (TF32: rounded once), for the whole kernel.
  SmallVector<Operand> queryFragments =
      rowFragments(operands.q, batch, clampedRow);

  Value tiles = keyTiles(operands, queryBlockIndex);

  Value negInf = f32(-std::numeric_limits<float>::infinity());
  Value zeroF = f32(0.0f);
  int64_t outputTiles = shape.depth / 8;
  // Loop state: max and (this thread's partial) sum of each row, then the
  // output's accumulators (4 per 8 columns: row 0 columns 2t, 2t+1, row 1
  // the same).
  SmallVector<Value> init = {negInf, negInf, zeroF, zeroF};
  init.append(4 * outputTiles, zeroF);
  // The copies overlap the products (FlashAttention-2's order): the key
  // tile i + 1 is copied during tile i's softmax and P·V, the value tile i
  // during its Q·Kᵀ; each waited for (awaitTiles) just before it is read.
  // No more shared memory than one tile of each.
  Value keys = perThread(operands.keys);
  auto copyKeysIf = [&](Value condition, Value firstKey) {
    ifThen(condition,
           [&] { copyTile(operands.k, kShared, batch, firstKey, keys); });
  };
  Value zero = idx(b, loc, 0);
  copyKeysIf(
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, tiles, zero),
      c(0));
  SmallVector<Value> results = stateLoop(
      zero, tiles, init,
      [&](Value index, ArrayRef<Value> state) -> SmallVector<Value> {
        Value tile = perThread(index);
        Value firstKey = mul(tile, c(shape.tileRows));
        // Key tile `index` in place; every thread done with the last value
        // tile, which this one replaces.
        awaitTiles();
        copyTile(operands.v, vShared, batch, firstKey, keys);

        // Scores: one accumulator per 8 keys, in the base-2 domain, masked.
        int64_t keySteps = shape.tileRows / 8;
        SmallVector<Accumulator> scores; // [n][2·row + e]
        for (int64_t n = 0; n < keySteps; ++n) {
          Accumulator acc = timesTileRows(queryFragments, kShared, n);
          Accumulator values;
          for (int64_t i = 0; i < 2; ++i)
            for (int64_t e = 0; e < 2; ++e)
              values.push_back(score(operands, acc[2 * i + e], row[i],
                                     add(firstKey, add(twoT, c(8 * n + e))),
                                     offset, /*boundQuery=*/false));
          scores.push_back(values);
        }
        // Value tile `index` in place; every thread done with the key tile,
        // which the next one replaces.
        awaitTiles();
        Value nextIndex = arith::AddIOp::create(b, loc, index, idx(b, loc, 1));
        copyKeysIf(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         nextIndex, tiles),
                   mul(perThread(nextIndex), c(shape.tileRows)));

        // The online softmax, per row: the new maximum across the row's four
        // threads, the rescaling factor and the probabilities (exp2; 0 while
        // the row has seen no key).
        SmallVector<Value> next(state.begin(), state.end());
        Value alpha[2];
        for (int64_t i = 0; i < 2; ++i) {
          Value m = state[i];
          Value tileMax = scores[0][2 * i];
          for (int64_t n = 0; n < keySteps; ++n)
            for (int64_t e = 0; e < 2; ++e)
              if (n || e)
                tileMax = arith::MaximumFOp::create(b, loc, tileMax,
                                                    scores[n][2 * i + e]);
          Value mNew =
              arith::MaximumFOp::create(b, loc, m, acrossRow(tileMax, true));
          alpha[i] = probability(m, mNew);
          Value sum = arith::MulFOp::create(b, loc, state[2 + i], alpha[i]);
          for (int64_t n = 0; n < keySteps; ++n)
            for (int64_t e = 0; e < 2; ++e) {
              Value p = probability(scores[n][2 * i + e], mNew);
              scores[n][2 * i + e] = p;
              sum = arith::AddFOp::create(b, loc, sum, p);
            }
          next[i] = mNew;
          next[2 + i] = sum;
        }
        // acc = α·acc + P·V, P rounded to the operands' type (TF32: as it
        // is read).
        SmallVector<Operand> probabilities = asOperands(scores);
        for (int64_t nd = 0; nd < outputTiles; ++nd) {
          Accumulator acc;
          for (int64_t j = 0; j < 4; ++j)
            acc.push_back(arith::MulFOp::create(b, loc, state[4 + 4 * nd + j],
                                                alpha[j / 2]));
          acc = timesTileColumns(probabilities, vShared, nd, acc);
          for (int64_t j = 0; j < 4; ++j)
            next[4 + 4 * nd + j] = acc[j];
        }
        return next;
      });

  // The output: each row divided by its sum (across the row's four
  // threads), zeros for a row that saw no key, stored in the operands'
  // type.
  Value inverse[2], sum[2];
  for (int64_t i = 0; i < 2; ++i) {
    sum[i] = acrossRow(results[2 + i], false);
    Value positive =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, sum[i], zeroF);
    inverse[i] = arith::SelectOp::create(
        b, loc, positive, arith::DivFOp::create(b, loc, f32(1.0f), sum[i]),
        zeroF);
  }
  storeRows(ValueRange(results).drop_front(4), inverse, operands.out, batch,
            row, rows);
  // The log-sum-exp (natural): the maximum back from the base-2 domain
  // plus log of the sum; -inf for a row that saw no key. One thread of
  // the row's four stores it.
  if (!operands.lse)
    return;
  for (int64_t i = 0; i < 2; ++i) {
    Value positive =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, sum[i], zeroF);
    Value lse = arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, results[i], f32(float(M_LN2))),
        math::LogOp::create(b, loc, sum[i]));
    lse = arith::SelectOp::create(b, loc, positive, lse, negInf);
    store(lse, operands.lse, {batch, row[i]}, rowLeader(row[i], rows));
  }
}

void KernelBuilder::buildQueryGrad(const KernelOperands &operands,
                                   Value batchIndex, Value queryBlockIndex,
                                   Value kShared, Value vShared) {
  Value rows = perThread(operands.rows);
  Value batch = perThread(batchIndex);
  ThreadRows queries = threadRows(queryBlockIndex, rows);
  ArrayRef<Value> row = queries.row, clampedRow = queries.clamped;
  Value offset = operands.mask ? maskOffset(operands, batchIndex) : Value();
  SmallVector<Operand> queryFragments =
      rowFragments(operands.q, batch, clampedRow);
  SmallVector<Operand> gradFragments =
      rowFragments(operands.outGrad, batch, clampedRow);

  // D = rowsum(dO ⊙ O) of the thread's rows (across the row's four
  // threads), in f32, stored for the dK/dV kernel by one thread of the
  // four; and the rows' log-sum-exp in base 2. From the elements as
  // stored: TF32's fragments are rounded, so dO is read again unrounded.
  SmallVector<Operand> outputFragments =
      rowFragments(operands.out, batch, clampedRow, /*rounded=*/false);
  SmallVector<Operand> deltaGradFragments =
      shape.tf32
          ? rowFragments(operands.outGrad, batch, clampedRow, /*rounded=*/false)
          : gradFragments;
  Value delta[2] = {f32(0.0f), f32(0.0f)}, lse2[2];
  auto widen = [&](Value x) -> Value {
    Type f32Type =
        lanes ? Type(VectorType::get({lanes}, b.getF32Type())) : b.getF32Type();
    if (x.getType() == f32Type)
      return x;
    return arith::ExtFOp::create(b, loc, f32Type, x);
  };
  for (auto [grads, outs] : llvm::zip(deltaGradFragments, outputFragments))
    for (int64_t r = 0; r < 4; ++r)
      for (auto [x, y] : llvm::zip(grads[r], outs[r]))
        delta[r % 2] = arith::AddFOp::create(
            b, loc, delta[r % 2],
            arith::MulFOp::create(b, loc, widen(x), widen(y)));
  for (int64_t i = 0; i < 2; ++i) {
    delta[i] = acrossRow(delta[i], false);
    store(delta[i], operands.delta, {batch, row[i]}, rowLeader(row[i], rows));
    lse2[i] = arith::MulFOp::create(b, loc,
                                    load(operands.lse, {batch, clampedRow[i]}),
                                    f32(float(M_LOG2E)));
  }

  // Key tiles as the forward's: causal blocks stop at their last row's.
  // The copies overlap the products: the key tile i is copied during tile
  // i's dP = dO·Vᵀ, the value tile i + 1 during tile i's scores, dS and dQ
  // (each waited for just before it is read; no more shared memory than
  // one tile of each).
  Value tiles = keyTiles(operands, queryBlockIndex);
  Value keys = perThread(operands.keys);
  Value zero = idx(b, loc, 0);
  ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, tiles, zero),
         [&] { copyTile(operands.v, vShared, batch, c(0), keys); });
  int64_t outputTiles = shape.depth / 8;
  SmallVector<Value> init(4 * outputTiles, f32(0.0f));
  SmallVector<Value> results = stateLoop(
      zero, tiles, init,
      [&](Value index, ArrayRef<Value> state) -> SmallVector<Value> {
        Value firstKey = mul(perThread(index), c(shape.tileRows));
        // Value tile `index` in place; every thread done with the last key
        // tile, which this one replaces.
        awaitTiles();
        copyTile(operands.k, kShared, batch, firstKey, keys);
        // Per 8 keys: dP = dO·Vᵀ.
        SmallVector<Accumulator> probGrads;
        for (int64_t n = 0; n < shape.tileRows / 8; ++n)
          probGrads.push_back(timesTileRows(gradFragments, vShared, n));
        // Key tile `index` in place; every thread done with the value tile,
        // which the next one replaces.
        awaitTiles();
        Value nextIndex = arith::AddIOp::create(b, loc, index, idx(b, loc, 1));
        ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                     nextIndex, tiles),
               [&] {
                 copyTile(operands.v, vShared, batch,
                          mul(perThread(nextIndex), c(shape.tileRows)), keys);
               });
        // Per 8 keys: P from the scores, dS = P ⊙ (dP − D).
        SmallVector<Accumulator> scoreGrads;
        for (int64_t n = 0; n < shape.tileRows / 8; ++n) {
          Accumulator scores = timesTileRows(queryFragments, kShared, n);
          Accumulator grads;
          for (int64_t i = 0; i < 2; ++i)
            for (int64_t e = 0; e < 2; ++e) {
              Value s = score(operands, scores[2 * i + e], row[i],
                              add(firstKey, add(twoT, c(8 * n + e))), offset,
                              /*boundQuery=*/false);
              Value p = probability(s, lse2[i]);
              grads.push_back(arith::MulFOp::create(
                  b, loc, p,
                  arith::SubFOp::create(b, loc, probGrads[n][2 * i + e],
                                        delta[i])));
            }
          scoreGrads.push_back(grads);
        }
        // dQ += dS·K, dS rounded to the operands' type.
        SmallVector<Operand> fragments = asOperands(scoreGrads);
        SmallVector<Value> next;
        for (int64_t nd = 0; nd < outputTiles; ++nd) {
          Accumulator acc(state.begin() + 4 * nd, state.begin() + 4 * nd + 4);
          acc = timesTileColumns(fragments, kShared, nd, acc);
          next.append(acc.begin(), acc.end());
        }
        return next;
      });
  Value factor[2] = {f32(scale), f32(scale)};
  storeRows(results, factor, operands.qGrad, batch, row, rows);
}

void KernelBuilder::buildKeyValueGrad(const KernelOperands &operands,
                                      Value batchIndex, Value keyBlockIndex,
                                      Value qShared, Value gradShared) {
  Value rows = perThread(operands.rows), keys = perThread(operands.keys);
  Value batch = perThread(batchIndex);
  // The thread's two key rows (C rows; the queries are its columns).
  ThreadRows keyRows = threadRows(keyBlockIndex, keys);
  ArrayRef<Value> key = keyRows.row, clampedKey = keyRows.clamped;
  Value lastRow = arith::SubIOp::create(b, loc, rows, c(1));
  Value offset = operands.mask ? maskOffset(operands, batchIndex) : Value();
  SmallVector<Operand> keyFragments =
      rowFragments(operands.k, batch, clampedKey);
  SmallVector<Operand> valueFragments =
      rowFragments(operands.v, batch, clampedKey);

  // Query tiles: all of them, or (causal) from the one holding the
  // block's first key.
  Value tileQueries = idx(b, loc, shape.tileRows);
  Value tiles = arith::CeilDivUIOp::create(b, loc, operands.rows, tileQueries);
  Value firstTile = idx(b, loc, 0);
  if (causal)
    firstTile = arith::DivUIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, keyBlockIndex,
                              idx(b, loc, shape.blockRows)),
        tileQueries);
  int64_t outputTiles = shape.depth / 8;
  // Loop state: dK's accumulators, then dV's.
  // (Both tiles are read until the tile's last products, so their copies
  // do not overlap them: the dO tile's copy during dK += dSᵀ·Q, tried,
  // took the dK/dV kernel at depth 64 from 234 registers to 255 for sm_80
  // and 24 bytes of spills for sm_90a.)
  SmallVector<Value> init(8 * outputTiles, f32(0.0f));
  SmallVector<Value> results = stateLoop(
      firstTile, tiles, init,
      [&](Value index, ArrayRef<Value> state) -> SmallVector<Value> {
        Value firstQuery = mul(perThread(index), c(shape.tileRows));
        // Both tiles `index` copied between two barriers: every thread is
        // done with the previous ones, and then these are in place.
        syncThreads();
        copyTile(operands.q, qShared, batch, firstQuery, rows);
        copyTile(operands.outGrad, gradShared, batch, firstQuery, rows);
        awaitTiles();
        // Per 8 queries, transposed: Pᵀ from the scores Sᵀ = K·Qᵀ and the
        // queries' log-sum-exp, dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dPᵀ − D).
        SmallVector<Accumulator> probabilities, scoreGrads;
        for (int64_t n = 0; n < shape.tileRows / 8; ++n) {
          Accumulator scores = timesTileRows(keyFragments, qShared, n);
          Accumulator probGrads = timesTileRows(valueFragments, gradShared, n);
          Accumulator p(4), grads(4);
          for (int64_t e = 0; e < 2; ++e) {
            Value query = add(firstQuery, add(twoT, c(8 * n + e)));
            Value clamped = arith::MinUIOp::create(b, loc, query, lastRow);
            Value lse2 = arith::MulFOp::create(
                b, loc, load(operands.lse, {batch, clamped}),
                f32(float(M_LOG2E)));
            Value delta = load(operands.delta, {batch, clamped});
            for (int64_t i = 0; i < 2; ++i) {
              Value s =
                  score(operands, scores[2 * i + e], query, key[i], offset,
                        /*boundQuery=*/true);
              p[2 * i + e] = probability(s, lse2);
              grads[2 * i + e] = arith::MulFOp::create(
                  b, loc, p[2 * i + e],
                  arith::SubFOp::create(b, loc, probGrads[2 * i + e], delta));
            }
          }
          probabilities.push_back(p);
          scoreGrads.push_back(grads);
        }
        // dK += dSᵀ·Q and dV += Pᵀ·dO, both rounded to the operands' type.
        SmallVector<Operand> pFragments = asOperands(probabilities);
        SmallVector<Operand> gradFragments = asOperands(scoreGrads);
        SmallVector<Value> next(8 * outputTiles);
        for (int64_t nd = 0; nd < outputTiles; ++nd) {
          Accumulator dk(state.begin() + 4 * nd, state.begin() + 4 * nd + 4);
          dk = timesTileColumns(gradFragments, qShared, nd, dk);
          Accumulator dv(state.begin() + 4 * (outputTiles + nd),
                         state.begin() + 4 * (outputTiles + nd) + 4);
          dv = timesTileColumns(pFragments, gradShared, nd, dv);
          for (int64_t j = 0; j < 4; ++j) {
            next[4 * nd + j] = dk[j];
            next[4 * (outputTiles + nd) + j] = dv[j];
          }
        }
        return next;
      });
  Value scales[2] = {f32(scale), f32(scale)}, ones[2] = {f32(1.0f), f32(1.0f)};
  storeRows(ValueRange(results).take_front(4 * outputTiles), scales,
            operands.kGrad, batch, key, keys);
  storeRows(ValueRange(results).drop_front(4 * outputTiles), ones,
            operands.vGrad, batch, key, keys);
}

/// Refuses `shape` if its tiles exceed shared memory or registers, with an
/// error on `op` naming the tiles.
void KernelBuilder::buildMatmul(const MatmulOperands &operands,
                                Value batchIndex, Value rowTile,
                                Value columnTile, ArrayRef<Value> tiles) {
  if (shape.simt())
    return buildSimtMatmul(operands, batchIndex, rowTile, columnTile, tiles);
  Value rows = perThread(operands.rows);
  Value batch = perThread(batchIndex);
  Value columns = perThread(operands.n);
  Value firstRow = mul(perThread(rowTile), c(shape.blockRows));
  Value firstColumn = mul(perThread(columnTile), c(shape.depth));
  int64_t blockK = shape.tileRows;
  int64_t columnTiles = shape.depth / 8;
  const int64_t rowTiles = shape.warpRows() / 16;
  // The thread's output rows: g and g + 8 of each of its warp's 16-row
  // tiles (clamped into the buffer for reading; past M nothing is stored).
  Value warpRow = mul(warp, c(shape.warpRows()));
  SmallVector<Value> row, clampedRow; // [2·mt + i]
  for (int64_t mt = 0; mt < rowTiles; ++mt) {
    ThreadRows tileRows = threadRows(rowTile, rows, mt);
    row.append({tileRows.row[0], tileRows.row[1]});
    clampedRow.append({tileRows.clamped[0], tileRows.clamped[1]});
  }
  // Its output columns of each 8: 2t and 2t + 1 (likewise clamped).
  SmallVector<Value> column, clampedColumn;
  for (int64_t nd = 0; nd < columnTiles; ++nd) {
    column.push_back(add(firstColumn, add(twoT, c(8 * nd))));
    clampedColumn.push_back(arith::MinUIOp::create(
        b, loc, column.back(), arith::SubIOp::create(b, loc, columns, c(2))));
  }
  // The accumulators, 4 per row tile and 8 columns (row g: columns 2t,
  // 2t + 1; row g + 8: the same), at 4·(mt·columnTiles + nd); from init or
  // zeros.
  auto at = [&](int64_t mt, int64_t nd) { return 4 * (mt * columnTiles + nd); };
  SmallVector<Value> init;
  for (int64_t mt = 0; mt < rowTiles; ++mt)
    for (int64_t nd = 0; nd < columnTiles; ++nd)
      for (int64_t i = 0; i < 2; ++i) {
        if (!operands.init) {
          init.append(2, f32(0.0f));
          continue;
        }
        Pair pair = loadPair(
            operands.init, {batch, clampedRow[2 * mt + i], clampedColumn[nd]});
        init.append({pair.first, pair.second});
      }

  // TF32 (shape.tf32): mma.sync m16n8k8, each register one element,
  // rounded as it is read. A (16 × 8) register r: row g + 8·(r % 2),
  // column t + 4·(r / 2), two ldmatrix of 8 rows × 4 elements (rows 0-7
  // and 8-15, then the same 4 columns on); a transposed lhs's tile holds
  // them down its columns, read one element a load (lane 4g + t at row
  // t + 4·(r / 2), column g + 8·(r % 2): banks 4t + g for rows 16 bytes
  // more than a multiple of 128 apart, no conflict). B (8 × 8) register r:
  // row t + 4r, column g: one element a load from an untransposed rhs's
  // tile (likewise conflict-free), ldmatrix of its rows from a transposed
  // one's (columns 8nd + g, K 4 at a time).
  auto tf32Step = [&](Value lhsTile, Value rhsTile,
                      ArrayRef<Value> state) -> SmallVector<Value> {
    SmallVector<SmallVector<SmallVector<Value>>> fragments(rowTiles);
    for (int64_t mt = 0; mt < rowTiles; ++mt)
      for (int64_t kk = 0; kk < blockK / 8; ++kk) {
        Value m = add(warpRow, c(16 * mt));
        SmallVector<Value> a;
        if (shape.lhsTransposed) {
          for (int64_t r = 0; r < 4; ++r)
            a.push_back(load(lhsTile, {add(inGroup, c(8 * kk + 4 * (r / 2))),
                                       add(m, add(group, c(8 * (r % 2))))}));
        } else {
          for (int64_t half = 0; half < 2; ++half)
            llvm::append_range(a, tileWords(lhsTile, m, c(8 * kk + 4 * half),
                                            /*rowStep=*/8, /*columnStep=*/0));
        }
        fragments[mt].push_back(roundedTf32(a));
      }
    SmallVector<Value> nextState(state.begin(), state.end());
    for (int64_t nd = 0; nd < columnTiles; ++nd)
      for (int64_t kk = 0; kk < blockK / 8; ++kk) {
        SmallVector<Value> bWords;
        if (shape.rhsTransposed) {
          bWords = tileWords(rhsTile, c(8 * nd), c(8 * kk), /*rowStep=*/0,
                             /*columnStep=*/4);
        } else {
          for (int64_t r = 0; r < 2; ++r)
            bWords.push_back(load(rhsTile, {add(inGroup, c(8 * kk + 4 * r)),
                                            add(group, c(8 * nd))}));
        }
        bWords = roundedTf32(bWords);
        for (int64_t mt = 0; mt < rowTiles; ++mt) {
          auto first = nextState.begin() + at(mt, nd);
          Accumulator acc =
              mmaTf32(fragments[mt][kk], bWords, Accumulator(first, first + 4));
          std::copy(acc.begin(), acc.end(), first);
        }
      }
    return nextState;
  };
  SmallVector<Value> results = matmulSteps(
      operands, batch, firstRow, firstColumn, tiles, init,
      [&](Value lhsTile, Value rhsTile,
          ArrayRef<Value> state) -> SmallVector<Value> {
        if (shape.tf32)
          return tf32Step(lhsTile, rhsTile, state);
        // The warp's A fragments of each row tile and 16 of K, by ldmatrix
        // (matrices at rows 32w + 16mt and + 8; columns 16kk, then
        // 16kk + 8); transposed, the same matrices of the stored tile's
        // rows 16kk and 16kk + 8, columns 32w + 16mt and + 8, by ldmatrix
        // .trans.
        SmallVector<SmallVector<Operand>> fragments(rowTiles);
        for (int64_t mt = 0; mt < rowTiles; ++mt)
          for (int64_t kk = 0; kk < blockK / 16; ++kk) {
            Operand fragment;
            for (int64_t half = 0; half < 2; ++half) {
              Value m = add(warpRow, c(16 * mt)), k = c(16 * kk + 8 * half);
              Operand pairs =
                  shape.lhsTransposed
                      ? tileOperand(lhsTile, k, m, /*rowStep=*/0,
                                    /*columnStep=*/8, /*transpose=*/true)
                      : tileOperand(lhsTile, m, k, /*rowStep=*/8,
                                    /*columnStep=*/0, /*transpose=*/false);
              fragment.append(pairs.begin(), pairs.end());
            }
            fragments[mt].push_back(fragment);
          }
        // acc += A · (the rhs tile's columns 8nd to 8nd + 7): each B
        // fragment (ldmatrix .trans of 16 of K; transposed, ldmatrix of the
        // stored tile's rows 8nd to 8nd + 7) for every row tile.
        SmallVector<Value> nextState(state.begin(), state.end());
        for (int64_t nd = 0; nd < columnTiles; ++nd)
          for (int64_t kk = 0; kk < blockK / 16; ++kk) {
            Operand columnsOperand =
                shape.rhsTransposed
                    ? tileOperand(rhsTile, c(8 * nd), c(16 * kk),
                                  /*rowStep=*/0, /*columnStep=*/8,
                                  /*transpose=*/false)
                    : tileOperand(rhsTile, c(16 * kk), c(8 * nd),
                                  /*rowStep=*/8, /*columnStep=*/0,
                                  /*transpose=*/true);
            for (int64_t mt = 0; mt < rowTiles; ++mt) {
              auto first = nextState.begin() + at(mt, nd);
              Accumulator acc = mma(fragments[mt][kk], columnsOperand,
                                    Accumulator(first, first + 4));
              std::copy(acc.begin(), acc.end(), first);
            }
          }
        return nextState;
      });

  for (int64_t mt = 0; mt < rowTiles; ++mt)
    for (int64_t nd = 0; nd < columnTiles; ++nd) {
      Value inColumns = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                              column[nd], columns);
      for (int64_t i = 0; i < 2; ++i) {
        Value outputRow = row[2 * mt + i];
        Value inRows = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                             outputRow, rows);
        storePair(
            {results[at(mt, nd) + 2 * i], results[at(mt, nd) + 2 * i + 1]},
            operands.out, {batch, outputRow, column[nd]},
            arith::AndIOp::create(b, loc, inRows, inColumns));
      }
    }
}

SmallVector<Value> KernelBuilder::matmulSteps(const MatmulOperands &operands,
                                              Value batch, Value firstRow,
                                              Value firstColumn,
                                              ArrayRef<Value> tiles,
                                              ArrayRef<Value> init,
                                              MatmulStep step) {
  Value rows = perThread(operands.rows);
  Value depthK = perThread(operands.k), columns = perThread(operands.n);
  int64_t blockK = shape.tileRows;
  // Step s's tiles: lhs rows [firstRow, + blockRows) × K columns
  // [s·blockK, + blockK), rhs K rows [s·blockK, + blockK) × columns
  // [firstColumn, + N block), zeros past M, K and N; a transposed operand's
  // as it is stored (the transposed window).
  auto copyStep = [&](Value index, Value lhsTile, Value rhsTile) {
    Value firstK = mul(index, c(blockK));
    if (shape.lhsTransposed)
      copyTile(operands.lhs, lhsTile, batch, firstK, depthK, firstRow, rows,
               blockK, shape.blockRows);
    else
      copyTile(operands.lhs, lhsTile, batch, firstRow, rows, firstK, depthK,
               shape.blockRows, blockK);
    if (shape.rhsTransposed)
      copyTile(operands.rhs, rhsTile, batch, firstColumn, columns, firstK,
               depthK, shape.depth, blockK);
    else
      copyTile(operands.rhs, rhsTile, batch, firstK, depthK, firstColumn,
               columns, blockK, shape.depth);
  };
  Value zero = idx(b, loc, 0);
  Value stepCount = operands.steps;
  // (None without K.)
  ifThen(
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, stepCount, zero),
      [&] { copyStep(c(0), tiles[0], tiles[1]); });
  return stateLoop(
      zero, stepCount, init,
      [&](Value index, ArrayRef<Value> state) -> SmallVector<Value> {
        // Step `index`'s tiles in place; every thread done with the other
        // stage (read by the step before), which the next step's copies
        // replace while this one's products run.
        awaitTiles();
        Value even = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::eq,
            arith::RemUIOp::create(b, loc, index, idx(b, loc, 2)), zero);
        Value lhsTile = pickTile(even, tiles[0], tiles[2]);
        Value rhsTile = pickTile(even, tiles[1], tiles[3]);
        Value next = arith::AddIOp::create(b, loc, index, idx(b, loc, 1));
        ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, next,
                                     stepCount),
               [&] {
                 copyStep(perThread(next), pickTile(even, tiles[2], tiles[0]),
                          pickTile(even, tiles[3], tiles[1]));
               });
        return step(lhsTile, rhsTile, state);
      });
}

KernelBuilder::SimtThread KernelBuilder::simtThread(Value threadId, Value batch,
                                                    Value rowTile,
                                                    Value columnTile,
                                                    Value rows, Value columns) {
  SimtThread at;
  at.batch = perThread(batch);
  at.firstRow = mul(perThread(rowTile), c(shape.blockRows));
  at.firstColumn = mul(perThread(columnTile), c(shape.depth));
  at.rows = perThread(rows);
  at.columns = perThread(columns);
  // 16 × 16 threads (tx fastest). Thread (ty, tx) owns the tile's rows
  // 4·(16h + ty) + i (i < 4): groups of 4, read from an lhs tile 16 bytes
  // a load (a quarter-warp's 8 threads read one address). Its columns:
  // 4·(16g + tx) + j (j < 4), likewise groups of 4 (a quarter-warp's loads
  // of an rhs tile row are 128 contiguous bytes); of a transposed rhs, read
  // along K from the rows of its tile, tx + 16j: a quarter-warp reads 8
  // consecutive tile rows, (block_k + 4)·4 bytes apart, which is 16 bytes
  // times an odd number for block_k a multiple of 8, so their 16-byte runs
  // fall in the 8 distinct groups of 4 banks (with groups of 4 columns the
  // rows were 4·(block_k + 4)·4 bytes apart, 2 of the 8: a 4-way conflict).
  Value tx = arith::RemUIOp::create(b, loc, threadId, c(16));
  Value ty = arith::DivUIOp::create(b, loc, threadId, c(16));
  for (int64_t r = 0; r < shape.blockRows / 16; ++r)
    at.row.push_back(add(mul(add(ty, c(16 * (r / 4))), c(4)), c(r % 4)));
  for (int64_t j = 0; j < shape.depth / 16; ++j)
    at.column.push_back(
        shape.rhsTransposed
            ? add(tx, c(16 * j))
            : add(mul(add(tx, c(16 * (j / 4))), c(4)), c(j % 4)));
  return at;
}

/// The f32 matmul's outputs of a thread are read and written in runs of 4
/// columns, or of 1 for a transposed rhs (its columns 16 apart: a warp's
/// stores of a row are then 64 contiguous bytes).
static int64_t simtRun(const KernelShape &shape) {
  return shape.rhsTransposed ? 1 : 4;
}

SmallVector<Value> KernelBuilder::simtInit(const SimtThread &at, Value init) {
  const int64_t run = simtRun(shape);
  // A run past N reads the last one (N being a multiple of 4), a row past
  // M the last row: nothing is stored there.
  Value lastRow = arith::SubIOp::create(b, loc, at.rows, c(1));
  Value lastRun = arith::SubIOp::create(b, loc, at.columns, c(run));
  SmallVector<Value> acc;
  for (Value tileRow : at.row)
    for (size_t j = 0; j < at.column.size(); j += run) {
      if (!init) {
        acc.append(run, f32(0.0f));
        continue;
      }
      Value row =
          arith::MinUIOp::create(b, loc, add(at.firstRow, tileRow), lastRow);
      Value column = arith::MinUIOp::create(
          b, loc, add(at.firstColumn, at.column[j]), lastRun);
      llvm::append_range(acc, loadRun(init, {at.batch, row, column}, run));
    }
  return acc;
}

SmallVector<Value> KernelBuilder::simtStep(const SimtThread &at, Value lhsTile,
                                           Value rhsTile,
                                           ArrayRef<Value> state) {
  const int64_t threadRows = at.row.size(), threadColumns = at.column.size();
  // 4 of K from `firstK` (a constant) of the tiles.
  auto quarter = [&](int64_t firstK, ArrayRef<Value> in) -> SmallVector<Value> {
    SmallVector<Value> acc(in.begin(), in.end());
    // The thread's rows' 4 of K, a[r][kk] at 4r + kk, and its columns',
    // bv[kk][j] at kk·threadColumns + j: 16 bytes a load along the tile's
    // rows (K of an untransposed lhs and of a transposed rhs, M and N
    // otherwise; there a group of 4 rows or columns a load).
    SmallVector<Value> a(4 * threadRows), bv(4 * threadColumns);
    for (int64_t r = 0; r < threadRows; ++r) {
      Value m = at.row[r];
      if (!shape.lhsTransposed) {
        SmallVector<Value> run = loadRun(lhsTile, {m, c(firstK)}, 4);
        std::copy(run.begin(), run.end(), a.begin() + 4 * r);
        continue;
      }
      if (r % 4 != 0)
        continue;
      for (int64_t kk = 0; kk < 4; ++kk) {
        SmallVector<Value> run = loadRun(lhsTile, {c(firstK + kk), m}, 4);
        for (int64_t i = 0; i < 4; ++i)
          a[4 * (r + i) + kk] = run[i];
      }
    }
    for (int64_t j = 0; j < threadColumns; ++j) {
      Value n = at.column[j];
      if (shape.rhsTransposed) {
        SmallVector<Value> run = loadRun(rhsTile, {n, c(firstK)}, 4);
        for (int64_t kk = 0; kk < 4; ++kk)
          bv[kk * threadColumns + j] = run[kk];
        continue;
      }
      if (j % 4 != 0)
        continue;
      for (int64_t kk = 0; kk < 4; ++kk) {
        SmallVector<Value> run = loadRun(rhsTile, {c(firstK + kk), n}, 4);
        std::copy(run.begin(), run.end(), bv.begin() + kk * threadColumns + j);
      }
    }
    // K in order, one fused multiply-add a product.
    for (int64_t kk = 0; kk < 4; ++kk)
      for (int64_t r = 0; r < threadRows; ++r)
        for (int64_t j = 0; j < threadColumns; ++j) {
          Value &out = acc[r * threadColumns + j];
          out = math::FmaOp::create(b, loc, a[4 * r + kk],
                                    bv[kk * threadColumns + j], out);
        }
    return acc;
  };
  // Unrolled: the accumulators stay registers, the tiles' offsets are
  // constants.
  SmallVector<Value> acc(state.begin(), state.end());
  for (int64_t kq = 0; kq < shape.tileRows / 4; ++kq)
    acc = quarter(4 * kq, acc);
  return acc;
}

void KernelBuilder::simtStore(const SimtThread &at, ArrayRef<Value> acc,
                              Value out) {
  const int64_t run = simtRun(shape), threadColumns = at.column.size();
  for (auto [r, tileRow] : llvm::enumerate(at.row)) {
    Value row = add(at.firstRow, tileRow);
    Value inRows =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, at.rows);
    for (int64_t j = 0; j < threadColumns; j += run) {
      Value column = add(at.firstColumn, at.column[j]);
      Value inColumns = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                              column, at.columns);
      storeRun(acc.slice(r * threadColumns + j, run), out,
               {at.batch, row, column},
               arith::AndIOp::create(b, loc, inRows, inColumns));
    }
  }
}

void KernelBuilder::eachLane(
    StringRef what, ValueRange args,
    function_ref<void(Value thread, ValueRange args)> body) {
  func::FuncOp callee = emulationFunction(
      freshEmulationName(
          b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>(),
          what),
      b.getFunctionType(TypeRange(args), {}),
      [&](ValueRange arguments) -> SmallVector<Value> {
        const int64_t threads = lanes;
        lanes = 0;
        forEach(threads, [&](Value thread) { body(thread, arguments); });
        lanes = threads;
        return {};
      });
  func::CallOp::create(b, loc, callee, args);
}

void KernelBuilder::buildSimtMatmul(const MatmulOperands &operands,
                                    Value batchIndex, Value rowTile,
                                    Value columnTile, ArrayRef<Value> tiles) {
  if (!lanes) {
    SimtThread at = simtThread(thread, batchIndex, rowTile, columnTile,
                               operands.rows, operands.n);
    SmallVector<Value> results =
        matmulSteps(operands, at.batch, at.firstRow, at.firstColumn, tiles,
                    simtInit(at, operands.init),
                    [&](Value lhsTile, Value rhsTile, ArrayRef<Value> state) {
                      return simtStep(at, lhsTile, rhsTile, state);
                    });
    simtStore(at, results, operands.out);
    return;
  }
  // Emulated: the copies as every kernel's (lane-wide, cp.async's flight
  // emulated), the rest lane by lane, the accumulators in a host buffer
  // [value, lane] between the two.
  auto f32Type = b.getF32Type();
  const int64_t count = (shape.blockRows / 16) * (shape.depth / 16);
  Value accBuffer =
      memref::AllocOp::create(b, loc, MemRefType::get({count, lanes}, f32Type));
  SmallVector<Value> frame = {batchIndex,    rowTile,    columnTile,
                              operands.rows, operands.n, operands.out,
                              accBuffer};
  if (operands.init)
    frame.push_back(operands.init);
  auto threadAt = [&](Value thread, ValueRange args) {
    return simtThread(thread, args[0], args[1], args[2], args[3], args[4]);
  };
  auto accumulators = [&](Value thread, ValueRange args) {
    SmallVector<Value> acc;
    for (int64_t j = 0; j < count; ++j)
      acc.push_back(memref::LoadOp::create(b, loc, args[6],
                                           ValueRange{idx(b, loc, j), thread}));
    return acc;
  };
  auto keep = [&](Value thread, ValueRange args, ArrayRef<Value> acc) {
    for (auto [j, value] : llvm::enumerate(acc))
      memref::StoreOp::create(b, loc, value, args[6],
                              ValueRange{idx(b, loc, j), thread});
  };
  eachLane("simt_init", frame, [&](Value thread, ValueRange args) {
    keep(thread, args,
         simtInit(threadAt(thread, args), args.size() > 7 ? args[7] : Value()));
  });
  Value firstRow = mul(perThread(rowTile), c(shape.blockRows));
  Value firstColumn = mul(perThread(columnTile), c(shape.depth));
  matmulSteps(
      operands, perThread(batchIndex), firstRow, firstColumn, tiles,
      /*init=*/{},
      [&](Value lhsTile, Value rhsTile, ArrayRef<Value>) -> SmallVector<Value> {
        SmallVector<Value> stepArgs(frame);
        stepArgs.append({lhsTile, rhsTile});
        eachLane("simt_step", stepArgs, [&](Value thread, ValueRange args) {
          keep(thread, args,
               simtStep(threadAt(thread, args), args.end()[-2], args.end()[-1],
                        accumulators(thread, args)));
        });
        return {};
      });
  eachLane("simt_store", frame, [&](Value thread, ValueRange args) {
    simtStore(threadAt(thread, args), accumulators(thread, args), args[5]);
  });
  memref::DeallocOp::create(b, loc, accBuffer);
}

LogicalResult checkFits(Operation *op, const KernelShape &shape) {
  std::string where = shape.kind == KernelKind::Matmul
                          ? ""
                          : " at depth " + std::to_string(shape.depth);
  if (shape.sharedBytes() > kMaxSharedBytes)
    return op->emitOpError()
           << shape.describe() << where << " need " << shape.sharedBytes()
           << " bytes of shared memory for " << shape.tiles()
           << ", more than a block's " << kMaxSharedBytes << "; use a smaller "
           << shape.tileOption();
  if (shape.registers() > kMaxRegisters) {
    InFlightDiagnostic diagnostic = op->emitOpError()
                                    << shape.describe() << where
                                    << " need about " << shape.registers()
                                    << " registers per thread, more than the "
                                    << kMaxRegisters << " a thread has; ";
    if (shape.simt())
      diagnostic << "use a smaller block_m or block_n";
    else if (shape.kind == KernelKind::Matmul)
      diagnostic << "use a smaller block_n or block_k";
    else if (KernelShape::attention(shape.kind, shape.blockRows, 16,
                                    shape.depth, shape.tf32)
                 .registers() > kMaxRegisters)
      diagnostic << "the depth is too large for this kernel";
    else
      diagnostic << "use a smaller " << shape.tileOption();
    return diagnostic;
  }
  return success();
}

/// The [B, S, D] views of query, key and value, their lengths and the
/// mask's strides (`rank`: the buffers' rank).
KernelOperands kernelOperands(OpBuilder &b, Location loc, Value query,
                              Value key, Value value, Value mask) {
  int64_t rank = cast<MemRefType>(query.getType()).getRank();
  KernelOperands operands;
  operands.q = collapseBatch(b, loc, query);
  operands.k = collapseBatch(b, loc, key);
  operands.v = collapseBatch(b, loc, value);
  operands.rows = memref::DimOp::create(b, loc, operands.q, 1);
  operands.keys = memref::DimOp::create(b, loc, operands.k, 1);
  if (!mask)
    return operands;
  // Strides of the mask (identity layout) along the scores' dimensions
  // [B..., Sq, Sk], its dimensions aligned to the right; 0 where it has
  // none or one of static size 1 (broadcast).
  auto maskType = cast<MemRefType>(mask.getType());
  int64_t maskRank = maskType.getRank();
  SmallVector<Value> strides(rank, idx(b, loc, 0));
  Value stride = idx(b, loc, 1);
  for (int64_t md = maskRank - 1; md >= 0; --md) {
    if (maskType.getDimSize(md) != 1)
      strides[rank - maskRank + md] = stride;
    stride = arith::MulIOp::create(b, loc, stride,
                                   memref::DimOp::create(b, loc, mask, md));
  }
  ReassociationIndices all;
  for (int64_t d = 0; d < maskRank; ++d)
    all.push_back(d);
  operands.mask = maskRank == 1
                      ? mask
                      : memref::CollapseShapeOp::create(
                            b, loc, mask, ArrayRef<ReassociationIndices>{all})
                            .getResult();
  for (int64_t d = 0; d < rank - 2; ++d) {
    operands.batchSizes.push_back(memref::DimOp::create(b, loc, query, d));
    operands.maskBatchStrides.push_back(strides[d]);
  }
  operands.maskRowStride = strides[rank - 2];
  operands.maskKeyStride = strides[rank - 1];
  return operands;
}

/// What a kernel's block does, given its builder (begun), its block's x and
/// y indices and its shared-memory tiles.
using KernelBody =
    function_ref<void(KernelBuilder &, Value, Value, ArrayRef<Value>)>;

/// Emits `shape`'s kernel over a grid of `gridX` × `gridY` blocks, each
/// with the shared tiles of `shape.tileShapes()`: a gpu.launch (none for an
/// empty grid: a CUDA error), or (`emulate`) loops over the blocks on the
/// host that run each block's threads as the lanes of vectors.
void emitGrid(OpBuilder &b, Location loc, const KernelShape &shape,
              Type element, float scale, bool causal, bool emulate, Value gridX,
              Value gridY, KernelBody body) {
  OpBuilder::InsertionGuard guard(b);
  Value zero = idx(b, loc, 0), one = idx(b, loc, 1);
  SmallVector<SmallVector<int64_t, 2>> tileShapes = shape.tileShapes();
  if (emulate) {
    // The tiles and the mma's matrices as host buffers.
    SmallVector<Value> buffers;
    // Where the tiles' copies wait to land, and whether one does.
    SmallVector<Value> landings, pending;
    for (ArrayRef<int64_t> tileShape : tileShapes) {
      // Aligned as shared memory is for 16-byte accesses (the f32 kernel's
      // emulated steps load the tiles with the GPU's vector loads).
      auto tileType = MemRefType::get(tileShape, element);
      IntegerAttr alignment = b.getI64IntegerAttr(kCopyBytes);
      buffers.push_back(memref::AllocOp::create(b, loc, tileType, alignment));
      landings.push_back(memref::AllocOp::create(b, loc, tileType, alignment));
      pending.push_back(
          memref::AllocOp::create(b, loc, MemRefType::get({}, b.getI1Type())));
      memref::StoreOp::create(
          b, loc, arith::ConstantIntOp::create(b, loc, 0, 1), pending.back());
    }
    SmallVector<Value> scratch;
    const int64_t matrices[3][3] = {{shape.warps(), 16, 16},
                                    {shape.warps(), 16, 8},
                                    {shape.warps(), 16, 8}};
    for (const auto &matrix : matrices)
      scratch.push_back(memref::AllocOp::create(
          b, loc, MemRefType::get(matrix, b.getF32Type())));
    auto batchLoop = scf::ForOp::create(b, loc, zero, gridX, one);
    b.setInsertionPointToStart(batchLoop.getBody());
    auto blockLoop = scf::ForOp::create(b, loc, zero, gridY, one);
    b.setInsertionPointToStart(blockLoop.getBody());
    KernelBuilder builder(b, loc, shape, element, scale, causal,
                          shape.threads());
    builder.emulateCopies(buffers, landings, pending);
    builder.begin(
        vector::StepOp::create(
            b, loc, VectorType::get({shape.threads()}, b.getIndexType())),
        scratch);
    body(builder, batchLoop.getInductionVar(), blockLoop.getInductionVar(),
         buffers);
    // A block's work as a function of its own (the host compiler's
    // register allocation takes minutes over all kernels in one).
    std::string name =
        freshEmulationName(batchLoop->getParentOfType<ModuleOp>(), "block");
    IRRewriter rewriter(b);
    FailureOr<func::FuncOp> outlined =
        outlineSingleBlockRegion(rewriter, loc, blockLoop.getRegion(), name);
    if (succeeded(outlined)) {
      outlined->setPrivate();
      (*outlined)->setAttr("passthrough",
                           b.getArrayAttr({b.getStringAttr("noinline")}));
    }
    b.setInsertionPointAfter(batchLoop);
    buffers.append(scratch);
    buffers.append(landings);
    buffers.append(pending);
    for (Value buffer : buffers)
      memref::DeallocOp::create(b, loc, buffer);
    return;
  }
  Value work = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, gridY, zero),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, gridX, zero));
  auto branch = scf::IfOp::create(b, loc, work, /*withElse=*/false);
  b.setInsertionPointToStart(branch.thenBlock());
  auto sharedSpace =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  SmallVector<Type> tileTypes;
  for (ArrayRef<int64_t> tileShape : tileShapes)
    tileTypes.push_back(MemRefType::get(
        tileShape, element, MemRefLayoutAttrInterface(), sharedSpace));
  // Up to 2^31 - 1 blocks in x, 65535 in y.
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, one, idx(b, loc, shape.threads()), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, tileTypes);
  b.setInsertionPointToStart(&launch.getBody().front());
  KernelBuilder builder(b, loc, shape, element, scale, causal, /*lanes=*/0);
  builder.begin(launch.getThreadIds().x);
  body(builder, launch.getBlockIds().x, launch.getBlockIds().y,
       SmallVector<Value>(launch.getWorkgroupAttributions()));
  gpu::TerminatorOp::create(b, loc);
}

/// Lowers `op` into one gpu.launch, or (`emulate`) its emulation.
LogicalResult lowerKernelOp(OpBuilder &b, GPUAttentionOp op, bool emulate) {
  Location loc = op.getLoc();
  auto queryType = cast<MemRefType>(op.getQuery().getType());
  KernelShape shape = KernelShape::attention(
      KernelKind::Forward, int64_t(op.getBlockQ()), int64_t(op.getBlockK()),
      queryType.getDimSize(queryType.getRank() - 1), op.getTf32());
  if (failed(checkFits(op, shape)))
    return failure();
  b.setInsertionPoint(op);
  KernelOperands operands = kernelOperands(b, loc, op.getQuery(), op.getKey(),
                                           op.getValue(), op.getMask());
  operands.out = collapseBatch(b, loc, op.getOutput());
  if (op.getLse())
    operands.lse = collapseBatch(b, loc, op.getLse(), /*rowsOnly=*/true);
  Value batches = memref::DimOp::create(b, loc, operands.q, 0);
  Value blocks = arith::CeilDivUIOp::create(b, loc, operands.rows,
                                            idx(b, loc, shape.blockRows));
  emitGrid(b, loc, shape, queryType.getElementType(),
           op.getScale().convertToFloat(), op.getCausal(), emulate, batches,
           blocks,
           [&](KernelBuilder &kernel, Value batch, Value block,
               ArrayRef<Value> tiles) {
             kernel.buildForward(operands, batch, block, tiles[0], tiles[1]);
           });
  op.erase();
  return success();
}

/// Lowers `op` into its two kernels (dQ and D over query blocks, then dK
/// and dV over key blocks), or (`emulate`) their emulation.
LogicalResult lowerKernelOp(OpBuilder &b, GPUAttentionGradOp op, bool emulate) {
  Location loc = op.getLoc();
  auto queryType = cast<MemRefType>(op.getQuery().getType());
  int64_t depth = queryType.getDimSize(queryType.getRank() - 1);
  int64_t blockRows = op.getBlockRows();
  KernelShape queryShape = KernelShape::attention(
      KernelKind::QueryGrad, blockRows, op.getKeyTile(), depth, op.getTf32());
  KernelShape keyShape =
      KernelShape::attention(KernelKind::KeyValueGrad, blockRows,
                             op.getQueryTile(), depth, op.getTf32());
  if (failed(checkFits(op, queryShape)) || failed(checkFits(op, keyShape)))
    return failure();
  b.setInsertionPoint(op);
  KernelOperands operands = kernelOperands(b, loc, op.getQuery(), op.getKey(),
                                           op.getValue(), op.getMask());
  operands.out = collapseBatch(b, loc, op.getOutput());
  operands.outGrad = collapseBatch(b, loc, op.getOutputGrad());
  operands.qGrad = collapseBatch(b, loc, op.getQueryGrad());
  operands.kGrad = collapseBatch(b, loc, op.getKeyGrad());
  operands.vGrad = collapseBatch(b, loc, op.getValueGrad());
  operands.lse = collapseBatch(b, loc, op.getLse(), /*rowsOnly=*/true);
  Value batches = memref::DimOp::create(b, loc, operands.q, 0);
  // D = rowsum(dO ⊙ O), from the first kernel to the second: device
  // memory (host memory in the emulation).
  auto deltaType = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                   b.getF32Type());
  Value delta =
      emulate ? memref::AllocOp::create(b, loc, deltaType,
                                        ValueRange{batches, operands.rows})
                    .getResult()
              : gpu::AllocOp::create(b, loc, deltaType, Type(), ValueRange(),
                                     ValueRange{batches, operands.rows},
                                     ValueRange(), /*hostShared=*/false)
                    .getMemref();
  operands.delta = delta;
  Type element = queryType.getElementType();
  float scale = op.getScale().convertToFloat();
  Value rowsPerBlock = idx(b, loc, blockRows);
  emitGrid(b, loc, queryShape, element, scale, op.getCausal(), emulate, batches,
           arith::CeilDivUIOp::create(b, loc, operands.rows, rowsPerBlock),
           [&](KernelBuilder &kernel, Value batch, Value block,
               ArrayRef<Value> tiles) {
             kernel.buildQueryGrad(operands, batch, block, tiles[0], tiles[1]);
           });
  emitGrid(b, loc, keyShape, element, scale, op.getCausal(), emulate, batches,
           arith::CeilDivUIOp::create(b, loc, operands.keys, rowsPerBlock),
           [&](KernelBuilder &kernel, Value batch, Value block,
               ArrayRef<Value> tiles) {
             kernel.buildKeyValueGrad(operands, batch, block, tiles[0],
                                      tiles[1]);
           });
  if (emulate)
    memref::DeallocOp::create(b, loc, delta);
  else
    gpu::DeallocOp::create(b, loc, Type(), ValueRange(), delta);
  op.erase();
  return success();
}

/// `buffer` [M, X] as [1, M, X]; a [B, M, X] buffer as it is.
Value withBatch(OpBuilder &b, Location loc, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  if (type.getRank() == 3)
    return buffer;
  SmallVector<int64_t> shape = {1};
  llvm::append_range(shape, type.getShape());
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1)};
  for (int64_t d = 0; d < 2; ++d)
    sizes.push_back(
        type.isDynamicDim(d)
            ? OpFoldResult(memref::DimOp::create(b, loc, buffer, d).getResult())
            : OpFoldResult(b.getIndexAttr(type.getDimSize(d))));
  return memref::ExpandShapeOp::create(
      b, loc, MemRefType::get(shape, type.getElementType()), buffer,
      ArrayRef<ReassociationIndices>{{0, 1}, {2}}, sizes);
}

/// Lowers `op` into one gpu.launch, or (`emulate`) its emulation: a block
/// per output tile of block_m × block_n of each batch position, all in x
/// (up to 2^31 - 1 blocks: y would limit the batch to 65535), column tiles
/// fastest (blocks that run together share the lhs rows), then row tiles,
/// then batch positions.
LogicalResult lowerKernelOp(OpBuilder &b, GPUMatmulOp op, bool emulate) {
  Location loc = op.getLoc();
  auto lhsType = cast<MemRefType>(op.getLhs().getType());
  KernelShape shape{KernelKind::Matmul,
                    int64_t(op.getBlockM()),
                    int64_t(op.getBlockK()),
                    int64_t(op.getBlockN()),
                    op.getLhsTransposed(),
                    op.getRhsTransposed(),
                    lhsType.getElementTypeBitWidth() / 8,
                    op.getTf32()};
  if (failed(checkFits(op, shape)))
    return failure();
  b.setInsertionPoint(op);
  MatmulOperands operands;
  operands.lhs = withBatch(b, loc, op.getLhs());
  operands.rhs = withBatch(b, loc, op.getRhs());
  operands.out = withBatch(b, loc, op.getOutput());
  if (op.getInit())
    operands.init = withBatch(b, loc, op.getInit());
  // (The batched views' dimensions.)
  MatmulDims dims =
      GPUMatmulOp::dims(3, shape.lhsTransposed, shape.rhsTransposed);
  operands.rows = memref::DimOp::create(b, loc, operands.lhs, dims.lhsM);
  operands.k = memref::DimOp::create(b, loc, operands.lhs, dims.lhsK);
  operands.n = memref::DimOp::create(b, loc, operands.rhs, dims.rhsN);
  operands.steps = arith::CeilDivUIOp::create(b, loc, operands.k,
                                              idx(b, loc, shape.tileRows));
  Value batches = memref::DimOp::create(b, loc, operands.lhs, 0);
  Value rowTiles = arith::CeilDivUIOp::create(b, loc, operands.rows,
                                              idx(b, loc, shape.blockRows));
  Value columnTiles =
      arith::CeilDivUIOp::create(b, loc, operands.n, idx(b, loc, shape.depth));
  Value tilesPerBatch = arith::MulIOp::create(b, loc, rowTiles, columnTiles);
  emitGrid(
      b, loc, shape, lhsType.getElementType(), /*scale=*/1.0f,
      /*causal=*/false, emulate,
      arith::MulIOp::create(b, loc, tilesPerBatch, batches), idx(b, loc, 1),
      [&](KernelBuilder &kernel, Value block, Value, ArrayRef<Value> tiles) {
        Value tile = arith::RemUIOp::create(b, loc, block, tilesPerBatch);
        kernel.buildMatmul(
            operands, arith::DivUIOp::create(b, loc, block, tilesPerBatch),
            arith::DivUIOp::create(b, loc, tile, columnTiles),
            arith::RemUIOp::create(b, loc, tile, columnTiles), tiles);
      });
  op.erase();
  return success();
}

struct MHAGPULowerTensorCoreKernelsPass final
    : mha::impl::MHAGPULowerTensorCoreKernelsPassBase<
          MHAGPULowerTensorCoreKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<GPUAttentionOp, GPUAttentionGradOp, GPUMatmulOp>(op))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    for (Operation *op : ops) {
      LogicalResult lowered =
          isa<GPUAttentionOp>(op)
              ? lowerKernelOp(b, cast<GPUAttentionOp>(op), emulate)
          : isa<GPUMatmulOp>(op)
              ? lowerKernelOp(b, cast<GPUMatmulOp>(op), emulate)
              : lowerKernelOp(b, cast<GPUAttentionGradOp>(op), emulate);
      if (failed(lowered))
        return signalPassFailure();
    }
  }
};
} // namespace
