//===- BenchmarkSupport.cpp - Shared helpers of mha-benchmarks ------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "BenchmarkSupport.h"

#include "mha/Runner/Registration.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <immintrin.h>

using namespace mlir;
using namespace mlir::mha;

namespace mha_bench {
MLIRContext &context() {
  static MLIRContext *ctx = [] {
    initializeNativeTarget();
    DialectRegistry registry;
    registerRunnerDialects(registry);
    auto *c = new MLIRContext(registry);
    c->loadAllAvailableDialects();
    return c;
  }();
  return *ctx;
}

std::unique_ptr<JitModule> compile(ModuleOp module, CompileOptions options) {
  auto jit = JitModule::compile(module, options);
  if (!jit) {
    llvm::errs() << llvm::toString(jit.takeError()) << "\n";
    std::abort();
  }
  return std::move(*jit);
}

HostTensor filled(std::vector<int64_t> shape, float value, DType dtype) {
  HostTensor t(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.setFromDouble(i, value * float((i % 7) - 3));
  return t;
}

void timeCalls(benchmark::State &state, JitModule &jit, llvm::StringRef name,
               const std::vector<const HostTensor *> &args,
               double flopsPerCall) {
  benchmark::DoNotOptimize(jit.call(name, args));
  double seconds = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto out = jit.call(name, args);
    seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    benchmark::DoNotOptimize(out);
  }
  double gflops = flopsPerCall * state.iterations() / 1e9 / seconds;
  state.counters["GFLOP/s"] = gflops;
  state.counters["peak_frac"] = gflops / measuredPeakGflops();
}

namespace {
/// 16 independent chains of AVX-512 FMAs, `iters` rounds.
__attribute__((target("avx512f"))) void fmaChains(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i)
    acc[i] = _mm512_set1_ps(float(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; ++k)
    for (int i = 0; i < 16; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  for (int i = 0; i < 16; ++i)
    benchmark::DoNotOptimize(acc[i]);
}
constexpr int64_t kPeakIters = 1 << 16;
constexpr double kPeakFlops = double(kPeakIters) * 16 * 16 * 2;
} // namespace

double measuredPeakGflops() {
  static double peak = [] {
    double best = 0;
    for (int round = 0; round < 30; ++round) {
      auto start = std::chrono::steady_clock::now();
      fmaChains(kPeakIters);
      double seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      best = std::max(best, kPeakFlops / seconds / 1e9);
    }
    return best;
  }();
  return peak;
}

void BM_PeakFMA(benchmark::State &state) {
  for (auto _ : state)
    fmaChains(kPeakIters);
  state.counters["GFLOP/s"] = benchmark::Counter(
      kPeakFlops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PeakFMA);
} // namespace mha_bench
