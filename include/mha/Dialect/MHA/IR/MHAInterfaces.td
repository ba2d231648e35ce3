//===- MHAInterfaces.td - MHA op interfaces ----------------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Interfaces of the mha dialect: the reverse-mode gradient rule each
// differentiable op carries.
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

#endif // MHA_DIALECT_MHA_IR_MHAINTERFACES_TD
