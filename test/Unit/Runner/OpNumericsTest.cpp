//===- OpNumericsTest.cpp - JIT-run every op against a C++ reference ------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Each test JIT-compiles a one-op function with mha-lower-to-cpu (vectorized
// and scalar), runs it on seeded random data, and compares every element with
// a plain C++ reference implementation written independently of the lowering.
//
// Tolerance: |got - want| <= 1e-5 + 1e-5 * |want|. All arithmetic is f32;
// the longest accumulation here is 40 terms of magnitude <= 1, whose rounding
// error is bounded by about 40 * 2^-24 ~ 2.4e-6, so 1e-5 leaves margin for
// differences in summation order (tiling, vectorization) and in libm.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Driver.h"
#include "mha/Runner/JitModule.h"
#include "mha/Runner/Registration.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "gtest/gtest.h"

#include <cmath>
#include <functional>
#include <random>

using namespace mlir;
using namespace mlir::mha;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

/// A reference tensor: f64 values, C order.
struct Ref {
  std::vector<int64_t> shape;
  std::vector<double> v;
  explicit Ref(std::vector<int64_t> s = {}) : shape(std::move(s)) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    v.assign(n, 0.0);
  }
  int64_t size() const { return int64_t(v.size()); }
  /// Flat offset of a multi-index.
  int64_t at(const std::vector<int64_t> &idx) const {
    int64_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      o = o * shape[d] + idx[d];
    return o;
  }
  /// Multi-index of a flat offset.
  std::vector<int64_t> index(int64_t flat) const {
    std::vector<int64_t> idx(shape.size());
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
      idx[d] = flat % shape[d];
      flat /= shape[d];
    }
    return idx;
  }
};

HostTensor toHost(const Ref &r, DType dtype = DType::F32) {
  HostTensor t(dtype, r.shape);
  for (int64_t i = 0; i < r.size(); ++i)
    t.setFromDouble(i, r.v[i]);
  return t;
}

Ref fromHost(const HostTensor &t) {
  Ref r(t.shape);
  for (int64_t i = 0; i < r.size(); ++i)
    r.v[i] = t.getAsDouble(i);
  return r;
}

Ref randomRef(std::vector<int64_t> shape, std::mt19937 &rng, double lo = -1,
              double hi = 1) {
  Ref r(std::move(shape));
  std::uniform_real_distribution<double> dist(lo, hi);
  for (double &x : r.v)
    x = float(dist(rng));
  return r;
}

class OpNumerics : public ::testing::TestWithParam<bool> {
protected:
  static void SetUpTestSuite() { initializeNativeTarget(); }

  /// Compiles `source` and calls @f on `inputs`.
  std::vector<Ref> run(const std::string &source,
                       const std::vector<HostTensor> &inputs) {
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(source, context);
    EXPECT_TRUE(module) << source;
    if (!module)
      return {};
    CompileOptions options;
    options.vectorize = GetParam();
    auto jit = JitModule::compile(*module, options);
    EXPECT_TRUE(bool(jit)) << (jit ? "" : llvm::toString(jit.takeError()));
    if (!jit)
      return {};
    std::vector<const HostTensor *> args;
    for (const HostTensor &t : inputs)
      args.push_back(&t);
    auto results = (*jit)->call("f", args);
    EXPECT_TRUE(bool(results))
        << (results ? "" : llvm::toString(results.takeError()));
    std::vector<Ref> out;
    if (results)
      for (const HostTensor &t : *results)
        out.push_back(fromHost(t));
    return out;
  }

  static void expectClose(const Ref &got, const Ref &want,
                          double tol = 1e-5) {
    ASSERT_EQ(got.shape, want.shape);
    for (int64_t i = 0; i < want.size(); ++i) {
      double g = got.v[i], w = want.v[i];
      if (std::isinf(w)) {
        EXPECT_EQ(g, w) << "at " << i;
        continue;
      }
      EXPECT_NEAR(g, w, tol + tol * std::fabs(w)) << "at flat index " << i;
    }
  }

  /// Every dialect the JIT uses, as in mha-run.
  DriverContext driver;
  MLIRContext *context = &driver.getContext();
  std::mt19937 rng{42};
};

//===----------------------------------------------------------------------===//
// References
//===----------------------------------------------------------------------===//

