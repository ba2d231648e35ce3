//===- CAPI.cpp - The mha C API --------------------------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements include/mha-c/mha.h over the runner library: a model
// handle owns its MLIRContext, module, parameters, bound inputs, compiled
// code and training state. C++ errors (llvm::Error) become MHA_ERROR and a
// thread-local message.
//
//===----------------------------------------------------------------------===//

#include "mha-c/mha.h"

#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Runner/Driver.h"
#include "mha/Runner/JitModule.h"
#include "mha/Runner/Model.h"
#include "mha/Runner/Registration.h"
#include "mha/Runner/Training.h"
#include "mha/Runtime/Npy.h"
#include "mha/Runtime/Safetensors.h"
#include "mha/Support/Version.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

using namespace mlir;
using namespace mlir::mha;

struct MhaModel_ {
  DriverContext driver;
  std::unique_ptr<Model> model;
  const FunctionInfo *entry = nullptr;
  TrainState state;
  int64_t threads = 0;
  /// Inputs bound by name, for the entry (inference) or the model's
  /// inputs (training).
  std::map<std::string, HostTensor> inputs;
  std::unique_ptr<JitModule> jit;
  std::string jitEntry;
  std::vector<HostTensor> outputs;
  std::unique_ptr<TrainingStep> trainer;
};

namespace {
thread_local std::string lastError;

int fail(const llvm::Twine &message) {
  lastError = message.str();
  return MHA_ERROR;
}

int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

int succeed() {
  lastError.clear();
  return MHA_OK;
}

/// Collects the diagnostics of `context` while alive, as "file:line:col:
/// message" lines.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext &context)
      : handler(&context, [this](Diagnostic &diag) {
          llvm::raw_string_ostream os(text);
          if (auto loc = dyn_cast<FileLineColLoc>(diag.getLocation()))
            os << loc.getFilename().getValue() << ":" << loc.getLine() << ":"
               << loc.getColumn() << ": ";
          os << diag << "\n";
          return success();
        }) {}
  std::string message(llvm::StringRef otherwise) const {
    return text.empty() ? otherwise.str() : llvm::StringRef(text).rtrim().str();
  }

private:
  std::string text;
  ScopedDiagnosticHandler handler;
};

/// Fails with a message for a null handle.
bool isNull(MhaModel model) {
  if (model)
    return false;
  fail("null MhaModel handle");
  return true;
}

std::optional<DType> toDType(MhaDType dtype) {
  switch (dtype) {
  case MHA_DTYPE_F32:
    return DType::F32;
  case MHA_DTYPE_I32:
    return DType::I32;
  case MHA_DTYPE_I64:
    return DType::I64;
  case MHA_DTYPE_BOOL:
    return DType::Bool;
  default:
    return std::nullopt;
  }
}

std::optional<MhaDType> fromDType(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return MHA_DTYPE_F32;
  case DType::I32:
    return MHA_DTYPE_I32;
  case DType::I64:
    return MHA_DTYPE_I64;
  case DType::Bool:
    return MHA_DTYPE_BOOL;
  default:
    return std::nullopt;
  }
}

/// A host tensor copied from C data, checked for a sane shape.
llvm::Expected<HostTensor> copyTensor(MhaDType dtype, const int64_t *shape,
                                      int64_t rank, const void *data,
                                      llvm::StringRef what) {
  auto error = [&](const llvm::Twine &why) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   (what + ": " + why).str());
  };
  std::optional<DType> type = toDType(dtype);
  if (!type)
    return error("unknown element type " + llvm::Twine(int(dtype)));
  if (rank < 0 || rank > MHA_MAX_RANK || (rank > 0 && !shape))
    return error("rank must lie in [0, " + llvm::Twine(MHA_MAX_RANK) +
                 "] with a shape array");
  std::vector<int64_t> dims(shape, shape + rank);
  for (int64_t d : dims)
    if (d < 0)
      return error("negative dimension " + llvm::Twine(d));
  if (llvm::Error err = checkAllocatable(*type, dims, what))
    return std::move(err);
  HostTensor t(*type, dims);
  if (!t.data.empty()) {
    if (!data)
      return error("null data");
    std::memcpy(t.data.data(), data, t.data.size());
  }
  return t;
}

