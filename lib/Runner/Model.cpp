//===- Model.cpp - A parsed model file ------------------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements Model, parameter initialization and checking.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Model.h"

#include "mha/Runtime/FileIO.h"
#include "mha/Runtime/Npy.h"
#include "mha/Support/ArgumentNames.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/AsmParser/AsmParserState.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <random>

using namespace mlir;
using namespace mlir::mha;

std::optional<DType> mha::dtypeOf(Type type) {
  if (type.isF32())
    return DType::F32;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  if (type.isInteger(32))
    return DType::I32;
  if (type.isInteger(64))
    return DType::I64;
  if (type.isInteger(1))
    return DType::Bool;
  return std::nullopt;
}

std::unique_ptr<Model> Model::load(llvm::StringRef path, MLIRContext &context,
                                   llvm::SourceMgr &sourceMgr) {
  auto file = readInputFile(path, kMaxModelFileBytes, /*allowStdin=*/false,
                            /*nullTerminated=*/true);
  if (!file) {
    emitError(UnknownLoc::get(&context)) << llvm::toString(file.takeError());
    return nullptr;
  }
  unsigned bufferId = sourceMgr.AddNewSourceBuffer(std::move(*file), SMLoc());

  // Keep the parser's state to recover argument names as written.
  AsmParserState state;
  ParserConfig config(&context);
  auto model = std::unique_ptr<Model>(new Model());
  Block block;
  if (failed(parseAsmSourceFile(sourceMgr, &block, config, &state)))
    return nullptr;
  // A file holds either one explicit module or top-level ops to wrap.
  if (llvm::hasSingleElement(block) && isa<ModuleOp>(block.front())) {
    model->module = cast<ModuleOp>(block.front());
    model->module->getOperation()->remove();
  } else {
    model->module = ModuleOp::create(FileLineColLoc::get(
        &context, sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier(), 1,
        1));
    Block *body = model->module->getBody();
    body->getOperations().splice(body->end(), block.getOperations());
  }
  if (failed(verify(*model->module)))
    return nullptr;
  // Arguments are bound by the names written in the file (or recorded in
  // `mha.name` by mha-opt, whose output prints them as %arg<i>).
  nameArgumentsFromSource(*model->module,
                          collectArgumentNames(state, sourceMgr));

  ModuleOp module = *model->module;
  for (ParamOp param : module.getOps<ParamOp>())
    model->params.push_back(
        {param.getSymName().str(), param.getTensorType(), param.getInit()});
  for (TrainingOp training : module.getOps<TrainingOp>())
    model->training = training;

  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    FunctionInfo info;
    info.name = func.getSymName().str();
    info.isPublic = func.isPublic();
    auto checkTypes = [&](TypeRange types, const char *what,
                          std::vector<RankedTensorType> &out) {
      for (auto [i, type] : llvm::enumerate(types)) {
        auto tensor = dyn_cast<RankedTensorType>(type);
        if (!tensor || !dtypeOf(tensor.getElementType())) {
          func.emitError() << "@" << info.name << ": " << what << " #" << i
                           << " has type " << type
                           << "; mha-run supports ranked tensors of f32, f16, "
                              "bf16, i32, i64 or i1";
          return false;
        }
        out.push_back(tensor);
      }
      return true;
    };
    if (!checkTypes(func.getArgumentTypes(), "argument", info.argTypes) ||
        !checkTypes(func.getResultTypes(), "result", info.resultTypes))
      return nullptr;
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      info.argNames.push_back(argumentName(func, i));
      int64_t bound = 0;
      for (Operation *user : func.getArgument(i).getUsers()) {
        auto embedding = dyn_cast<EmbeddingOp>(user);
        if (!embedding || embedding.getIds() != func.getArgument(i))
          continue;
        int64_t rows = embedding.getTable().getType().getDimSize(0);
        if (!ShapedType::isDynamic(rows) && (bound == 0 || rows < bound))
          bound = rows;
      }
      info.idBounds.push_back(bound);
    }
    model->functions.push_back(std::move(info));
  }
  return model;
}

const FunctionInfo *Model::lookupFunction(llvm::StringRef name) const {
  for (const FunctionInfo &f : functions)
    if (f.name == name)
      return &f;
  return nullptr;
}