/// y[..., m, n] = sum_k a[..., m, k] * b[..., k, n] (b[..., n, k] if bT).
Ref refMatmul(const Ref &a, const Ref &b, bool bT, double scale = 1.0) {
  size_t r = a.shape.size();
  int64_t m = a.shape[r - 2], k = a.shape[r - 1];
  int64_t n = bT ? b.shape[r - 2] : b.shape[r - 1];
  std::vector<int64_t> shape(a.shape.begin(), a.shape.end() - 2);
  int64_t batch = 1;
  for (int64_t d : shape)
    batch *= d;
  shape.push_back(m);
  shape.push_back(n);
  Ref y(shape);
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p)
          s += a.v[(bi * m + i) * k + p] *
               (bT ? b.v[(bi * n + j) * k + p] : b.v[(bi * k + p) * n + j]);
        y.v[(bi * m + i) * n + j] = s * scale;
      }
  return y;
}

/// Softmax along `axis`; an all -inf slice gives zeros.
Ref refSoftmax(const Ref &x, int64_t axis) {
  Ref y(x.shape);
  for (int64_t i = 0; i < x.size(); ++i) {
    std::vector<int64_t> idx = x.index(i);
    if (idx[axis] != 0)
      continue;
    double mx = -kInf;
    for (int64_t j = 0; j < x.shape[axis]; ++j) {
      idx[axis] = j;
      mx = std::max(mx, x.v[x.at(idx)]);
    }
    double sum = 0;
    for (int64_t j = 0; j < x.shape[axis]; ++j) {
      idx[axis] = j;
      sum += mx == -kInf ? 0.0 : std::exp(x.v[x.at(idx)] - mx);
    }
    for (int64_t j = 0; j < x.shape[axis]; ++j) {
      idx[axis] = j;
      double e = mx == -kInf ? 0.0 : std::exp(x.v[x.at(idx)] - mx);
      y.v[y.at(idx)] = sum == 0 ? 0.0 : e / sum;
    }
  }
  return y;
}

/// NumPy broadcasting of a binary function.
Ref refBroadcast(const Ref &a, const Ref &b,
                 const std::function<double(double, double)> &f) {
  size_t rank = std::max(a.shape.size(), b.shape.size());
  auto dim = [&](const Ref &t, size_t d) -> int64_t {
    size_t off = rank - t.shape.size();
    return d < off ? 1 : t.shape[d - off];
  };
  std::vector<int64_t> shape(rank);
  for (size_t d = 0; d < rank; ++d)
    shape[d] = std::max(dim(a, d), dim(b, d));
  Ref y(shape);
  auto read = [&](const Ref &t, const std::vector<int64_t> &idx) {
    size_t off = rank - t.shape.size();
    std::vector<int64_t> ti;
    for (size_t d = off; d < rank; ++d)
      ti.push_back(t.shape[d - off] == 1 ? 0 : idx[d]);
    return t.v[t.at(ti)];
  };
  for (int64_t i = 0; i < y.size(); ++i) {
    std::vector<int64_t> idx = y.index(i);
    y.v[i] = f(read(a, idx), read(b, idx));
  }
  return y;
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

TEST_P(OpNumerics, DenseWithBiasOddSizes) {
  // 3 x 5 rows (not a multiple of the 8-row tile), 13 -> 37 features.
  Ref x = randomRef({3, 5, 13}, rng), w = randomRef({13, 37}, rng),
      b = randomRef({37}, rng);
  auto out = run(R"(
    func.func @f(%x: tensor<?x?x13xf32>, %w: tensor<13x37xf32>, %b: tensor<37xf32>) -> tensor<?x?x37xf32> {
      %y = mha.dense %x, %w, %b : tensor<?x?x13xf32>, tensor<13x37xf32>, tensor<37xf32>
      return %y : tensor<?x?x37xf32>
    })",
                 {toHost(x), toHost(w), toHost(b)});
  ASSERT_EQ(out.size(), 1u);
  Ref x2 = x;
  x2.shape = {15, 13};
  Ref want = refMatmul(x2, w, false);
  for (int64_t r = 0; r < 15; ++r)
    for (int64_t o = 0; o < 37; ++o)
      want.v[r * 37 + o] += b.v[o];
  want.shape = {3, 5, 37};
  expectClose(out[0], want);
}

