//===- Training.cpp - mha-run's training mode -----------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements runTraining: it applies command-line overrides to the
// model's mha.training, builds and JIT-compiles the training step
// (mha-build-train-step + mha-lower-to-cpu), and runs epochs of seeded,
// shuffled mini-batches with validation, progress, checkpoints, resumption,
// a CSV log and an SVG plot.
//
// Reproducibility: batch order depends only on (seed, epoch) and the update
// count is saved with the optimizer state, so a run interrupted after epoch k
// and resumed from its checkpoint ends with the same parameters as one that
// was not interrupted.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Training.h"
#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Runner/Dataset.h"
#include "mha/Runner/Driver.h"
#include "mha/Runner/Model.h"
#include "mha/Runner/Registration.h"
#include "mha/Runtime/FileIO.h"
#include "mha/Runtime/Npy.h"
#include "mha/Runtime/Safetensors.h"
#include "mha/Support/ArgumentNames.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cmath>

using namespace mlir;
using namespace mlir::mha;

namespace {
constexpr llvm::StringLiteral kFirstMoment = "__opt.m.";
constexpr llvm::StringLiteral kSecondMoment = "__opt.v.";

constexpr llvm::StringLiteral kCheckpointFormat = "mha-checkpoint-1";
/// Bounds on a checkpoint's counters: far beyond any real run, far from
/// overflow in the arithmetic on them.
constexpr int64_t kMaxEpochs = int64_t(1) << 40;

llvm::Error saveCheckpoint(llvm::StringRef path, const TrainState &state,
                           const std::vector<ParamInfo> &params) {
  TensorMap all = state.params;
  for (const ParamInfo &p : params) {
    all[(kFirstMoment + p.name).str()] = state.m.at(p.name);
    all[(kSecondMoment + p.name).str()] = state.v.at(p.name);
  }
  return writeSafetensors(path, all,
                          {{"epoch", std::to_string(state.epoch)},
                           {"step", std::to_string(state.step)},
                           {"seed", std::to_string(state.seed)},
                           {"format", kCheckpointFormat.str()}});
}

/// Reads a checkpoint written by saveCheckpoint, checking it against the
/// model's parameters and its counters for sense.
llvm::Expected<TrainState>
loadCheckpoint(llvm::StringRef path, const std::vector<ParamInfo> &params) {
  auto fail = [&](const llvm::Twine &why) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   (path + ": " + why).str());
  };
  std::map<std::string, std::string> metadata;
  auto tensors = readSafetensors(path, &metadata);
  if (!tensors)
    return tensors.takeError();
  TrainState state;
  for (auto &[name, tensor] : *tensors) {
    llvm::StringRef n(name);
    if (n.consume_front(kFirstMoment))
      state.m[n.str()] = tensor;
    else if (n.consume_front(kSecondMoment))
      state.v[n.str()] = tensor;
    else
      state.params[name] = tensor;
  }
  if (metadata["format"] != kCheckpointFormat || !metadata.count("epoch") ||
      !metadata.count("step") || !metadata.count("seed"))
    return fail("not a training checkpoint (no '" + kCheckpointFormat +
                "' metadata with epoch, step and seed); use --params to "
                "start from these parameters");
  if (llvm::StringRef(metadata["epoch"]).getAsInteger(10, state.epoch) ||
      state.epoch < 0 || state.epoch > kMaxEpochs)
    return fail("the checkpoint's epoch '" + metadata["epoch"] +
                "' is not an integer in [0, 2^40]");
  if (llvm::StringRef(metadata["step"]).getAsInteger(10, state.step) ||
      state.step < state.epoch || state.step > (int64_t(1) << 62))
    return fail("the checkpoint's step '" + metadata["step"] +
                "' is not an integer in [epoch, 2^62] (every epoch makes at "
                "least one update)");
  if (llvm::StringRef(metadata["seed"]).getAsInteger(10, state.seed))
    return fail("the checkpoint's seed '" + metadata["seed"] +
                "' is not an unsigned 64-bit integer");
  if (llvm::Error err = checkParams(params, state.params, path))
    return std::move(err);
  for (const ParamInfo &p : params)
    if (!state.m.count(p.name) || !state.v.count(p.name) ||
        state.m[p.name].shape != state.params[p.name].shape ||
        state.v[p.name].shape != state.params[p.name].shape ||
        state.m[p.name].dtype != state.params[p.name].dtype ||
        state.v[p.name].dtype != state.params[p.name].dtype)
      return fail("not a training checkpoint: the optimizer state of '" +
                  p.name + "' is missing or has the wrong shape or type");
  return state;
}

/// The dropout key of update `step` (1-based) of a run seeded `seed`: a pure
/// function of both, so that a resumed run draws what the uninterrupted one
/// would have (SplitMix64 of the pair).
int64_t dropoutKey(uint64_t seed, int64_t step) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + uint64_t(step);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return int64_t(z ^ (z >> 31));
}

/// Metric helpers on predictions and labels of one batch.
struct Metrics {
  double lossSum = 0, correct = 0, absError = 0;
  int64_t examples = 0, labelCount = 0;

  /// Positions labelled `ignoreIndex` (cross entropy) count for nothing.
  void add(LossKind loss, double batchLoss, const HostTensor &pred,
           const HostTensor &labels, std::optional<int64_t> ignoreIndex) {
    int64_t n = labels.shape.empty() ? 1 : labels.shape[0];
    lossSum += batchLoss * double(n);
    examples += n;
    if (loss == LossKind::CrossEntropy) {
      int64_t classes = pred.shape.back();
      for (int64_t r = 0; r < labels.numElements(); ++r) {
        int64_t label = int64_t(labels.getAsDouble(r));
        if (ignoreIndex && label == *ignoreIndex)
          continue;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; ++c)
          if (pred.getAsDouble(r * classes + c) >
              pred.getAsDouble(r * classes + best))
            best = c;
        correct += best == label;
        ++labelCount;
      }
      return;
    }
    double threshold = loss == LossKind::BCEWithLogits ? 0.0 : 0.5;
    for (int64_t i = 0; i < labels.numElements(); ++i) {
      double p = pred.getAsDouble(i), y = labels.getAsDouble(i);
      correct += (p >= threshold) == (y >= 0.5);
      absError += std::fabs(p - y);
    }
    labelCount += labels.numElements();
  }
  double meanLoss() const {
    return examples ? lossSum / double(examples) : NAN;
  }
  double accuracy() const {
    return labelCount ? correct / double(labelCount) : NAN;
  }
  double mae() const {
    return labelCount ? absError / double(labelCount) : NAN;
  }
};

/// The number of labels a batch's mean loss is taken over: the positions
/// not labelled `ignoreIndex` for cross entropy, every element otherwise.
int64_t countLabels(LossKind loss, const HostTensor &labels,
                    std::optional<int64_t> ignoreIndex) {
  if (loss != LossKind::CrossEntropy || !ignoreIndex)
    return labels.numElements();
  int64_t count = 0;
  for (int64_t i = 0; i < labels.numElements(); ++i)
    count += labels.getAsInt64(i) != *ignoreIndex;
  return count;
}

