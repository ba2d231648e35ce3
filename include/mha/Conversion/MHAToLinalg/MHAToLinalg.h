//===- MHAToLinalg.h - Lower mha to linalg ----------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the patterns lowering mha compute ops to linalg.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_CONVERSION_MHATOLINALG_MHATOLINALG_H
#define MHA_CONVERSION_MHATOLINALG_MHATOLINALG_H

namespace mlir {
class RewritePatternSet;

namespace mha {

/// Adds the conversion patterns from mha compute ops (all but mha.param,
/// mha.get_param and mha.training) to linalg, tensor, arith and math. The
/// patterns produce tensors of the same types as the ops they replace.
void populateMHAToLinalgConversionPatterns(RewritePatternSet &patterns);

} // namespace mha
} // namespace mlir

#endif // MHA_CONVERSION_MHATOLINALG_MHATOLINALG_H
