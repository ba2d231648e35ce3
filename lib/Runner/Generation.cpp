//===- Generation.cpp - mha-run's text generation mode --------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements runGeneration: it derives the prefill and decoding
// step of a byte-level language model (mha-build-decode-step), JIT-compiles
// them once, prefills the prompt and then decodes one byte at a time with
// the key/value cache, sampling each byte on the host.
//
// A model with learned positions has a context (the rows of its position
// table). When the sequence reaches it, the generator keeps the last half of
// the context and prefills it again, so generation can run past it with a
// sliding window, as GPT-2's samplers do.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Generation.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Runner/Driver.h"
#include "mha/Runner/Model.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

using namespace mlir;
using namespace mlir::mha;

namespace {
/// Byte-level models: one token per byte value.
constexpr int64_t kVocabulary = 256;
/// Far beyond any useful run; keeps the token buffer's size sane.
constexpr int64_t kMaxTokens = int64_t(1) << 24;

/// The context of the decoding step: the smallest static row count of a
/// table looked up by mha.positions (learned position embeddings), or 0 when
/// there is none (sinusoidal or no positions: any length).
int64_t contextLength(ModuleOp module) {
  int64_t context = 0;
  auto decode = module.lookupSymbol<func::FuncOp>("__mha_decode");
  decode.walk([&](EmbeddingOp op) {
    auto table = cast<RankedTensorType>(op.getTable().getType());
    if (!op.getIds().getDefiningOp<PositionsOp>() || table.isDynamicDim(0))
      return;
    context = context ? std::min(context, table.getDimSize(0))
                      : table.getDimSize(0);
  });
  return context;
}

/// A [1, n] tensor of `ids` in the model's integer type.
HostTensor tokenTensor(DType dtype, llvm::ArrayRef<int64_t> ids) {
  HostTensor t(dtype, {1, int64_t(ids.size())});
  for (size_t i = 0; i < ids.size(); ++i)
    t.setFromDouble(int64_t(i), double(ids[i]));
  return t;
}

/// The logits of the last position of [1, n, V] `logits`.
std::vector<float> lastRow(const HostTensor &logits) {
  int64_t n = logits.shape[1], v = logits.shape[2];
  std::vector<float> row(v);
  for (int64_t c = 0; c < v; ++c)
    row[c] = float(logits.getAsDouble((n - 1) * v + c));
  return row;
}
} // namespace

int64_t mha::sampleToken(llvm::ArrayRef<float> logits, double temperature,
                         int64_t topK, std::mt19937_64 &rng) {
  int64_t n = int64_t(logits.size());
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties to the smaller id.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return logits[a] > logits[b];
  });
  if (temperature == 0.0)
    return order.front();
  int64_t keep = topK > 0 ? std::min(topK, n) : n;
  double top = double(logits[order.front()]);
  std::vector<double> weights(keep);
  double total = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    weights[i] = std::exp((double(logits[order[i]]) - top) / temperature);
    total += weights[i];
  }
  // A uniform draw in [0, total), from 53 random bits.
  double u = double(rng() >> 11) * 0x1.0p-53 * total;
  for (int64_t i = 0; i < keep; ++i) {
    if (u < weights[i])
      return order[i];
    u -= weights[i];
  }
  return order[keep - 1];
}