TEST_P(OpNumerics, DenseRank1AndLargeTiles) {
  Ref x = randomRef({40}, rng), w = randomRef({40, 64}, rng);
  auto out = run(R"(
    func.func @f(%x: tensor<40xf32>, %w: tensor<40x64xf32>) -> tensor<64xf32> {
      %y = mha.dense %x, %w : tensor<40xf32>, tensor<40x64xf32>
      return %y : tensor<64xf32>
    })",
                 {toHost(x), toHost(w)});
  ASSERT_EQ(out.size(), 1u);
  Ref x2 = x;
  x2.shape = {1, 40};
  Ref want = refMatmul(x2, w, false);
  want.shape = {64};
  expectClose(out[0], want);
}

TEST_P(OpNumerics, SplitAndMergeHeads) {
  Ref x = randomRef({2, 3, 12}, rng);
  auto out = run(R"(
    func.func @f(%x: tensor<?x?x12xf32>) -> (tensor<?x4x?x3xf32>, tensor<?x?x12xf32>) {
      %h = mha.split_heads %x into 4 heads : tensor<?x?x12xf32>
      %m = mha.merge_heads %h : tensor<?x4x?x3xf32>
      return %h, %m : tensor<?x4x?x3xf32>, tensor<?x?x12xf32>
    })",
                 {toHost(x)});
  ASSERT_EQ(out.size(), 2u);
  Ref want({2, 4, 3, 3});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 4; ++h)
      for (int64_t s = 0; s < 3; ++s)
        for (int64_t d = 0; d < 3; ++d)
          want.v[want.at({b, h, s, d})] = x.v[x.at({b, s, h * 3 + d})];
  expectClose(out[0], want, 0.0);
  expectClose(out[1], x, 0.0);
}

TEST_P(OpNumerics, ScaledMatmulDefaultScaleAndUntransposed) {
  Ref q = randomRef({2, 3, 5, 8}, rng), k = randomRef({2, 3, 7, 8}, rng);
  Ref a = randomRef({1, 9}, rng), b = randomRef({9, 33}, rng);
  auto out = run(R"(
    func.func @f(%q: tensor<?x3x?x8xf32>, %k: tensor<?x3x?x8xf32>, %a: tensor<1x9xf32>, %b: tensor<9x33xf32>)
        -> (tensor<?x3x?x?xf32>, tensor<1x33xf32>) {
      %s = mha.scaled_matmul %q, %k : tensor<?x3x?x8xf32>, tensor<?x3x?x8xf32>
      %t = mha.scaled_matmul %a, %b untransposed {scale = 0.5 : f32} : tensor<1x9xf32>, tensor<9x33xf32>
      return %s, %t : tensor<?x3x?x?xf32>, tensor<1x33xf32>
    })",
                 {toHost(q), toHost(k), toHost(a), toHost(b)});
  ASSERT_EQ(out.size(), 2u);
  expectClose(out[0], refMatmul(q, k, true, 1.0 / std::sqrt(8.0)));
  expectClose(out[1], refMatmul(a, b, false, 0.5));
}

TEST_P(OpNumerics, ScaledMatmulDynamicContraction) {
  // K dynamic: the default scale 1/sqrt(K) is computed at run time.
  Ref q = randomRef({4, 6}, rng), k = randomRef({3, 6}, rng);
  auto out = run(R"(
    func.func @f(%q: tensor<?x?xf32>, %k: tensor<?x?xf32>) -> tensor<?x?xf32> {
      %s = mha.scaled_matmul %q, %k : tensor<?x?xf32>, tensor<?x?xf32>
      return %s : tensor<?x?xf32>
    })",
                 {toHost(q), toHost(k)});
  ASSERT_EQ(out.size(), 1u);
  expectClose(out[0], refMatmul(q, k, true, 1.0 / std::sqrt(6.0)));
}

TEST_P(OpNumerics, BatchedMatmul) {
  Ref a = randomRef({2, 17, 9}, rng), b = randomRef({2, 9, 35}, rng);
  auto out = run(R"(
    func.func @f(%a: tensor<2x?x9xf32>, %b: tensor<2x9x35xf32>) -> tensor<2x?x35xf32> {
      %c = mha.matmul %a, %b : tensor<2x?x9xf32>, tensor<2x9x35xf32>
      return %c : tensor<2x?x35xf32>
    })",
                 {toHost(a), toHost(b)});
  ASSERT_EQ(out.size(), 1u);
  expectClose(out[0], refMatmul(a, b, false));
}

