//===- run-model.cpp - Using the installed mha package ---------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Loads a model file, initializes its parameters, JIT-compiles it and runs
// its entry function (the mha.training model, or the only public function)
// on inputs of ones, every dynamic dimension 2; prints each result's type
// and sum. Built against an installed mha (find_package(MHA)).
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Driver.h"
#include "mha/Runner/JitModule.h"
#include "mha/Runner/Model.h"
#include "mha/Runner/Registration.h"

#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::mha;

int main(int argc, char **argv) {
  if (argc != 2) {
    llvm::errs() << "usage: run-model MODEL.mlir\n";
    return 2;
  }
  initializeNativeTarget();
  DriverContext driver;
  std::unique_ptr<Model> model = driver.loadModel(argv[1]);
  if (!model)
    return 1;
  auto entry = model->selectEntry("");
  if (!entry)
    return reportError(entry.takeError());

  // Inputs of ones (integer inputs: id 1), parameters from the
  // initializers.
  std::vector<HostTensor> inputs;
  for (RankedTensorType type : (*entry)->argTypes) {
    std::vector<int64_t> shape;
    for (int64_t d : type.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? 2 : d);
    HostTensor t(*dtypeOf(type.getElementType()), shape);
    for (int64_t i = 0; i < t.numElements(); ++i)
      t.setFromDouble(i, 1.0);
    inputs.push_back(std::move(t));
  }
  TensorMap params = initializeParams(model->getParams(), /*seed=*/0);
  std::vector<const HostTensor *> args;
  for (const HostTensor &t : inputs)
    args.push_back(&t);
  for (const ParamInfo &p : model->getParams())
    args.push_back(&params.at(p.name));

  CompileOptions options;
  options.entryPoints = {(*entry)->name};
  auto jit = JitModule::compile(model->getModule(), options);
  if (!jit)
    return reportError(jit.takeError());
  auto results = (*jit)->call((*entry)->name, args);
  if (!results)
    return reportError(results.takeError());
  for (const HostTensor &r : *results) {
    double sum = 0;
    for (int64_t i = 0; i < r.numElements(); ++i)
      sum += r.getAsDouble(i);
    llvm::outs() << "@" << (*entry)->name << ": " << r.typeString()
                 << " sum " << sum << "\n";
  }
  return 0;
}
