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
// * mha-gpu-lower-attention-kernels: mha.gpu_attention becomes one
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
#include "mlir/IR/Matchers.h"

#include <cmath>

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAGPUATTENTIONKERNELOPSPASS
#define GEN_PASS_DEF_MHAGPULOWERATTENTIONKERNELSPASS
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
/// Elements each shared-memory row is padded by: rows then start 16 bytes
/// apart modulo 128, so the 8 groups of a warp reading a B fragment hit
/// different banks.
constexpr int64_t kRowPadding = 8;
/// Elements one thread copies per load (16 bytes of f16/bf16).
constexpr int64_t kCopyWidth = 8;

/// The kernel's tiles and what they need of the GPU.
struct KernelShape {
  int64_t blockQ, blockK, depth;
  int64_t warps() const { return blockQ / 16; }
  int64_t threads() const { return 32 * warps(); }
  int64_t sharedBytes() const { return 2 * blockK * (depth + kRowPadding) * 2; }
  /// 32-bit registers of a thread, estimated from what stays live: the
  /// output accumulators (depth/2), the query's fragments (depth/4), the
  /// scores and their rounded fragments (3·blockK/4), and 32 for indices,
  /// addresses and loads in flight. Against ptxas for sm_80 (CUDA 13,
  /// blocks of 64 and 128 queries): 93-255 registers measured for depths
  /// 64, 128 and 256 and tiles of 16-128 keys; the only tiles that spilled
  /// (depth 256 with 64 or 128 keys: 4 and 428-496 bytes) are the only
  /// ones this puts above 255. ptxas decides; this refuses tiles that
  /// would spill.
  static int64_t registersFor(int64_t depth, int64_t blockK) {
    return 3 * depth / 4 + 3 * blockK / 4 + 32;
  }
  int64_t registers() const { return registersFor(depth, blockK); }
  bool fits() const {
    return sharedBytes() <= kMaxSharedBytes && registers() <= kMaxRegisters;
  }
  /// The largest tile of keys (64, 32 or 16) that fits at `depth`, or 0.
  static int64_t derivedBlockK(int64_t blockQ, int64_t depth) {
    for (int64_t blockK : {64, 32, 16})
      if (KernelShape{blockQ, blockK, depth}.fits())
        return blockK;
    return 0;
  }
};

/// Why the tensor-core kernel cannot compute `op` (mha.attention or
/// mha.attention_with_lse), or "" when it can.
template <typename OpTy>
std::string ineligibility(OpTy op, int64_t blockQ, int64_t blockK) {
  auto q = cast<RankedTensorType>(op.getQuery().getType());
  auto k = cast<RankedTensorType>(op.getKey().getType());
  auto v = cast<RankedTensorType>(op.getValue().getType());
  Type element = q.getElementType();
  if (!element.isF16() && !element.isBF16())
    return "its operands are not f16 or bf16";
  if (k.getElementType() != element || v.getElementType() != element ||
      cast<RankedTensorType>(op.getResult().getType()).getElementType() !=
          element)
    return "its operands' element types differ";
  int64_t rank = q.getRank();
  if (rank < 3 || k.getRank() != rank || v.getRank() != rank)
    return "it has no batch dimension, or operands of different ranks";
  int64_t depth = q.getDimSize(rank - 1);
  if (ShapedType::isDynamic(depth) || depth % 16 != 0 ||
      k.getDimSize(rank - 1) != depth || v.getDimSize(rank - 1) != depth)
    return "its depths are not one static multiple of 16";
  // Derived tiles: none fits this depth (given ones are checked when the
  // kernel is built, and refused there with the reason).
  if (!blockK && !KernelShape::derivedBlockK(blockQ, depth))
    return "no tile of keys fits its depth in shared memory and registers";
  return "";
}

/// The identity-layout buffer type of `type`.
MemRefType bufferType(RankedTensorType type) {
  return MemRefType::get(type.getShape(), type.getElementType());
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
  if (!blockK)
    blockK = KernelShape::derivedBlockK(blockQ, depth);
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

  auto readOnly = [&](Value tensor) {
    return bufferization::ToBufferOp::create(
        b, loc, bufferType(tensorType(tensor)), tensor, /*read_only=*/true);
  };
  Value qBuffer = readOnly(q), kBuffer = readOnly(k), vBuffer = readOnly(v);
  Value maskBuffer = op.getMask() ? readOnly(op.getMask()) : Value();
  SmallVector<Value> outputs;
  for (Value result : op->getResults())
    outputs.push_back(
        allocLike(b, loc, cast<RankedTensorType>(result.getType()), q));
  GPUAttentionOp::create(b, loc, qBuffer, kBuffer, vBuffer, outputs[0],
                         outputs.size() > 1 ? outputs[1] : Value(),
                         maskBuffer, b.getF32FloatAttr(scale.getValueAsDouble()),
                         op.getCausal() ? b.getUnitAttr() : UnitAttr(),
                         b.getI64IntegerAttr(blockQ),
                         b.getI64IntegerAttr(blockK));
  for (auto [result, buffer] : llvm::zip(op->getResults(), outputs))
    result.replaceAllUsesWith(bufferization::ToTensorOp::create(
        b, loc, result.getType(), buffer, /*restrict=*/true,
        /*writable=*/true));
  op.erase();
}

