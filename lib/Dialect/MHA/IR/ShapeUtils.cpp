//===- ShapeUtils.cpp - Shape rules shared by MHA ops ---------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the shape algebra declared in ShapeUtils.h.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/ShapeUtils.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"

using namespace mlir;

std::optional<int64_t> mha::joinDims(int64_t a, int64_t b) {
  if (ShapedType::isDynamic(a))
    return b;
  if (ShapedType::isDynamic(b) || a == b)
    return a;
  return std::nullopt;
}

std::optional<llvm::SmallVector<int64_t>>
mha::broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  llvm::SmallVector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align at the trailing dimension; missing leading dimensions count as 1.
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x == y) {
      result[i] = x;
    } else if (x == 1) {
      result[i] = y;
    } else if (y == 1) {
      result[i] = x;
    } else if (ShapedType::isDynamic(x)) {
      result[i] = y;
    } else if (ShapedType::isDynamic(y)) {
      result[i] = x;
    } else {
      return std::nullopt;
    }
  }
  return result;
}

bool mha::broadcastsTo(llvm::ArrayRef<int64_t> shape,
                       llvm::ArrayRef<int64_t> target) {
  if (shape.size() > target.size())
    return false;
  size_t offset = target.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t s = shape[i], t = target[i + offset];
    if (s != 1 && s != t && !ShapedType::isDynamic(s) &&
        !ShapedType::isDynamic(t))
      return false;
  }
  return true;
}

std::optional<int64_t> mha::normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

std::string mha::shapeToString(llvm::ArrayRef<int64_t> shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += 'x';
    s += ShapedType::isDynamic(shape[i]) ? "?" : std::to_string(shape[i]);
  }
  return s;
}