/// A one-line progress bar on a terminal.
void drawProgress(int64_t epoch, int64_t epochs, int64_t done, int64_t total,
                  double loss) {
  constexpr int width = 30;
  int filled = total ? int(width * done / total) : width;
  llvm::errs() << llvm::format("\r\x1b[Kepoch %lld/%lld [", (long long)epoch,
                               (long long)epochs)
               << std::string(filled, '#') << std::string(width - filled, '.')
               << llvm::format("] %lld/%lld loss %.4f", (long long)done,
                               (long long)total, loss);
}

/// Training and validation data, and where they came from.
struct TrainingData {
  Dataset train, validation;
  std::string source;
};

llvm::Error trainingError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

/// The model inputs the built-in tasks feed, checked against `fn`.
llvm::Error checkGeneratedInputs(const Dataset &data, const FunctionInfo &fn) {
  for (unsigned i = 0; i < data.inputs.size(); ++i)
    if (llvm::Error err = checkArgumentData(fn, i, data.inputs[i],
                                            data.inputSources[i],
                                            /*batched=*/true))
      return err;
  return llvm::Error::success();
}

/// Generates the dataset `kind` names (synthetic or padded) for `modelFn`,
/// checking first that the model can take it.
llvm::Expected<Dataset> generateDataset(const TrainingOptions &options,
                                        TrainingOp config,
                                        const FunctionInfo *modelFn) {
  DatasetAttr datasetAttr = config.getDatasetAttr();
  DatasetKind kind =
      datasetAttr ? datasetAttr.getKind() : DatasetKind::Synthetic;
  LossKind lossKind = config.getLoss();
  int64_t samples = options.samples ? *options.samples
                                    : (datasetAttr && datasetAttr.getSamples()
                                           ? *datasetAttr.getSamples()
                                           : 2048);
  int64_t seqLen = options.seqLen ? *options.seqLen
                                  : (datasetAttr && datasetAttr.getSeqLen()
                                         ? *datasetAttr.getSeqLen()
                                         : 16);
  uint64_t dataSeed = datasetAttr && datasetAttr.getSeed()
                          ? uint64_t(*datasetAttr.getSeed())
                          : 0;
  if (samples <= 0 || seqLen <= 0)
    return trainingError("--samples and --seq-len must be positive");
  RankedTensorType inputType = modelFn->argTypes[0];
  RankedTensorType predType = modelFn->resultTypes[0];
  if (kind == DatasetKind::Synthetic) {
    if (modelFn->argTypes.size() != 1 || inputType.getRank() != 3 ||
        (!inputType.isDynamicDim(2) &&
         inputType.getDimSize(2) != kSyntheticFeatures) ||
        lossKind == LossKind::CrossEntropy || lossKind == LossKind::MSE)
      return trainingError(llvm::formatv(
          "the synthetic dataset makes [batch, seq, {0}] sequences with "
          "binary labels; @{1} takes {2} input(s) ({3}...) with loss {4}: give "
          "--data/--labels",
          kSyntheticFeatures, modelFn->name, modelFn->argTypes.size(),
          typeText(inputType), stringifyLossKind(lossKind)));
    if (llvm::Error err =
            checkAllocatable(DType::F32, {samples, seqLen, kSyntheticFeatures},
                             "the synthetic dataset (--samples, --seq-len)"))
      return std::move(err);
    Dataset data = makeMarkedTokenDataset(samples, seqLen, dataSeed);
    if (llvm::Error err = checkGeneratedInputs(data, *modelFn))
      return std::move(err);
    return data;
  }
  // The padded-maximum task: (x [N, S, F] f32, keep [N, S] or [N, 1, 1, S]
  // i1) -> per-token classes.
  auto expected = [&](const llvm::Twine &why) {
    return trainingError(llvm::formatv(
        "the padded dataset feeds a model (x: [batch, seq, features] f32, "
        "keep: [batch, seq] or [batch, 1, 1, seq] i1) -> [batch, seq, "
        "classes] with loss cross_entropy and an ignore_index; {0}",
        why.str()));
  };
  if (modelFn->argTypes.size() != 2)
    return expected("@" + modelFn->name + " takes " +
                    llvm::Twine(modelFn->argTypes.size()) + " inputs");
  RankedTensorType keepType = modelFn->argTypes[1];
  if (inputType.getRank() != 3 || inputType.isDynamicDim(2) ||
      !inputType.getElementType().isF32())
    return expected("its first input is " + typeText(inputType) +
                    " (the feature size must be static)");
  if (!keepType.getElementType().isInteger(1) ||
      (keepType.getRank() != 2 && keepType.getRank() != 4))
    return expected("its second input is " + typeText(keepType));
  if (lossKind != LossKind::CrossEntropy || !config.getIgnoreIndex())
    return expected(llvm::Twine("mha.training has loss ") +
                    stringifyLossKind(lossKind) +
                    (config.getIgnoreIndex() ? "" : " and no ignore_index"));
  int64_t features = inputType.getDimSize(2);
  int64_t vocabulary = std::min<int64_t>(features, 16);
  if (predType.getRank() != 3 || predType.isDynamicDim(2) ||
      predType.getDimSize(2) < vocabulary)
    return expected(llvm::formatv("@{0} returns {1}; it needs {2} classes or "
                                  "more",
                                  modelFn->name, typeText(predType),
                                  vocabulary)
                        .str());
  if (llvm::Error err =
          checkAllocatable(DType::F32, {samples, seqLen, features},
                           "the padded dataset (--samples, --seq-len)"))
    return std::move(err);
  Dataset data =
      makePaddedMaxDataset(samples, seqLen, features, keepType.getRank(),
                           *config.getIgnoreIndex(), dataSeed);
  if (llvm::Error err = checkGeneratedInputs(data, *modelFn))
    return std::move(err);
  return data;
}

