//===- mha-lsp-server.cpp - The language server for mha model files -------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// MLIR's language server with the mha dialect and every upstream dialect
// and extension mha-opt knows, so that an editor shows the verifier's
// diagnostics at their locations, hover, go-to-definition and an outline
// for model files (docs/Editors.md).
//
//===----------------------------------------------------------------------===//

#include "mha/InitAll.h"
#include "mha/Support/Version.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Tools/mlir-lsp-server/MlirLspServerMain.h"
#include "llvm/Support/CommandLine.h"

int main(int argc, char **argv) {
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    mlir::mha::printVersion(os, "mha-lsp-server");
  });
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::mha::registerAllMHADialects(registry);
  return mlir::failed(mlir::MlirLspServerMain(argc, argv, registry));
}
