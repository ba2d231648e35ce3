//===- MHAInterfaces.td - MHA op interfaces ----------------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Interfaces of the mha dialect: the reverse-mode gradient rule each
// differentiable op carries, and the reference expansion of composite ops.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_MHAINTERFACES_TD
#define MHA_DIALECT_MHA_IR_MHAINTERFACES_TD

include "mlir/IR/OpBase.td"

def MHA_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::mha";
  let description = [{
    An op with a reverse-mode gradient rule, used by `mha-autodiff`. Given the
    gradients of the loss with respect to the op's results, the rule builds
    (at the builder's insertion point, after the op) the gradients with
    respect to its operands.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds the gradient of each operand from `resultGrads` (one per
        result; a null value means the result does not influence the loss).
        Appends one value per operand to `operandGrads`, null for operands
        that have no gradient (labels, masks). Emits a diagnostic and fails
        when the rule does not apply.
      }],
      "::llvm::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ValueRange":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

def MHA_DecomposableOpInterface : OpInterface<"DecomposableOpInterface"> {
  let cppNamespace = "::mlir::mha";
  let description = [{
    An op whose meaning is defined by an expansion into simpler mha ops (as
    IREE's LinalgExt attention ops carry `decomposeOperation`). The expansion
    is the op's reference semantics: `mha-decompose-attention` applies it,
    the reference lowering of `convert-mha-to-linalg` lowers it, and fused
    lowerings are tested against it.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds the expansion at the builder's insertion point and returns the
        values replacing the op's results, in order. The op itself is left in
        place.
      }],
      "::mlir::FailureOr<::llvm::SmallVector<::mlir::Value>>",
      "decomposeOperation", (ins "::mlir::OpBuilder &":$builder)>,
  ];
}

#endif // MHA_DIALECT_MHA_IR_MHAINTERFACES_TD
