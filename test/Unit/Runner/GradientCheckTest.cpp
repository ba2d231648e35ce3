//===- GradientCheckTest.cpp - mha-autodiff against finite differences ----===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Each test differentiates a scalar loss with mha-autodiff (with respect to
// the inputs and the parameters), JIT-compiles the result, and compares every
// gradient element (or a sample of them for large tensors) with the central
// difference (L(x + h) - L(x - h)) / 2h of the JIT-compiled loss itself.
//
// Tolerance: |g - fd| <= 2e-3 + 2e-2 |fd| with h = 1e-2. The loss is f32 and
// of order 1, so the rounding error of a difference quotient is about
// 1e-7 / h = 1e-5, and the truncation error h^2 |L'''| / 6 is about 1e-4 for
// these smooth functions: the bound leaves an order of magnitude of margin
// while still catching a wrong rule (off by a factor, a sign, a transpose).
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Runner/Driver.h"
#include "mha/Runner/JitModule.h"
#include "mha/Runner/Model.h"
#include "mha/Runner/Registration.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/MemoryBuffer.h"
#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace mlir;
using namespace mlir::mha;

namespace {
class GradientCheck : public ::testing::Test {
protected:
  static void SetUpTestSuite() { initializeNativeTarget(); }

  /// Random inputs for `f`'s float arguments (dynamic sizes from `dims`),
  /// `labels` for integer ones.
  HostTensor makeInput(RankedTensorType type, llvm::ArrayRef<int64_t> dims,
                       size_t &next) {
    std::vector<int64_t> shape;
    for (int64_t d : type.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? dims[next++] : d);
    HostTensor t(*dtypeOf(type.getElementType()), shape);
    std::uniform_real_distribution<double> u(-1, 1);
    for (int64_t i = 0; i < t.numElements(); ++i) {
      if (t.dtype == DType::Bool)
        t.setFromDouble(i, i % 3 != 1);
      else if (t.dtype == DType::I32 || t.dtype == DType::I64)
        t.setFromDouble(i, i % 3);
      else
        t.setFromDouble(i, u(rng));
    }
    return t;
  }

  /// Differentiates @f of `source` and checks its gradients. `dims` gives the
  /// dynamic sizes of the arguments in order. Arguments in `targetArgs` are
  /// loss targets: drawn in (0.05, 0.95) and not checked (losses give them
  /// no gradient by design).
  void check(const std::string &source, std::vector<int64_t> dims,
             std::vector<unsigned> targetArgs = {}, bool inlineFirst = false,
             bool fuseFirst = false) {
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(source, context);
    ASSERT_TRUE(module);
    auto f = module->lookupSymbol<func::FuncOp>("f");
    ASSERT_TRUE(f);
    std::vector<ParamInfo> params;
    for (ParamOp p : module->getOps<ParamOp>())
      params.push_back({p.getSymName().str(), p.getTensorType(), p.getInit()});

    PassManager pm(context);
    if (inlineFirst)
      pm.addPass(createInlinerPass());
    // As mha-build-train-step does: attention chains become mha.attention.
    if (fuseFirst)
      pm.addPass(createMHAFuseAttentionPass());
    MHAAutodiffPassOptions options;
    options.functions = {"f"};
    options.wrtInputs = true;
    pm.addPass(createMHAAutodiffPass(options));
    ASSERT_TRUE(succeeded(pm.run(*module)));

    size_t next = 0;
    std::vector<HostTensor> inputs;
    for (auto [i, type] : llvm::enumerate(f.getArgumentTypes())) {
      inputs.push_back(makeInput(cast<RankedTensorType>(type), dims, next));
      if (llvm::is_contained(targetArgs, i))
        for (int64_t e = 0; e < inputs.back().numElements(); ++e)
          inputs.back().setFromDouble(
              e, 0.5 + 0.45 * std::tanh(inputs.back().getAsDouble(e)));
    }
    TensorMap paramValues = initializeParams(params, /*seed=*/7);

    auto jit = JitModule::compile(*module, CompileOptions());
    ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());