llvm::Expected<const FunctionInfo *>
Model::selectEntry(llvm::StringRef requested) const {
  std::string names;
  for (const FunctionInfo &f : functions)
    names += (names.empty() ? "@" : ", @") + f.name;
  if (names.empty())
    names = "(none)";
  auto fail = [&](const llvm::Twine &why) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        (why + "; the model defines " + names).str());
  };
  if (!requested.empty()) {
    if (const FunctionInfo *f = lookupFunction(requested))
      return f;
    return fail("no function @" + requested);
  }
  if (TrainingOp config = training)
    if (const FunctionInfo *f = lookupFunction(config.getModel()))
      return f;
  // Private functions are helpers (layers called by the model).
  const FunctionInfo *only = nullptr;
  for (const FunctionInfo &f : functions) {
    if (!f.isPublic)
      continue;
    if (only)
      return fail("several functions and no mha.training: choose one with "
                  "--entry");
    only = &f;
  }
  if (only)
    return only;
  return fail("no public function to run: choose one with --entry");
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

namespace {
/// FNV-1a: a stable hash of a parameter name for its stream's seed.
uint64_t hashName(llvm::StringRef name) {
  uint64_t h = 1469598103934665603ull;
  for (char c : name) {
    h ^= uint8_t(c);
    h *= 1099511628211ull;
  }
  return h;
}

/// Platform-independent draws: std::mt19937_64's sequence is fixed by the
/// standard, the distributions below are ours (std's are not portable).
struct Stream {
  std::mt19937_64 engine;
  explicit Stream(uint64_t seed) : engine(seed) {}
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return (engine() >> 11) * 0x1.0p-53; }
  /// Standard normal by Box-Muller.
  double normal() {
    double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
};
} // namespace

TensorMap mha::initializeParams(llvm::ArrayRef<ParamInfo> params,
                                uint64_t seed) {
  TensorMap values;
  for (const ParamInfo &param : params) {
    std::vector<int64_t> shape(param.type.getShape().begin(),
                               param.type.getShape().end());
    HostTensor tensor(*dtypeOf(param.type.getElementType()), shape);
    Stream stream(seed ^ hashName(param.name));
    int64_t n = tensor.numElements();
    double fanIn = 1, fanOut = 1;
    if (shape.size() >= 2) {
      fanOut = double(shape.back());
      fanIn = double(n) / fanOut;
    }
    auto opt = [](FloatAttr attr) {
      return attr ? attr.getValueAsDouble() : 0.0;
    };
    for (int64_t i = 0; i < n; ++i) {
      double v = 0.0;
      switch (param.init.getKind()) {
      case InitKind::Zeros:
        v = 0.0;
        break;
      case InitKind::Ones:
        v = 1.0;
        break;
      case InitKind::GlorotUniform: {
        double limit = std::sqrt(6.0 / (fanIn + fanOut));
        v = (2.0 * stream.uniform() - 1.0) * limit;
        break;
      }
      case InitKind::GlorotNormal:
        v = stream.normal() * std::sqrt(2.0 / (fanIn + fanOut));
        break;
      case InitKind::Normal:
        v = stream.normal() * opt(param.init.getStd());
        break;
      case InitKind::Uniform:
        v = (2.0 * stream.uniform() - 1.0) * opt(param.init.getLimit());
        break;
      }
      tensor.setFromDouble(i, v);
    }
    values.emplace(param.name, std::move(tensor));
  }
  return values;
}

llvm::Error mha::checkParams(llvm::ArrayRef<ParamInfo> params,
                             const TensorMap &loaded, llvm::StringRef source) {
  std::string problems;
  auto add = [&](const llvm::Twine &line) { problems += "\n  " + line.str(); };
  for (const ParamInfo &param : params) {
    auto it = loaded.find(param.name);
    std::string declared = (shapeString(param.type.getShape()) + "x" +
                            dtypeName(*dtypeOf(param.type.getElementType())))
                               .str();
    if (it == loaded.end()) {
      add("missing '" + param.name + "' (tensor<" + declared + ">)");
      continue;
    }
    const HostTensor &t = it->second;
    bool shapeOk = llvm::ArrayRef<int64_t>(t.shape) == param.type.getShape();
    bool dtypeOk = t.dtype == *dtypeOf(param.type.getElementType());
    if (!shapeOk || !dtypeOk)
      add("'" + param.name + "': expected tensor<" + declared + ">, found " +
          t.typeString());
  }
  for (const auto &entry : loaded) {
    const std::string &name = entry.first;
    if (!llvm::StringRef(name).starts_with("__opt.") &&
        llvm::none_of(params,
                      [&](const ParamInfo &p) { return p.name == name; }))
      add("unexpected '" + name + "' (" + entry.second.typeString() +
          "): the model declares no such parameter");
  }
  if (problems.empty())
    return llvm::Error::success();
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      (source + ": parameters do not match the model:" + problems).str());
}

