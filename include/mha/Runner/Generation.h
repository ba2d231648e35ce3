//===- Generation.h - mha-run's text generation mode ------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the generator behind `mha-run MODEL --generate`: byte-
// level language models sampled token by token with a key/value cache, and
// the sampling rule it uses.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_GENERATION_H
#define MHA_RUNNER_GENERATION_H

#include "mha/Runner/JitModule.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <random>
#include <string>

namespace mlir {
namespace mha {

/// What `mha-run --generate` does.
struct GenerationOptions {
  std::string modelPath;
  /// The model function; empty picks mha.training's model or the only one.
  std::string entry;
  /// Trained parameters (safetensors); empty initializes them (untrained).
  std::string paramsPath;
  /// The text to continue, as bytes (token ids 0-255).
  std::string prompt;
  int64_t maxTokens = 200;
  /// 0 picks the most likely byte (greedy); otherwise logits are divided by
  /// it before the softmax.
  double temperature = 1.0;
  /// Sample among the k most likely bytes only; 0: all.
  int64_t topK = 0;
  /// Seed of sampling (and of initialization without --params).
  uint64_t seed = 0;
  /// false: recompute the whole prefix each token (the reference the cache
  /// is measured against).
  bool useCache = true;
  CompileOptions compile;
};

/// Generates `maxTokens` bytes after the prompt, writing the prompt and each
/// byte to stdout as it comes and a summary (tokens/s) to stderr. Returns 0,
/// or 1 after "mha-run: error: ..." naming what was wrong.
int runGeneration(const GenerationOptions &options);

/// The next token drawn from `logits` (one row over the vocabulary): the
/// argmax when `temperature` is 0, else a draw from softmax(logits /
/// temperature) restricted to the `topK` largest (all when 0), computed in
/// double with the maximum subtracted. Ties go to the smaller id.
int64_t sampleToken(llvm::ArrayRef<float> logits, double temperature,
                    int64_t topK, std::mt19937_64 &rng);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_GENERATION_H