    // All the tensors a gradient is checked for: inputs, then parameters.
    std::vector<HostTensor *> all;
    for (HostTensor &t : inputs)
      all.push_back(&t);
    for (ParamInfo &p : params)
      all.push_back(&paramValues.at(p.name));
    auto args = [&]() {
      std::vector<const HostTensor *> a(all.begin(), all.end());
      return a;
    };
    auto loss = [&]() {
      auto out = (*jit)->call("f", args());
      EXPECT_TRUE(bool(out)) << (out ? "" : llvm::toString(out.takeError()));
      return out ? (*out)[0].getAsDouble(0) : NAN;
    };
    auto grads = (*jit)->call("f_grad", args());
    ASSERT_TRUE(bool(grads)) << llvm::toString(grads.takeError());
    // f_grad returns loss, parameter gradients, then float input gradients.
    std::vector<const HostTensor *> gradOf(all.size(), nullptr);
    size_t g = 1 + params.size();
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].dtype == DType::F32)
        gradOf[i] = &(*grads)[g++];
    for (size_t p = 0; p < params.size(); ++p)
      gradOf[inputs.size() + p] = &(*grads)[1 + p];
    EXPECT_NEAR((*grads)[0].getAsDouble(0), loss(), 1e-6);

    const double h = 1e-2;
    for (size_t i = 0; i < all.size(); ++i) {
      if (!gradOf[i] || llvm::is_contained(targetArgs, unsigned(i)))
        continue;
      HostTensor &t = *all[i];
      int64_t n = t.numElements();
      // Every element of small tensors, a spread sample of large ones.
      int64_t stride = std::max<int64_t>(1, n / 24);
      for (int64_t e = 0; e < n; e += stride) {
        double x = t.getAsDouble(e);
        t.setFromDouble(e, x + h);
        double up = loss();
        t.setFromDouble(e, x - h);
        double down = loss();
        t.setFromDouble(e, x);
        double fd = (up - down) / (2 * h);
        double got = gradOf[i]->getAsDouble(e);
        EXPECT_NEAR(got, fd, 2e-3 + 2e-2 * std::fabs(fd))
            << "d loss / d " << (i < inputs.size() ? "input #" : "param #")
            << (i < inputs.size() ? i : i - inputs.size()) << " element "
            << e;
      }
    }
  }

  /// Every dialect the JIT uses, as in mha-run.
  DriverContext driver;
  MLIRContext *context = &driver.getContext();
  std::mt19937 rng{123};
};

TEST_F(GradientCheck, DenseSigmoidBCE) {
  check(R"(
    mha.param @w : tensor<4x3xf32> init <glorot_uniform>
    mha.param @b : tensor<3xf32> init <normal, std = 0.5>
    func.func @f(%x: tensor<?x4xf32>, %y: tensor<?x3xf32>) -> tensor<f32> {
      %w = mha.get_param @w : tensor<4x3xf32>
      %b = mha.get_param @b : tensor<3xf32>
      %h = mha.dense %x, %w, %b : tensor<?x4xf32>, tensor<4x3xf32>, tensor<3xf32>
      %p = mha.sigmoid %h : tensor<?x3xf32>
      %l = mha.bce_loss %p, %y : tensor<?x3xf32>, tensor<?x3xf32>
      return %l : tensor<f32>
    })",
        {5, 5}, {1});
}

TEST_F(GradientCheck, UnfusedAttentionChainMSE) {
  check(R"(
    func.func @f(%x: tensor<?x?x8xf32>, %t: tensor<?x?x8xf32>) -> tensor<f32> {
      %h = mha.split_heads %x into 2 heads : tensor<?x?x8xf32>
      %s = mha.scaled_matmul %h, %h : tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
      %p = mha.softmax %s : tensor<?x2x?x?xf32>
      %o = mha.matmul %p, %h : tensor<?x2x?x?xf32>, tensor<?x2x?x4xf32>
      %m = mha.merge_heads %o : tensor<?x2x?x4xf32>
      %l = mha.mse_loss %m, %t : tensor<?x?x8xf32>, tensor<?x?x8xf32>
      return %l : tensor<f32>
    })",
        {2, 3, 2, 3}, {1});
}

