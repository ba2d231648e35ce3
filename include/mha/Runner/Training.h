//===- Training.h - mha-run's training mode ---------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the training driver behind `mha-run MODEL.mlir --train`
// and the per-epoch report writers (CSV log, SVG plot).
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_TRAINING_H
#define MHA_RUNNER_TRAINING_H

#include "mha/Runner/Communicator.h"
#include "mha/Runner/JitModule.h"
#include "mha/Runner/Model.h"

#include "llvm/Support/Error.h"

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace mha {

/// What `mha-run --train` does. Unset optionals take the model file's
/// mha.training values.
struct TrainingOptions {
  std::string modelPath;
  std::optional<int64_t> epochs, batchSize;
  std::optional<double> learningRate;
  /// "sgd", "adam" or "adamw".
  std::optional<std::string> optimizer;
  /// The matrix products' precision (else mha.training's, else f32); bf16
  /// sets compile.bf16Matmuls.
  std::optional<Precision> precision;
  /// Seed of initialization, data split and batch order (default 0); a
  /// resumed run takes the checkpoint's and refuses a different one.
  std::optional<uint64_t> seed;
  /// .npy training data: "NAME=FILE" per model input, or one "FILE" for a
  /// model with one input; empty uses the model's dataset.
  std::vector<std::string> data;
  std::string labelsPath;
  /// A text file for next-byte prediction (replaces the model's dataset).
  std::string textPath;
  /// Validation data, bound like `data`.
  std::vector<std::string> valData;
  std::string valLabelsPath;
  std::optional<double> validationSplit;
  /// Synthetic dataset sizes.
  std::optional<int64_t> samples, seqLen;
  /// Where the trained parameters go (safetensors, atomic).
  std::string savePath = "trained.safetensors";
  /// Also checkpoint every N epochs (0: only at the end).
  int64_t checkpointEvery = 0;
  /// Checkpoint to continue from.
  std::string resumePath;
  /// Initial parameters (safetensors) instead of the initializers.
  std::string paramsPath;
  std::string logPath, plotPath;
  CompileOptions compile;
  /// The ranks of a data-parallel run (null or one rank: this process
  /// alone). Each global batch is split across the ranks, whose gradients
  /// are averaged before every update; rank 0 prints and saves.
  Communicator *communicator = nullptr;
};

/// Parameters, optimizer state and counters of a training run: what a
/// checkpoint holds.
struct TrainState {
  TensorMap params, m, v;
  int64_t epoch = 0; // completed epochs
  int64_t step = 0;  // completed updates
  uint64_t seed = 0; // the run's seed (batch order, split, initialization,
                     // dropout)
};

/// The JIT-compiled training step and evaluation of a module on which
/// mha-build-train-step ran: what runTraining and the C API call per batch.
class TrainingStep {
public:
  /// Compiles the training step and `__mha_eval` of `module`, whose model
  /// is `model` and whose parameters are `params`: `__mha_train_step`, or
  /// `__mha_grad_step` and `__mha_apply_update` when mha-build-train-step
  /// ran with split-update (needed by the data-parallel update).
  static llvm::Expected<std::unique_ptr<TrainingStep>>
  compile(ModuleOp module, const FunctionInfo &model,
          std::vector<ParamInfo> params, CompileOptions options);

  struct Result {
    /// The batch's mean loss (over every rank's part of it).
    double loss = 0;
    /// This rank's part: its mean loss and predictions.
    double localLoss = 0;
    HostTensor predictions;
  };
  /// One update on a batch (`inputs` in the model's order, `labels`): the
  /// parameters and optimizer state of `state` move on and its step count
  /// grows by one; dropout draws from (state.seed, update count). When the
  /// loss is not finite, `state` is left as it was.
  ///
  /// Compiled for a GPU (or emulated), the parameters and optimizer state
  /// move to the device at the first update or evaluation and stay there:
  /// `state`'s tensors are then behind until syncState; changed on the host
  /// meanwhile, they are taken again after stateChangedOnHost.
  llvm::Expected<Result> update(llvm::ArrayRef<const HostTensor *> inputs,
                                const HostTensor &labels, TrainState &state);
  /// One data-parallel update (needs the split step): this rank computes
  /// the gradients of its part of the batch (`inputs`, `labels`; it may have
  /// no rows), the ranks average them weighted by `weight` (the number of
  /// labels this rank's mean loss is taken over), and every rank applies the
  /// same update. Dropout draws from (state.seed, update count, rank).
  llvm::Expected<Result> update(llvm::ArrayRef<const HostTensor *> inputs,
                                const HostTensor &labels, TrainState &state,
                                Communicator &communicator, double weight);
  /// The loss and predictions on a batch, without dropout or update.
  llvm::Expected<Result> evaluate(llvm::ArrayRef<const HostTensor *> inputs,
                                  const HostTensor &labels,
                                  const TrainState &state);
  bool isFromCache() const { return jit->isFromCache(); }
  /// Brings `state`'s parameters and optimizer state up to date from the
  /// device, where updates left them (nothing to do otherwise).
  llvm::Error syncState(TrainState &state);
  /// Drops the device's copy of the state after the caller changed
  /// `state`'s tensors on the host (after syncState): the next call takes
  /// them from the host again.
  void stateChangedOnHost();
  /// On a GPU (or emulated): the bytes copied between host and device
  /// since the last look, and the device memory in use.
  std::optional<DeviceUse> takeDeviceUse() { return jit->takeDeviceUse(); }

private:
  std::unique_ptr<JitModule> jit;
  std::vector<ParamInfo> params;
  /// The names of the inputs and labels, for messages about them.
  std::vector<std::string> argNames;
  bool takesDropoutKey = false;
  bool split = false;
  /// Whether the parameters and optimizer state stay on the device.
  bool residentState = false;
  /// The device's copies (one per parameter, in `params` order) once they
  /// are there, and whether the TrainState's host tensors are behind them.
  struct DeviceState {
    std::vector<DeviceTensor> params, m, v;
    bool hostBehind = false;
  };
  std::optional<DeviceState> deviceState;
  llvm::Error moveStateToDevice(const TrainState &state);
  /// Takes the new parameters, m and v (each one per parameter, in that
  /// order) of an update's device results, and counts the update.
  void takeDeviceUpdate(std::vector<DeviceTensor> &results, TrainState &state);
  /// Calls `name` on `hostArgs` followed by the parameters (on the device
  /// when the state is kept there); its results are host tensors.
  llvm::Expected<std::vector<HostTensor>>
  callWithParams(llvm::StringRef name,
                 llvm::ArrayRef<const HostTensor *> hostArgs,
                 const TrainState &state);
  /// The update with the state on the device (`hostArgs`: inputs, labels,
  /// dropout key, step).
  llvm::Expected<Result>
  updateOnDevice(llvm::ArrayRef<const HostTensor *> hostArgs,
                 TrainState &state);
  /// Calls `__mha_grad_step` on a batch: sets `result`'s local loss and
  /// predictions and returns one gradient per parameter.
  llvm::Expected<std::vector<HostTensor>>
  gradients(llvm::ArrayRef<const HostTensor *> inputs, const HostTensor &labels,
            const TrainState &state, int64_t dropoutKey, Result &result);
  /// Applies the gradients `grads` (one per parameter) to `state`.
  llvm::Error applyUpdate(std::vector<HostTensor> &grads, TrainState &state);
};

/// Trains the model. Progress goes to stderr (a bar on a terminal) and one
/// line per epoch to stdout. Failures print "mha-run: error: ..." and return
/// a nonzero code; nothing already saved is overwritten with bad values.
int runTraining(const TrainingOptions &options);

/// The figures of one epoch; NaN where a metric does not apply.
struct EpochRecord {
  int64_t epoch = 0;
  double loss = 0, accuracy = NAN, valLoss = NAN, valAccuracy = NAN,
         mae = NAN, valMae = NAN, seconds = 0;
};

/// Writes `records` as CSV (atomically): epoch, loss, accuracy, val_loss,
/// val_accuracy, mae, val_mae, seconds; metrics not computed are empty.
llvm::Error writeTrainingLog(llvm::StringRef path,
                             llvm::ArrayRef<EpochRecord> records);

/// Draws training and validation loss and accuracy per epoch as a standalone
/// SVG (atomically).
llvm::Error writeTrainingPlot(llvm::StringRef path,
                              llvm::ArrayRef<EpochRecord> records,
                              llvm::StringRef title);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_TRAINING_H