TEST_P(OpNumerics, SoftmaxAxesAndMaskedRows) {
  Ref x = randomRef({3, 5}, rng, -4, 4);
  for (int64_t j = 0; j < 5; ++j)
    x.v[x.at({1, j})] = -kInf; // a fully masked row
  x.v[x.at({2, 1})] = -kInf;   // a partly masked row
  auto out = run(R"(
    func.func @f(%x: tensor<?x5xf32>) -> (tensor<?x5xf32>, tensor<?x5xf32>) {
      %a = mha.softmax %x : tensor<?x5xf32>
      %b = mha.softmax %x axis = 0 : tensor<?x5xf32>
      return %a, %b : tensor<?x5xf32>, tensor<?x5xf32>
    })",
                 {toHost(x)});
  ASSERT_EQ(out.size(), 2u);
  expectClose(out[0], refSoftmax(x, 1));
  expectClose(out[1], refSoftmax(x, 0));
  for (int64_t j = 0; j < 5; ++j)
    EXPECT_EQ(out[0].v[out[0].at({1, j})], 0.0);
}

TEST_P(OpNumerics, SoftmaxSingleElementRows) {
  Ref x = randomRef({4, 1}, rng, -50, 50);
  auto out = run(R"(
    func.func @f(%x: tensor<?x1xf32>) -> tensor<?x1xf32> {
      %a = mha.softmax %x : tensor<?x1xf32>
      return %a : tensor<?x1xf32>
    })",
                 {toHost(x)});
  ASSERT_EQ(out.size(), 1u);
  for (double v : out[0].v)
    EXPECT_EQ(v, 1.0);
}

TEST_P(OpNumerics, Reductions) {
  Ref x = randomRef({2, 3, 4}, rng);
  auto out = run(R"(
    func.func @f(%x: tensor<2x?x4xf32>) -> (tensor<2x4xf32>, tensor<2x?x1xf32>, tensor<?xf32>) {
      %m = mha.reduce mean %x dims = [1] : tensor<2x?x4xf32>
      %x2 = mha.reduce max %x dims = [-1] keep_dims : tensor<2x?x4xf32>
      %s = mha.reduce sum %x dims = [0, 2] : tensor<2x?x4xf32>
      return %m, %x2, %s : tensor<2x4xf32>, tensor<2x?x1xf32>, tensor<?xf32>
    })",
                 {toHost(x)});
  ASSERT_EQ(out.size(), 3u);
  Ref mean({2, 4}), mx({2, 3, 1}), sum({3});
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t c = 0; c < 4; ++c) {
      for (int64_t b = 0; b < 3; ++b)
        mean.v[mean.at({a, c})] += x.v[x.at({a, b, c})] / 3.0;
    }
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b) {
      double m = -kInf;
      for (int64_t c = 0; c < 4; ++c)
        m = std::max(m, x.v[x.at({a, b, c})]);
      mx.v[mx.at({a, b, 0})] = m;
    }
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t c = 0; c < 4; ++c)
        sum.v[b] += x.v[x.at({a, b, c})];
  expectClose(out[0], mean);
  expectClose(out[1], mx);
  expectClose(out[2], sum);
}

TEST_P(OpNumerics, BroadcastingAddAndMul) {
  Ref x = randomRef({2, 3, 4}, rng), b = randomRef({4}, rng),
      c = randomRef({2, 1, 1}, rng);
  auto out = run(R"(
    func.func @f(%x: tensor<2x?x4xf32>, %b: tensor<4xf32>, %c: tensor<?x1x1xf32>) -> (tensor<2x?x4xf32>, tensor<2x?x4xf32>) {
      %s = mha.add %x, %b : tensor<2x?x4xf32>, tensor<4xf32>
      %p = mha.mul %c, %x : tensor<?x1x1xf32>, tensor<2x?x4xf32>
      return %s, %p : tensor<2x?x4xf32>, tensor<2x?x4xf32>
    })",
                 {toHost(x), toHost(b), toHost(c)});
  ASSERT_EQ(out.size(), 2u);
  expectClose(out[0], refBroadcast(x, b, std::plus<double>()));
  expectClose(out[1], refBroadcast(c, x, std::multiplies<double>()));
}

