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

#include "mlir/Transforms/InliningUtils.h"

using namespace mlir;
using namespace mlir::mha;

#include "mha/Dialect/MHA/IR/MHAOpsDialect.cpp.inc"

namespace {
/// Every mha op is a pure computation on its operands (mha.get_param reads a
/// module-level symbol, which stays visible after inlining), so calls to
/// functions made of them can be inlined, as mha-autodiff requires.
struct MHAInlinerInterface final : DialectInlinerInterface {
  using DialectInlinerInterface::DialectInlinerInterface;

  bool isLegalToInline(Operation *, Region *, bool,
                       IRMapping &) const override {
    return true;
  }
};
} // namespace

void MHADialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "mha/Dialect/MHA/IR/MHAOps.cpp.inc"
      >();
  registerAttributes();
  addInterfaces<MHAInlinerInterface>();
}

LogicalResult MHADialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                   unsigned argIndex,
                                                   NamedAttribute attr) {
  // The name tools record for an argument (mha/Support/ArgumentNames.h).
  if (attr.getName() == "mha.name") {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitError("expects 'mha.name' of argument #")
             << argIndex << " to be a string, got " << attr.getValue();
    return success();
  }
  return success();
}
