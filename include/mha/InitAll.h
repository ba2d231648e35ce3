//===- InitAll.h - Register every mha dialect and pass ----------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// One place that lists what the mha project contributes to a registry, so
// mha-opt, mha-run and tests register the same things.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_INITALL_H
#define MHA_INITALL_H

#include "mha/Dialect/MHA/IR/MHADialect.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"

namespace mlir {
namespace mha {

/// Adds the mha project's dialects to `registry`.
inline void registerAllMHADialects(DialectRegistry &registry) {
  registry.insert<MHADialect>();
}

/// Registers the mha project's passes with the global pass registry.
inline void registerAllMHAPasses() { registerMHAPasses(); }

} // namespace mha
} // namespace mlir

#endif // MHA_INITALL_H
