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
  EXPECT_EQ(a.inputs.data, b.inputs.data);
  EXPECT_EQ(a.labels.data, b.labels.data);
  EXPECT_NE(a.inputs.data, c.inputs.data);
  EXPECT_EQ(a.inputs.shape, (std::vector<int64_t>{2000, 12, kSyntheticFeatures}));
  double positives = 0;
  for (int64_t s = 0; s < 2000; ++s) {
    // Exactly one marked position, whose token decides the label.
    int64_t marks = 0, token = -1;
    for (int64_t p = 0; p < 12; ++p) {
      const float *f = a.inputs.f32() + (s * 12 + p) * kSyntheticFeatures;
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

TEST(Dataset, ValidationNamesTheBadExample) {
  Dataset d = makeMarkedTokenDataset(4, 3, 1);
  d.labels.setFromDouble(2, 0.5);
  llvm::Error err = validateDataset(d, /*binary=*/true, 0, "data.npy");
  ASSERT_TRUE(bool(err));
  EXPECT_EQ(llvm::toString(std::move(err)),
            "data.npy: label of example 2 is 0.5; binary cross-entropy needs "
            "labels in {0, 1}");
  Dataset e = makeMarkedTokenDataset(4, 3, 1);
  EXPECT_FALSE(bool(validateDataset(e, true, 0, "ok")));
  llvm::Error classes = validateDataset(e, false, 1, "c");
  ASSERT_TRUE(bool(classes));
  llvm::consumeError(std::move(classes));
}
} // namespace
