//===- Inference.cpp - mha-run's inference mode ---------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements runInference: load the model, bind inputs and
// parameters, compile, run (and time), and report or save the results.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Inference.h"
#include "mha/Runner/Driver.h"
#include "mha/Runner/Model.h"
#include "mha/Runner/Registration.h"
#include "mha/Runtime/FileIO.h"
#include "mha/Runtime/Npy.h"
#include "mha/Runtime/Safetensors.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include <algorithm>
#include <chrono>
#include <random>

using namespace mlir;
using namespace mlir::mha;

namespace {
/// Random data of `dtype` and `shape`: floats uniform in [-1, 1), integers
/// in {0, 1}, booleans mostly true.
HostTensor randomInput(DType dtype, std::vector<int64_t> shape,
                       std::mt19937_64 &rng) {
  HostTensor t(dtype, std::move(shape));
  for (int64_t i = 0, n = t.numElements(); i < n; ++i) {
    double u = (rng() >> 11) * 0x1.0p-53;
    switch (t.dtype) {
    case DType::Bool:
      t.setFromDouble(i, u < 0.8 ? 1.0 : 0.0);
      break;
    case DType::I32:
    case DType::I64:
      t.setFromDouble(i, u < 0.5 ? 0.0 : 1.0);
      break;
    default:
      t.setFromDouble(i, 2.0 * u - 1.0);
    }
  }
  return t;
}

void printSummary(llvm::raw_ostream &os, size_t index, const HostTensor &t) {
  os << "result " << index << ": " << t.typeString() << "\n  values:";
  int64_t n = t.numElements();
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i)
    sum += t.getAsDouble(i);
  for (int64_t i = 0; i < std::min<int64_t>(n, 8); ++i)
    os << llvm::format(" %.6g", t.getAsDouble(i));
  if (n > 8)
    os << " ...";
  os << llvm::format("\n  sum: %.6g\n", sum);
}
} // namespace

