//===- MHAOps.h - MHA dialect operations ------------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the operations of the mha dialect.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_MHAOPS_H
#define MHA_DIALECT_MHA_IR_MHAOPS_H

#include "mha/Dialect/MHA/IR/MHAAttrs.h"
#include "mha/Dialect/MHA/IR/MHADialect.h"
#include "mha/Dialect/MHA/IR/MHAInterfaces.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "mha/Dialect/MHA/IR/MHAOps.h.inc"

namespace mlir {
namespace mha {

/// The one definition of attention's scores, as mha ops:
/// `apply_mask(scaled_matmul(query, key, scale), mask, causal)`, i.e.
/// Q·Kᵀ·scale (scale defaulting to 1/√D, read at run time when D is
/// dynamic), a boolean mask selecting or an additive one added, and `causal`
/// excluding keys j > i. Every attention op's decomposition, gradient and
/// lowering builds its scores through this function.
Value buildAttentionScores(OpBuilder &builder, Location loc, Value query,
                           Value key, Value mask, FloatAttr scale,
                           bool causal);

} // namespace mha
} // namespace mlir

#endif // MHA_DIALECT_MHA_IR_MHAOPS_H
