//===- Dataset.cpp - Training data ----------------------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the synthetic task, data validation, splitting and
// batching.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Dataset.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

using namespace mlir;
using namespace mlir::mha;

namespace {
/// Uniform integer in [0, bound) from a 64-bit engine, by rejection.
uint64_t below(std::mt19937_64 &rng, uint64_t bound) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do
    x = rng();
  while (x >= limit);
  return x % bound;
}

/// A value as "%g" prints it ("2", "0.5", "nan").
std::string number(double v) {
  char buffer[32];
  snprintf(buffer, sizeof(buffer), "%g", v);
  return buffer;
}

/// Element `i` of `t` as stored: integers exactly, floats as "%g" does.
std::string valueText(const HostTensor &t, int64_t i) {
  if (t.dtype == DType::I64 || t.dtype == DType::I32)
    return std::to_string(t.getAsInt64(i));
  return number(t.getAsDouble(i));
}

llvm::Error dataError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}
} // namespace

std::vector<int64_t> mha::permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i)
    p[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(p[i], p[below(rng, uint64_t(i) + 1)]);
  return p;
}

Dataset mha::makeMarkedTokenDataset(int64_t samples, int64_t seqLen,
                                    uint64_t seed) {
  constexpr int64_t tokens = 8;
  Dataset data;
  data.inputs.emplace_back(DType::F32,
                           std::vector<int64_t>{samples, seqLen,
                                                kSyntheticFeatures});
  data.labels = HostTensor(DType::F32, {samples, 1});
  std::string source =
      llvm::formatv("synthetic marked-token task ({0} sequences of {1} tokens)",
                    samples, seqLen)
          .str();
  data.inputSources = {source};
  data.labelSource = source;
  std::mt19937_64 rng(seed ^ 0x5eedda7a5e7ull);
  float *x = data.inputs[0].f32();
  for (int64_t s = 0; s < samples; ++s) {
    std::vector<int64_t> seq(seqLen);
    for (int64_t &t : seq)
      t = int64_t(below(rng, tokens));
    int64_t marked = int64_t(below(rng, uint64_t(seqLen)));
    data.labels.f32()[s] = seq[marked] >= tokens / 2 ? 1.0f : 0.0f;
    for (int64_t p = 0; p < seqLen; ++p) {
      float *f = x + (s * seqLen + p) * kSyntheticFeatures;
      f[seq[p]] = 1.0f;
      f[tokens] = p == marked ? 1.0f : 0.0f;
      // A sinusoidal position code at 3 frequencies and the relative
      // position.
      for (int64_t i = 0; i < 3; ++i) {
        double angle = double(p) / std::pow(8.0, double(i));
        f[tokens + 1 + 2 * i] = float(std::sin(angle));
        f[tokens + 2 + 2 * i] = float(std::cos(angle));
      }
      f[tokens + 7] = float(p) / float(seqLen);
    }
  }
  return data;
}

Dataset mha::makePaddedMaxDataset(int64_t samples, int64_t seqLen,
                                  int64_t features, int64_t keepRank,
                                  int64_t ignoreIndex, uint64_t seed) {
  int64_t vocabulary = std::min<int64_t>(features, 16);
  Dataset data;
  data.inputs.emplace_back(DType::F32,
                           std::vector<int64_t>{samples, seqLen, features});
  std::vector<int64_t> keepShape = {samples, seqLen};
  if (keepRank == 4)
    keepShape = {samples, 1, 1, seqLen};
  data.inputs.emplace_back(DType::Bool, keepShape);
  data.labels = HostTensor(DType::I64, {samples, seqLen});
  std::string source =
      llvm::formatv("padded-maximum task ({0} sequences of up to {1} tokens)",
                    samples, seqLen)
          .str();
  data.inputSources = {source, source};
  data.labelSource = source;
  std::mt19937_64 rng(seed ^ 0x9add3dull);
  float *x = data.inputs[0].f32();
  uint8_t *keep = data.inputs[1].data.data();
  int64_t *labels = reinterpret_cast<int64_t *>(data.labels.data.data());
  int64_t shortest = std::max<int64_t>(1, seqLen / 4);
  for (int64_t s = 0; s < samples; ++s) {
    int64_t length =
        shortest + int64_t(below(rng, uint64_t(seqLen - shortest + 1)));
    int64_t largest = 0;
    for (int64_t p = 0; p < seqLen; ++p) {
      int64_t token = int64_t(below(rng, uint64_t(vocabulary)));
      x[(s * seqLen + p) * features + token] = 1.0f;
      keep[s * seqLen + p] = p < length;
      if (p < length)
        largest = std::max(largest, token);
    }
    for (int64_t p = 0; p < seqLen; ++p)
      labels[s * seqLen + p] = p < length ? largest : ignoreIndex;
  }
  return data;
}

