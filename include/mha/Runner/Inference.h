//===- Inference.h - mha-run's inference mode -------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the forward-run driver behind `mha-run MODEL.mlir`.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_INFERENCE_H
#define MHA_RUNNER_INFERENCE_H

#include "mha/Runner/JitModule.h"

#include <string>
#include <vector>

namespace mlir {
namespace mha {

/// What `mha-run` does in inference mode.
struct InferenceOptions {
  std::string modelPath;
  /// Function to run; empty picks the training model or the only function.
  std::string entry;
  /// `name=file.npy` bindings of the entry's arguments.
  std::vector<std::string> inputs;
  /// safetensors file with the parameters; empty initializes them.
  std::string paramsPath;
  /// Where to save the parameters used (safetensors); empty saves nothing.
  std::string saveParamsPath;
  /// Seed of parameter initialization and random inputs.
  uint64_t seed = 0;
  /// Directory for result<i>.npy; empty writes nothing.
  std::string outputDir;
  /// Runs to time; the median is reported when > 1.
  unsigned repeat = 1;
  /// Size given to every dynamic dimension of random inputs.
  int64_t dynamicSize = 4;
  CompileOptions compile;
};

/// Runs the model forward and reports its results. Every failure (bad model,
/// files, shapes, flags) prints "mha-run: error: ..." naming what was
/// expected and returns a nonzero exit code; success returns 0.
int runInference(const InferenceOptions &options);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_INFERENCE_H
