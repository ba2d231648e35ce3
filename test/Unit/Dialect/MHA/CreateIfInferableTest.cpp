//===- CreateIfInferableTest.cpp - Building ops only when types infer -----===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::mha;

namespace {
// Rewrites build ops from values they matched; when the operands cannot make
// the op, the inferring builder would end the process ("Failed to infer
// result type(s)", issue 11). createIfInferable returns null instead, and
// reports nothing.
TEST(CreateIfInferable, BuildsValidOpsAndRefusesInvalidOnes) {
  MLIRContext context;
  context.loadDialect<MHADialect, func::FuncDialect>();
  int diagnostics = 0;
  ScopedDiagnosticHandler count(&context, [&](Diagnostic &) {
    ++diagnostics;
    return success();
  });
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  auto f32 = b.getF32Type();
  auto rank3 = RankedTensorType::get({2, 8, 4}, f32);
  auto rank2 = RankedTensorType::get({8, 4}, f32);
  auto func = func::FuncOp::create(
      b, loc, "f", b.getFunctionType({rank3, rank3, rank3, rank2}, {}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value q = body->getArgument(0), k = body->getArgument(1),
        v = body->getArgument(2), v2 = body->getArgument(3);

  auto good = createIfInferable<AttentionOp>(b, loc, q, k, v, Value(),
                                             FloatAttr(), UnitAttr());
  ASSERT_TRUE(good);
  EXPECT_EQ(good.getType(), rank3);
  auto bad = createIfInferable<AttentionOp>(b, loc, q, k, v2, Value(),
                                            FloatAttr(), UnitAttr());
  EXPECT_FALSE(bad);
  EXPECT_EQ(diagnostics, 0);
  // Only the valid op was inserted.
  EXPECT_EQ(std::distance(body->begin(), body->end()), 1);
  func.erase();
}
} // namespace
