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
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"

namespace mlir {
namespace mha {
/// The dimensions of M, K and N in a matrix product's operands
/// (mha.gpu_matmul: the lhs's M and K, the rhs's K and N).
struct MatmulDims {
  int64_t lhsM, lhsK, rhsK, rhsN;
};
} // namespace mha
} // namespace mlir

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

/// Builds an `OpTy` (an op inferring its result types) from `args` as its
/// inferring builder would, or returns null, building and reporting
/// nothing, when the types cannot be inferred. For rewrites that build ops
/// from values they matched but whose types they did not check: the
/// inferring builder ends the process on such operands.
template <typename OpTy, typename... Args>
OpTy createIfInferable(OpBuilder &builder, Location loc, Args &&...args) {
  OperationState state(loc, OpTy::getOperationName());
  OpTy::build(builder, state, TypeRange(), std::forward<Args>(args)...);
  SmallVector<Type> types;
  MLIRContext *context = builder.getContext();
  if (failed(OpTy::inferReturnTypes(
          context, std::nullopt, state.operands,
          state.attributes.getDictionary(context), state.getRawProperties(),
          state.regions, types)))
    return nullptr;
  state.addTypes(types);
  return cast<OpTy>(builder.create(state));
}

} // namespace mha
} // namespace mlir

#endif // MHA_DIALECT_MHA_IR_MHAOPS_H
