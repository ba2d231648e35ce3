//===- mha-opt.cpp - The mha optimizer driver -----------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt for mha: parses, verifies and transforms model files with the mha
// dialect and passes plus every upstream dialect, extension and pass the
// lowerings use.
//
//===----------------------------------------------------------------------===//

#include "mha/InitAll.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::mha::registerAllMHAPasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::mha::registerAllMHADialects(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "mha optimizer driver: the mha dialect and its passes\n",
      registry));
}