Dataset mha::makeTextDataset(llvm::StringRef text, int64_t seqLen,
                             DType idType, llvm::StringRef source) {
  int64_t windows =
      text.empty() ? 0 : (int64_t(text.size()) - 1) / std::max<int64_t>(seqLen, 1);
  Dataset data;
  data.inputs.emplace_back(idType, std::vector<int64_t>{windows, seqLen});
  data.labels = HostTensor(DType::I64, {windows, seqLen});
  for (int64_t w = 0; w < windows; ++w)
    for (int64_t p = 0; p < seqLen; ++p) {
      int64_t at = w * seqLen + p;
      data.inputs[0].setFromDouble(at, double(uint8_t(text[at])));
      data.labels.setFromDouble(at, double(uint8_t(text[at + 1])));
    }
  data.inputSources = {source.str()};
  data.labelSource = source.str();
  return data;
}

llvm::Error mha::validateDataset(const Dataset &data, bool binary,
                                 int64_t classes,
                                 std::optional<int64_t> ignoreIndex) {
  if (data.inputs.empty())
    return dataError("the dataset has no inputs");
  for (auto [input, source] : llvm::zip(data.inputs, data.inputSources)) {
    if (input.shape.empty())
      return dataError(source + ": the data needs an example dimension");
    if (input.shape[0] != data.size())
      return dataError(llvm::formatv(
          "{0}: {1} examples, but {2} has {3}; every input needs one row "
          "per example",
          source, input.shape[0], data.inputSources[0], data.size()));
  }
  if (data.labels.shape.empty())
    return dataError(data.labelSource +
                     ": the labels need an example dimension");
  if (data.labels.shape[0] != data.size())
    return dataError(llvm::formatv("{0}: {1} examples but {2} labels in {3}",
                                   data.inputSources[0], data.size(),
                                   data.labels.shape[0], data.labelSource));
  for (auto [input, source] : llvm::zip(data.inputs, data.inputSources)) {
    if (input.dtype != DType::F32 && input.dtype != DType::F16 &&
        input.dtype != DType::BF16)
      continue;
    int64_t n = input.numElements();
    int64_t perExample = data.size() ? n / data.size() : 0;
    for (int64_t i = 0; i < n; ++i) {
      double v = input.getAsDouble(i);
      if (!std::isfinite(v))
        return dataError(llvm::formatv("{0}: input of example {1} is {2} "
                                       "(data must be finite)",
                                       source, i / perExample, number(v)));
    }
  }
  llvm::StringRef source = data.labelSource;
  int64_t m = data.labels.numElements();
  int64_t perLabel = data.size() ? m / data.size() : 0;
  for (int64_t i = 0; i < m; ++i) {
    double v = data.labels.getAsDouble(i);
    if (!std::isfinite(v))
      return dataError(llvm::formatv("{0}: label of example {1} is {2}", source,
                                     i / perLabel, number(v)));
    if (binary && v != 0.0 && v != 1.0)
      return dataError(llvm::formatv("{0}: label of example {1} is {2}; "
                                     "binary cross-entropy needs labels in "
                                     "{{0, 1}",
                                     source, i / perLabel,
                                     valueText(data.labels, i)));
    if (classes > 0 && ignoreIndex && v == double(*ignoreIndex))
      continue;
    if (classes > 0 && (v < 0 || v >= double(classes) || v != std::floor(v)))
      return dataError(llvm::formatv(
          "{0}: label of example {1} is {2}; expected a class index in [0, "
          "{3}){4}",
          source, i / perLabel, valueText(data.labels, i), classes,
          ignoreIndex ? " or the ignore index " + std::to_string(*ignoreIndex)
                      : std::string()));
  }
  return llvm::Error::success();
}

HostTensor mha::gatherRows(const HostTensor &tensor,
                           llvm::ArrayRef<int64_t> indices) {
  std::vector<int64_t> shape = tensor.shape;
  int64_t rows = shape[0];
  shape[0] = int64_t(indices.size());
  HostTensor out(tensor.dtype, shape);
  size_t rowBytes = rows ? tensor.data.size() / size_t(rows) : 0;
  for (size_t i = 0; i < indices.size(); ++i)
    std::memcpy(out.data.data() + i * rowBytes,
                tensor.data.data() + size_t(indices[i]) * rowBytes, rowBytes);
  return out;
}

Dataset Dataset::select(llvm::ArrayRef<int64_t> rows) const {
  Dataset out;
  for (const HostTensor &input : inputs)
    out.inputs.push_back(gatherRows(input, rows));
  out.labels = gatherRows(labels, rows);
  out.inputSources = inputSources;
  out.labelSource = labelSource;
  return out;
}

std::pair<Dataset, Dataset> mha::splitDataset(const Dataset &data,
                                              double fraction, uint64_t seed) {
  std::vector<int64_t> order = permutation(data.size(), seed ^ 0x59117ull);
  int64_t validation = int64_t(std::floor(double(data.size()) * fraction));
  llvm::ArrayRef<int64_t> all(order);
  return {data.select(all.drop_back(validation)),
          data.select(all.take_back(validation))};
}
