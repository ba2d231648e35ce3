//===- Registration.cpp - Dialects and translations for the runner --------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The one translation unit of the runner that includes the heavy InitAll*
// headers: everything the CPU pipeline creates, with the external models
// (bufferization, tiling) those dialects need, and the LLVM IR translations.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Registration.h"
#include "mha/InitAll.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "llvm/Support/TargetSelect.h"

void mlir::mha::registerRunnerDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllMHATranslations(registry);
  registerAllMHADialects(registry);
}

void mlir::mha::initializeNativeTarget() {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
}
