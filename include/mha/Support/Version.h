//===- Version.h - mha's version, for --version -----------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The one place the tools get their --version text from.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_SUPPORT_VERSION_H
#define MHA_SUPPORT_VERSION_H

#include "llvm/Support/raw_ostream.h"

namespace mlir {
namespace mha {

/// mha's version (CMake's PROJECT_VERSION).
const char *getVersion();

/// Prints "<tool> (mha <version>)" and the LLVM/MLIR version mha was built
/// with: the --version printer of mha-opt, mha-run and mha-lsp-server.
void printVersion(llvm::raw_ostream &os, llvm::StringRef tool);

} // namespace mha
} // namespace mlir

#endif // MHA_SUPPORT_VERSION_H