/// Next-byte prediction on the text file `path` for a byte-level language
/// model: windows of --seq-len (else the dataset's, else 64) bytes; the last
/// `split` of the file is the validation text.
llvm::Expected<TrainingData> loadTextData(const TrainingOptions &options,
                                          TrainingOp config,
                                          const FunctionInfo *modelFn,
                                          double split, llvm::StringRef path) {
  if (!options.data.empty() || !options.labelsPath.empty())
    return trainingError("--text replaces --data and --labels: give one or "
                         "the other");
  DatasetAttr datasetAttr = config.getDatasetAttr();
  int64_t seqLen = options.seqLen ? *options.seqLen
                                  : (datasetAttr && datasetAttr.getSeqLen()
                                         ? *datasetAttr.getSeqLen()
                                         : 64);
  if (seqLen <= 0)
    return trainingError("--seq-len must be positive");
  RankedTensorType tokens = modelFn->argTypes[0];
  RankedTensorType logits = modelFn->resultTypes[0];
  if (modelFn->argTypes.size() != 1 || tokens.getRank() != 2 ||
      !tokens.getElementType().isSignlessInteger() || logits.getRank() != 3 ||
      logits.getDimSize(2) != 256 ||
      config.getLoss() != LossKind::CrossEntropy)
    return trainingError(llvm::formatv(
        "a text dataset trains a byte-level language model @{0}(tokens: "
        "[batch, seq] integer ids) -> [batch, seq, 256] logits with loss "
        "cross_entropy; @{0} takes {1} input(s) ({2}) and returns {3}, loss "
        "{4}",
        modelFn->name, modelFn->argTypes.size(), typeText(tokens),
        typeText(logits), stringifyLossKind(config.getLoss())));
  auto file = readInputFile(path);
  if (!file)
    return file.takeError();
  llvm::StringRef text = (*file)->getBuffer();
  size_t cut = size_t(std::floor(double(text.size()) * (1.0 - split)));
  DType idType = *dtypeOf(tokens.getElementType());
  TrainingData data;
  data.train = makeTextDataset(text.take_front(cut), seqLen, idType, path);
  data.validation =
      makeTextDataset(text.drop_front(cut), seqLen, idType, path);
  data.source = llvm::formatv("text {0} ({1} bytes, windows of {2})", path,
                              text.size(), seqLen)
                    .str();
  if (data.train.size() == 0)
    return trainingError(llvm::formatv(
        "{0}: {1} bytes for training make no window of {2} bytes and the "
        "next one",
        path, cut, seqLen));
  for (const Dataset *d : {&data.train, &data.validation})
    if (llvm::Error err = checkGeneratedInputs(*d, *modelFn))
      return std::move(err);
  return data;
}

/// Loads (or generates) and checks the data `config`'s model trains on:
/// .npy files from the command line or the model's dataset, validated
/// against the loss and the model's input and output types, and split.
llvm::Expected<TrainingData> loadTrainingData(const TrainingOptions &options,
                                              TrainingOp config,
                                              const FunctionInfo *modelFn,
                                              uint64_t seed) {
  LossKind lossKind = config.getLoss();
  RankedTensorType predType = modelFn->resultTypes[0];
  // Data: .npy files or the model's dataset.
  DatasetAttr datasetAttr = config.getDatasetAttr();
  double split =
      options.validationSplit
          ? *options.validationSplit
          : (datasetAttr && datasetAttr.getValidationSplit()
                 ? datasetAttr.getValidationSplit().getValueAsDouble()
                 : 0.2);
  if (!(split >= 0 && split < 1))
    return trainingError("--validation-split must lie in [0, 1)");
  // Every model input bound to a file, and the labels.
  auto loadFiles = [&](llvm::ArrayRef<std::string> bindings,
                       const std::string &labelsPath,
                       llvm::StringRef flag) -> llvm::Expected<Dataset> {
    auto files = bindArgumentFiles(*modelFn, bindings, flag);
    if (!files)
      return files.takeError();
    Dataset d;
    for (auto [index, path] : llvm::enumerate(*files)) {
      if (path.empty())
        return trainingError(llvm::formatv(
            "{0}: no file for input '{1}' ({2}) of @{3}; bind each input "
            "with {0} NAME=FILE.npy",
            flag, modelFn->argNames[index], typeText(modelFn->argTypes[index]),
            modelFn->name));
      auto tensor = readArgumentFile(*modelFn, index, path, /*batched=*/true);
      if (!tensor)
        return tensor.takeError();
      d.inputs.push_back(std::move(*tensor));
      d.inputSources.push_back(path);
    }
    auto y = readNpy(labelsPath);
    if (!y)
      return y.takeError();
    d.labels = std::move(*y);
    d.labelSource = labelsPath;
    return d;
  };
  std::string modelDir = llvm::sys::path::parent_path(options.modelPath).str();
  auto resolve = [&](llvm::StringRef file) {
    llvm::SmallString<256> path(file);
    if (!llvm::sys::path::is_absolute(path) && !modelDir.empty()) {
      path = modelDir;
      llvm::sys::path::append(path, file);
    }
    return std::string(path);
  };
  // A text file: next-byte prediction, the file's tail for validation.
  if (!options.textPath.empty() ||
      (options.data.empty() && datasetAttr &&
       datasetAttr.getKind() == DatasetKind::Text))
    return loadTextData(options, config, modelFn, split,
                        options.textPath.empty()
                            ? resolve(cast<StringAttr>(datasetAttr.getData())
                                          .getValue())
                            : options.textPath);
  llvm::Expected<Dataset> loaded = Dataset();
  if (!options.data.empty() || !options.labelsPath.empty()) {
    if (options.data.empty() || options.labelsPath.empty())
      return trainingError("--data and --labels go together");
    loaded = loadFiles(options.data, options.labelsPath, "--data");
  } else if (datasetAttr && datasetAttr.getKind() == DatasetKind::Npy) {
    std::vector<std::string> bindings;
    if (auto file = dyn_cast<StringAttr>(datasetAttr.getData()))
      bindings.push_back(resolve(file.getValue()));
    else
      for (NamedAttribute input : cast<DictionaryAttr>(datasetAttr.getData()))
        bindings.push_back(
            (input.getName().strref() + "=" +
             resolve(cast<StringAttr>(input.getValue()).getValue()))
                .str());
    loaded = loadFiles(bindings, resolve(datasetAttr.getLabels().getValue()),
                       "the dataset's data");
  } else {
    loaded = generateDataset(options, config, modelFn);
  }
  if (!loaded)
    return loaded.takeError();
  Dataset all = std::move(*loaded);
  std::string source = all.inputSources[0];
  // Labels the loss can use.
  bool binary =
      lossKind == LossKind::BCE || lossKind == LossKind::BCEWithLogits;
  int64_t classes =
      lossKind == LossKind::CrossEntropy ? predType.getShape().back() : 0;
  // Labels are checked as stored (a float label of 1e30 or NaN is reported
  // as such), then class indices converted to i64.
  if (llvm::Error err =
          validateDataset(all, binary, classes, config.getIgnoreIndex()))
    return std::move(err);
  auto classIndicesToI64 = [&](Dataset &d) {
    if (lossKind != LossKind::CrossEntropy || d.labels.dtype == DType::I64)
      return;
    HostTensor converted(DType::I64, d.labels.shape);
    for (int64_t i = 0; i < converted.numElements(); ++i)
      converted.setFromDouble(i, d.labels.getAsDouble(i));
    d.labels = std::move(converted);
  };
  classIndicesToI64(all);
  // Labels like the predictions (or without the class dimension).
  auto checkLabels = [&](const Dataset &d) -> llvm::Error {
    std::vector<int64_t> want(predType.getShape().begin(),
                              predType.getShape().end());
    if (lossKind == LossKind::CrossEntropy)
      want.pop_back();
    bool labelOk = d.labels.shape.size() == want.size();
    for (size_t i = 1; labelOk && i < want.size(); ++i)
      labelOk = ShapedType::isDynamic(want[i]) || want[i] == d.labels.shape[i];
    if (!labelOk) {
      std::string labels = "[N";
      for (size_t i = 1; i < want.size(); ++i)
        labels +=
            ", " + (ShapedType::isDynamic(want[i]) ? std::string("?")
                                                   : std::to_string(want[i]));
      return trainingError(d.labelSource + ": labels are " +
                           d.labels.typeString() + "; the loss '" +
                           stringifyLossKind(lossKind) + "' expects shape " +
                           labels + "]");
    }
    if (d.labels.dtype != DType::F32 && lossKind != LossKind::CrossEntropy)
      return trainingError(d.labelSource +
                           ": labels must be float32 for the loss '" +
                           stringifyLossKind(lossKind) + "'");
    return llvm::Error::success();
  };
  if (llvm::Error err = checkLabels(all))
    return std::move(err);
  Dataset train, validation;
  if (!options.valData.empty() || !options.valLabelsPath.empty()) {
    if (options.valData.empty() || options.valLabelsPath.empty())
      return trainingError("--val-data and --val-labels go together");
    auto loadedVal =
        loadFiles(options.valData, options.valLabelsPath, "--val-data");
    if (!loadedVal)
      return loadedVal.takeError();
    validation = std::move(*loadedVal);
    if (llvm::Error err = validateDataset(validation, binary, classes,
                                          config.getIgnoreIndex()))
      return std::move(err);
    classIndicesToI64(validation);
    if (llvm::Error err = checkLabels(validation))
      return std::move(err);
    train = std::move(all);
  } else {
    std::tie(train, validation) = splitDataset(all, split, seed);
  }
  if (train.size() == 0)
    return trainingError(
        "no training examples left after the validation split");

  return TrainingData{std::move(train), std::move(validation), source};
}
} // namespace

