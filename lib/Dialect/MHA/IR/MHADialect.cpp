//===- MHADialect.cpp - MHA dialect ---------------------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the mha dialect's registration of its operations and
// attributes.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHADialect.h"
#include "mha/Dialect/MHA/IR/MHAAttrs.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"

using namespace mlir;
using namespace mlir::mha;

#include "mha/Dialect/MHA/IR/MHAOpsDialect.cpp.inc"

void MHADialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "mha/Dialect/MHA/IR/MHAOps.cpp.inc"
      >();
  registerAttributes();
}