struct MHAGPUAttentionKernelOpsPass final
    : mha::impl::MHAGPUAttentionKernelOpsPassBase<
          MHAGPUAttentionKernelOpsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (auto attention = dyn_cast<AttentionOp>(op);
          attention && ineligibility(attention, blockQ, blockK).empty())
        ops.push_back(op);
      if (auto attention = dyn_cast<AttentionWithLSEOp>(op);
          attention && ineligibility(attention, blockQ, blockK).empty())
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    for (Operation *op : ops) {
      if (auto attention = dyn_cast<AttentionOp>(op))
        toKernelOp(b, attention, blockQ, blockK);
      else
        toKernelOp(b, cast<AttentionWithLSEOp>(op), blockQ, blockK);
    }
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// mha-gpu-lower-attention-kernels
//===----------------------------------------------------------------------===//

namespace {
/// An index constant.
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

/// An operand register of mma.sync: two f16/bf16 elements (packed into one
/// 32-bit register only at the mma).
using Pair = std::pair<Value, Value>;
/// A thread's part of an mma.sync operand: A 4 pairs, B 2.
using Operand = SmallVector<Pair, 4>;
/// A thread's part of an accumulator: 4 f32 values.
using Accumulator = SmallVector<Value, 4>;

/// The buffers and sizes a kernel works on: the collapsed [B, S, D]
/// buffers, and Sq and Sk (uniform values, index).
struct KernelOperands {
  Value q, k, v, out, lse, rows, keys;
  /// The mask as one dimension, the batch sizes of the query (to split
  /// a block's batch position), and the mask's strides along the scores'
  /// batch dimensions, rows and keys (0 where it broadcasts); uniform.
  Value mask;
  SmallVector<Value> batchSizes, maskBatchStrides;
  Value maskRowStride, maskKeyStride;
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