llvm::Expected<std::unique_ptr<TrainingStep>>
TrainingStep::compile(ModuleOp module, const FunctionInfo &model,
                      std::vector<ParamInfo> params, CompileOptions options) {
  unsigned numInputs = model.argTypes.size();
  auto step = std::unique_ptr<TrainingStep>(new TrainingStep());
  auto stepFn = module.lookupSymbol<func::FuncOp>("__mha_train_step");
  if (!stepFn) {
    stepFn = module.lookupSymbol<func::FuncOp>("__mha_grad_step");
    step->split = bool(stepFn);
  }
  if (!stepFn)
    return trainingError("the module has no __mha_train_step (run "
                         "mha-build-train-step first)");
  // Models with dropout take a key per update after the labels.
  unsigned keyIndex = numInputs + 1;
  step->takesDropoutKey = keyIndex < stepFn.getNumArguments() &&
                          argumentName(stepFn, keyIndex) == "dropout_key";
  step->params = std::move(params);
  step->argNames = model.argNames;
  step->argNames.push_back("labels");
  if (step->split)
    options.entryPoints = {"__mha_grad_step", "__mha_apply_update",
                           "__mha_eval"};
  else
    options.entryPoints = {"__mha_train_step", "__mha_eval"};
  // On a device, the parameters and the optimizer state stay there between
  // updates: the step's m, v (its last declared arguments) and parameters
  // (appended after them) in, the new ones (its results after the loss and
  // predictions) out; the evaluation reads the same parameters. Split (data
  // parallel), the gradient step reads the parameters there and returns the
  // gradients to the host (for the sum over the ranks); the update takes
  // m, v (after the step count) and the parameters (after the gradients)
  // there and leaves its results, the new parameters, m and v, there.
  auto evalFn = module.lookupSymbol<func::FuncOp>("__mha_eval");
  auto applyFn = module.lookupSymbol<func::FuncOp>("__mha_apply_update");
  step->residentState =
      options.device != Device::CPU && evalFn && (!step->split || applyFn);
  if (step->residentState) {
    int64_t n = int64_t(step->params.size());
    options.deviceResident["__mha_eval"].arguments =
        withParameterPositions(evalFn, n);
    if (step->split) {
      options.deviceResident["__mha_grad_step"].arguments =
          withParameterPositions(stepFn, n);
      // m and v after the step count, then the gradients, then the
      // parameters.
      CompileOptions::DeviceResidence apply;
      for (int64_t i = 0; i < 2 * n; ++i)
        apply.arguments.push_back(1 + i);
      apply.arguments =
          withParameterPositions(applyFn, n, std::move(apply.arguments));
      for (int64_t i = 0; i < 3 * n; ++i)
        apply.results.push_back(i);
      options.deviceResident["__mha_apply_update"] = std::move(apply);
    } else {
      int64_t declared = int64_t(stepFn.getNumArguments());
      CompileOptions::DeviceResidence train;
      for (int64_t i = 0; i < 3 * n; ++i) {
        train.arguments.push_back(declared - 2 * n + i);
        train.results.push_back(2 + i);
      }
      options.deviceResident["__mha_train_step"] = std::move(train);
    }
  }
  auto jit = JitModule::compile(module, options);
  if (!jit)
    return jit.takeError();
  step->jit = std::move(*jit);
  return step;
}

/// The arguments of a step or gradient call: inputs, labels, the dropout
/// key when the model has dropout.
static std::vector<const HostTensor *>
stepArguments(llvm::ArrayRef<const HostTensor *> inputs,
              const HostTensor &labels, const HostTensor *key) {
  std::vector<const HostTensor *> args(inputs.begin(), inputs.end());
  args.push_back(&labels);
  if (key)
    args.push_back(key);
  return args;
}

/// Appends `map`'s tensor of each parameter, in declaration order.
static void appendEach(std::vector<const HostTensor *> &args,
                       const TensorMap &map, llvm::ArrayRef<ParamInfo> params) {
  for (const ParamInfo &p : params)
    args.push_back(&map.at(p.name));
}

/// Moves the new parameters, m and v (each one per parameter, from `first`
/// on) of a step's results into `state`, and counts the update.
static void takeUpdate(std::vector<HostTensor> &results, size_t first,
                       llvm::ArrayRef<ParamInfo> params, TrainState &state) {
  size_t n = params.size();
  for (size_t i = 0; i < n; ++i) {
    state.params[params[i].name] = std::move(results[first + i]);
    state.m[params[i].name] = std::move(results[first + n + i]);
    state.v[params[i].name] = std::move(results[first + 2 * n + i]);
  }
  ++state.step;
}

llvm::Error TrainingStep::applyUpdate(std::vector<HostTensor> &grads,
                                      TrainState &state) {
  HostTensor stepTensor(DType::F32, {});
  stepTensor.setFromDouble(0, double(state.step + 1));
  if (residentState) {
    if (llvm::Error err = moveStateToDevice(state))
      return err;
    std::vector<CallArgument> args = {&stepTensor};
    for (std::vector<DeviceTensor> *tensors :
         {&deviceState->m, &deviceState->v})
      for (const DeviceTensor &t : *tensors)
        args.push_back(&t);
    for (const HostTensor &g : grads)
      args.push_back(&g);
    for (const DeviceTensor &t : deviceState->params)
      args.push_back(&t);
    auto out = jit->callOnDevice("__mha_apply_update", args);
    if (!out)
      return out.takeError();
    takeDeviceUpdate(out->device, state);
    return llvm::Error::success();
  }
  std::vector<const HostTensor *> args = {&stepTensor};
  appendEach(args, state.m, params);
  appendEach(args, state.v, params);
  for (const HostTensor &g : grads)
    args.push_back(&g);
  appendEach(args, state.params, params);
  auto out = jit->call("__mha_apply_update", args, {});
  if (!out)
    return out.takeError();
  takeUpdate(*out, 0, params, state);
  return llvm::Error::success();
}

