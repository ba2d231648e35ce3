//===- OnlineAttention.cpp - The tiled form of attention ------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// mha.online_attention: its verifier and its TilingInterface, over the
// iteration space [batch..., Sq, Sk]. A tile is the same op on slices of its
// operands: queries and the running state sliced by batch position and
// query range, keys, values by key range (batch dimensions of size 1 read
// at 0, as broadcasting does), the mask by both, and the offsets moved by
// the tile's start so that `causal` compares absolute positions.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::mha;

namespace {
bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Dimension indices of the key's depth and length.
std::pair<int64_t, int64_t> keyDims(OnlineAttentionOp op) {
  int64_t nb = op.getNumBatchDims();
  return op.getKeyTransposed() ? std::make_pair(nb, nb + 1)
                               : std::make_pair(nb + 1, nb);
}
} // namespace

LogicalResult OnlineAttentionOp::verify() {
  RankedTensorType q = getQuery().getType(), k = getKey().getType(),
                   v = getValue().getType(), acc = getAcc().getType(),
                   max = getMax().getType(), sum = getSum().getType();
  int64_t rank = q.getRank();
  if (rank < 2)
    return emitOpError("expects a query of rank at least 2, got ") << rank;
  if (k.getRank() != rank || v.getRank() != rank || acc.getRank() != rank)
    return emitOpError("expects key, value and acc of the query's rank ")
           << rank;
  if (max.getRank() != rank - 1 || sum.getRank() != rank - 1)
    return emitOpError("expects max and sum of rank ") << rank - 1;
  int64_t nb = rank - 2;
  auto [kDepth, kLength] = keyDims(*this);
  if (!compatible(q.getDimSize(nb + 1), k.getDimSize(kDepth)))
    return emitOpError("query depth ")
           << q.getDimSize(nb + 1) << " differs from the key depth "
           << k.getDimSize(kDepth);
  if (!compatible(k.getDimSize(kLength), v.getDimSize(nb)))
    return emitOpError("key length ")
           << k.getDimSize(kLength) << " differs from the value length "
           << v.getDimSize(nb);
  for (int64_t d = 0; d < nb; ++d) {
    for (auto [name, type] : {std::pair<StringRef, RankedTensorType>{"key", k},
                              {"value", v}})
      if (type.getDimSize(d) != 1 &&
          !compatible(type.getDimSize(d), q.getDimSize(d)))
        return emitOpError("batch dimension ")
               << d << " of the " << name << " is " << type.getDimSize(d)
               << ", expected 1 or the query's " << q.getDimSize(d);
    for (RankedTensorType state : {acc, max, sum})
      if (!compatible(state.getDimSize(d), q.getDimSize(d)))
        return emitOpError("batch dimension ")
               << d << " of the running state differs from the query's";
  }
  for (RankedTensorType state : {acc, max, sum})
    if (!compatible(state.getDimSize(nb), q.getDimSize(nb)))
      return emitOpError("the running state has ")
             << state.getDimSize(nb) << " rows, the query "
             << q.getDimSize(nb);
  if (!compatible(acc.getDimSize(nb + 1), v.getDimSize(nb + 1)))
    return emitOpError("acc has ") << acc.getDimSize(nb + 1)
                                   << " columns, the value depth is "
                                   << v.getDimSize(nb + 1);
  if (Value mask = getMask()) {
    auto m = cast<RankedTensorType>(mask.getType());
    if (m.getRank() > rank)
      return emitOpError("mask of rank ")
             << m.getRank() << " does not broadcast to the scores' rank "
             << rank;
    int64_t lead = rank - m.getRank();
    for (int64_t t = 0; t < m.getRank(); ++t) {
      int64_t d = t + lead;
      int64_t target = d < nb        ? q.getDimSize(d)
                       : d == nb     ? q.getDimSize(nb)
                                     : k.getDimSize(kLength);
      if (m.getDimSize(t) != 1 && !compatible(m.getDimSize(t), target))
        return emitOpError("mask dimension ")
               << t << " is " << m.getDimSize(t)
               << ", expected 1 or the scores' " << target;
    }
  }
  return success();
}