TEST_P(OpNumerics, Activations) {
  Ref x = randomRef({3, 7}, rng, -6, 6);
  auto out = run(R"(
    func.func @f(%x: tensor<?x7xf32>) -> (tensor<?x7xf32>, tensor<?x7xf32>, tensor<?x7xf32>, tensor<?x7xf32>, tensor<?x7xf32>) {
      %r = mha.relu %x : tensor<?x7xf32>
      %g = mha.gelu %x : tensor<?x7xf32>
      %a = mha.gelu %x approximate : tensor<?x7xf32>
      %s = mha.sigmoid %x : tensor<?x7xf32>
      %t = mha.tanh %x : tensor<?x7xf32>
      return %r, %g, %a, %s, %t : tensor<?x7xf32>, tensor<?x7xf32>, tensor<?x7xf32>, tensor<?x7xf32>, tensor<?x7xf32>
    })",
                 {toHost(x)});
  ASSERT_EQ(out.size(), 5u);
  Ref r(x.shape), g(x.shape), a(x.shape), s(x.shape), t(x.shape);
  for (int64_t i = 0; i < x.size(); ++i) {
    double v = x.v[i];
    r.v[i] = std::max(v, 0.0);
    g.v[i] = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    a.v[i] = 0.5 * v *
             (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    s.v[i] = 1 / (1 + std::exp(-v));
    t.v[i] = std::tanh(v);
  }
  expectClose(out[0], r);
  expectClose(out[1], g);
  expectClose(out[2], a);
  expectClose(out[3], s);
  expectClose(out[4], t);
}

TEST_P(OpNumerics, LayerNorm) {
  Ref x = randomRef({2, 3, 10}, rng, -3, 3), g = randomRef({10}, rng),
      b = randomRef({10}, rng);
  auto out = run(R"(
    func.func @f(%x: tensor<?x?x10xf32>, %g: tensor<10xf32>, %b: tensor<10xf32>) -> tensor<?x?x10xf32> {
      %y = mha.layer_norm %x, %g, %b {epsilon = 1.0e-3 : f32} : tensor<?x?x10xf32>, tensor<10xf32>, tensor<10xf32>
      return %y : tensor<?x?x10xf32>
    })",
                 {toHost(x), toHost(g), toHost(b)});
  ASSERT_EQ(out.size(), 1u);
  Ref want(x.shape);
  for (int64_t row = 0; row < 6; ++row) {
    double mean = 0, var = 0;
    for (int64_t d = 0; d < 10; ++d)
      mean += x.v[row * 10 + d] / 10;
    for (int64_t d = 0; d < 10; ++d)
      var += (x.v[row * 10 + d] - mean) * (x.v[row * 10 + d] - mean) / 10;
    for (int64_t d = 0; d < 10; ++d)
      want.v[row * 10 + d] =
          (x.v[row * 10 + d] - mean) / std::sqrt(var + 1e-3) * g.v[d] + b.v[d];
  }
  expectClose(out[0], want);
}

/// Reference attention with optional boolean keep-mask [Sk] per batch and a
/// causal flag, on [B, S, D].
Ref refAttention(const Ref &q, const Ref &k, const Ref &v, const Ref *keep,
                 bool causal, double scale) {
  Ref s = refMatmul(q, k, true, scale);
  int64_t B = q.shape[0], Sq = q.shape[1], Sk = k.shape[1];
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Sq; ++i)
      for (int64_t j = 0; j < Sk; ++j) {
        bool masked = (keep && keep->v[keep->at({b, 0, j})] == 0.0) ||
                      (causal && j > i);
        if (masked)
          s.v[s.at({b, i, j})] = -kInf;
      }
  return refMatmul(refSoftmax(s, 2), v, false);
}