llvm::Expected<std::vector<HostTensor>>
TrainingStep::gradients(llvm::ArrayRef<const HostTensor *> inputs,
                        const HostTensor &labels, const TrainState &state,
                        int64_t dropoutKey, Result &result) {
  HostTensor keyTensor(DType::I64, {});
  keyTensor.setInt64(0, dropoutKey);
  auto out = callWithParams(
      "__mha_grad_step",
      stepArguments(inputs, labels, takesDropoutKey ? &keyTensor : nullptr),
      state);
  if (!out)
    return out.takeError();
  result.localLoss = (*out)[0].getAsDouble(0);
  result.predictions = std::move((*out)[1]);
  return std::vector<HostTensor>(std::make_move_iterator(out->begin() + 2),
                                 std::make_move_iterator(out->end()));
}

llvm::Expected<TrainingStep::Result>
TrainingStep::update(llvm::ArrayRef<const HostTensor *> inputs,
                     const HostTensor &labels, TrainState &state) {
  int64_t key = dropoutKey(state.seed, state.step + 1);
  if (split) {
    Result result;
    auto grads = gradients(inputs, labels, state, key, result);
    if (!grads)
      return grads.takeError();
    result.loss = result.localLoss;
    if (!std::isfinite(result.loss))
      return result;
    if (llvm::Error err = applyUpdate(*grads, state))
      return std::move(err);
    return result;
  }
  HostTensor keyTensor(DType::I64, {});
  keyTensor.setInt64(0, key);
  std::vector<const HostTensor *> args =
      stepArguments(inputs, labels, takesDropoutKey ? &keyTensor : nullptr);
  HostTensor stepTensor(DType::F32, {});
  stepTensor.setFromDouble(0, double(state.step + 1));
  args.push_back(&stepTensor);
  if (residentState)
    return updateOnDevice(args, state);
  appendEach(args, state.m, params);
  appendEach(args, state.v, params);
  appendEach(args, state.params, params);
  auto out = jit->call("__mha_train_step", args, argNames);
  if (!out)
    return out.takeError();
  double loss = (*out)[0].getAsDouble(0);
  Result result{loss, loss, std::move((*out)[1])};
  if (!std::isfinite(result.loss))
    return result;
  takeUpdate(*out, 2, params, state);
  return result;
}

llvm::Error TrainingStep::moveStateToDevice(const TrainState &state) {
  if (deviceState)
    return llvm::Error::success();
  DeviceState onDevice;
  for (auto [map, tensors] :
       {std::pair(&state.params, &onDevice.params),
        std::pair(&state.m, &onDevice.m), std::pair(&state.v, &onDevice.v)})
    for (const ParamInfo &p : params) {
      auto tensor = jit->toDevice(map->at(p.name));
      if (!tensor)
        return tensor.takeError();
      tensors->push_back(std::move(*tensor));
    }
  deviceState = std::move(onDevice);
  return llvm::Error::success();
}

llvm::Expected<TrainingStep::Result>
TrainingStep::updateOnDevice(llvm::ArrayRef<const HostTensor *> hostArgs,
                             TrainState &state) {
  if (llvm::Error err = moveStateToDevice(state))
    return std::move(err);
  std::vector<CallArgument> args(hostArgs.begin(), hostArgs.end());
  for (std::vector<DeviceTensor> *tensors :
       {&deviceState->m, &deviceState->v, &deviceState->params})
    for (const DeviceTensor &t : *tensors)
      args.push_back(&t);
  auto out = jit->callOnDevice("__mha_train_step", args, argNames);
  if (!out)
    return out.takeError();
  double loss = out->host[0].getAsDouble(0);
  Result result{loss, loss, std::move(out->host[1])};
  // A bad loss leaves the state as it was (the new tensors are freed).
  if (!std::isfinite(result.loss))
    return result;
  takeDeviceUpdate(out->device, state);
  return result;
}

void TrainingStep::takeDeviceUpdate(std::vector<DeviceTensor> &results,
                                    TrainState &state) {
  size_t n = params.size();
  for (size_t i = 0; i < n; ++i) {
    deviceState->params[i] = std::move(results[i]);
    deviceState->m[i] = std::move(results[n + i]);
    deviceState->v[i] = std::move(results[2 * n + i]);
  }
  deviceState->hostBehind = true;
  ++state.step;
}

llvm::Expected<std::vector<HostTensor>>
TrainingStep::callWithParams(llvm::StringRef name,
                             llvm::ArrayRef<const HostTensor *> hostArgs,
                             const TrainState &state) {
  if (!residentState) {
    std::vector<const HostTensor *> args(hostArgs.begin(), hostArgs.end());
    appendEach(args, state.params, params);
    return jit->call(name, args, argNames);
  }
  // The parameters where the updates left them.
  if (llvm::Error err = moveStateToDevice(state))
    return std::move(err);
  std::vector<CallArgument> args(hostArgs.begin(), hostArgs.end());
  for (const DeviceTensor &t : deviceState->params)
    args.push_back(&t);
  auto out = jit->callOnDevice(name, args, argNames);
  if (!out)
    return out.takeError();
  return std::move(out->host);
}

void TrainingStep::stateChangedOnHost() { deviceState.reset(); }

llvm::Error TrainingStep::syncState(TrainState &state) {
  if (!deviceState || !deviceState->hostBehind)
    return llvm::Error::success();
  for (auto [map, tensors] : {std::pair(&state.params, &deviceState->params),
                              std::pair(&state.m, &deviceState->m),
                              std::pair(&state.v, &deviceState->v)})
    for (auto [p, tensor] : llvm::zip_equal(params, *tensors)) {
      auto host = jit->toHost(tensor);
      if (!host)
        return host.takeError();
      (*map)[p.name] = std::move(*host);
    }
  deviceState->hostBehind = false;
  return llvm::Error::success();
}

