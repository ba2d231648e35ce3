//===- MHADialect.h - MHA dialect declaration -------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the mha dialect class.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_MHADIALECT_H
#define MHA_DIALECT_MHA_IR_MHADIALECT_H

#include "mlir/IR/Dialect.h"

#include "mha/Dialect/MHA/IR/MHAOpsDialect.h.inc"

#endif // MHA_DIALECT_MHA_IR_MHADIALECT_H
