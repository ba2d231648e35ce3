//===- Dataset.h - Training data --------------------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the training data the runner feeds to a model: the
// built-in synthetic sequence-classification task and .npy files, with their
// validation and batching.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_DATASET_H
#define MHA_RUNNER_DATASET_H

#include "mha/Runtime/HostTensor.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace mha {

/// Examples along the first dimension of every input and of `labels`.
struct Dataset {
  /// One tensor per model input, in the model's argument order.
  std::vector<HostTensor> inputs;
  HostTensor labels;
  /// Where each input and the labels came from (file names, or a
  /// description of a generated task), for messages.
  std::vector<std::string> inputSources;
  std::string labelSource;
  int64_t size() const {
    return inputs.empty() || inputs[0].shape.empty() ? 0
                                                     : inputs[0].shape[0];
  }
  /// The examples `rows`, in that order, of every input and the labels.
  Dataset select(llvm::ArrayRef<int64_t> rows) const;
};

/// Feature width of the synthetic task's tokens: an 8-token one-hot, a
/// marker flag, and a 7-value position code (sinusoids at 3 frequencies and
/// the relative position).
constexpr int64_t kSyntheticFeatures = 16;

/// The "marked token" task: `samples` sequences of `seqLen` random tokens out
/// of 8, one position of each carrying a marker flag; the label is 1 when the
/// marked token is one of the upper four (so about half of each), else 0.
/// The label depends on which token sits at the marked position: a model
/// must relate the marker to the token beside it in the same position, which
/// attention does by attending from every position to the marked one, while
/// a bag of tokens (which tokens occur, and that one position is marked)
/// carries no information about it. Inputs are [samples, seqLen, 16] f32,
/// labels [samples, 1] f32; deterministic in `seed` on every platform.
Dataset makeMarkedTokenDataset(int64_t samples, int64_t seqLen, uint64_t seed);

/// The "padded maximum" task: `samples` sequences of `seqLen` positions, each
/// with a random length L in [max(1, seqLen/4), seqLen]; every position holds
/// a token id out of min(features, 16), drawn alike for real and padding
/// positions, as a one-hot row of `features` floats. Inputs: x
/// [samples, seqLen, features] f32 and keep (true at the L real positions)
/// [samples, seqLen] i1, or [samples, 1, 1, seqLen] when `keepRank` is 4.
/// Labels [samples, seqLen] i64: at real positions the largest token id
/// among the real positions, at padding positions `ignoreIndex`. Only a model
/// that masks the padding out can be exact. Deterministic in `seed`.
Dataset makePaddedMaxDataset(int64_t samples, int64_t seqLen, int64_t features,
                             int64_t keepRank, int64_t ignoreIndex,
                             uint64_t seed);

/// Next-byte prediction on `text`: windows of `seqLen` bytes taken every
/// `seqLen` bytes (as many as fit with one more byte after each), inputs
/// [N, seqLen] of `idType` (I32 or I64) and labels [N, seqLen] i64, each the
/// byte one position later. `source` names the text in messages.
Dataset makeTextDataset(llvm::StringRef text, int64_t seqLen, DType idType,
                        llvm::StringRef source);

/// Checks that `data` is usable: every input with as many examples as the
/// first, finite float inputs, as many labels as examples, labels in {0, 1}
/// when `binary`, and integer labels in [0, classes) (or equal to
/// `ignoreIndex`) when `classes` > 0. Messages name the file (the input's or
/// the labels' source) and the first bad example.
llvm::Error validateDataset(const Dataset &data, bool binary, int64_t classes,
                            std::optional<int64_t> ignoreIndex = std::nullopt);

/// Splits off the last `fraction` of `data` (after a seeded shuffle) as the
/// validation set.
std::pair<Dataset, Dataset> splitDataset(const Dataset &data, double fraction,
                                         uint64_t seed);

/// Rows `indices` of `tensor` (along the first dimension).
HostTensor gatherRows(const HostTensor &tensor,
                      llvm::ArrayRef<int64_t> indices);

/// A permutation of [0, n) drawn from `seed` (Fisher-Yates with our own
/// bounded draws, so it is the same on every platform).
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_DATASET_H