llvm::Expected<TrainingStep::Result>
TrainingStep::update(llvm::ArrayRef<const HostTensor *> inputs,
                     const HostTensor &labels, TrainState &state,
                     Communicator &communicator, double weight) {
  if (!split)
    return trainingError("a data-parallel update needs the training step "
                         "built with mha-build-train-step=split-update");
  std::vector<HostTensor> grads;
  Result result{NAN, NAN, HostTensor()};
  bool hasRows = !labels.shape.empty() && labels.shape[0] > 0;
  if (hasRows && weight > 0) {
    // Each rank draws its own dropout masks (rank 0 those of one process).
    auto computed = gradients(
        inputs, labels, state,
        dropoutKey(state.seed +
                       uint64_t(communicator.rank()) * 0xD1B54A32D192ED03ull,
                   state.step + 1),
        result);
    if (!computed)
      return computed.takeError();
    grads = std::move(*computed);
  } else {
    weight = 0;
    for (const ParamInfo &p : params) {
      const HostTensor &value = state.params.at(p.name);
      grads.emplace_back(value.dtype, value.shape);
    }
  }
  // One sum over the ranks: the weighted gradients, the weighted loss and
  // the weight; the means follow by dividing by the total weight.
  size_t total = 0;
  for (const HostTensor &g : grads) {
    if (g.dtype != DType::F32)
      return trainingError("data-parallel training needs float32 "
                           "parameters; a gradient is " +
                           g.typeString());
    total += size_t(g.numElements());
  }
  std::vector<float> buffer(total + 2);
  size_t at = 0;
  for (const HostTensor &g : grads)
    for (int64_t i = 0; i < g.numElements(); ++i)
      buffer[at++] = float(weight) * g.f32()[i];
  buffer[total] = weight > 0 ? float(weight * result.localLoss) : 0.0f;
  buffer[total + 1] = float(weight);
  communicator.allReduceSum(buffer);
  // (No labels counted anywhere, as when every position of a batch is
  // ignored: the mean loss and its gradients are 0, as in one process.)
  float sum = std::max(buffer[total + 1], 1.0f);
  result.loss = double(buffer[total]) / double(sum);
  // Every rank sees the same loss, so all stop together when it is bad.
  if (!std::isfinite(result.loss))
    return result;
  at = 0;
  for (HostTensor &g : grads)
    for (int64_t i = 0; i < g.numElements(); ++i)
      g.f32()[i] = buffer[at++] / sum;
  if (llvm::Error err = applyUpdate(grads, state))
    return std::move(err);
  return result;
}

llvm::Expected<TrainingStep::Result>
TrainingStep::evaluate(llvm::ArrayRef<const HostTensor *> inputs,
                       const HostTensor &labels, const TrainState &state) {
  auto out = callWithParams("__mha_eval",
                            stepArguments(inputs, labels, nullptr), state);
  if (!out)
    return out.takeError();
  double loss = (*out)[0].getAsDouble(0);
  return Result{loss, loss, std::move((*out)[1])};
}

/// A digest of `tensors` (shapes, types and bytes), the same on every
/// machine for the same values.
static uint64_t digest(llvm::ArrayRef<const HostTensor *> tensors) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  auto mix = [&](uint64_t value) {
    h = (h ^ value) * 0x100000001B3ull;
    h ^= h >> 29;
  };
  for (const HostTensor *t : tensors) {
    mix(uint64_t(t->dtype));
    for (int64_t d : t->shape)
      mix(uint64_t(d));
    mix(llvm::xxh3_64bits(t->data));
  }
  return h;
}

static uint64_t digest(const Dataset &d) {
  std::vector<const HostTensor *> all;
  for (const HostTensor &t : d.inputs)
    all.push_back(&t);
  all.push_back(&d.labels);
  return digest(all);
}

/// The tensors of a training state in a fixed order, and its digest (with
/// the counters).
static std::vector<HostTensor *> stateTensors(TrainState &state,
                                              llvm::ArrayRef<ParamInfo> params) {
  std::vector<HostTensor *> all;
  for (TensorMap *map : {&state.params, &state.m, &state.v})
    for (const ParamInfo &p : params)
      all.push_back(&map->at(p.name));
  return all;
}

static uint64_t digest(TrainState &state, llvm::ArrayRef<ParamInfo> params) {
  std::vector<HostTensor *> tensors = stateTensors(state, params);
  HostTensor counters(DType::I64, {3});
  counters.setInt64(0, state.epoch);
  counters.setInt64(1, state.step);
  counters.setInt64(2, int64_t(state.seed));
  std::vector<const HostTensor *> all(tensors.begin(), tensors.end());
  all.push_back(&counters);
  return digest(all);
}

/// The ranks whose `value` differs from rank 0's, as "1, 3".
static std::string ranksDiffering(llvm::ArrayRef<uint64_t> values) {
  std::string ranks;
  for (size_t r = 1; r < values.size(); ++r)
    if (values[r] != values[0])
      ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  return ranks;
}

/// The part of `rows` rank `rank` of `size` takes: a contiguous slice, the
/// sizes differing by at most one.
static llvm::ArrayRef<int64_t> rankSlice(llvm::ArrayRef<int64_t> rows,
                                         int rank, int size) {
  size_t begin = rows.size() * size_t(rank) / size_t(size);
  size_t end = rows.size() * size_t(rank + 1) / size_t(size);
  return rows.slice(begin, end - begin);
}

/// Sums the metrics of every rank into `m`.
static void sumMetrics(Communicator &communicator, Metrics &m) {
  std::vector<double> values = {m.lossSum, m.correct, m.absError,
                                double(m.examples), double(m.labelCount)};
  communicator.allReduceSum(values);
  m.lossSum = values[0];
  m.correct = values[1];
  m.absError = values[2];
  m.examples = int64_t(values[3]);
  m.labelCount = int64_t(values[4]);
}