TEST_F(GradientCheck, FusedAttentionWithMaskAndCausal) {
  check(R"(
    func.func @f(%q: tensor<2x4x6xf32>, %k: tensor<2x5x6xf32>, %v: tensor<2x5x3xf32>,
                 %keep: tensor<2x1x5xi1>, %t: tensor<2x4x3xf32>) -> tensor<f32> {
      %o = mha.attention %q, %k, %v mask(%keep : tensor<2x1x5xi1>) causal : tensor<2x4x6xf32>, tensor<2x5x6xf32>, tensor<2x5x3xf32>
      %l = mha.mse_loss %o, %t : tensor<2x4x3xf32>, tensor<2x4x3xf32>
      return %l : tensor<f32>
    })",
        {}, {4});
}

// An additive mask (an attention bias broadcast over the queries) gets dS,
// summed over the queries; causal positions contribute nothing.
TEST_F(GradientCheck, FusedAttentionAdditiveMaskGradient) {
  check(R"(
    func.func @f(%q: tensor<2x4x6xf32>, %k: tensor<2x5x6xf32>, %v: tensor<2x5x3xf32>,
                 %bias: tensor<2x1x5xf32>, %t: tensor<2x4x3xf32>) -> tensor<f32> {
      %o = mha.attention %q, %k, %v mask(%bias : tensor<2x1x5xf32>) causal : tensor<2x4x6xf32>, tensor<2x5x6xf32>, tensor<2x5x3xf32>
      %l = mha.mse_loss %o, %t : tensor<2x4x3xf32>, tensor<2x4x3xf32>
      return %l : tensor<f32>
    })",
        {}, {4});
}

// A trainable bias written as scaled_matmul -> add -> softmax -> matmul is
// fused into mha.attention mask(bias) before differentiation (as in the
// training step): its gradient must survive the fusion.
TEST_F(GradientCheck, TrainableAttentionBiasThroughFusion) {
  check(R"(
    mha.param @bias : tensor<4x5xf32> init <normal, std = 0.5>
    func.func @f(%q: tensor<2x4x6xf32>, %k: tensor<2x5x6xf32>, %v: tensor<2x5x3xf32>,
                 %t: tensor<2x4x3xf32>) -> tensor<f32> {
      %b = mha.get_param @bias : tensor<4x5xf32>
      %s = mha.scaled_matmul %q, %k : tensor<2x4x6xf32>, tensor<2x5x6xf32>
      %sb = mha.add %s, %b : tensor<2x4x5xf32>, tensor<4x5xf32>
      %p = mha.softmax %sb : tensor<2x4x5xf32>
      %o = mha.matmul %p, %v : tensor<2x4x5xf32>, tensor<2x5x3xf32>
      %l = mha.mse_loss %o, %t : tensor<2x4x3xf32>, tensor<2x4x3xf32>
      return %l : tensor<f32>
    })",
        {}, {3}, /*inlineFirst=*/false, /*fuseFirst=*/true);
}

// Every size dynamic, head depth included, and no explicit scale: the
// backward reads 1/sqrt(D) at run time, as the forward does.
TEST_F(GradientCheck, FusedAttentionDynamicDepth) {
  check(R"(
    func.func @f(%q: tensor<?x?x?xf32>, %k: tensor<?x?x?xf32>, %v: tensor<?x?x?xf32>,
                 %t: tensor<?x?x?xf32>) -> tensor<f32> {
      %o = mha.attention %q, %k, %v : tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>
      %l = mha.mse_loss %o, %t : tensor<?x?x?xf32>, tensor<?x?x?xf32>
      return %l : tensor<f32>
    })",
        {2, 3, 5, 2, 4, 5, 2, 4, 3, 2, 3, 3}, {3});
}