TEST_P(OpNumerics, AttentionCausalAndBooleanMask) {
  Ref q = randomRef({2, 5, 8}, rng), k = randomRef({2, 6, 8}, rng),
      v = randomRef({2, 6, 3}, rng);
  Ref keep({2, 1, 6});
  for (int64_t j = 0; j < 6; ++j) {
    keep.v[keep.at({0, 0, j})] = j < 4 ? 1.0 : 0.0; // padding
    keep.v[keep.at({1, 0, j})] = j == 0 ? 0.0 : 1.0; // first key masked
  }
  auto out = run(R"(
    func.func @f(%q: tensor<?x?x8xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x3xf32>, %keep: tensor<?x1x?xi1>)
        -> (tensor<?x?x3xf32>, tensor<?x?x3xf32>, tensor<?x?x3xf32>) {
      %a = mha.attention %q, %k, %v : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x3xf32>
      %c = mha.attention %q, %k, %v causal {scale = 0.3 : f32} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x3xf32>
      %m = mha.attention %q, %k, %v mask(%keep : tensor<?x1x?xi1>) causal : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x3xf32>
      return %a, %c, %m : tensor<?x?x3xf32>, tensor<?x?x3xf32>, tensor<?x?x3xf32>
    })",
                 {toHost(q), toHost(k), toHost(v), toHost(keep, DType::Bool)});
  ASSERT_EQ(out.size(), 3u);
  double scale = 1 / std::sqrt(8.0);
  expectClose(out[0], refAttention(q, k, v, nullptr, false, scale));
  expectClose(out[1], refAttention(q, k, v, nullptr, true, 0.3));
  Ref masked = refAttention(q, k, v, &keep, true, scale);
  expectClose(out[2], masked);
  // Query 0 of batch 1 sees only key 0 (causal), which is masked: zeros.
  for (int64_t d = 0; d < 3; ++d)
    EXPECT_EQ(out[2].v[out[2].at({1, 0, d})], 0.0);
}

TEST_P(OpNumerics, AttentionAdditiveMaskSingleQuery) {
  Ref q = randomRef({1, 1, 4}, rng), k = randomRef({1, 3, 4}, rng);
  Ref bias = randomRef({3}, rng, -2, 2);
  auto out = run(R"(
    func.func @f(%q: tensor<1x1x4xf32>, %k: tensor<1x3x4xf32>, %bias: tensor<3xf32>) -> tensor<1x1x4xf32> {
      %a = mha.attention %q, %k, %k mask(%bias : tensor<3xf32>) : tensor<1x1x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>
      return %a : tensor<1x1x4xf32>
    })",
                 {toHost(q), toHost(k), toHost(bias)});
  ASSERT_EQ(out.size(), 1u);
  Ref s = refMatmul(q, k, true, 0.5);
  for (int64_t j = 0; j < 3; ++j)
    s.v[j] += bias.v[j];
  expectClose(out[0], refMatmul(refSoftmax(s, 2), k, false));
}

TEST_P(OpNumerics, Losses) {
  Ref p = randomRef({6, 1}, rng, 0.01, 0.99), y({6, 1});
  for (int64_t i = 0; i < 6; ++i)
    y.v[i] = i % 2;
  Ref logits = randomRef({4, 5}, rng, -3, 3);
  Ref labels({4});
  labels.v = {0, 4, 2, 2};
  auto out = run(R"(
    func.func @f(%p: tensor<?x1xf32>, %y: tensor<?x1xf32>, %l: tensor<?x5xf32>, %c: tensor<?xi64>)
        -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
      %a = mha.bce_loss %p, %y : tensor<?x1xf32>, tensor<?x1xf32>
      %b = mha.bce_loss %p, %y from_logits : tensor<?x1xf32>, tensor<?x1xf32>
      %m = mha.mse_loss %p, %y : tensor<?x1xf32>, tensor<?x1xf32>
      %e = mha.cross_entropy %l, %c : tensor<?x5xf32>, tensor<?xi64>
      return %a, %b, %m, %e : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
    })",
                 {toHost(p), toHost(y), toHost(logits), toHost(labels, DType::I64)});
  ASSERT_EQ(out.size(), 4u);
  double bce = 0, bceLogits = 0, mse = 0, ce = 0;
  for (int64_t i = 0; i < 6; ++i) {
    double pi = p.v[i], yi = y.v[i];
    bce += -(yi * std::log(pi) + (1 - yi) * std::log(1 - pi)) / 6;
    double s = 1 / (1 + std::exp(-pi));
    bceLogits += -(yi * std::log(s) + (1 - yi) * std::log(1 - s)) / 6;
    mse += (pi - yi) * (pi - yi) / 6;
  }
  for (int64_t r = 0; r < 4; ++r) {
    double lse = 0;
    for (int64_t c = 0; c < 5; ++c)
      lse += std::exp(logits.v[r * 5 + c]);
    ce += (std::log(lse) - logits.v[r * 5 + int64_t(labels.v[r])]) / 4;
  }
  Ref want({});
  want.v = {bce};
  expectClose(out[0], want);
  want.v = {bceLogits};
  expectClose(out[1], want);
  want.v = {mse};
  expectClose(out[2], want);
  want.v = {ce};
  expectClose(out[3], want);
}

