//===- MHAInterfaces.h - MHA op interfaces ----------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the mha op interfaces (gradient rules).
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_MHAINTERFACES_H
#define MHA_DIALECT_MHA_IR_MHAINTERFACES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"

#include "mha/Dialect/MHA/IR/MHAInterfaces.h.inc"

#endif // MHA_DIALECT_MHA_IR_MHAINTERFACES_H