TEST_F(GradientCheck, ElementwiseBroadcastAndReductions) {
  check(R"(
    func.func @f(%x: tensor<3x4xf32>, %b: tensor<4xf32>, %c: tensor<3x1xf32>) -> tensor<f32> {
      %a = mha.add %x, %b : tensor<3x4xf32>, tensor<4xf32>
      %s = mha.sub %a, %c : tensor<3x4xf32>, tensor<3x1xf32>
      %m = mha.mul %s, %x : tensor<3x4xf32>, tensor<3x4xf32>
      %g = mha.gelu %m : tensor<3x4xf32>
      %ga = mha.gelu %g approximate : tensor<3x4xf32>
      %t = mha.tanh %ga : tensor<3x4xf32>
      %r = mha.relu %t : tensor<3x4xf32>
      %tr = mha.transpose %r perm = [1, 0] : tensor<3x4xf32>
      %mean = mha.reduce mean %tr dims = [1] : tensor<4x3xf32>
      %sum = mha.reduce sum %mean dims = [0] : tensor<4xf32>
      %kept = mha.reduce sum %m dims = [1] keep_dims : tensor<3x4xf32>
      %all = mha.reduce sum %kept dims = [0, 1] : tensor<3x1xf32>
      %l = mha.add %sum, %all : tensor<f32>, tensor<f32>
      return %l : tensor<f32>
    })",
        {});
}

TEST_F(GradientCheck, CrossEntropyAndBCEFromLogits) {
  check(R"(
    mha.param @w : tensor<5x4xf32> init <glorot_normal>
    func.func @f(%x: tensor<?x5xf32>, %c: tensor<?xi64>, %y: tensor<?x4xf32>) -> tensor<f32> {
      %w = mha.get_param @w : tensor<5x4xf32>
      %z = mha.dense %x, %w : tensor<?x5xf32>, tensor<5x4xf32>
      %ce = mha.cross_entropy %z, %c : tensor<?x4xf32>, tensor<?xi64>
      %bl = mha.bce_loss %z, %y from_logits : tensor<?x4xf32>, tensor<?x4xf32>
      %l = mha.add %ce, %bl : tensor<f32>, tensor<f32>
      return %l : tensor<f32>
    })",
        {6, 6, 6}, {2});
}
TEST_F(GradientCheck, EmbeddingWithRepeatedIds) {
  // Ids i % 3: rows 0-2 are read several times (their gradients add up),
  // rows 3-4 never (zero gradient).
  check(R"(
    mha.param @emb : tensor<5x4xf32> init <normal, std = 0.5>
    func.func @f(%ids: tensor<?x3xi64>, %y: tensor<?x3x4xf32>) -> tensor<f32> {
      %t = mha.get_param @emb : tensor<5x4xf32>
      %x = mha.embedding %t, %ids : tensor<5x4xf32>, tensor<?x3xi64>
      %s = mha.sigmoid %x : tensor<?x3x4xf32>
      %l = mha.mse_loss %s, %y : tensor<?x3x4xf32>, tensor<?x3x4xf32>
      return %l : tensor<f32>
    })",
        {2, 2}, {1});
}

TEST_F(GradientCheck, DropoutWithKey) {
  // With a key the mask is fixed, so the loss is smooth in x and the
  // gradient (the same dropout of dy) must match finite differences; two
  // streams draw two masks.
  check(R"(
    func.func @f(%x: tensor<?x8xf32>, %key: tensor<i64>, %y: tensor<?x8xf32>) -> tensor<f32> {
      %a = mha.dropout %x rate = 5.000000e-01 key(%key : tensor<i64>) {stream = 0 : i64} : tensor<?x8xf32>
      %s = mha.sigmoid %a : tensor<?x8xf32>
      %b = mha.dropout %s rate = 2.500000e-01 key(%key : tensor<i64>) {stream = 1 : i64} : tensor<?x8xf32>
      %l = mha.mse_loss %b, %y : tensor<?x8xf32>, tensor<?x8xf32>
      return %l : tensor<f32>
    })",
        {3, 3}, {2});
}