llvm::Error mha::checkIdsInRange(const HostTensor &ids, int64_t bound,
                                 llvm::StringRef source) {
  int64_t n = ids.numElements();
  int64_t perExample =
      ids.shape.empty() || ids.shape[0] == 0 ? 1 : n / ids.shape[0];
  for (int64_t i = 0; i < n; ++i) {
    int64_t id = ids.getAsInt64(i);
    if (id < 0 || id >= bound)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          llvm::formatv("{0}: token id {1} (example {2}) lies outside [0, "
                        "{3}): the embedding table has {3} rows",
                        source, id, i / perExample, bound)
              .str());
  }
  return llvm::Error::success();
}

std::string mha::typeText(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

llvm::Expected<std::vector<std::string>>
mha::bindArgumentFiles(const FunctionInfo &fn,
                       llvm::ArrayRef<std::string> bindings,
                       llvm::StringRef flag) {
  auto fail = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   message.str());
  };
  std::string names;
  for (const std::string &n : fn.argNames)
    names += (names.empty() ? "" : ", ") + n;
  std::vector<std::string> files(fn.argNames.size());
  for (const std::string &binding : bindings) {
    auto [name, path] = llvm::StringRef(binding).split('=');
    if (path.empty()) {
      // A plain file is the one input of a one-input function.
      if (binding.find('=') != std::string::npos || fn.argNames.size() != 1)
        return fail(flag + " '" + binding + "' is not NAME=FILE.npy (@" +
                    fn.name + " takes " + llvm::Twine(fn.argNames.size()) +
                    " inputs: " + names + ")");
      name = fn.argNames[0];
      path = binding;
    }
    auto it = llvm::find(fn.argNames, name.str());
    if (it == fn.argNames.end())
      return fail(flag + " " + binding + ": @" + fn.name +
                  " has no argument '" + name + "'; its arguments are: " +
                  names);
    size_t index = it - fn.argNames.begin();
    if (!files[index].empty())
      return fail(flag + ": argument '" + name + "' is bound twice");
    files[index] = path.str();
  }
  return files;
}

llvm::Error mha::checkArgumentData(const FunctionInfo &fn, unsigned index,
                                   const HostTensor &data,
                                   llvm::StringRef source, bool batched) {
  RankedTensorType type = fn.argTypes[index];
  bool ok = *dtypeOf(type.getElementType()) == data.dtype &&
            int64_t(data.shape.size()) == type.getRank();
  for (int64_t d = batched ? 1 : 0; ok && d < type.getRank(); ++d)
    ok = type.isDynamicDim(d) || type.getDimSize(d) == data.shape[d];
  if (!ok)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        (source + ": argument '" + fn.argNames[index] + "' of @" + fn.name +
         " expects " + typeText(type) +
         (batched ? " (the first dimension: examples)" : "") + ", " +
         (source.ends_with(".npy") ? "the file holds " : "the data is ") +
         data.typeString())
            .str());
  if (int64_t bound = fn.idBounds[index])
    return checkIdsInRange(data, bound, source);
  return llvm::Error::success();
}

llvm::Expected<HostTensor> mha::readArgumentFile(const FunctionInfo &fn,
                                                 unsigned index,
                                                 llvm::StringRef path,
                                                 bool batched) {
  auto tensor = readNpy(path);
  if (!tensor)
    return tensor.takeError();
  RankedTensorType type = fn.argTypes[index];
  if (*dtypeOf(type.getElementType()) == DType::BF16 &&
      tensor->dtype == DType::F32) {
    HostTensor rounded(DType::BF16, tensor->shape);
    for (int64_t e = 0, n = tensor->numElements(); e < n; ++e)
      rounded.setFromDouble(e, tensor->getAsDouble(e));
    *tensor = std::move(rounded);
  }
  if (llvm::Error err = checkArgumentData(fn, index, *tensor, path, batched))
    return std::move(err);
  return std::move(*tensor);
}

llvm::Expected<TensorMap>
mha::loadOrInitializeParams(llvm::ArrayRef<ParamInfo> params,
                            llvm::StringRef path, uint64_t seed) {
  if (path.empty())
    return initializeParams(params, seed);
  auto loaded = readSafetensors(path);
  if (!loaded)
    return loaded.takeError();
  if (llvm::Error err = checkParams(params, *loaded, path))
    return std::move(err);
  return std::move(*loaded);
}
