//===- MHAAttrs.h - MHA enums and attributes --------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the enums and attributes of the mha dialect.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_MHAATTRS_H
#define MHA_DIALECT_MHA_IR_MHAATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "mha/Dialect/MHA/IR/MHAEnums.h.inc"

namespace mlir {
namespace mha {
namespace detail {
/// Parses a number (integer or float literal) into an f64 FloatAttr.
FailureOr<FloatAttr> parseF64(AsmParser &parser);
/// Prints an f64 FloatAttr as a bare number, in the shortest form that
/// parses back to the same double.
void printF64(AsmPrinter &printer, FloatAttr value);
} // namespace detail
} // namespace mha
} // namespace mlir

#define GET_ATTRDEF_CLASSES
#include "mha/Dialect/MHA/IR/MHAAttrs.h.inc"

#endif // MHA_DIALECT_MHA_IR_MHAATTRS_H
