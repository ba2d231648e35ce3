//===- RowLoops.h - Rows as vectors in the per-row attention loops -*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The vector operations the per-row forms of attention share
// (mha-online-attention-to-loops, mha-attention-grad-to-loops): a row of a
// tensor read as an f32 vector (a GPU thread's registers), the dot product
// of two rows, and row += x · other row.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_LIB_CONVERSION_MHATOLINALG_ROWLOOPS_H
#define MHA_LIB_CONVERSION_MHATOLINALG_ROWLOOPS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir {
namespace mha {
namespace detail {

/// The `length` elements of `source` from `indices` along its innermost
/// dimension (in bounds), as an f32 vector (f16/bf16 extended).
inline Value readRowF32(OpBuilder &b, Location loc, Value source,
                        ValueRange indices, int64_t length) {
  Type element = cast<ShapedType>(source.getType()).getElementType();
  Value padding = arith::ConstantOp::create(b, loc, b.getZeroAttr(element));
  Value row = vector::TransferReadOp::create(
      b, loc, VectorType::get({length}, element), source, indices, padding,
      ArrayRef<bool>{true});
  if (element.isF32())
    return row;
  return arith::ExtFOp::create(b, loc,
                               VectorType::get({length}, b.getF32Type()), row);
}

/// x·y of two f32 row vectors, summed in any order (a tree: the sum's
/// rounding is not the sequential one's).
inline Value rowDot(OpBuilder &b, Location loc, Value x, Value y) {
  auto fastmath = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                     arith::MulFOp::create(b, loc, x, y),
                                     Value(), fastmath);
}

/// acc + x·row, x a scalar, acc and row f32 vectors.
inline Value rowAxpy(OpBuilder &b, Location loc, Value x, Value row,
                     Value acc) {
  auto type = cast<VectorType>(acc.getType());
  return vector::FMAOp::create(b, loc,
                               vector::BroadcastOp::create(b, loc, type, x),
                               row, acc);
}

/// The element of `mask` (broadcastable to [batch..., Sq, Sk], `rank`
/// dimensions) for query `i` and key `j` at batch position `batch` (one
/// index per batch dimension): broadcast dimensions are read at `zero`.
inline SmallVector<Value> maskIndices(Value mask, int64_t rank,
                                      ValueRange batch, Value i, Value j,
                                      Value zero) {
  auto type = cast<ShapedType>(mask.getType());
  SmallVector<Value> indices;
  for (int64_t t = 0; t < type.getRank(); ++t) {
    int64_t d = t + rank - type.getRank();
    if (type.getDimSize(t) == 1)
      indices.push_back(zero);
    else if (d < rank - 2)
      indices.push_back(batch[d]);
    else
      indices.push_back(d == rank - 2 ? i : j);
  }
  return indices;
}

} // namespace detail
} // namespace mha
} // namespace mlir

#endif // MHA_LIB_CONVERSION_MHATOLINALG_ROWLOOPS_H