TEST_F(GradientCheck, AttentionProbabilityDropout) {
  // Dropout between the softmax and the product with V: the chain stays
  // unfused and differentiates through its parts.
  check(R"(
    func.func @f(%q: tensor<1x2x5x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x4xf32>,
                 %key: tensor<i64>, %y: tensor<1x2x5x4xf32>) -> tensor<f32> {
      %s = mha.scaled_matmul %q, %k : tensor<1x2x5x4xf32>, tensor<1x2x5x4xf32>
      %p = mha.softmax %s : tensor<1x2x5x5xf32>
      %d = mha.dropout %p rate = 3.000000e-01 key(%key : tensor<i64>) {stream = 0 : i64} : tensor<1x2x5x5xf32>
      %o = mha.matmul %d, %v : tensor<1x2x5x5xf32>, tensor<1x2x5x4xf32>
      %l = mha.mse_loss %o, %y : tensor<1x2x5x4xf32>, tensor<1x2x5x4xf32>
      return %l : tensor<f32>
    })",
        {}, {4}, /*inlineFirst=*/false, /*fuseFirst=*/true);
}

TEST_F(GradientCheck, RotaryQueriesAndKeys) {
  // RoPE on queries and keys of fused causal attention: the gradient of a
  // rotation is the inverse rotation.
  check(R"(
    func.func @f(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>,
                 %y: tensor<1x2x?x4xf32>) -> tensor<f32> {
      %qr = mha.rotary %q : tensor<1x2x?x4xf32>
      %kr = mha.rotary %k {base = 1.000000e+02 : f32} : tensor<1x2x?x4xf32>
      %o = mha.attention %qr, %kr, %v causal : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
      %l = mha.mse_loss %o, %y : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
      return %l : tensor<f32>
    })",
        {5, 5, 5, 5}, {3});
}

TEST_F(GradientCheck, LayerFunctionCalledTwice) {
  // No -inline first: mha-autodiff inlines the calls itself.
  check(R"(
    mha.param @w1 : tensor<3x3xf32> init <glorot_normal>
    mha.param @w2 : tensor<3x3xf32> init <glorot_normal>
    func.func private @layer(%x: tensor<?x3xf32>, %w: tensor<3x3xf32>) -> tensor<?x3xf32> {
      %h = mha.dense %x, %w : tensor<?x3xf32>, tensor<3x3xf32>
      %t = mha.tanh %h : tensor<?x3xf32>
      %r = mha.add %x, %t : tensor<?x3xf32>, tensor<?x3xf32>
      return %r : tensor<?x3xf32>
    }
    func.func @f(%x: tensor<?x3xf32>, %y: tensor<?x3xf32>) -> tensor<f32> {
      %w1 = mha.get_param @w1 : tensor<3x3xf32>
      %w2 = mha.get_param @w2 : tensor<3x3xf32>
      %a = func.call @layer(%x, %w1) : (tensor<?x3xf32>, tensor<3x3xf32>) -> tensor<?x3xf32>
      %b = func.call @layer(%a, %w2) : (tensor<?x3xf32>, tensor<3x3xf32>) -> tensor<?x3xf32>
      %l = mha.mse_loss %b, %y : tensor<?x3xf32>, tensor<?x3xf32>
      return %l : tensor<f32>
    })",
        {4, 4}, {1});
}

TEST_F(GradientCheck, CrossEntropyIgnoreIndex) {
  // Labels i % 3 over 4 classes, 2 ignored: a third of the positions.
  check(R"(
    mha.param @w : tensor<5x4xf32> init <glorot_normal>
    func.func @f(%x: tensor<?x3x5xf32>, %c: tensor<?x3xi64>) -> tensor<f32> {
      %w = mha.get_param @w : tensor<5x4xf32>
      %z = mha.dense %x, %w : tensor<?x3x5xf32>, tensor<5x4xf32>
      %l = mha.cross_entropy %z, %c ignore_index = 2 : tensor<?x3x4xf32>, tensor<?x3xi64>
      return %l : tensor<f32>
    })",
        {2, 2});
}

