//===- ShapeUtils.h - Shape rules shared by MHA ops -------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the small shape algebra the mha dialect's verifiers and
// type inference share: joining two views of one dimension, NumPy-style
// broadcasting with dynamic dimensions, and axis normalization. The rules are
// stated in the dialect description (docs/Dialects/MHADialect.md).
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_SHAPEUTILS_H
#define MHA_DIALECT_MHA_IR_SHAPEUTILS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <optional>
#include <string>

namespace mlir {
namespace mha {

/// Joins two sizes that must describe the same dimension: a static size wins
/// over a dynamic one. Returns std::nullopt when both are static and differ.
std::optional<int64_t> joinDims(int64_t a, int64_t b);

/// Broadcasts two shapes under NumPy's rule (trailing alignment; equal sizes
/// or a size of 1 are compatible). A dynamic size is compatible with any
/// size: against N > 1 it gives N, otherwise it stays dynamic. Returns
/// std::nullopt when two static sizes other than 1 differ.
std::optional<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);

/// True when `shape` broadcasts to `target` without changing `target`: the
/// rank does not exceed the target's and every size is 1, equal, or dynamic.
bool broadcastsTo(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> target);

/// Maps an axis in [-rank, rank) to [0, rank). Returns std::nullopt when it
/// is out of range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

/// Formats a shape as it appears in a tensor type, e.g. "?x8x64".
std::string shapeToString(llvm::ArrayRef<int64_t> shape);

} // namespace mha
} // namespace mlir

#endif // MHA_DIALECT_MHA_IR_SHAPEUTILS_H