int mha::runGeneration(const GenerationOptions &options) {
  if (options.prompt.empty())
    return reportError("--prompt must not be empty: the model continues it");
  if (options.maxTokens < 0 || options.maxTokens > kMaxTokens)
    return reportError(llvm::formatv("--max-tokens must lie in [0, {0}]",
                                     kMaxTokens));
  if (!(options.temperature >= 0.0) || !std::isfinite(options.temperature))
    return reportError("--temperature must be a finite number >= 0 (0: "
                       "greedy)");
  if (options.topK < 0)
    return reportError("--top-k must be >= 0 (0: every byte)");

  DriverContext driver;
  const FunctionInfo *selected = nullptr;
  std::unique_ptr<Model> model =
      driver.loadModelAndEntry(options.modelPath, options.entry, selected);
  if (!model)
    return 1;
  const FunctionInfo &entry = *selected;
  // A byte-level language model: [batch, seq] ids -> [batch, seq, 256].
  bool ok = entry.argTypes.size() == 1 && entry.resultTypes.size() == 1 &&
            entry.argTypes[0].getRank() == 2 &&
            entry.argTypes[0].getElementType().isSignlessInteger() &&
            entry.resultTypes[0].getRank() == 3 &&
            entry.resultTypes[0].getDimSize(2) == kVocabulary;
  if (!ok) {
    std::string types;
    for (RankedTensorType t : entry.argTypes)
      types += (types.empty() ? "" : ", ") + typeText(t);
    types = "(" + types + ") -> ";
    for (RankedTensorType t : entry.resultTypes)
      types += typeText(t) + " ";
    return reportError(llvm::formatv(
        "--generate needs a byte-level language model @{0}(tokens: [batch, "
        "seq] integer ids) -> [batch, seq, 256] logits; @{0} is {1}",
        entry.name, llvm::StringRef(types).rtrim()));
  }
  DType tokenType = *dtypeOf(entry.argTypes[0].getElementType());

  auto params = loadOrInitializeParams(model->getParams(), options.paramsPath,
                                       options.seed);
  if (!params)
    return reportError(params.takeError());
  if (options.paramsPath.empty())
    llvm::errs() << "note: no --params: the parameters are the initializers "
                    "(an untrained model)\n";

  // The prefill and the decoding step next to the model.
  PassManager pm(&driver.getContext());
  MHABuildDecodeStepPassOptions passOptions;
  passOptions.modelName = entry.name;
  pm.addPass(createMHABuildDecodeStepPass(passOptions));
  if (failed(pm.run(model->getModule())))
    return 1;
  int64_t context = contextLength(model->getModule());

  auto start = std::chrono::steady_clock::now();
  CompileOptions compile = options.compile;
  compile.entryPoints = {"__mha_prefill", "__mha_decode", entry.name};
  // On a device the parameters and the key/value cache stay there: the
  // parameters (appended after each function's declared arguments) go up
  // once, the cache (the prefill's and the decoding step's results after
  // the logits, the step's arguments after the token and its position) is
  // passed from step to step where it is.
  bool onDevice = compile.device != Device::CPU;
  if (onDevice) {
    ModuleOp module = model->getModule();
    auto paramPositions = [&](llvm::StringRef name,
                              std::vector<int64_t> positions) {
      return withParameterPositions(module.lookupSymbol<func::FuncOp>(name),
                                    model->getParams().size(),
                                    std::move(positions));
    };
    int64_t numCache = int64_t(
        module.lookupSymbol<func::FuncOp>("__mha_decode").getNumArguments() -
        2);
    std::vector<int64_t> cacheResults, cacheArguments;
    for (int64_t c = 0; c < numCache; ++c) {
      cacheResults.push_back(1 + c);
      cacheArguments.push_back(2 + c);
    }
    compile.deviceResident["__mha_prefill"] = {
        paramPositions("__mha_prefill", {}), cacheResults};
    compile.deviceResident["__mha_decode"] = {
        paramPositions("__mha_decode", cacheArguments), cacheResults};
    compile.deviceResident[entry.name] = {paramPositions(entry.name, {}), {}};
  }
  auto jit = JitModule::compile(model->getModule(), compile);
  if (!jit)
    return reportError(jit.takeError());
  llvm::errs() << llvm::formatv(
      "{0} @{1} with its prefill and cached decoding step in {2:f2} s{3}\n",
      (*jit)->isFromCache() ? "loaded the compiled code of" : "compiled",
      entry.name,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count(),
      context ? llvm::formatv("; context {0} positions", context).str()
              : std::string());

  // The parameters uploaded once (on a GPU) for every call.
  std::vector<const HostTensor *> paramTensors;
  for (const ParamInfo &p : model->getParams())
    paramTensors.push_back(&params->at(p.name));
  std::vector<DeviceTensor> deviceParams;
  auto paramArgs = (*jit)->residentArguments(paramTensors, deviceParams);
  if (!paramArgs)
    return reportError(paramArgs.takeError());
  auto call =
      [&](llvm::StringRef name,
          std::vector<CallArgument> args) -> llvm::Expected<CallResults> {
    args.insert(args.end(), paramArgs->begin(), paramArgs->end());
    return (*jit)->callOnDevice(name, args);
  };

  std::vector<int64_t> tokens(options.prompt.begin(), options.prompt.end());
  for (int64_t &t : tokens)
    t = int64_t(uint8_t(t));
  // The tokens a (re)prefill or a full pass sees: all, or the last `keep`.
  auto window = [&](int64_t keep) {
    llvm::ArrayRef<int64_t> all(tokens);
    return context && int64_t(all.size()) > keep ? all.take_back(keep) : all;
  };
  std::mt19937_64 rng(options.seed ^ 0x6e6e7a7eull);
  llvm::outs() << options.prompt;
  llvm::outs().flush();

  // The key/value cache: on the host, or on the device.
  std::vector<HostTensor> cache;
  std::vector<DeviceTensor> deviceCache;
  auto takeCache = [&](CallResults &out) {
    if (onDevice) {
      deviceCache = std::move(out.device);
      return;
    }
    cache.assign(std::make_move_iterator(out.host.begin() + 1),
                 std::make_move_iterator(out.host.end()));
  };
  int64_t position = 0; // tokens in the cache
  std::vector<float> logits;
  auto prefill = [&](int64_t keep) -> llvm::Error {
    llvm::ArrayRef<int64_t> ids = window(keep);
    HostTensor t = tokenTensor(tokenType, ids);
    auto out = call("__mha_prefill", {&t});
    if (!out)
      return out.takeError();
    logits = lastRow(out->host[0]);
    takeCache(*out);
    position = int64_t(ids.size());
    return llvm::Error::success();
  };

  auto genStart = std::chrono::steady_clock::now();
  double prefillSeconds = 0;
  if (options.useCache) {
    if (llvm::Error err = prefill(context ? context : kMaxTokens))
      return reportError(std::move(err));
    prefillSeconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - genStart)
                         .count();
  }
  int64_t reprefills = 0;
  for (int64_t i = 0; i < options.maxTokens; ++i) {
    if (!options.useCache) {
      // The reference: the whole (windowed) prefix again.
      HostTensor t = tokenTensor(tokenType, window(context));
      auto out = call(entry.name, {&t});
      if (!out)
        return reportError(out.takeError());
      logits = lastRow(out->host[0]);
    }
    int64_t next =
        sampleToken(logits, options.temperature, options.topK, rng);
    tokens.push_back(next);
    char byte = char(uint8_t(next));
    llvm::outs().write(&byte, 1);
    llvm::outs().flush();
    if (!options.useCache || i + 1 == options.maxTokens)
      continue;
    if (context && position == context) {
      // The context is full: continue from its last half.
      if (llvm::Error err = prefill(std::max<int64_t>(1, context / 2)))
        return reportError(std::move(err));
      ++reprefills;
      continue;
    }
    HostTensor t = tokenTensor(tokenType, {next});
    HostTensor offset(DType::I64, {});
    offset.setFromDouble(0, double(position));
    std::vector<CallArgument> args = {&t, &offset};
    for (const HostTensor &c : cache)
      args.push_back(&c);
    for (const DeviceTensor &c : deviceCache)
      args.push_back(&c);
    auto out = call("__mha_decode", args);
    if (!out)
      return reportError(out.takeError());
    logits = lastRow(out->host[0]);
    takeCache(*out);
    ++position;
  }
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - genStart)
                       .count();
  llvm::outs() << "\n";
  llvm::outs().flush();
  llvm::errs() << llvm::formatv(
      "generated {0} tokens in {1:f3} s: {2:f1} tokens/s ({3}", options.maxTokens,
      seconds, seconds > 0 ? double(options.maxTokens) / seconds : 0.0,
      options.useCache
          ? llvm::formatv("key/value cache; prompt of {0} tokens prefilled in "
                          "{1:f1} ms{2})",
                          options.prompt.size(), prefillSeconds * 1e3,
                          reprefills ? llvm::formatv("; context refilled {0} "
                                                     "times",
                                                     reprefills)
                                           .str()
                                     : std::string())
                .str()
          : std::string("no cache: the whole prefix recomputed per token)"));
  llvm::errs() << "\n";
  // On a device: what crossed between host and device (the parameters'
  // upload included), per token.
  if (std::optional<DeviceUse> use = (*jit)->takeDeviceUse()) {
    uint64_t tokens = uint64_t(std::max<int64_t>(options.maxTokens, 1));
    llvm::errs() << llvm::formatv(
        "host to device {0} bytes, device to host {1} bytes ({2} and {3} a "
        "token; parameters{4} on the device)\n",
        use->traffic.hostToDevice, use->traffic.deviceToHost,
        use->traffic.hostToDevice / tokens, use->traffic.deviceToHost / tokens,
        options.useCache ? " and key/value cache" : "");
  }
  return 0;
}
