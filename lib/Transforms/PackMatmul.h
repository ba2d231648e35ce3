//===- PackMatmul.h - Cache blocking and packing of matmuls -----*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The cache-level half of mha-tile-and-vectorize's matmul code: a matmul is
// split into panels of `blockK` reduction steps; each panel of B is copied
// once into a packed layout (column panels of `nTile` contiguous columns) and
// the rows of A are taken `blockM` at a time, so that the register-block
// loops stream contiguous memory from the caches.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_LIB_TRANSFORMS_PACKMATMUL_H
#define MHA_LIB_TRANSFORMS_PACKMATMUL_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::mha {

struct MatmulPackingOptions {
  /// Columns of a packed panel of B (the register block's columns).
  int64_t nTile = 32;
  /// Reduction steps per packed panel (the panel is blockK × nTile floats,
  /// meant to stay in L1 while a block of A's rows streams past it).
  int64_t blockK = 256;
  /// Rows of A per block (blockM × blockK floats, meant for L2).
  int64_t blockM = 128;
  /// Whether the row blocks run as an scf.forall (every core).
  bool parallel = false;
  /// Whether bf16 × bf16 → f32 matmuls use AVX-512 BF16 dot products
  /// (`x86vector.avx512.dot`) on B packed in pairs of reduction steps.
  bool bf16Dot = false;
  /// Rows of the dot products' register block (the register-block tiling's
  /// m-tile).
  int64_t mTile = 8;
};

/// Whether `op` multiplies bf16 matrices into f32 and `options` enable the
/// AVX-512 BF16 dot products (with panels a multiple of 16 columns).
bool isPairedMatmul(linalg::MatmulOp op, const MatmulPackingOptions &options);

/// Whether `op` is worth packing: f32 operands (or bf16 ones into f32 with
/// `bf16Dot`), at least one full column panel, and (when static) enough rows
/// to amortize the copy of B.
bool shouldPackMatmul(linalg::MatmulOp op, const MatmulPackingOptions &options);

/// Rewrites `op` into panel loops over packed copies of B, each full panel a
/// `linalg.matmul` of (rows of A) × [blockK, nTile] for the register-block
/// tiling to take; columns and reduction steps left over at the edges are
/// plain matmuls on slices. Replaces `op`.
LogicalResult packMatmul(RewriterBase &rewriter, linalg::MatmulOp op,
                         const MatmulPackingOptions &options);

} // namespace mlir::mha

#endif // MHA_LIB_TRANSFORMS_PACKMATMUL_H