TEST_P(OpNumerics, BF16AccumulatesInF32) {
  // 32 products of 1/8 * 1/8: exact in f32 (0.5), but a bf16 accumulator
  // would lose low bits along the way for other values; check against f32.
  Ref a = randomRef({4, 32}, rng), b = randomRef({32, 16}, rng);
  for (double &x : a.v)
    x = bf16ToFloat(floatToBF16(float(x)));
  for (double &x : b.v)
    x = bf16ToFloat(floatToBF16(float(x)));
  auto out = run(R"(
    func.func @f(%a: tensor<4x32xbf16>, %b: tensor<32x16xbf16>) -> tensor<4x16xbf16> {
      %c = mha.matmul %a, %b : tensor<4x32xbf16>, tensor<32x16xbf16>
      return %c : tensor<4x16xbf16>
    })",
                 {toHost(a, DType::BF16), toHost(b, DType::BF16)});
  ASSERT_EQ(out.size(), 1u);
  Ref want = refMatmul(a, b, false);
  // The only error is the final rounding to bf16 (8 bits of mantissa).
  for (int64_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(out[0].v[i], want.v[i], std::fabs(want.v[i]) * 0x1.0p-8 + 1e-6);
}

TEST_P(OpNumerics, OptimizerUpdates) {
  // Three steps of each optimizer against the update rules written out here.
  Ref p0 = randomRef({3, 5}, rng), g = randomRef({3, 5}, rng);
  std::string source = R"(
    func.func @f(%p: tensor<3x5xf32>, %g: tensor<3x5xf32>, %m: tensor<3x5xf32>, %v: tensor<3x5xf32>, %t: tensor<f32>)
        -> (tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>) {
      %a:3 = mha.optimizer_update %p, %g, %m, %v, %t OPT : tensor<3x5xf32>, tensor<f32>
      return %a#0, %a#1, %a#2 : tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>
    })";
  struct Case {
    const char *opt;
    std::function<void(double &, double &, double &, double, int)> rule;
  };
  std::vector<Case> cases = {
      {"<sgd, learning_rate = 0.1, momentum = 0.9, weight_decay = 0.01>",
       [](double &p, double &m, double &, double g, int) {
         g += 0.01 * p;
         m = 0.9 * m + g;
         p -= 0.1 * m;
       }},
      {"<adam, learning_rate = 0.01>",
       [](double &p, double &m, double &v, double g, int t) {
         m = 0.9 * m + 0.1 * g;
         v = 0.999 * v + 0.001 * g * g;
         double mh = m / (1 - std::pow(0.9, t)), vh = v / (1 - std::pow(0.999, t));
         p -= 0.01 * mh / (std::sqrt(vh) + 1e-7);
       }},
      {"<adamw, learning_rate = 0.01, beta1 = 0.8, weight_decay = 0.1>",
       [](double &p, double &m, double &v, double g, int t) {
         m = 0.8 * m + 0.2 * g;
         v = 0.999 * v + 0.001 * g * g;
         double mh = m / (1 - std::pow(0.8, t)), vh = v / (1 - std::pow(0.999, t));
         p -= 0.01 * (mh / (std::sqrt(vh) + 1e-7) + 0.1 * p);
       }},
  };
  for (const Case &c : cases) {
    std::string text = source;
    text.replace(text.find("OPT"), 3, c.opt);
    Ref p = p0, m(p0.shape), v(p0.shape);
    Ref wantP = p0, wantM(p0.shape), wantV(p0.shape);
    for (int t = 1; t <= 3; ++t) {
      Ref step({});
      step.v = {double(t)};
      auto out = run(text, {toHost(p), toHost(g), toHost(m), toHost(v),
                            toHost(step)});
      ASSERT_EQ(out.size(), 3u) << c.opt;
      for (int64_t i = 0; i < p0.size(); ++i)
        c.rule(wantP.v[i], wantM.v[i], wantV.v[i], g.v[i], t);
      p = out[0];
      m = out[1];
      v = out[2];
      expectClose(p, wantP);
      expectClose(m, wantM);
      expectClose(v, wantV);
    }
  }
}