int mha::runTraining(const TrainingOptions &options) {
  // Data-parallel: every rank runs this function; rank 0 alone prints
  // progress and writes files. An error one rank meets is reported by it
  // (reportError names the rank; the caller stops the others); an error
  // every rank meets at the same point (a bad option, a diverging loss) is
  // reported once, by rank 0.
  Communicator *communicator =
      options.communicator && options.communicator->size() > 1
          ? options.communicator
          : nullptr;
  int rank = communicator ? communicator->rank() : 0;
  int ranks = communicator ? communicator->size() : 1;
  bool lead = rank == 0;
  auto failEverywhere = [&](const llvm::Twine &message) {
    if (!communicator)
      return reportError(message);
    if (lead) {
      std::string prefix = setErrorPrefix("");
      reportError(message);
      setErrorPrefix(prefix);
    }
    // No rank stops the run before rank 0 has said why.
    (void)communicator->allGather(0);
    return 1;
  };
  DriverContext driver;
  MLIRContext &context = driver.getContext();
  std::unique_ptr<Model> model = driver.loadModel(options.modelPath);
  if (!model)
    return 1;
  TrainingOp config = model->getTraining();
  if (!config)
    return failEverywhere(options.modelPath +
                       ": no mha.training in the model; --train needs one (see "
                       "docs/Training.md)");

  // Command-line overrides edit the configuration before compilation.
  Builder b(&context);
  if (options.epochs) {
    if (*options.epochs <= 0)
      return failEverywhere("--epochs must be positive");
    config.setEpochsAttr(b.getI64IntegerAttr(*options.epochs));
  }
  if (options.batchSize) {
    if (*options.batchSize <= 0)
      return failEverywhere("--batch-size must be positive");
    config.setBatchSizeAttr(b.getI64IntegerAttr(*options.batchSize));
  }
  OptimizerAttr opt = config.getOptimizer();
  if (options.optimizer || options.learningRate) {
    OptimizerKind kind = opt.getKind();
    if (options.optimizer) {
      auto parsed = symbolizeOptimizerKind(*options.optimizer);
      if (!parsed)
        return failEverywhere("--optimizer '" + *options.optimizer +
                           "' is unknown; expected sgd, adam or adamw");
      kind = *parsed;
    }
    double lr = options.learningRate ? *options.learningRate
                                     : opt.getLearningRate().getValueAsDouble();
    if (!(lr > 0))
      return failEverywhere("--learning-rate must be positive");
    bool keepHyper = kind == opt.getKind();
    auto emit = [&]() { return emitError(config.getLoc()); };
    opt = OptimizerAttr::getChecked(emit, &context, kind, b.getF64FloatAttr(lr),
                                    keepHyper ? opt.getMomentum() : FloatAttr(),
                                    keepHyper ? opt.getBeta1() : FloatAttr(),
                                    keepHyper ? opt.getBeta2() : FloatAttr(),
                                    keepHyper ? opt.getEpsilon() : FloatAttr(),
                                    keepHyper ? opt.getWeightDecay()
                                              : FloatAttr());
    if (!opt)
      return 1;
    config.setOptimizerAttr(opt);
  }
  if (options.precision)
    config.setPrecision(*options.precision);
  Precision precision = config.getPrecision().value_or(Precision::F32);
  CompileOptions compileOptions = options.compile;
  compileOptions.bf16Matmuls = precision == Precision::BF16;
  int64_t epochs = int64_t(config.getEpochsAttr().getInt());
  int64_t batchSize = int64_t(config.getBatchSizeAttr().getInt());
  LossKind lossKind = config.getLoss();

  const FunctionInfo *modelFn = model->lookupFunction(config.getModel());
  if (!modelFn || modelFn->argTypes.empty())
    return failEverywhere("@" + config.getModel() +
                       ": --train needs a model with at least one input (the "
                       "data)");

  // Every file the run writes is checked before the work starts, so that a
  // bad path does not lose a finished run.
  for (const std::string *path :
       {&options.savePath, &options.logPath, &options.plotPath})
    if (lead && !path->empty())
      if (llvm::Error err = checkWritable(*path))
        return reportError(std::move(err));

  // Parameters and optimizer state: resumed, loaded or initialized.
  const std::vector<ParamInfo> &params = model->getParams();
  TrainState state;
  state.seed = options.seed.value_or(0);
  if (!options.resumePath.empty()) {
    auto resumed = loadCheckpoint(options.resumePath, params);
    if (!resumed)
      return reportError(resumed.takeError());
    if (options.seed && *options.seed != resumed->seed)
      return reportError(llvm::formatv(
          "{0}: the checkpoint was trained with seed {1}, --seed is {2}; the "
          "seed fixes the data split and the batch order, so a resumed run "
          "keeps it (omit --seed to continue with {1})",
          options.resumePath, resumed->seed, *options.seed));
    state = std::move(*resumed);
  } else {
    if (!options.paramsPath.empty()) {
      auto loaded = readSafetensors(options.paramsPath);
      if (!loaded)
        return reportError(loaded.takeError());
      if (llvm::Error err = checkParams(params, *loaded, options.paramsPath))
        return reportError(std::move(err));
      state.params = std::move(*loaded);
    } else {
      state.params = initializeParams(params, state.seed);
    }
    for (const ParamInfo &p : params) {
      const HostTensor &t = state.params.at(p.name);
      state.m[p.name] = HostTensor(t.dtype, t.shape);
      state.v[p.name] = HostTensor(t.dtype, t.shape);
    }
  }

  llvm::Expected<TrainingData> data =
      loadTrainingData(options, config, modelFn, state.seed);
  if (!data)
    return reportError(data.takeError());
  Dataset &train = data->train, &validation = data->validation;
  std::string &source = data->source;
  if (batchSize > train.size()) {
    if (lead)
      llvm::errs() << llvm::formatv("note: the batch size {0} exceeds the {1} "
                                    "training examples; using batches of "
                                    "{1}\n",
                                    batchSize, train.size());
    batchSize = train.size();
  }
  if (communicator) {
    // Every rank must train on the same examples from the same state: a
    // rank that read other files, or another checkpoint, is an error.
    std::vector<uint64_t> data = communicator->allGather(
        digest(train) * 31 + digest(validation));
    if (std::string bad = ranksDiffering(data); !bad.empty()) {
      return failEverywhere(llvm::formatv(
            "rank(s) {0} of {1} read other training or validation data than "
            "rank 0 ({2}); every rank must read the same files",
            bad, ranks, source));
    }
    std::vector<uint64_t> states =
        communicator->allGather(digest(state, params));
    if (std::string bad = ranksDiffering(states); !bad.empty()) {
      return failEverywhere(llvm::formatv(
            "rank(s) {0} of {1} start from other parameters or optimizer "
            "state than rank 0; every rank must load the same --resume or "
            "--params file",
            bad, ranks));
    }
    if (lead && batchSize < ranks)
      llvm::errs() << llvm::formatv(
          "note: batches of {0} split across {1} ranks leave some ranks "
          "idle\n",
          batchSize, ranks);
  }

  // Compile forward + backward + update.
  // (Data-parallel: gradients and update apart, averaged in between.)
  PassManager pm(&context);
  MHABuildTrainStepPassOptions stepOptions;
  stepOptions.splitUpdate = communicator != nullptr;
  pm.addPass(createMHABuildTrainStepPass(stepOptions));
  if (failed(pm.run(model->getModule())))
    return 1;
  if (lead)
    llvm::errs() << "compiling the training step (forward, backward, "
                 << stringifyOptimizerKind(opt.getKind()) << " update"
                 << (!compileOptions.bf16Matmuls ? ""
                     : compileOptions.device == Device::CPU
                         ? "; mixed precision: bf16 matrix products, f32 "
                           "parameters and optimizer state"
                         : "; mixed precision: bf16 matrix products and "
                           "attention, f32 parameters and optimizer state")
                 << ")...\n";
  auto start = std::chrono::steady_clock::now();
  auto trainer =
      TrainingStep::compile(model->getModule(), *modelFn, params,
                            compileOptions);
  if (!trainer)
    return reportError(trainer.takeError());
  if (lead)
    llvm::errs() << llvm::formatv(
      "{4} the training step in {0:f2} s; {1} training and {2} "
      "validation examples from the {3}{5}\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count(),
      train.size(), validation.size(), source,
      (*trainer)->isFromCache() ? "loaded the compiled code of" : "compiled",
      communicator ? llvm::formatv("; each batch split across {0} ranks",
                                   ranks)
                         .str()
                   : std::string());

  bool wantAccuracy = false, wantMae = false;
  if (std::optional<ArrayAttr> metrics = config.getMetrics())
    for (Attribute m : *metrics) {
      wantAccuracy |= cast<StringAttr>(m).getValue() == "accuracy";
      wantMae |= cast<StringAttr>(m).getValue() == "mae";
    }
  std::vector<EpochRecord> records;
  bool terminal = lead && llvm::errs().is_displayed();
  std::string title =
      (llvm::sys::path::filename(options.modelPath) + ": " +
       stringifyLossKind(lossKind) + ", " +
       stringifyOptimizerKind(opt.getKind()) + ", learning rate " +
       llvm::formatv(
           "{0}", llvm::format("%g", opt.getLearningRate().getValueAsDouble()))
           .str())
          .str();
  // A resumed run's checkpoint is its last good one until it saves anew.
  std::string lastCheckpoint = options.resumePath;
  for (int64_t epoch = state.epoch + 1; epoch <= epochs; ++epoch) {
    auto epochStart = std::chrono::steady_clock::now();
    std::vector<int64_t> order =
        permutation(train.size(), state.seed * 1000003ull + uint64_t(epoch));
    Metrics trainMetrics;
    int64_t batches = (train.size() + batchSize - 1) / batchSize;
    for (int64_t bi = 0; bi < batches; ++bi) {
      llvm::ArrayRef<int64_t> rows = llvm::ArrayRef(order).slice(
          bi * batchSize,
          std::min<int64_t>(batchSize, train.size() - bi * batchSize));
      if (communicator)
        rows = rankSlice(rows, rank, ranks);
      Dataset batch = train.select(rows);
      std::vector<const HostTensor *> inputs;
      for (const HostTensor &input : batch.inputs)
        inputs.push_back(&input);
      auto out = communicator
                     ? (*trainer)->update(
                           inputs, batch.labels, state, *communicator,
                           double(countLabels(lossKind, batch.labels,
                                              config.getIgnoreIndex())))
                     : (*trainer)->update(inputs, batch.labels, state);
      if (!out)
        return reportError(out.takeError());
      double loss = out->loss;
      if (!std::isfinite(loss)) {
        if (terminal)
          llvm::errs() << "\n";
        return failEverywhere(llvm::formatv(
            "the loss became {0} at epoch {1}, step {2} (update {3}); "
            "stopping. {4}",
            loss, epoch, bi + 1, state.step + 1,
            lastCheckpoint.empty() ? std::string("Nothing was saved.")
                                   : "The last good checkpoint, " +
                                         lastCheckpoint + ", is kept."));
      }
      if (!rows.empty())
        trainMetrics.add(lossKind, out->localLoss, out->predictions,
                         batch.labels, config.getIgnoreIndex());
      if (terminal)
        drawProgress(epoch, epochs, bi + 1, batches, trainMetrics.meanLoss());
    }
    // Validation.
    Metrics valMetrics;
    for (int64_t first = 0; first < validation.size(); first += batchSize) {
      std::vector<int64_t> rows;
      for (int64_t r = first;
           r < std::min<int64_t>(validation.size(), first + batchSize); ++r)
        rows.push_back(r);
      if (communicator)
        rows = rankSlice(rows, rank, ranks).vec();
      if (rows.empty())
        continue;
      Dataset batch = validation.select(rows);
      std::vector<const HostTensor *> inputs;
      for (const HostTensor &input : batch.inputs)
        inputs.push_back(&input);
      auto out = (*trainer)->evaluate(inputs, batch.labels, state);
      if (!out)
        return reportError(out.takeError());
      valMetrics.add(lossKind, out->loss, out->predictions, batch.labels,
                     config.getIgnoreIndex());
    }
    if (communicator) {
      sumMetrics(*communicator, trainMetrics);
      sumMetrics(*communicator, valMetrics);
      // The ranks apply the same averaged gradients, so their parameters
      // stay equal; should they drift apart (an MPI whose sums differ by
      // rank), rank 0's are copied to all.
      // (The state may be on the device.)
      if (llvm::Error err = (*trainer)->syncState(state))
        return reportError(std::move(err));
      std::vector<uint64_t> states =
          communicator->allGather(digest(state, params));
      if (std::string bad = ranksDiffering(states); !bad.empty()) {
        if (lead)
          llvm::errs() << "note: the parameters of rank(s) " << bad
                       << " drifted from rank 0's; copying rank 0's\n";
        for (HostTensor *t : stateTensors(state, params))
          communicator->broadcast(t->data, 0);
        (*trainer)->stateChangedOnHost();
      }
    }
    state.epoch = epoch;
    EpochRecord record;
    record.epoch = epoch;
    record.loss = trainMetrics.meanLoss();
    // The metrics the configuration asks for; accuracy has no meaning for a
    // regression (mse) and mae none for class indices.
    if (wantAccuracy && lossKind != LossKind::MSE) {
      record.accuracy = trainMetrics.accuracy();
      record.valAccuracy = valMetrics.accuracy();
    }
    if (wantMae && lossKind != LossKind::CrossEntropy) {
      record.mae = trainMetrics.mae();
      record.valMae = valMetrics.mae();
    }
    record.valLoss = valMetrics.meanLoss();
    record.seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - epochStart)
                         .count();
    records.push_back(record);
    if (terminal)
      llvm::errs() << "\r\x1b[K";
    if (!lead)
      continue;
    llvm::outs() << llvm::format("epoch %lld/%lld: loss %.4f", (long long)epoch,
                                 (long long)epochs, record.loss);
    if (!std::isnan(record.accuracy))
      llvm::outs() << llvm::format(" accuracy %.4f", record.accuracy);
    if (!std::isnan(record.mae))
      llvm::outs() << llvm::format(" mae %.4f", record.mae);
    if (validation.size()) {
      llvm::outs() << llvm::format(" val_loss %.4f", record.valLoss);
      if (!std::isnan(record.valAccuracy))
        llvm::outs() << llvm::format(" val_accuracy %.4f", record.valAccuracy);
      if (!std::isnan(record.valMae))
        llvm::outs() << llvm::format(" val_mae %.4f", record.valMae);
    }
    llvm::outs() << llvm::format(" (%.1f s)\n", record.seconds);
    llvm::outs().flush();
    // On a device: what crossed between host and device this epoch (the
    // batches and results; the parameters and optimizer state stay there).
    if (std::optional<DeviceUse> use = (*trainer)->takeDeviceUse()) {
      auto mib = [](uint64_t bytes) { return double(bytes) / (1 << 20); };
      int64_t updates = std::max<int64_t>(batches, 1);
      llvm::errs() << llvm::formatv(
          "epoch {0}: host to device {1:F2} MiB, device to host {2:F2} MiB "
          "({3} and {4} bytes an update, validation included); {5:F2} MiB "
          "of device memory in use\n",
          epoch, mib(use->traffic.hostToDevice), mib(use->traffic.deviceToHost),
          use->traffic.hostToDevice / uint64_t(updates),
          use->traffic.deviceToHost / uint64_t(updates),
          mib(use->allocatedBytes));
    }

    bool last = epoch == epochs;
    if (last ||
        (options.checkpointEvery > 0 && epoch % options.checkpointEvery == 0)) {
      // (The state may be on the device.)
      if (llvm::Error err = (*trainer)->syncState(state))
        return reportError(std::move(err));
      if (llvm::Error err =
              saveCheckpoint(options.savePath, state, params))
        return reportError(std::move(err));
      lastCheckpoint = options.savePath;
    }
    if (!options.logPath.empty())
      if (llvm::Error err = writeTrainingLog(options.logPath, records))
        return reportError(std::move(err));
    if (!options.plotPath.empty())
      if (llvm::Error err = writeTrainingPlot(options.plotPath, records, title))
        return reportError(std::move(err));
  }
  if (!lead)
    return 0;
  if (state.epoch >= epochs && records.empty())
    llvm::errs() << "note: the checkpoint already has " << state.epoch << " of "
                 << epochs << " epochs; nothing to do\n";
  else
    llvm::errs() << "saved the trained parameters to " << options.savePath
                 << "\n";
  return 0;
}