SmallVector<utils::IteratorType> OnlineAttentionOp::getLoopIteratorTypes() {
  SmallVector<utils::IteratorType> types(getNumBatchDims() + 1,
                                         utils::IteratorType::parallel);
  types.push_back(utils::IteratorType::reduction);
  return types;
}

SmallVector<Range> OnlineAttentionOp::getIterationDomain(OpBuilder &b) {
  Location loc = getLoc();
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  SmallVector<Range> domain;
  for (int64_t d = 0; d <= getNumBatchDims(); ++d)
    domain.push_back({zero, tensor::getMixedSize(b, loc, getQuery(), d), one});
  domain.push_back(
      {zero, tensor::getMixedSize(b, loc, getKey(), keyDims(*this).second),
       one});
  return domain;
}

namespace {
/// A rank-preserving slice of `source` given per-dimension offsets and sizes.
Value sliceOf(OpBuilder &b, Location loc, Value source,
              ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, source, offsets, sizes,
                                        strides);
}

/// Offsets and sizes of the tile of `value` (key or value, or acc/max/sum
/// when `keyRange` is null): batch dimensions of static size 1 read at 0,
/// the others at the tile's batch position; `rowDim` takes `rows`; the
/// remaining dimensions whole.
void batchedRegion(OpBuilder &b, Location loc, Value value, int64_t nb,
                   ArrayRef<OpFoldResult> offsets,
                   ArrayRef<OpFoldResult> sizes,
                   SmallVectorImpl<OpFoldResult> &outOffsets,
                   SmallVectorImpl<OpFoldResult> &outSizes) {
  auto type = cast<RankedTensorType>(value.getType());
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (d < nb && type.getDimSize(d) == 1) {
      outOffsets.push_back(b.getIndexAttr(0));
      outSizes.push_back(b.getIndexAttr(1));
    } else if (d < nb) {
      outOffsets.push_back(offsets[d]);
      outSizes.push_back(sizes[d]);
    } else {
      outOffsets.push_back(b.getIndexAttr(0));
      outSizes.push_back(tensor::getMixedSize(b, loc, value, d));
    }
  }
}
} // namespace

FailureOr<TilingResult>
OnlineAttentionOp::getTiledImplementation(OpBuilder &b,
                                          ArrayRef<OpFoldResult> offsets,
                                          ArrayRef<OpFoldResult> sizes) {
  Location loc = getLoc();
  int64_t nb = getNumBatchDims();
  OpFoldResult qOffset = offsets[nb], qSize = sizes[nb];
  OpFoldResult kOffset = offsets[nb + 1], kSize = sizes[nb + 1];
  auto [kDepth, kLength] = keyDims(*this);
  SmallVector<Operation *> slices;
  auto take = [&](Value source, SmallVector<OpFoldResult> off,
                  SmallVector<OpFoldResult> sz) {
    Value slice = sliceOf(b, loc, source, off, sz);
    slices.push_back(slice.getDefiningOp());
    return slice;
  };
  // Queries and the running state: the tile's batch position and rows.
  auto rowsOf = [&](Value value) {
    SmallVector<OpFoldResult> off, sz;
    batchedRegion(b, loc, value, nb, offsets, sizes, off, sz);
    off[nb] = qOffset;
    sz[nb] = qSize;
    return take(value, off, sz);
  };
  // Keys and values: the tile's key range.
  auto keysOf = [&](Value value, int64_t lengthDim) {
    SmallVector<OpFoldResult> off, sz;
    batchedRegion(b, loc, value, nb, offsets, sizes, off, sz);
    off[lengthDim] = kOffset;
    sz[lengthDim] = kSize;
    return take(value, off, sz);
  };
  Value query = rowsOf(getQuery());
  Value key = keysOf(getKey(), kLength);
  Value value = keysOf(getValue(), nb);
  Value mask;
  if (Value fullMask = getMask()) {
    auto type = cast<RankedTensorType>(fullMask.getType());
    int64_t lead = nb + 2 - type.getRank();
    SmallVector<OpFoldResult> off, sz;
    for (int64_t t = 0; t < type.getRank(); ++t) {
      int64_t d = t + lead;
      if (type.getDimSize(t) == 1) {
        off.push_back(b.getIndexAttr(0));
        sz.push_back(b.getIndexAttr(1));
      } else {
        off.push_back(offsets[d]);
        sz.push_back(sizes[d]);
      }
    }
    mask = take(fullMask, off, sz);
  }
  Value acc = rowsOf(getAcc()), max = rowsOf(getMax()), sum = rowsOf(getSum());
  AffineExpr s0 = b.getAffineSymbolExpr(0), s1 = b.getAffineSymbolExpr(1);
  auto shifted = [&](Value base, OpFoldResult by) {
    return getValueOrCreateConstantIndexOp(
        b, loc,
        affine::makeComposedFoldedAffineApply(b, loc, s0 + s1, {base, by}));
  };
  auto tiled = OnlineAttentionOp::create(
      b, loc, TypeRange{acc.getType(), max.getType(), sum.getType()}, query,
      key, value, shifted(getQueryOffset(), qOffset),
      shifted(getKeyOffset(), kOffset), getScale(), acc, max, sum, mask,
      getCausalAttr(), getKeyTransposedAttr());
  return TilingResult{{tiled.getOperation()},
                      SmallVector<Value>(tiled->getResults()), slices};
}