  /// The kernel's work for block (`batch`, `queryBlock`) (uniform index
  /// values), by thread `thread` (the thread id, or in the emulation the
  /// lanes' ids), with the key and value tiles in `kShared` and `vShared`;
  /// the emulation also takes its scratch matrices for mma.sync.
  void build(const KernelOperands &operands, Value batch, Value queryBlock,
             Value thread, Value kShared, Value vShared,
             ArrayRef<Value> scratch = {});

private:
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
  /// Emulated: the elements of the one-dimensional `buffer` at the lanes'
  /// `positions`. A loop over the lanes through the staging buffers, not a
  /// vector.gather: the host compiler would unroll that into one basic
  /// block of `lanes` loads, and hundreds of those blocks' scheduling
  /// takes it minutes.
  Value gatherLanes(Value buffer, Value positions) {
    Type type = cast<MemRefType>(buffer.getType()).getElementType();
    Value staged = type.isF32() ? scratch[5] : scratch[4];
    Value zero = idx(b, loc, 0);
    vector::StoreOp::create(b, loc, positions, scratch[3], ValueRange{zero});
    forLanes([&](Value lane) {
      Value position = memref::LoadOp::create(b, loc, scratch[3], lane);
      Value x = memref::LoadOp::create(b, loc, buffer, position);
      memref::StoreOp::create(b, loc, x, staged, lane);
    });
    return vector::LoadOp::create(b, loc, VectorType::get({lanes}, type),
                                  staged, ValueRange{zero});
  }
  /// The mask's element at per-thread `position` of its one-dimensional
  /// view: as stored on the GPU; emulated, floats as f32 and booleans as
  /// i1 (maskScore takes either).
  Value loadMask(Value mask, Value position) {
    if (!lanes)
      return memref::LoadOp::create(b, loc, mask, position);
    Type type = cast<MemRefType>(mask.getType()).getElementType();
    Value zero = idx(b, loc, 0);
    vector::StoreOp::create(b, loc, position, scratch[3], ValueRange{zero});
    forLanes([&](Value lane) {
      Value at = memref::LoadOp::create(b, loc, scratch[3], lane);
      Value x = memref::LoadOp::create(b, loc, mask, at);
      if (type.isInteger(1))
        x = arith::UIToFPOp::create(b, loc, b.getF32Type(), x);
      else if (!type.isF32())
        x = arith::ExtFOp::create(b, loc, b.getF32Type(), x);
      memref::StoreOp::create(b, loc, x, scratch[5], lane);
    });
    Value values = vector::LoadOp::create(
        b, loc, VectorType::get({lanes}, b.getF32Type()), scratch[5],
        ValueRange{zero});
    if (!type.isInteger(1))
      return values;
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, values,
                                 f32(0.0f));
  }
  /// Emulated: stores the lanes' `values` at their `positions` of the
  /// one-dimensional `buffer` where `mask` holds (null: everywhere).
  void scatterLanes(Value buffer, Value positions, Value values, Value mask) {
    Type type = cast<MemRefType>(buffer.getType()).getElementType();
    Value staged = type.isF32() ? scratch[5] : scratch[4];
    Value zero = idx(b, loc, 0);
    vector::StoreOp::create(b, loc, positions, scratch[3], ValueRange{zero});
    vector::StoreOp::create(b, loc, values, staged, ValueRange{zero});
    // (As bytes: a vector of i1 is stored as packed bits.)
    Value bytes = arith::ExtUIOp::create(
        b, loc, VectorType::get({lanes}, b.getI8Type()),
        mask ? mask : allLanes());
    vector::StoreOp::create(b, loc, bytes, scratch[6], ValueRange{zero});
    forLanes([&](Value lane) {
      Value active = arith::TruncIOp::create(
          b, loc, b.getI1Type(),
          memref::LoadOp::create(b, loc, scratch[6], lane));
      auto branch = scf::IfOp::create(b, loc, active, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(branch.thenBlock());
      Value position = memref::LoadOp::create(b, loc, scratch[3], lane);
      Value x = memref::LoadOp::create(b, loc, staged, lane);
      memref::StoreOp::create(b, loc, x, buffer, position);
    });
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

  /// Two consecutive elements of `buffer` at `indices` (the second one
  /// column further): on the GPU one 4-byte load.
  Pair loadPair(Value buffer, ArrayRef<Value> indices) {
    if (lanes) {
      SmallVector<Value> next(indices);
      next.back() = add(next.back(), c(1));
      return {load(buffer, indices), load(buffer, next)};
    }
    auto pair = vector::LoadOp::create(
        b, loc, VectorType::get({2}, element), buffer, indices);
    pair.setAlignment(4);
    return {vector::ExtractOp::create(b, loc, pair, ArrayRef<int64_t>{0}),
            vector::ExtractOp::create(b, loc, pair, ArrayRef<int64_t>{1})};
  }
  /// Stores `pair` at `indices` and the next column where `mask` holds.
  void storePair(Pair pair, Value buffer, ArrayRef<Value> indices,
                 Value mask) {
    if (lanes) {
      SmallVector<Value> next(indices);
      next.back() = add(next.back(), c(1));
      store(pair.first, buffer, indices, mask);
      store(pair.second, buffer, next, mask);
      return;
    }
    auto branch = scf::IfOp::create(b, loc, mask, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(branch.thenBlock());
    Value packed = vector::FromElementsOp::create(
        b, loc, VectorType::get({2}, element),
        ValueRange{pair.first, pair.second});
    auto store = vector::StoreOp::create(b, loc, packed, buffer, indices);
    store.setAlignment(4);
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

  /// `acc` + A·B (m16n8k16, row-major A, column-major B, f32 accumulators).
  Accumulator mma(const Operand &a, const Operand &bOperand,
                  const Accumulator &acc);
  Accumulator emulatedMma(const Operand &a, const Operand &bOperand,
                          const Accumulator &acc);
  Accumulator emulatedMmaBody(const Operand &a, const Operand &bOperand,
                              const Accumulator &acc);

  /// The copy of the tile of `blockK` rows from key row `first` of batch
  /// position `batch` of `source` into `shared` (zeros past `keys`).
  void copyTile(Value source, Value shared, Value batch, Value first,
                Value keys, Value thread);

  OpBuilder &b;
  Location loc;
  const KernelShape &shape;
  Type element;
  float scale, scaleLog2;
  bool causal;
  int64_t lanes;
  /// The emulation's buffers: the matrices of an mma, A [warps, 16, 16],
  /// B [warps, 16, 8], C [warps, 16, 8] (f32), then the staging buffers of
  /// the lanes' loads and stores (positions, f16/bf16 values, f32 values,
  /// mask bytes); and the lanes' warp, group and thread in group.
  SmallVector<Value> scratch;
  Value warp, group, inGroup;
};

Accumulator KernelBuilder::mma(const Operand &a, const Operand &bOperand,
                               const Accumulator &acc) {
  if (lanes)
    return emulatedMma(a, bOperand, acc);
  // One 32-bit register per pair: f16 pairs as vector<2xf16> (NVVM's
  // f16x2), bf16 pairs as i32.
  auto registers = [&](const Operand &operand) {
    SmallVector<Value> values;
    for (auto [x, y] : operand) {
      Value pair = vector::FromElementsOp::create(
          b, loc, VectorType::get({2}, element), ValueRange{x, y});
      if (element.isBF16()) {
        Value word = vector::BitCastOp::create(
            b, loc, VectorType::get({1}, b.getI32Type()), pair);
        pair = vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
      }
      values.push_back(pair);
    }
    return values;
  };
  Type f32Type = b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {f32Type, f32Type, f32Type, f32Type});
  NVVM::MMATypes ptx =
      element.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  Value result = NVVM::MmaOp::create(
      b, loc, resultType, registers(a), registers(bOperand), acc,
      ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{ptx, ptx},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  Accumulator d;
  for (int64_t j = 0; j < 4; ++j)
    d.push_back(LLVM::ExtractValueOp::create(b, loc, result, j));
  return d;
}

Accumulator KernelBuilder::emulatedMma(const Operand &a,
                                       const Operand &bOperand,
                                       const Accumulator &acc) {
  // One function per module and element type, called for every mma (the
  // kernel makes hundreds; inlined, they would take the host compiler
  // minutes).
  auto module = b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  auto halfLanes = VectorType::get({lanes}, element);
  auto f32Lanes = VectorType::get({lanes}, b.getF32Type());
  std::string name = "__mha_emulated_mma_" +
                     std::string(element.isBF16() ? "bf16" : "f16") + "_" +
                     std::to_string(lanes);
  auto callee = module.lookupSymbol<func::FuncOp>(name);
  if (!callee) {
    SmallVector<Type> inputs(12, halfLanes);
    inputs.append(4, f32Lanes);
    for (Value matrix : scratch)
      inputs.push_back(matrix.getType());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    callee = func::FuncOp::create(
        b, loc, name,
        b.getFunctionType(inputs, SmallVector<Type>(4, f32Lanes)));
    callee.setPrivate();
    Block *entry = callee.addEntryBlock();
    b.setInsertionPointToStart(entry);
    ValueRange args = entry->getArguments();
    Operand aArgs, bArgs;
    for (int64_t r = 0; r < 4; ++r)
      aArgs.push_back({args[2 * r], args[2 * r + 1]});
    for (int64_t r = 0; r < 2; ++r)
      bArgs.push_back({args[8 + 2 * r], args[8 + 2 * r + 1]});
    Accumulator cArgs(args.begin() + 12, args.begin() + 16);
    // The function's own lane indices.
    Value savedWarp = warp, savedGroup = group, savedInGroup = inGroup;
    SmallVector<Value> savedScratch = scratch;
    Value thread = vector::StepOp::create(
        b, loc, VectorType::get({lanes}, b.getIndexType()));
    warp = arith::DivUIOp::create(b, loc, thread, c(32));
    Value lane = arith::RemUIOp::create(b, loc, thread, c(32));
    group = arith::DivUIOp::create(b, loc, lane, c(4));
    inGroup = arith::RemUIOp::create(b, loc, lane, c(4));
    scratch.assign(args.begin() + 16, args.end());
    Accumulator d = emulatedMmaBody(aArgs, bArgs, cArgs);
    func::ReturnOp::create(b, loc, d);
    warp = savedWarp, group = savedGroup, inGroup = savedInGroup;
    scratch = savedScratch;
  }
  SmallVector<Value> operands;
  for (auto [x, y] : a)
    operands.append({x, y});
  for (auto [x, y] : bOperand)
    operands.append({x, y});
  operands.append(acc.begin(), acc.end());
  operands.append(scratch.begin(), scratch.end());
  auto call = func::CallOp::create(b, loc, callee, operands);
  return Accumulator(call.getResults().begin(), call.getResults().end());
}

Accumulator KernelBuilder::emulatedMmaBody(const Operand &a,
                                           const Operand &bOperand,
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
  // Which element of which matrix each lane holds (PTX ISA, mma.m16n8k16):
  // A register r, element e: row g + 8·(r % 2), column 2t + 8·(r / 2) + e;
  // B register r, element e: row 2t + 8r + e, column g; C value j: row
  // g + 8·(j / 2), column 2t + j % 2.
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t e = 0; e < 2; ++e)
      put(scratch[0],
          at(scratch[0], add(group, c(8 * (r % 2))),
             add(twoT, c(8 * (r / 2) + e))),
          e ? a[r].second : a[r].first);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t e = 0; e < 2; ++e)
      put(scratch[1], at(scratch[1], add(twoT, c(8 * r + e)), group),
          e ? bOperand[r].second : bOperand[r].first);
  SmallVector<Value> cPositions;
  for (int64_t j = 0; j < 4; ++j) {
    cPositions.push_back(
        at(scratch[2], add(group, c(8 * (j / 2))), add(twoT, c(j % 2))));
    put(scratch[2], cPositions.back(), acc[j]);
  }
  // C += A·B for every warp, in f32.
  Value one = idx(b, loc, 1);
  forEach(shape.warps(), [&](Value w) {
    forEach(16, [&](Value i) {
      forEach(8, [&](Value n) {
        Value sum = memref::LoadOp::create(b, loc, scratch[2],
                                           ValueRange{w, i, n});
        auto kLoop = scf::ForOp::create(
            b, loc, zero, idx(b, loc, 16), one, ValueRange{sum},
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

void KernelBuilder::copyTile(Value source, Value shared, Value batch,
                             Value first, Value keys, Value thread) {
  int64_t chunksPerRow = shape.depth / kCopyWidth;
  int64_t chunks = shape.blockK * chunksPerRow;
  Value lastKey = arith::SubIOp::create(b, loc, keys, c(1));
  for (int64_t start = 0; start < chunks; start += shape.threads()) {
    Value chunk = add(thread, c(start));
    // The last round may have fewer chunks than threads.
    Value active;
    if (start + shape.threads() > chunks)
      active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, chunk,
                                     c(chunks));
    auto copy = [&] {
      Value row = arith::DivUIOp::create(b, loc, chunk, c(chunksPerRow));
      Value column = mul(arith::RemUIOp::create(b, loc, chunk, c(chunksPerRow)),
                         c(kCopyWidth));
      Value key = add(first, row);
      Value inRange =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, key, keys);
      // A row past the last key reads the last one (in bounds) and stores
      // zeros: no branch around the load.
      Value clamped = arith::MinUIOp::create(b, loc, key, lastKey);
      if (lanes) {
        Value zeros = arith::ConstantOp::create(
            b, loc, VectorType::get({lanes}, element),
            DenseElementsAttr::get(VectorType::get({lanes}, element),
                                   b.getZeroAttr(element)));
        for (int64_t e = 0; e < kCopyWidth; ++e) {
          Value data = load(source, {batch, clamped, add(column, c(e))});
          data = arith::SelectOp::create(b, loc, inRange, data, zeros);
          store(data, shared, {row, add(column, c(e))}, active);
        }
        return;
      }
      // 16 bytes a load and a store.
      auto chunkType = VectorType::get({kCopyWidth}, element);
      Value zeros = arith::ConstantOp::create(
          b, loc, chunkType,
          DenseElementsAttr::get(chunkType, b.getZeroAttr(element)));
      auto load = vector::LoadOp::create(b, loc, chunkType, source,
                                         ValueRange{batch, clamped, column});
      load.setAlignment(16);
      Value data = arith::SelectOp::create(b, loc, inRange, load, zeros);
      auto store = vector::StoreOp::create(b, loc, data, shared,
                                           ValueRange{row, column});
      store.setAlignment(16);
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

void KernelBuilder::build(const KernelOperands &operands, Value batchIndex,
                          Value queryBlockIndex, Value thread, Value kShared,
                          Value vShared, ArrayRef<Value> scratchMatrices) {
  scratch.assign(scratchMatrices.begin(), scratchMatrices.end());
  Value q = operands.q, k = operands.k, v = operands.v, out = operands.out;
  Value rows = perThread(operands.rows), keys = perThread(operands.keys);
  Value batch = perThread(batchIndex);
  Value queryBlock = perThread(queryBlockIndex);
  warp = arith::DivUIOp::create(b, loc, thread, c(32));
  Value lane = arith::RemUIOp::create(b, loc, thread, c(32));
  group = arith::DivUIOp::create(b, loc, lane, c(4));
  inGroup = arith::RemUIOp::create(b, loc, lane, c(4));
  Value twoT = mul(inGroup, c(2));
  // The thread's two query rows, and the same clamped into the buffer (a
  // row past the last computes on the last one's data and is not stored).
  Value firstRow = add(mul(queryBlock, c(shape.blockQ)), mul(warp, c(16)));
  Value row[2] = {add(firstRow, group), add(firstRow, add(group, c(8)))};
  Value lastRow = arith::SubIOp::create(b, loc, rows, c(1));
  Value clampedRow[2] = {arith::MinUIOp::create(b, loc, row[0], lastRow),
                         arith::MinUIOp::create(b, loc, row[1], lastRow)};
  // The mask's rows of this block's batch position: its offset from the
  // position's indices (the last batch dimension fastest), then each row's.
  Value maskRow[2];
  if (operands.mask) {
    Value offset = idx(b, loc, 0), rest = batchIndex;
    for (int64_t d = operands.batchSizes.size() - 1; d >= 0; --d) {
      Value index =
          arith::RemUIOp::create(b, loc, rest, operands.batchSizes[d]);
      rest = arith::DivUIOp::create(b, loc, rest, operands.batchSizes[d]);
      offset = arith::AddIOp::create(
          b, loc, offset,
          arith::MulIOp::create(b, loc, index, operands.maskBatchStrides[d]));
    }
    for (int64_t i = 0; i < 2; ++i)
      maskRow[i] = add(perThread(offset),
                       mul(clampedRow[i], perThread(operands.maskRowStride)));
  }

  // The query's A fragments, one per 16 columns of depth, for the whole
  // kernel: pair r holds row r % 2, columns 2t + 8·(r / 2) and the next.
  int64_t depthSteps = shape.depth / 16;
  SmallVector<Operand> queryFragments;
  for (int64_t kk = 0; kk < depthSteps; ++kk) {
    Operand fragment;
    for (int64_t r = 0; r < 4; ++r)
      fragment.push_back(loadPair(
          q, {batch, clampedRow[r % 2], add(twoT, c(16 * kk + 8 * (r / 2)))}));
    queryFragments.push_back(fragment);
  }

  // Key tiles (a uniform count): all of them, or (causal) up to the one
  // holding the block's last row's key.
  Value tileKeys = idx(b, loc, shape.blockK);
  Value tiles = arith::CeilDivUIOp::create(b, loc, operands.keys, tileKeys);
  if (causal) {
    Value visible = arith::MulIOp::create(
        b, loc, arith::AddIOp::create(b, loc, queryBlockIndex, idx(b, loc, 1)),
        idx(b, loc, shape.blockQ));
    tiles = arith::MinUIOp::create(
        b, loc, tiles, arith::CeilDivUIOp::create(b, loc, visible, tileKeys));
  }

  Value negInf = f32(-std::numeric_limits<float>::infinity());
  Value zeroF = f32(0.0f);
  int64_t outputTiles = shape.depth / 8;
  // Loop state: max and (this thread's partial) sum of each row, then the
  // output's accumulators (4 per 8 columns: row 0 columns 2t, 2t+1, row 1
  // the same).
  SmallVector<Value> init = {negInf, negInf, zeroF, zeroF};
  init.append(4 * outputTiles, zeroF);
  auto loop = scf::ForOp::create(b, loc, idx(b, loc, 0), tiles,
                                 idx(b, loc, 1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = perThread(loop.getInductionVar());
    ValueRange state = loop.getRegionIterArgs();
    Value firstKey = mul(tile, c(shape.blockK));
    // The previous tile's readers are done; stage this one.
    if (!lanes)
      gpu::BarrierOp::create(b, loc);
    copyTile(k, kShared, batch, firstKey, keys, thread);
    copyTile(v, vShared, batch, firstKey, keys, thread);
    if (!lanes)
      gpu::BarrierOp::create(b, loc);

    // Scores: one accumulator per 8 keys, in the base-2 domain
    // (scale·log2 e folded in), masked to -inf past the last key and
    // (causal) after the row. B fragment of 8 keys: pair r holds key row
    // g, depth columns 2t + 8r and the next, contiguous in the tile's row.
    int64_t keySteps = shape.blockK / 8;
    SmallVector<Accumulator> scores; // [n][2·row + e]
    // (A mask's elements of keys past the last are read at the last key.)
    Value lastKey = arith::SubIOp::create(b, loc, keys, c(1));
    Value scaleValue = f32(scaleLog2);
    for (int64_t n = 0; n < keySteps; ++n) {
      Accumulator acc(4, zeroF);
      Value keyRow = add(group, c(8 * n));
      for (int64_t kk = 0; kk < depthSteps; ++kk) {
        Operand keyFragment;
        for (int64_t r = 0; r < 2; ++r)
          keyFragment.push_back(
              loadPair(kShared, {keyRow, add(twoT, c(16 * kk + 8 * r))}));
        acc = mma(queryFragments[kk], keyFragment, acc);
      }
      Accumulator values;
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t e = 0; e < 2; ++e) {
          Value key = add(firstKey, add(twoT, c(8 * n + e)));
          Value s;
          if (operands.mask) {
            // The mask as mha.attention applies it (maskScore), to the
            // natural score; then to the base-2 domain. A key past the
            // last reads the last one's element (in bounds; masked below).
            Value position =
                add(maskRow[i], mul(arith::MinUIOp::create(b, loc, key, lastKey),
                                    perThread(operands.maskKeyStride)));
            s = arith::MulFOp::create(b, loc, acc[2 * i + e], f32(scale));
            s = maskScore(b, loc, s, loadMask(operands.mask, position),
                          Value(), Value(), /*causal=*/false);
            s = arith::MulFOp::create(b, loc, s, f32(float(M_LOG2E)));
          } else {
            s = arith::MulFOp::create(b, loc, acc[2 * i + e], scaleValue);
          }
          Value visible = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, key, keys);
          if (causal)
            visible = arith::AndIOp::create(
                b, loc, visible,
                arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, key,
                                      row[i]));
          values.push_back(
              arith::SelectOp::create(b, loc, visible, s, negInf));
        }
      scores.push_back(values);
    }

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
      Value unseen = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                           mNew, negInf);
      auto exp2 = [&](Value x) {
        Value e = math::Exp2Op::create(
            b, loc, arith::SubFOp::create(b, loc, x, mNew));
        return arith::SelectOp::create(b, loc, unseen, zeroF, e).getResult();
      };
      alpha[i] = exp2(m);
      Value sum = arith::MulFOp::create(b, loc, state[2 + i], alpha[i]);
      for (int64_t n = 0; n < keySteps; ++n)
        for (int64_t e = 0; e < 2; ++e) {
          Value p = exp2(scores[n][2 * i + e]);
          scores[n][2 * i + e] = p;
          sum = arith::AddFOp::create(b, loc, sum, p);
        }
      next[i] = mNew;
      next[2 + i] = sum;
    }
    // The probabilities, rounded to the operands' type, as A fragments of
    // 16 keys (two score tiles): pair r holds row r % 2 of tile r / 2.
    SmallVector<Operand> probabilities;
    for (int64_t kk = 0; kk < keySteps / 2; ++kk) {
      Operand fragment;
      for (int64_t r = 0; r < 4; ++r) {
        const Accumulator &tileScores = scores[2 * kk + r / 2];
        int64_t i = r % 2;
        fragment.push_back(
            {arith::TruncFOp::create(b, loc, halfType(), tileScores[2 * i]),
             arith::TruncFOp::create(b, loc, halfType(),
                                     tileScores[2 * i + 1])});
      }
      probabilities.push_back(fragment);
    }
    // acc = α·acc + P·V, an accumulator per 8 columns of the output. B
    // fragment of 16 keys: pair r holds keys 2t + 8r and the next of
    // column g (a column of the value tile: two 16-bit loads).
    for (int64_t nd = 0; nd < outputTiles; ++nd) {
      Accumulator acc;
      for (int64_t j = 0; j < 4; ++j)
        acc.push_back(arith::MulFOp::create(b, loc, state[4 + 4 * nd + j],
                                            alpha[j / 2]));
      Value column = add(group, c(8 * nd));
      for (int64_t kk = 0; kk < keySteps / 2; ++kk) {
        Operand valueFragment;
        for (int64_t r = 0; r < 2; ++r) {
          Value key = add(twoT, c(16 * kk + 8 * r));
          valueFragment.push_back({load(vShared, {key, column}),
                                   load(vShared, {add(key, c(1)), column})});
        }
        acc = mma(probabilities[kk], valueFragment, acc);
      }
      for (int64_t j = 0; j < 4; ++j)
        next[4 + 4 * nd + j] = acc[j];
    }
    scf::YieldOp::create(b, loc, next);
  }

  // The output: each row divided by its sum (across the row's four
  // threads), zeros for a row that saw no key, stored in the operands'
  // type.
  for (int64_t i = 0; i < 2; ++i) {
    Value sum = acrossRow(loop.getResult(2 + i), false);
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                           sum, zeroF);
    Value inverse = arith::SelectOp::create(
        b, loc, positive, arith::DivFOp::create(b, loc, f32(1.0f), sum), zeroF);
    Value inRange =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row[i], rows);
    for (int64_t nd = 0; nd < outputTiles; ++nd) {
      Value pair[2];
      for (int64_t e = 0; e < 2; ++e)
        pair[e] = arith::TruncFOp::create(
            b, loc, halfType(),
            arith::MulFOp::create(b, loc, loop.getResult(4 + 4 * nd + 2 * i + e),
                                  inverse));
      storePair({pair[0], pair[1]}, out,
                {batch, row[i], add(twoT, c(8 * nd))}, inRange);
    }
    // The log-sum-exp (natural): the maximum back from the base-2 domain
    // plus log of the sum; -inf for a row that saw no key. One thread of
    // the row's four stores it.
    if (operands.lse) {
      Value lse = arith::AddFOp::create(
          b, loc,
          arith::MulFOp::create(b, loc, loop.getResult(i), f32(float(M_LN2))),
          math::LogOp::create(b, loc, sum));
      lse = arith::SelectOp::create(
          b, loc, positive, lse, f32(-std::numeric_limits<float>::infinity()));
      Value first = arith::AndIOp::create(
          b, loc, inRange,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, inGroup,
                                c(0)));
      store(lse, operands.lse, {batch, row[i]}, first);
    }
  }
}

/// Lowers `op` into one gpu.launch, or (`emulate`) into loops over the
/// blocks on the host that run each block's threads as vector lanes.
LogicalResult lowerKernelOp(OpBuilder &b, GPUAttentionOp op, bool emulate) {
  Location loc = op.getLoc();
  auto queryType = cast<MemRefType>(op.getQuery().getType());
  Type element = queryType.getElementType();
  int64_t rank = queryType.getRank();
  KernelShape shape{int64_t(op.getBlockQ()), int64_t(op.getBlockK()),
                    queryType.getDimSize(rank - 1)};
  if (shape.sharedBytes() > kMaxSharedBytes)
    return op.emitOpError("tiles of ")
           << shape.blockQ << " queries x " << shape.blockK
           << " keys at depth " << shape.depth << " need "
           << shape.sharedBytes()
           << " bytes of shared memory for the key and value tiles, more "
              "than a block's "
           << kMaxSharedBytes << "; use a smaller block-k";
  if (shape.registers() > kMaxRegisters) {
    InFlightDiagnostic diagnostic = op.emitOpError("tiles of ")
           << shape.blockQ << " queries x " << shape.blockK
           << " keys at depth " << shape.depth << " need about "
           << shape.registers() << " registers per thread, more than the "
           << kMaxRegisters << " a thread has; ";
    if (KernelShape::registersFor(shape.depth, 16) > kMaxRegisters)
      diagnostic << "the depth is too large for this kernel";
    else
      diagnostic << "use a smaller block-k";
    return diagnostic;
  }

  b.setInsertionPoint(op);
  KernelOperands operands;
  operands.q = collapseBatch(b, loc, op.getQuery());
  operands.k = collapseBatch(b, loc, op.getKey());
  operands.v = collapseBatch(b, loc, op.getValue());
  operands.out = collapseBatch(b, loc, op.getOutput());
  if (op.getLse())
    operands.lse = collapseBatch(b, loc, op.getLse(), /*rowsOnly=*/true);
  if (Value mask = op.getMask()) {
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
      operands.batchSizes.push_back(
          memref::DimOp::create(b, loc, op.getQuery(), d));
      operands.maskBatchStrides.push_back(strides[d]);
    }
    operands.maskRowStride = strides[rank - 2];
    operands.maskKeyStride = strides[rank - 1];
  }
  Value batches = memref::DimOp::create(b, loc, operands.q, 0);
  operands.rows = memref::DimOp::create(b, loc, operands.q, 1);
  operands.keys = memref::DimOp::create(b, loc, operands.k, 1);
  Value zero = idx(b, loc, 0), one = idx(b, loc, 1);
  Value queryBlocks = arith::CeilDivUIOp::create(
      b, loc, operands.rows, idx(b, loc, shape.blockQ));
  float scale = op.getScale().convertToFloat();
  auto tileShape = SmallVector<int64_t>{shape.blockK, shape.depth + kRowPadding};

  if (emulate) {
    // The tiles and the mma's matrices as host buffers; the grid's blocks
    // in sequence, each block's threads as the lanes of vectors.
    auto tileType = MemRefType::get(tileShape, element);
    Value kShared = memref::AllocOp::create(b, loc, tileType);
    Value vShared = memref::AllocOp::create(b, loc, tileType);
    SmallVector<Value> scratch;
    const int64_t matrices[3][3] = {{shape.warps(), 16, 16},
                                    {shape.warps(), 16, 8},
                                    {shape.warps(), 16, 8}};
    for (const auto &matrix : matrices)
      scratch.push_back(memref::AllocOp::create(
          b, loc, MemRefType::get(matrix, b.getF32Type())));
    // Staging buffers of the lanes' loads and stores: positions, values
    // (f16/bf16 and f32), mask (bytes).
    for (Type type : {Type(b.getIndexType()), element, Type(b.getF32Type()),
                      Type(b.getI8Type())})
      scratch.push_back(memref::AllocOp::create(
          b, loc, MemRefType::get({shape.threads()}, type)));
    auto batchLoop = scf::ForOp::create(b, loc, zero, batches, one);
    b.setInsertionPointToStart(batchLoop.getBody());
    auto blockLoop = scf::ForOp::create(b, loc, zero, queryBlocks, one);
    b.setInsertionPointToStart(blockLoop.getBody());
    Value lanes = vector::StepOp::create(
        b, loc, VectorType::get({shape.threads()}, b.getIndexType()));
    KernelBuilder(b, loc, shape, element, scale, op.getCausal(),
                  shape.threads())
        .build(operands, batchLoop.getInductionVar(),
               blockLoop.getInductionVar(), lanes, kShared, vShared, scratch);
    b.setInsertionPointAfter(batchLoop);
    for (Value buffer : {kShared, vShared})
      memref::DeallocOp::create(b, loc, buffer);
    for (Value buffer : scratch)
      memref::DeallocOp::create(b, loc, buffer);
    op.erase();
    return success();
  }

  // No launch for an empty grid (a CUDA error).
  Value work = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, operands.rows,
                            zero),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, batches, zero));
  auto branch = scf::IfOp::create(b, loc, work, /*withElse=*/false);
  b.setInsertionPointToStart(branch.thenBlock());
  auto sharedSpace =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto tileType = MemRefType::get(tileShape, element,
                                  MemRefLayoutAttrInterface(), sharedSpace);
  // Batch positions in x (up to 2^31 - 1 blocks), query blocks in y (up to
  // 65535).
  auto launch = gpu::LaunchOp::create(
      b, loc, batches, queryBlocks, one, idx(b, loc, shape.threads()), one,
      one, /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, TypeRange{tileType, tileType});
  b.setInsertionPointToStart(&launch.getBody().front());
  KernelBuilder(b, loc, shape, element, scale, op.getCausal(),
                /*lanes=*/0)
      .build(operands, launch.getBlockIds().x, launch.getBlockIds().y,
             launch.getThreadIds().x, launch.getWorkgroupAttributions()[0],
             launch.getWorkgroupAttributions()[1]);
  gpu::TerminatorOp::create(b, loc);
  op.erase();
  return success();
}

struct MHAGPULowerAttentionKernelsPass final
    : mha::impl::MHAGPULowerAttentionKernelsPassBase<
          MHAGPULowerAttentionKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<GPUAttentionOp> ops;
    getOperation().walk([&](GPUAttentionOp op) { ops.push_back(op); });
    OpBuilder b(&getContext());
    for (GPUAttentionOp op : ops)
      if (failed(lowerKernelOp(b, op, emulate)))
        return signalPassFailure();
  }
};
} // namespace
