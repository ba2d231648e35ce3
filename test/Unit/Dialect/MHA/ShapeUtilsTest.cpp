//===- ShapeUtilsTest.cpp - Tests of the MHA shape rules ------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/ShapeUtils.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::mha;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

TEST(ShapeUtils, JoinDimsPrefersStatic) {
  EXPECT_EQ(joinDims(4, 4), 4);
  EXPECT_EQ(joinDims(kDyn, 4), 4);
  EXPECT_EQ(joinDims(4, kDyn), 4);
  EXPECT_EQ(joinDims(kDyn, kDyn), kDyn);
  EXPECT_EQ(joinDims(4, 5), std::nullopt);
}

TEST(ShapeUtils, BroadcastAlignsTrailingDims) {
  auto r = broadcastShapes({2, 3, 4}, {4});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (llvm::SmallVector<int64_t>{2, 3, 4}));
  r = broadcastShapes({2, 1, 4}, {3, 1});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (llvm::SmallVector<int64_t>{2, 3, 4}));
  EXPECT_FALSE(broadcastShapes({2, 3}, {4, 3}));
}

TEST(ShapeUtils, BroadcastWithDynamicDims) {
  // ? against N > 1 gives N; against 1 or ? it stays dynamic.
  auto r = broadcastShapes({kDyn, kDyn, 8}, {1, 5, kDyn});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (llvm::SmallVector<int64_t>{kDyn, 5, 8}));
  r = broadcastShapes({kDyn}, {kDyn});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (llvm::SmallVector<int64_t>{kDyn}));
}

TEST(ShapeUtils, BroadcastsToDoesNotGrowTarget) {
  EXPECT_TRUE(broadcastsTo({1, 1, 16}, {2, 8, 4, 16}));
  EXPECT_TRUE(broadcastsTo({kDyn, 1}, {4, 16}));
  EXPECT_TRUE(broadcastsTo({}, {4, 16}));
  EXPECT_FALSE(broadcastsTo({3, 16}, {4, 16}));
  EXPECT_FALSE(broadcastsTo({2, 4, 16}, {4, 16}));
}

TEST(ShapeUtils, NormalizeAxis) {
  EXPECT_EQ(normalizeAxis(-1, 4), 3);
  EXPECT_EQ(normalizeAxis(0, 4), 0);
  EXPECT_EQ(normalizeAxis(-4, 4), 0);
  EXPECT_EQ(normalizeAxis(4, 4), std::nullopt);
  EXPECT_EQ(normalizeAxis(-5, 4), std::nullopt);
}

TEST(ShapeUtils, ShapeToString) {
  EXPECT_EQ(shapeToString({kDyn, 8, 64}), "?x8x64");
  EXPECT_EQ(shapeToString({}), "");
}
} // namespace