TEST_P(OpNumerics, DynamicShapesCompileOnce) {
  // One compilation, called on very different batch and sequence sizes.
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(R"(
    func.func @f(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
      %a = mha.attention %x, %x, %x causal : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
      return %a : tensor<?x?x8xf32>
    })",
                                                             context);
  ASSERT_TRUE(module);
  CompileOptions options;
  options.vectorize = GetParam();
  auto jit = JitModule::compile(*module, options);
  ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
  for (auto [b, s] : {std::pair<int64_t, int64_t>{1, 1}, {3, 17}, {2, 64}}) {
    Ref x = randomRef({b, s, 8}, rng);
    HostTensor in = toHost(x);
    auto out = (*jit)->call("f", {&in});
    ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
    expectClose(fromHost((*out)[0]),
                refAttention(x, x, x, nullptr, true, 1 / std::sqrt(8.0)));
  }
}

TEST_P(OpNumerics, CallChecksArguments) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(R"(
    func.func @f(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
      %r = mha.relu %x : tensor<?x4xf32>
      return %r : tensor<?x4xf32>
    })",
                                                             context);
  ASSERT_TRUE(module);
  auto jit = JitModule::compile(*module, CompileOptions());
  ASSERT_TRUE(bool(jit));
  HostTensor wrong(DType::F32, {2, 5}), ints(DType::I32, {2, 4});
  auto r1 = (*jit)->call("f", {&wrong}, {"x"});
  ASSERT_FALSE(bool(r1));
  EXPECT_EQ(llvm::toString(r1.takeError()),
            "@f: 'x' expects tensor<?x4xf32>, got tensor<2x5xf32>");
  auto r2 = (*jit)->call("f", {&ints});
  ASSERT_FALSE(bool(r2));
  EXPECT_EQ(llvm::toString(r2.takeError()),
            "@f: argument #0 expects tensor<?x4xf32>, got tensor<2x4xi32>");
  auto r3 = (*jit)->call("f", {});
  ASSERT_FALSE(bool(r3));
  EXPECT_EQ(llvm::toString(r3.takeError()),
            "@f takes 1 arguments (inputs and parameters), got 0");
  auto r4 = (*jit)->call("g", {});
  ASSERT_FALSE(bool(r4));
  EXPECT_EQ(llvm::toString(r4.takeError()), "no compiled function @g");
}

TEST_P(OpNumerics, EntryPointsCompileOnlyWhatTheyCall) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(R"(
    func.func private @layer(%x: tensor<4xf32>) -> tensor<4xf32> {
      %r = mha.relu %x : tensor<4xf32>
      return %r : tensor<4xf32>
    }
    func.func @step(%x: tensor<4xf32>) -> tensor<4xf32> {
      %r = func.call @layer(%x) : (tensor<4xf32>) -> tensor<4xf32>
      return %r : tensor<4xf32>
    }
    func.func @unused(%x: tensor<4xf32>) -> tensor<4xf32> {
      %r = mha.gelu %x : tensor<4xf32>
      return %r : tensor<4xf32>
    })",
                                                             context);
  ASSERT_TRUE(module);
  CompileOptions options;
  options.vectorize = GetParam();
  options.entryPoints = {"step"};
  auto jit = JitModule::compile(*module, options);
  ASSERT_TRUE(bool(jit)) << llvm::toString(jit.takeError());
  HostTensor x(DType::F32, {4});
  for (int i = 0; i < 4; ++i)
    x.setFromDouble(i, i - 1.5);
  auto step = (*jit)->call("step", {&x});
  ASSERT_TRUE(bool(step)) << llvm::toString(step.takeError());
  EXPECT_EQ((*step)[0].getAsDouble(0), 0.0);
  EXPECT_EQ((*step)[0].getAsDouble(3), 1.5);
  auto unused = (*jit)->call("unused", {&x});
  ASSERT_FALSE(bool(unused));
  EXPECT_EQ(llvm::toString(unused.takeError()), "no compiled function @unused");
  // The model itself is left whole.
  EXPECT_TRUE(module->lookupSymbol("unused"));
}

INSTANTIATE_TEST_SUITE_P(Vectorized, OpNumerics, ::testing::Values(true));
INSTANTIATE_TEST_SUITE_P(Scalar, OpNumerics, ::testing::Values(false));
} // namespace
