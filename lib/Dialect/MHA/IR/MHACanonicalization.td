//===- MHACanonicalization.td - MHA peephole patterns ------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Declarative (DRR) canonicalization patterns of the mha dialect.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_CANONICALIZATION
#define MHA_CANONICALIZATION

include "mha/Dialect/MHA/IR/MHAOps.td"
include "mlir/IR/PatternBase.td"

def UnitScale : AttrConstraint<CPred<
    "$_self && ::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() == 1.0">,
    "scale 1.0">;
def IsSet : AttrConstraint<CPred<"static_cast<bool>($_self)">, "set">;

// scaled_matmul(a, b) untransposed {scale = 1.0} -> matmul(a, b)
def ScaledMatmulWithUnitScaleToMatmul : Pat<
    (MHA_ScaledMatmulOp $lhs, $rhs, IsSet:$t, UnitScale:$s),
    (MHA_MatmulOp $lhs, $rhs)>;

#endif // MHA_CANONICALIZATION