LogicalResult OnlineAttentionOp::getResultTilePosition(
    OpBuilder &b, unsigned resultNumber, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  int64_t nb = getNumBatchDims();
  resultOffsets.assign(offsets.begin(), offsets.begin() + nb + 1);
  resultSizes.assign(sizes.begin(), sizes.begin() + nb + 1);
  if (resultNumber == 0) { // acc: every column
    resultOffsets.push_back(b.getIndexAttr(0));
    resultSizes.push_back(
        tensor::getMixedSize(b, getLoc(), getAcc(), nb + 1));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// GPUAttentionOp
//===----------------------------------------------------------------------===//

namespace {
/// A buffer of mha.gpu_attention or mha.gpu_attention_grad, by name.
using NamedBuffer = std::pair<StringRef, Value>;
} // namespace

/// The checks mha.gpu_attention and mha.gpu_attention_grad share: the
/// f16/bf16 buffers with rows of queries (the query first) and of keys (the
/// key first), of one rank, element type, batch sizes and static depth, a
/// multiple of 16, identity layouts; `lse` (if any) [B..., Sq]; the mask's
/// broadcast to [B..., Sq, Sk].
static LogicalResult verifyAttentionBuffers(Operation *op,
                                            ArrayRef<NamedBuffer> queryRows,
                                            ArrayRef<NamedBuffer> keyRows,
                                            Value lse, Value mask) {
  auto q = cast<MemRefType>(queryRows[0].second.getType());
  auto key = cast<MemRefType>(keyRows[0].second.getType());
  int64_t rank = q.getRank();
  if (rank < 3)
    return op->emitOpError("expects buffers of rank 3 or more (batch "
                           "dimensions, then rows and depth), got rank ")
           << rank;
  auto compatible = [](int64_t x, int64_t y) {
    return ShapedType::isDynamic(x) || ShapedType::isDynamic(y) || x == y;
  };
  for (auto [buffers, rowsOf] : {std::pair(queryRows, queryRows[0]),
                                 std::pair(keyRows, keyRows[0])}) {
    for (auto [name, buffer] : buffers) {
      auto type = cast<MemRefType>(buffer.getType());
      if (type.getRank() != rank)
        return op->emitOpError("expects the ")
               << name << " buffer to have the query's rank " << rank
               << ", got " << type.getRank();
      if (type.getElementType() != q.getElementType())
        return op->emitOpError("expects the ")
               << name << " buffer's elements to be the query's "
               << q.getElementType() << ", got " << type.getElementType();
      if (!type.getLayout().isIdentity())
        return op->emitOpError("expects the ")
               << name << " buffer to have the identity layout, got " << type;
      for (int64_t d = 0; d < rank - 2; ++d)
        if (!compatible(type.getDimSize(d), q.getDimSize(d)))
          return op->emitOpError("expects the ")
                 << name << " buffer's batch dimension " << d << " to be "
                 << q.getDimSize(d) << " like the query's, got "
                 << type.getDimSize(d);
      int64_t depth = type.getDimSize(rank - 1);
      if (ShapedType::isDynamic(depth) || depth % 16 != 0 || depth <= 0)
        return op->emitOpError("expects a static depth that is a positive "
                               "multiple of 16 (the tensor cores' k), got ")
               << (ShapedType::isDynamic(depth) ? std::string("?")
                                                : std::to_string(depth))
               << " in the " << name << " buffer";
      if (depth != q.getDimSize(rank - 1))
        return op->emitOpError("expects every buffer's depth to be the "
                               "query's ")
               << q.getDimSize(rank - 1) << ", got " << depth << " in the "
               << name << " buffer";
      int64_t rows = type.getDimSize(rank - 2),
              want = cast<MemRefType>(rowsOf.second.getType())
                         .getDimSize(rank - 2);
      if (!compatible(rows, want))
        return op->emitOpError("expects the ")
               << name << " buffer to have the " << rowsOf.first << "'s "
               << want << " rows, got " << rows;
    }
  }
  if (lse) {
    auto type = cast<MemRefType>(lse.getType());
    if (type.getRank() != rank - 1 || !type.getLayout().isIdentity())
      return op->emitOpError("expects the lse buffer to have rank ")
             << rank - 1 << " and the identity layout, got " << type;
    for (int64_t d = 0; d < rank - 1; ++d)
      if (!compatible(type.getDimSize(d), q.getDimSize(d)))
        return op->emitOpError("expects the lse buffer's dimension ")
               << d << " to be " << q.getDimSize(d)
               << " like the query's, got " << type.getDimSize(d);
  }
  if (mask) {
    auto type = cast<MemRefType>(mask.getType());
    int64_t maskRank = type.getRank();
    if (maskRank > rank || !type.getLayout().isIdentity())
      return op->emitOpError("expects a mask buffer of rank at most ")
             << rank << " with the identity layout, got " << type;
    // The scores' sizes [B..., Sq, Sk], the mask's aligned to the right.
    SmallVector<int64_t> scores(q.getShape().drop_back());
    scores.push_back(key.getDimSize(rank - 2));
    for (int64_t d = 0; d < maskRank; ++d) {
      int64_t size = type.getDimSize(d), want = scores[rank - maskRank + d];
      if (size != 1 && !compatible(size, want))
        return op->emitOpError("expects mask dimension ")
               << d << " to be 1 or the scores' " << want << ", got " << size;
    }
  }
  return success();
}

/// Checks a kernel's tile attribute: a multiple of 16 in [16, `max`].
static LogicalResult verifyTile(Operation *op, StringRef name, int64_t tile,
                                int64_t max) {
  if (tile <= 0 || tile % 16 != 0 || tile > max)
    return op->emitOpError("expects ")
           << name << " to be a multiple of 16 in [16, " << max << "], got "
           << tile;
  return success();
}

/// The tensor-core attention kernels' element types: f32 operands
/// (`query`'s, the others checked equal to it) only on their TF32 roundings
/// (the kernels have no f32 products), and TF32 only of f32 ones.
static LogicalResult verifyTf32(Operation *op, Value query, bool tf32) {
  Type element = cast<MemRefType>(query.getType()).getElementType();
  if (tf32 && !element.isF32())
    return op->emitOpError("expects f32 buffers with tf32 (TF32 roundings of "
                           "f32 operands), got ")
           << element;
  if (!tf32 && element.isF32())
    return op->emitOpError("expects f16 or bf16 buffers, or f32 ones with "
                           "tf32 (the kernels compute on tensor cores), got "
                           "f32");
  return success();
}

LogicalResult GPUAttentionOp::verify() {
  if (failed(verifyAttentionBuffers(
          *this, {{"query", getQuery()}, {"output", getOutput()}},
          {{"key", getKey()}, {"value", getValue()}}, getLse(), getMask())))
    return failure();
  if (failed(verifyTf32(*this, getQuery(), getTf32())))
    return failure();
  // (A block is 16 rows a warp: at most 32 warps.)
  if (failed(verifyTile(*this, "block_q", getBlockQ(), 512)))
    return failure();
  return verifyTile(*this, "block_k", getBlockK(), 1024);
}

//===----------------------------------------------------------------------===//
// GPUAttentionGradOp
//===----------------------------------------------------------------------===//

LogicalResult GPUAttentionGradOp::verify() {
  if (failed(verifyAttentionBuffers(*this,
                                    {{"query", getQuery()},
                                     {"output", getOutput()},
                                     {"output_grad", getOutputGrad()},
                                     {"query_grad", getQueryGrad()}},
                                    {{"key", getKey()},
                                     {"value", getValue()},
                                     {"key_grad", getKeyGrad()},
                                     {"value_grad", getValueGrad()}},
                                    getLse(), getMask())) ||
      failed(verifyTf32(*this, getQuery(), getTf32())))
    return failure();
  if (failed(verifyTile(*this, "block_rows", getBlockRows(), 512)) ||
      failed(verifyTile(*this, "key_tile", getKeyTile(), 1024)))
    return failure();
  return verifyTile(*this, "query_tile", getQueryTile(), 1024);
}

//===----------------------------------------------------------------------===//
// GPUMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult GPUMatmulOp::verify() {
  auto lhs = cast<MemRefType>(getLhs().getType());
  auto rhs = cast<MemRefType>(getRhs().getType());
  auto output = cast<MemRefType>(getOutput().getType());
  int64_t rank = lhs.getRank();
  if (rank != 2 && rank != 3)
    return emitOpError("expects matrices or a batch of them (rank 2 or 3), "
                       "got an lhs of rank ")
           << rank;
  SmallVector<std::pair<StringRef, MemRefType>> buffers = {
      {"lhs", lhs}, {"rhs", rhs}, {"output", output}};
  if (Value init = getInit())
    buffers.push_back({"init", cast<MemRefType>(init.getType())});
  for (auto [name, type] : buffers) {
    if (type.getRank() != rank)
      return emitOpError("expects the ")
             << name << " buffer to have the lhs's rank " << rank << ", got "
             << type.getRank();
    if (!type.getLayout().isIdentity())
      return emitOpError("expects the ")
             << name << " buffer to have the identity layout, got " << type;
  }
  if (rhs.getElementType() != lhs.getElementType())
    return emitOpError("expects the rhs's elements to be the lhs's ")
           << lhs.getElementType() << ", got " << rhs.getElementType();
  auto compatible = [](int64_t x, int64_t y) {
    return ShapedType::isDynamic(x) || ShapedType::isDynamic(y) || x == y;
  };
  MatmulDims dims =
      GPUMatmulOp::dims(rank, getLhsTransposed(), getRhsTransposed());
  int64_t rows = rank - 2, columns = rank - 1;
  bool lhsT = getLhsTransposed(), rhsT = getRhsTransposed();
  StringRef lhsName = lhsT ? "transposed lhs" : "lhs",
            rhsName = rhsT ? "transposed rhs" : "rhs";
  // (name, size, name, size) pairs that must agree: K, M, N, the batch.
  struct Agreement {
    std::string what;
    int64_t x, y;
  };
  auto side = [&](int64_t d) {
    return std::string(d == rank - 2 ? "rows" : "columns");
  };
  SmallVector<Agreement> agreements = {
      {"the " + rhsName.str() + "'s " + side(dims.rhsK) + " to be the " +
           lhsName.str() + "'s " + side(dims.lhsK),
       rhs.getDimSize(dims.rhsK), lhs.getDimSize(dims.lhsK)},
      {std::string("the output's rows to be the ") +
           (lhsT ? "transposed lhs's columns" : "lhs's"),
       output.getDimSize(rows), lhs.getDimSize(dims.lhsM)},
      {std::string("the output's columns to be the ") +
           (rhsT ? "transposed rhs's rows" : "rhs's"),
       output.getDimSize(columns), rhs.getDimSize(dims.rhsN)}};
  if (rank == 3) {
    agreements.push_back({"the rhs's batch size to be the lhs's",
                          rhs.getDimSize(0), lhs.getDimSize(0)});
    agreements.push_back({"the output's batch size to be the lhs's",
                          output.getDimSize(0), lhs.getDimSize(0)});
  }
  if (Value init = getInit())
    if (cast<MemRefType>(init.getType()).getShape() != output.getShape())
      return emitOpError("expects the init buffer to have the output's "
                         "shape, got ")
             << init.getType();
  for (const Agreement &agreement : agreements)
    if (!compatible(agreement.x, agreement.y))
      return emitOpError("expects ") << agreement.what << ", got "
                                     << agreement.x << " and " << agreement.y;
  // Rows are copied 16 bytes at a time, outputs stored in groups.
  int64_t multiple = rowMultiple(lhs.getElementType());
  std::string lhsRows = std::string(lhsT ? "M" : "K") + " (the " +
                        lhsName.str() + "'s columns)",
              rhsRows = std::string(rhsT ? "K" : "N") + " (the " +
                        rhsName.str() + "'s columns)";
  for (auto [what, size] :
       {std::pair(StringRef(lhsRows), lhs.getDimSize(columns)),
        std::pair(StringRef(rhsRows), rhs.getDimSize(columns)),
        std::pair(StringRef("N (the output's columns)"),
                  output.getDimSize(columns))})
    if (!ShapedType::isDynamic(size) && size % multiple != 0)
      return emitOpError("expects ")
             << what << " to be a multiple of " << multiple
             << " (rows copied 16 bytes at a time), got " << size;
  if (failed(verifyTile(*this, "block_m", getBlockM(), 512)) ||
      failed(verifyTile(*this, "block_n", getBlockN(), 256)))
    return failure();
  if (getTf32() && !lhs.getElementType().isF32())
    return emitOpError("expects f32 operands with tf32 (TF32 rounds f32 "
                       "ones), got ")
           << lhs.getElementType();
  if (lhs.getElementType().isF32() && !getTf32()) {
    // 16 × 16 threads, each with 4-row and 4-column groups of outputs.
    for (auto [name, tile] :
         {std::pair("block_m", getBlockM()), std::pair("block_n", getBlockN())})
      if (tile % 64 != 0)
        return emitOpError("expects ")
               << name
               << " of f32 operands to be a multiple of 64 (16 threads "
                  "of groups of 4), got "
               << tile;
    if (getBlockK() <= 0 || getBlockK() % 4 != 0 || getBlockK() > 64)
      return emitOpError("expects block_k of f32 operands to be a multiple "
                         "of 4 in [4, 64], got ")
             << getBlockK();
    return success();
  }
  if (getBlockM() % 32 != 0)
    return emitOpError("expects block_m to be a multiple of 32 (32 rows a "
                       "warp), got ")
           << getBlockM();
  // mma.sync m16n8k8 on TF32 operands: 8 of K an instruction.
  if (getTf32() &&
      (getBlockK() <= 0 || getBlockK() % 8 != 0 || getBlockK() > 64))
    return emitOpError("expects block_k with tf32 to be a multiple of 8 in "
                       "[8, 64], got ")
           << getBlockK();
  return getTf32() ? success() : verifyTile(*this, "block_k", getBlockK(), 256);
}
