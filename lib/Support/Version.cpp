//===- Version.cpp - mha's version, for --version -------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "mha/Support/Version.h"

#include "llvm/Config/llvm-config.h"

const char *mlir::mha::getVersion() { return MHA_VERSION; }

void mlir::mha::printVersion(llvm::raw_ostream &os, llvm::StringRef tool) {
  os << tool << " (mha " << getVersion() << ")\n"
     << "  built with LLVM/MLIR " << LLVM_VERSION_STRING << "\n";
}
