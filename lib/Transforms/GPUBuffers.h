//===- GPUBuffers.h - Which buffer a value is a view of ---------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// A helper the GPU passes share: where the memory behind a buffer value was
// allocated (device or host), through the views and casts of it.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_LIB_TRANSFORMS_GPUBUFFERS_H
#define MHA_LIB_TRANSFORMS_GPUBUFFERS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir {
namespace mha {

/// The buffer `buffer` is a view or cast of (itself when it is neither): an
/// allocation's result, a constant, a block argument or a call's result.
inline Value rootBuffer(Value buffer) {
  while (Operation *def = buffer.getDefiningOp()) {
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      buffer = cast.getSource();
      continue;
    }
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      break;
    buffer = view.getViewSource();
  }
  return buffer;
}

} // namespace mha
} // namespace mlir

#endif // MHA_LIB_TRANSFORMS_GPUBUFFERS_H