TEST_F(GradientCheck, TokenAndLearnedPositionEmbeddings) {
  check(R"(
    mha.param @tok : tensor<4x3xf32> init <normal, std = 0.5>
    mha.param @pos : tensor<6x3xf32> init <normal, std = 0.5>
    func.func @f(%ids: tensor<?x?xi64>, %y: tensor<?x?x3xf32>) -> tensor<f32> {
      %t = mha.get_param @tok : tensor<4x3xf32>
      %p = mha.get_param @pos : tensor<6x3xf32>
      %i = mha.positions %ids dim = 1 : tensor<?x?xi64>
      %pe = mha.embedding %p, %i : tensor<6x3xf32>, tensor<?xi64>
      %te = mha.embedding %t, %ids : tensor<4x3xf32>, tensor<?x?xi64>
      %x = mha.add %te, %pe : tensor<?x?x3xf32>, tensor<?x3xf32>
      %s = mha.tanh %x : tensor<?x?x3xf32>
      %l = mha.mse_loss %s, %y : tensor<?x?x3xf32>, tensor<?x?x3xf32>
      return %l : tensor<f32>
    })",
        {2, 5, 2, 5}, {1});
}

TEST_F(GradientCheck, ReduceMaxAndMasks) {
  // Random inputs have distinct maxima, where max is differentiable.
  check(R"(
    func.func @f(%x: tensor<3x5xf32>, %keep: tensor<5xi1>, %bias: tensor<5xf32>) -> tensor<f32> {
      %b = mha.apply_mask %x mask(%bias : tensor<5xf32>) : tensor<3x5xf32>
      %c = mha.apply_mask %b causal : tensor<3x5xf32>
      %m = mha.apply_mask %c mask(%keep : tensor<5xi1>) : tensor<3x5xf32>
      %s = mha.softmax %m : tensor<3x5xf32>
      %t = mha.mul %s, %x : tensor<3x5xf32>, tensor<3x5xf32>
      %r = mha.reduce max %t dims = [1] : tensor<3x5xf32>
      %k = mha.reduce max %x dims = [0] keep_dims : tensor<3x5xf32>
      %rs = mha.reduce sum %r dims = [0] : tensor<3xf32>
      %ks = mha.reduce sum %k dims = [0, 1] : tensor<1x5xf32>
      %l = mha.add %rs, %ks : tensor<f32>, tensor<f32>
      return %l : tensor<f32>
    })",
        {});
}

TEST_F(GradientCheck, LayerNorm) {
  check(R"(
    mha.param @g : tensor<6xf32> init <normal, std = 1.0>
    mha.param @b : tensor<6xf32> init <normal, std = 1.0>
    func.func @f(%x: tensor<?x6xf32>, %t: tensor<?x6xf32>) -> tensor<f32> {
      %g = mha.get_param @g : tensor<6xf32>
      %b = mha.get_param @b : tensor<6xf32>
      %n = mha.layer_norm %x, %g, %b {epsilon = 1.0e-3 : f32} : tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>
      %l = mha.mse_loss %n, %t : tensor<?x6xf32>, tensor<?x6xf32>
      return %l : tensor<f32>
    })",
        {3, 3}, {1});
}

TEST_F(GradientCheck, SeedClassifierWholeModel) {
  // The bundled example, with a BCE loss around its forward function, at a
  // small size (B = 2, S = 3): every parameter's gradient, sampled.
  auto file = llvm::MemoryBuffer::getFile(MHA_EXAMPLES_DIR
                                          "/seed_classifier.mlir");
  ASSERT_TRUE(bool(file));
  std::string source = (*file)->getBuffer().str() + R"(
    func.func @f(%x: tensor<?x?x16xf32>, %y: tensor<?x1xf32>) -> tensor<f32> {
      %p = func.call @forward(%x) : (tensor<?x?x16xf32>) -> tensor<?x1xf32>
      %l = mha.bce_loss %p, %y : tensor<?x1xf32>, tensor<?x1xf32>
      return %l : tensor<f32>
    })";
  check(source, {2, 3, 2}, {1}, /*inlineFirst=*/true);
}
} // namespace