int mha::runInference(const InferenceOptions &options) {
  if (options.repeat == 0)
    return reportError("--repeat must be at least 1");
  if (options.dynamicSize <= 0)
    return reportError("--dynamic-size must be positive");

  DriverContext driver;
  const FunctionInfo *selected = nullptr;
  std::unique_ptr<Model> model =
      driver.loadModelAndEntry(options.modelPath, options.entry, selected);
  if (!model)
    return 1;
  const FunctionInfo &entry = *selected;

  // Parameters: loaded or initialized.
  auto loadedParams = loadOrInitializeParams(model->getParams(),
                                             options.paramsPath, options.seed);
  if (!loadedParams)
    return reportError(loadedParams.takeError());
  TensorMap params = std::move(*loadedParams);
  if (!options.saveParamsPath.empty())
    if (llvm::Error err = writeSafetensors(options.saveParamsPath, params))
      return reportError(std::move(err));

  // Inputs: bound by name from .npy files, or random.
  std::vector<std::optional<HostTensor>> inputs(entry.argNames.size());
  auto files = bindArgumentFiles(entry, options.inputs, "--input");
  if (!files)
    return reportError(files.takeError());
  for (auto [index, path] : llvm::enumerate(*files)) {
    if (path.empty())
      continue;
    auto tensor = readArgumentFile(entry, index, path, /*batched=*/false);
    if (!tensor)
      return reportError(tensor.takeError());
    inputs[index] = std::move(*tensor);
  }
  if (options.inputs.empty() && !entry.argNames.empty()) {
    llvm::errs() << llvm::formatv(
        "note: no --input given: random inputs, every dynamic dimension = "
        "{0} (--dynamic-size), seed {1}\n",
        options.dynamicSize, options.seed);
    std::mt19937_64 rng(options.seed ^ 0x9e3779b97f4a7c15ull);
    for (size_t i = 0; i < inputs.size(); ++i) {
      RankedTensorType type = entry.argTypes[i];
      std::vector<int64_t> shape;
      for (int64_t d : type.getShape())
        shape.push_back(ShapedType::isDynamic(d) ? options.dynamicSize : d);
      DType dtype = *dtypeOf(type.getElementType());
      if (llvm::Error err =
              checkAllocatable(dtype, shape,
                               "random input '" + entry.argNames[i] +
                                   "' (--dynamic-size " +
                                   llvm::Twine(options.dynamicSize) + ")"))
        return reportError(std::move(err));
      inputs[i] = randomInput(dtype, std::move(shape), rng);
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i])
      return reportError("missing --input for argument '" + entry.argNames[i] +
                         "' (" + typeText(entry.argTypes[i]) + ") of @" +
                         entry.name);

  // Where the results go is checked before the work.
  if (!options.outputDir.empty()) {
    if (std::error_code ec =
            llvm::sys::fs::create_directories(options.outputDir))
      return reportError(options.outputDir +
                         ": cannot create: " + ec.message());
    llvm::SmallString<256> probe(options.outputDir);
    llvm::sys::path::append(probe, "result0.npy");
    if (llvm::Error err = checkWritable(probe))
      return reportError(std::move(err));
  }

  // On a device the parameters (after the inputs) stay there across runs.
  CompileOptions compile = options.compile;
  bool onDevice = compile.device != Device::CPU;
  if (onDevice)
    compile.deviceResident[entry.name].arguments = withParameterPositions(
        model->getModule().lookupSymbol<func::FuncOp>(entry.name),
        model->getParams().size());
  auto start = std::chrono::steady_clock::now();
  auto jit = JitModule::compile(model->getModule(), compile);
  if (!jit)
    return reportError(jit.takeError());
  double compileSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  llvm::errs() << llvm::formatv("{0} @{1} in {2:f2} s\n",
                                (*jit)->isFromCache()
                                    ? "loaded the compiled code of"
                                    : "compiled",
                                entry.name, compileSeconds);

  std::vector<CallArgument> args;
  std::vector<std::string> argNames = entry.argNames;
  for (auto &input : inputs)
    args.push_back(&*input);
  // The parameters uploaded once (on a GPU) for every repetition.
  std::vector<const HostTensor *> paramTensors;
  for (const ParamInfo &param : model->getParams()) {
    argNames.push_back("@" + param.name);
    paramTensors.push_back(&params.at(param.name));
  }
  std::vector<DeviceTensor> deviceParams;
  auto paramArgs = (*jit)->residentArguments(paramTensors, deviceParams);
  if (!paramArgs)
    return reportError(paramArgs.takeError());
  args.insert(args.end(), paramArgs->begin(), paramArgs->end());
  uint64_t uploaded = 0;
  if (std::optional<DeviceUse> use = (*jit)->takeDeviceUse())
    uploaded = use->traffic.hostToDevice;

  std::vector<HostTensor> results;
  std::vector<double> times, kernelTimes;
  int launches = 0;
  // On a GPU, repeated runs also time the kernels alone (without the
  // copies of the arguments and results between host and device).
  bool timeKernels =
      options.repeat > 1 && options.compile.device == Device::GPU;
  (*jit)->timeGPUKernels(timeKernels);
  for (unsigned r = 0; r < options.repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    auto out = (*jit)->callOnDevice(entry.name, args, argNames);
    auto t1 = std::chrono::steady_clock::now();
    if (!out)
      return reportError(out.takeError());
    times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (std::optional<GPUKernelTime> kernels = (*jit)->takeGPUKernelTime();
        kernels && timeKernels) {
      kernelTimes.push_back(kernels->milliseconds);
      launches = kernels->launches;
    }
    results = std::move(out->host);
  }
  (*jit)->timeGPUKernels(false);
  if (std::optional<DeviceUse> use = (*jit)->takeDeviceUse())
    llvm::errs() << llvm::formatv(
        "host to device {0} bytes, device to host {1} bytes a run (the "
        "parameters, {2} bytes, uploaded once before)\n",
        use->traffic.hostToDevice / options.repeat,
        use->traffic.deviceToHost / options.repeat, uploaded);

  for (size_t i = 0; i < results.size(); ++i)
    printSummary(llvm::outs(), i, results[i]);
  if (options.repeat > 1) {
    std::sort(times.begin(), times.end());
    llvm::outs() << llvm::formatv("median time per run: {0:f3} ms over {1} "
                                  "runs (min {2:f3} ms)\n",
                                  times[times.size() / 2], times.size(),
                                  times.front());
    if (!kernelTimes.empty()) {
      std::sort(kernelTimes.begin(), kernelTimes.end());
      llvm::outs() << llvm::formatv(
          "median GPU kernel time per run: {0:f3} ms ({1} kernel launches, "
          "without the copies between host and device)\n",
          kernelTimes[kernelTimes.size() / 2], launches);
    }
  }
  if (!options.outputDir.empty()) {
    for (size_t i = 0; i < results.size(); ++i) {
      llvm::SmallString<256> path(options.outputDir);
      llvm::sys::path::append(path, "result" + std::to_string(i) + ".npy");
      if (llvm::Error err = writeNpy(path, results[i]))
        return reportError(std::move(err));
    }
  }
  return 0;
}