/// The inputs of `fn` in order, from the bound ones; names the missing one.
llvm::Expected<std::vector<const HostTensor *>>
boundInputs(MhaModel model, const FunctionInfo &fn) {
  std::vector<const HostTensor *> args;
  for (const std::string &name : fn.argNames) {
    auto it = model->inputs.find(name);
    if (it == model->inputs.end())
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          ("input '" + name + "' of @" + fn.name +
           " is not bound (mhaModelSetInput)")
              .c_str());
    args.push_back(&it->second);
  }
  return args;
}

CompileOptions compileOptions(MhaModel model) {
  CompileOptions options;
  options.threads = model->threads;
  options.cacheDir = defaultCacheDirectory();
  return options;
}
} // namespace

extern "C" {

const char *mhaGetLastError(void) { return lastError.c_str(); }

const char *mhaGetVersion(void) {
  static std::string version = std::string("mha ") + getVersion() +
                               " (LLVM/MLIR " LLVM_VERSION_STRING ")";
  return version.c_str();
}

MhaModel mhaModelLoad(const char *path) {
  if (!path) {
    fail("mhaModelLoad: null path");
    return nullptr;
  }
  static std::once_flag target;
  std::call_once(target, initializeNativeTarget);
  auto handle = std::make_unique<MhaModel_>();
  // Diagnostics (file:line:col) become the error message.
  {
    DiagnosticCollector diagnostics(handle->driver.getContext());
    handle->model = handle->driver.loadModel(path);
    if (!handle->model) {
      fail(diagnostics.message(std::string(path) + ": cannot load the model"));
      return nullptr;
    }
  }
  auto entry = handle->model->selectEntry("");
  handle->entry = entry ? *entry : nullptr;
  if (!entry)
    llvm::consumeError(entry.takeError());
  handle->state.params = initializeParams(handle->model->getParams(), 0);
  succeed();
  return handle.release();
}

void mhaModelDestroy(MhaModel model) { delete model; }

int mhaModelSelectEntry(MhaModel model, const char *name) {
  if (isNull(model))
    return MHA_ERROR;
  auto entry = model->model->selectEntry(name ? name : "");
  if (!entry)
    return fail(entry.takeError());
  if (model->entry != *entry) {
    model->entry = *entry;
    model->inputs.clear();
    model->outputs.clear();
  }
  return succeed();
}

int64_t mhaModelNumInputs(MhaModel model) {
  if (isNull(model))
    return -1;
  if (!model->entry) {
    fail("the model has several public functions and no mha.training: "
         "choose one with mhaModelSelectEntry");
    return -1;
  }
  succeed();
  return int64_t(model->entry->argNames.size());
}

const char *mhaModelInputName(MhaModel model, int64_t index) {
  int64_t n = mhaModelNumInputs(model);
  if (n < 0)
    return nullptr;
  if (index < 0 || index >= n) {
    fail("input index " + llvm::Twine(index) + " outside [0, " +
         llvm::Twine(n) + ")");
    return nullptr;
  }
  return model->entry->argNames[index].c_str();
}

int mhaModelInputType(MhaModel model, int64_t index, MhaDType *dtype,
                      int64_t *rank, int64_t *shape) {
  if (!mhaModelInputName(model, index))
    return MHA_ERROR;
  RankedTensorType type = model->entry->argTypes[index];
  std::optional<MhaDType> c = fromDType(*dtypeOf(type.getElementType()));
  if (!c)
    return fail("input '" + model->entry->argNames[index] + "' has type " +
                typeText(type) + ", which the C API does not carry");
  if (type.getRank() > MHA_MAX_RANK)
    return fail("input rank above MHA_MAX_RANK");
  if (dtype)
    *dtype = *c;
  if (rank)
    *rank = type.getRank();
  if (shape)
    for (int64_t d = 0; d < type.getRank(); ++d)
      shape[d] = type.isDynamicDim(d) ? -1 : type.getDimSize(d);
  return succeed();
}

/// Starts `model`'s training state afresh from `params` (no optimizer
/// state, no updates yet), seeded `seed`.
static void resetState(MhaModel model, uint64_t seed, TensorMap params) {
  model->state = TrainState();
  model->state.seed = seed;
  model->state.params = std::move(params);
}

int mhaModelInitParams(MhaModel model, uint64_t seed) {
  if (isNull(model))
    return MHA_ERROR;
  resetState(model, seed, initializeParams(model->model->getParams(), seed));
  return succeed();
}

int mhaModelLoadParams(MhaModel model, const char *path) {
  if (isNull(model))
    return MHA_ERROR;
  if (!path)
    return fail("mhaModelLoadParams: null path");
  auto params =
      loadOrInitializeParams(model->model->getParams(), path, /*seed=*/0);
  if (!params)
    return fail(params.takeError());
  resetState(model, model->state.seed, std::move(*params));
  return succeed();
}

int mhaModelSaveParams(MhaModel model, const char *path) {
  if (isNull(model))
    return MHA_ERROR;
  if (!path)
    return fail("mhaModelSaveParams: null path");
  if (llvm::Error err = writeSafetensors(path, model->state.params))
    return fail(std::move(err));
  return succeed();
}

int mhaModelSetThreads(MhaModel model, int64_t threads) {
  if (isNull(model))
    return MHA_ERROR;
  if (threads < 0)
    return fail("threads must be >= 0 (0: every core), got " +
                llvm::Twine(threads));
  if (threads != model->threads) {
    model->threads = threads;
    model->jit.reset();
    model->trainer.reset();
  }
  return succeed();
}

int mhaModelSetInput(MhaModel model, const char *name, MhaDType dtype,
                     const int64_t *shape, int64_t rank, const void *data) {
  if (mhaModelNumInputs(model) < 0)
    return MHA_ERROR;
  if (!name)
    return fail("mhaModelSetInput: null name");
  auto index = llvm::find(model->entry->argNames, name);
  if (index == model->entry->argNames.end())
    return fail("@" + model->entry->name + " has no input '" + name + "'");
  unsigned i = index - model->entry->argNames.begin();
  auto tensor = copyTensor(dtype, shape, rank, data,
                           "input '" + std::string(name) + "'");
  if (!tensor)
    return fail(tensor.takeError());
  if (llvm::Error err =
          checkArgumentData(*model->entry, i, *tensor,
                            "input '" + std::string(name) + "'",
                            /*batched=*/false))
    return fail(std::move(err));
  model->inputs[name] = std::move(*tensor);
  return succeed();
}

int mhaModelSetInputFromFile(MhaModel model, const char *name,
                             const char *npyPath) {
  if (mhaModelNumInputs(model) < 0)
    return MHA_ERROR;
  if (!name || !npyPath)
    return fail("mhaModelSetInputFromFile: null name or path");
  auto index = llvm::find(model->entry->argNames, name);
  if (index == model->entry->argNames.end())
    return fail("@" + model->entry->name + " has no input '" + name + "'");
  auto tensor =
      readArgumentFile(*model->entry, index - model->entry->argNames.begin(),
                       npyPath, /*batched=*/false);
  if (!tensor)
    return fail(tensor.takeError());
  model->inputs[name] = std::move(*tensor);
  return succeed();
}

int mhaModelRun(MhaModel model) {
  if (mhaModelNumInputs(model) < 0)
    return MHA_ERROR;
  const FunctionInfo &entry = *model->entry;
  auto args = boundInputs(model, entry);
  if (!args)
    return fail(args.takeError());
  if (!model->jit || model->jitEntry != entry.name) {
    CompileOptions options = compileOptions(model);
    options.entryPoints = {entry.name};
    auto jit = JitModule::compile(model->model->getModule(), options);
    if (!jit)
      return fail(jit.takeError());
    model->jit = std::move(*jit);
    model->jitEntry = entry.name;
  }
  for (const ParamInfo &p : model->model->getParams())
    args->push_back(&model->state.params.at(p.name));
  auto out = model->jit->call(entry.name, *args);
  if (!out)
    return fail(out.takeError());
  model->outputs = std::move(*out);
  return succeed();
}

int64_t mhaModelNumOutputs(MhaModel model) {
  if (isNull(model))
    return -1;
  succeed();
  return int64_t(model->outputs.size());
}

int mhaModelGetOutput(MhaModel model, int64_t index, MhaDType *dtype,
                      int64_t *rank, const int64_t **shape,
                      const void **data) {
  if (isNull(model))
    return MHA_ERROR;
  if (index < 0 || index >= int64_t(model->outputs.size()))
    return fail("output index " + llvm::Twine(index) + " outside [0, " +
                llvm::Twine(model->outputs.size()) + ") (mhaModelRun first)");
  const HostTensor &t = model->outputs[index];
  std::optional<MhaDType> c = fromDType(t.dtype);
  if (!c)
    return fail("output " + llvm::Twine(index) + " is " + t.typeString() +
                ", which the C API does not carry");
  if (dtype)
    *dtype = *c;
  if (rank)
    *rank = int64_t(t.shape.size());
  if (shape)
    *shape = t.shape.data();
  if (data)
    *data = t.data.data();
  return succeed();
}

int mhaModelTrainStep(MhaModel model, MhaDType labelsType,
                      const int64_t *labelsShape, int64_t labelsRank,
                      const void *labels, double *loss) {
  if (isNull(model))
    return MHA_ERROR;
  TrainingOp config = model->model->getTraining();
  if (!config)
    return fail("the model has no mha.training: mhaModelTrainStep trains "
                "as it says (docs/Training.md)");
  const FunctionInfo *fn = model->model->lookupFunction(config.getModel());
  if (!fn)
    return fail("mha.training names no function of the model");
  if (model->entry != fn)
    return fail("bind the training model's inputs: select @" + fn->name +
                " (mhaModelSelectEntry) and set its inputs");
  auto args = boundInputs(model, *fn);
  if (!args)
    return fail(args.takeError());
  auto y = copyTensor(labelsType, labelsShape, labelsRank, labels, "labels");
  if (!y)
    return fail(y.takeError());
  if (!model->trainer) {
    ModuleOp module = model->model->getModule();
    if (!module.lookupSymbol("__mha_train_step")) {
      DiagnosticCollector diagnostics(model->driver.getContext());
      PassManager pm(&model->driver.getContext());
      pm.addPass(createMHABuildTrainStepPass());
      if (failed(pm.run(module)))
        return fail(diagnostics.message("building the training step failed"));
    }
    auto trainer = TrainingStep::compile(module, *fn,
                                         model->model->getParams(),
                                         compileOptions(model));
    if (!trainer)
      return fail(trainer.takeError());
    model->trainer = std::move(*trainer);
  }
  // Fresh optimizer state for parameters that have none yet.
  for (const ParamInfo &p : model->model->getParams()) {
    const HostTensor &t = model->state.params.at(p.name);
    if (!model->state.m.count(p.name)) {
      model->state.m[p.name] = HostTensor(t.dtype, t.shape);
      model->state.v[p.name] = HostTensor(t.dtype, t.shape);
    }
  }
  auto result = model->trainer->update(*args, *y, model->state);
  if (!result)
    return fail(result.takeError());
  if (loss)
    *loss = result->loss;
  if (!std::isfinite(result->loss))
    return fail("the loss is " + std::to_string(result->loss) +
                "; the parameters were not updated");
  return succeed();
}

} // extern "C"
