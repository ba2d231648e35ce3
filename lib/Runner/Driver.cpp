//===- Driver.cpp - What mha-run's modes share ----------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements DriverContext and the drivers' error reporting.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Driver.h"
#include "mha/Runner/Registration.h"

#include "llvm/Support/WithColor.h"

using namespace mlir;
using namespace mlir::mha;

static DialectRegistry runnerRegistry() {
  DialectRegistry registry;
  registerRunnerDialects(registry);
  return registry;
}

DriverContext::DriverContext()
    : context(runnerRegistry()), diagnostics(sourceMgr, &context) {
  context.loadAllAvailableDialects();
}

std::unique_ptr<Model> DriverContext::loadModel(llvm::StringRef path) {
  return Model::load(path, context, sourceMgr);
}

/// Which process speaks, in a run of several.
static std::string &errorPrefix() {
  static std::string prefix;
  return prefix;
}

std::string mha::setErrorPrefix(std::string prefix) {
  std::swap(errorPrefix(), prefix);
  return prefix;
}

int mha::reportError(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "mha-run")
      << errorPrefix() << message << "\n";
  return 1;
}

int mha::reportError(llvm::Error error) {
  return reportError(llvm::toString(std::move(error)));
}

std::unique_ptr<Model>
DriverContext::loadModelAndEntry(llvm::StringRef path, llvm::StringRef entry,
                                 const FunctionInfo *&selected) {
  std::unique_ptr<Model> model = loadModel(path);
  if (!model)
    return nullptr;
  llvm::Expected<const FunctionInfo *> picked = model->selectEntry(entry);
  if (!picked) {
    reportError(picked.takeError());
    return nullptr;
  }
  selected = *picked;
  return model;
}
