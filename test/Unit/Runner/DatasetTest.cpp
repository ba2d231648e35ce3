//===- DatasetTest.cpp - Synthetic task, splitting and batching -----------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Dataset.h"

#include "gtest/gtest.h"

using namespace mlir::mha;

namespace {
TEST(Dataset, MarkedTokenTaskIsDeterministicAndBalanced) {
  Dataset a = makeMarkedTokenDataset(2000, 12, 3);
  Dataset b = makeMarkedTokenDataset(2000, 12, 3);
  Dataset c = makeMarkedTokenDataset(2000, 12, 4);
  EXPECT_EQ(a.inputs[0].data, b.inputs[0].data);
  EXPECT_EQ(a.labels.data, b.labels.data);
  EXPECT_NE(a.inputs[0].data, c.inputs[0].data);
  EXPECT_EQ(a.inputs[0].shape, (std::vector<int64_t>{2000, 12, kSyntheticFeatures}));
  double positives = 0;
  for (int64_t s = 0; s < 2000; ++s) {
    // Exactly one marked position, whose token decides the label.
    int64_t marks = 0, token = -1;
    for (int64_t p = 0; p < 12; ++p) {
      const float *f = a.inputs[0].f32() + (s * 12 + p) * kSyntheticFeatures;
      if (f[8] == 1.0f) {
        ++marks;
        for (int64_t t = 0; t < 8; ++t)
          if (f[t] == 1.0f)
            token = t;
      }
    }
    ASSERT_EQ(marks, 1);
    EXPECT_EQ(a.labels.f32()[s], token >= 4 ? 1.0f : 0.0f);
    positives += a.labels.f32()[s];
  }
  EXPECT_NEAR(positives / 2000, 0.5, 0.05);
}

TEST(Dataset, PermutationAndSplit) {
  std::vector<int64_t> p = permutation(100, 9);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i)
    EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(p, permutation(100, 9));
  EXPECT_NE(p, permutation(100, 10));

  Dataset d = makeMarkedTokenDataset(50, 4, 1);
  auto [train, val] = splitDataset(d, 0.2, 5);
  EXPECT_EQ(train.size(), 40);
  EXPECT_EQ(val.size(), 10);
}

// Every input of a multi-input dataset is split and batched with the same
// rows as the labels.
TEST(Dataset, InputsStayAlignedWithLabels) {
  Dataset d = makePaddedMaxDataset(60, 8, 16, /*keepRank=*/2,
                                   /*ignoreIndex=*/-100, 4);
  ASSERT_EQ(d.inputs.size(), 2u);
  auto [train, val] = splitDataset(d, 0.25, 7);
  ASSERT_EQ(train.size(), 45);
  ASSERT_EQ(val.size(), 15);
  for (const Dataset *part : {&train, &val})
    for (int64_t s = 0; s < part->size(); ++s)
      for (int64_t p = 0; p < 8; ++p) {
        bool keep = part->inputs[1].getAsDouble(s * 8 + p) != 0;
        int64_t label = part->labels.getAsInt64(s * 8 + p);
        EXPECT_EQ(keep, label != -100);
        // The label is the largest real token; each row is one-hot.
        if (keep) {
          const float *row = part->inputs[0].f32() + (s * 8 + p) * 16;
          for (int64_t t = label + 1; t < 16; ++t)
            EXPECT_EQ(row[t], 0.0f);
        }
      }
}

TEST(Dataset, PaddedMaxTask) {
  Dataset d = makePaddedMaxDataset(200, 12, 32, /*keepRank=*/4, -1, 3);
  EXPECT_EQ(d.inputs[1].shape, (std::vector<int64_t>{200, 1, 1, 12}));
  EXPECT_EQ(d.inputs[0].data, makePaddedMaxDataset(200, 12, 32, 4, -1, 3)
                                  .inputs[0]
                                  .data);
  int64_t padded = 0, beatenByPadding = 0;
  for (int64_t s = 0; s < 200; ++s) {
    int64_t length = 0, largest = -1, largestAll = -1;
    for (int64_t p = 0; p < 12; ++p) {
      const float *row = d.inputs[0].f32() + (s * 12 + p) * 32;
      int64_t token = -1;
      for (int64_t t = 0; t < 32; ++t)
        if (row[t] == 1.0f) {
          EXPECT_EQ(token, -1) << "two hot features";
          token = t;
        }
      ASSERT_GE(token, 0);
      ASSERT_LT(token, 16) << "tokens come from min(features, 16) ids";
      bool keep = d.inputs[1].getAsDouble(s * 12 + p) != 0;
      if (keep) {
        EXPECT_EQ(length, p) << "real positions come first";
        ++length;
        largest = std::max(largest, token);
      }
      largestAll = std::max(largestAll, token);
    }
    EXPECT_GE(length, 3);
    padded += length < 12;
    beatenByPadding += largestAll > largest;
    for (int64_t p = 0; p < 12; ++p)
      EXPECT_EQ(d.labels.getAsInt64(s * 12 + p), p < length ? largest : -1);
  }
  // Padding is common and often holds a larger token than the real ones:
  // ignoring the mask costs accuracy.
  EXPECT_GT(padded, 100);
  EXPECT_GT(beatenByPadding, 20);
}

TEST(Dataset, InputsOfDifferentLengthsAreAnError) {
  Dataset d = makePaddedMaxDataset(10, 4, 16, 2, -100, 1);
  d.inputs[1] = gatherRows(d.inputs[1], {0, 1, 2});
  d.inputSources = {"x.npy", "keep.npy"};
  llvm::Error err = validateDataset(d, false, 16, -100);
  ASSERT_TRUE(bool(err));
  EXPECT_EQ(llvm::toString(std::move(err)),
            "keep.npy: 3 examples, but x.npy has 10; every input needs one "
            "row per example");
}

TEST(Dataset, ValidationNamesTheBadExample) {
  Dataset d = makeMarkedTokenDataset(4, 3, 1);
  d.labels.setFromDouble(2, 0.5);
  d.labelSource = "data.npy";
  llvm::Error err = validateDataset(d, /*binary=*/true, 0);
  ASSERT_TRUE(bool(err));
  EXPECT_EQ(llvm::toString(std::move(err)),
            "data.npy: label of example 2 is 0.5; binary cross-entropy needs "
            "labels in {0, 1}");
  Dataset e = makeMarkedTokenDataset(4, 3, 1);
  EXPECT_FALSE(bool(validateDataset(e, true, 0)));
  llvm::Error classes = validateDataset(e, false, 1);
  ASSERT_TRUE(bool(classes));
  llvm::consumeError(std::move(classes));
}
} // namespace
