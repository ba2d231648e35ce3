//===- Registration.h - Dialects and translations for the runner -*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares what a JIT driver registers before compiling a model.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_REGISTRATION_H
#define MHA_RUNNER_REGISTRATION_H

#include "mlir/IR/DialectRegistry.h"

namespace mlir {
namespace mha {

/// Adds every dialect and extension the CPU pipeline uses, the LLVM IR
/// translations, and the mha dialect to `registry`.
void registerRunnerDialects(DialectRegistry &registry);

/// Initializes the host target for JIT compilation (once; later calls do
/// nothing).
void initializeNativeTarget();

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_REGISTRATION_H
