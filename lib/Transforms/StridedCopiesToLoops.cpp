//===- StridedCopiesToLoops.cpp - Copies the JIT can run without a library ===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-strided-copies-to-loops: memref.copy between
// buffers that are not both contiguous becomes linalg.copy (loops later)
// instead of a call to the C runner utilities' memrefCopy.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHASTRIDEDCOPIESTOLOOPSPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
/// Whether finalize-memref-to-llvm lowers a copy from or to `type` to a
/// memcpy intrinsic (rather than a memrefCopy call).
bool isContiguous(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && (memref.getLayout().isIdentity() ||
                    memref::isStaticShapeAndContiguousRowMajor(memref));
}

struct MHAStridedCopiesToLoopsPass final
    : mha::impl::MHAStridedCopiesToLoopsPassBase<MHAStridedCopiesToLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) {
      if (!isContiguous(copy.getSource().getType()) ||
          !isContiguous(copy.getTarget().getType()))
        copies.push_back(copy);
    });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(),
                                                  copy.getTarget());
    }
  }
};
} // namespace
