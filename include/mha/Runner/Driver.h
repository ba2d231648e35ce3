//===- Driver.h - What mha-run's modes share --------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the context and error reporting shared by mha-run's
// inference and training drivers.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_DRIVER_H
#define MHA_RUNNER_DRIVER_H

#include "mha/Runner/Model.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>

namespace mlir {
namespace mha {

/// An MLIRContext with every dialect the runner compiles, whose diagnostics
/// are printed with the file, line and column of the model file.
class DriverContext {
public:
  DriverContext();

  MLIRContext &getContext() { return context; }

  /// Parses and verifies the model file at `path` (see Model::load).
  std::unique_ptr<Model> loadModel(llvm::StringRef path);

  /// Loads the model at `path` and picks its entry function `entry` (empty:
  /// Model::selectEntry's default) into `selected`. Reports any failure
  /// ("mha-run: error: ...") and returns null.
  std::unique_ptr<Model> loadModelAndEntry(llvm::StringRef path,
                                           llvm::StringRef entry,
                                           const FunctionInfo *&selected);

private:
  MLIRContext context;
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics;
};

/// Prints "mha-run: error: <prefix><message>" to stderr and returns the
/// exit code 1.
int reportError(const llvm::Twine &message);
int reportError(llvm::Error error);
/// Sets the prefix of reportError's messages (in a data-parallel run, "rank
/// R of N: ") and returns the previous one.
std::string setErrorPrefix(std::string prefix);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_DRIVER_H
