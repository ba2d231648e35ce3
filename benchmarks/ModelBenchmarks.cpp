//===- ModelBenchmarks.cpp - Speed of compiled mha code -------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Google Benchmark measurements of code compiled by mha-lower-to-cpu, each
// reported with a GFLOP/s counter next to the machine's single-core fp32 FMA
// peak measured in the same run (BM_PeakFMA), since absolute times on a
// shared machine drift:
//
//   BM_PeakFMA          16 independent AVX-512 FMA chains (the ceiling;
//                       BenchmarkSupport.cpp)
//   BM_Dense/N/threads         mha.dense [N, N] x [N, N], tiled and vectorized
//   BM_DenseScalar/N           the same without mha-tile-and-vectorize
//   BM_DenseBF16/N/threads     the same in bf16 (f32 accumulation)
//   BM_WeightGrad/N/threads    mha.dense_weight_grad, x and dy [2048, N]
//   BM_SeedForward/S/threads   examples/seed_classifier.mlir forward, B=32
//   BM_SeedTrainStep/S/threads its training step (forward, backward, Adam)
//   BM_SeedTrainStepBF16/S/threads  the same in mixed precision (bf16
//                              matrix products, f32 parameters and state)
//
// threads = 1 is sequential code, 0 every core (OpenMP: matmuls in row
// blocks, attention per batch element); peak_frac always divides by the
// single-core peak, so with threads = 0 it can pass 1.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Runner/Dataset.h"
#include "mha/Runner/JitModule.h"
#include "mha/Runner/Model.h"
#include "mha/Runner/Registration.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include "BenchmarkSupport.h"

#include <benchmark/benchmark.h>

#include <map>

using namespace mlir;
using namespace mlir::mha;
using namespace mha_bench;

namespace {

void denseBenchmark(benchmark::State &state, bool vectorize,
                    DType dtype = DType::F32) {
  int64_t n = state.range(0);
  int64_t threads = state.range(1);
  std::string source = llvm::formatv(R"(
    func.func @f(%x: tensor<?x{0}x{1}>, %w: tensor<{0}x{0}x{1}>) -> tensor<?x{0}x{1}> {{
      %y = mha.dense %x, %w : tensor<?x{0}x{1}>, tensor<{0}x{0}x{1}>
      return %y : tensor<?x{0}x{1}>
    })",
                                     n, dtypeName(dtype))
                           .str();
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(source, &context());
  CompileOptions options;
  options.vectorize = vectorize;
  options.threads = threads;
  auto jit = compile(*module, options);
  HostTensor x = filled({n, n}, 0.01f, dtype),
             w = filled({n, n}, 0.02f, dtype);
  timeCalls(state, *jit, "f", {&x, &w}, 2.0 * double(n) * n * n);
}
void BM_Dense(benchmark::State &state) { denseBenchmark(state, true); }
void BM_DenseScalar(benchmark::State &state) { denseBenchmark(state, false); }
/// bf16 operands, f32 accumulation (AVX-512 BF16 dot products where the
/// host has them), bf16 result; peak_frac still divides by the f32 peak.
void BM_DenseBF16(benchmark::State &state) {
  denseBenchmark(state, true, DType::BF16);
}
BENCHMARK(BM_Dense)
    ->ArgNames({"N", "threads"})
    ->ArgsProduct({{256, 512, 2048}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DenseBF16)
    ->ArgNames({"N", "threads"})
    ->ArgsProduct({{512, 2048}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DenseScalar)
    ->ArgNames({"N", "threads"})
    ->Args({256, 1})
    ->Unit(benchmark::kMillisecond);

/// A Dense layer's weight gradient xᵀ·dy over 2048 rows (the seed
/// classifier's output projection at B·S = 2048 is N = 512): a matrix
/// transpose of x (16 x 16 register blocks) and a matmul.
void BM_WeightGrad(benchmark::State &state) {
  int64_t n = state.range(0), threads = state.range(1), rows = 2048;
  std::string source = llvm::formatv(R"(
    func.func @f(%x: tensor<{1}x{0}xf32>, %dy: tensor<{1}x{0}xf32>) -> tensor<{0}x{0}xf32> {{
      %dw = mha.dense_weight_grad %x, %dy : tensor<{1}x{0}xf32>, tensor<{1}x{0}xf32>
      return %dw : tensor<{0}x{0}xf32>
    })",
                                     n, rows)
                           .str();
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(source, &context());
  CompileOptions options;
  options.threads = threads;
  auto jit = compile(*module, options);
  HostTensor x = filled({rows, n}, 0.01f), dy = filled({rows, n}, 0.02f);
  timeCalls(state, *jit, "f", {&x, &dy}, 2.0 * double(rows) * n * n);
}
BENCHMARK(BM_WeightGrad)
    ->ArgNames({"N", "threads"})
    ->ArgsProduct({{512}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

/// The seed classifier with its training step built.
struct Seed {
  OwningOpRef<ModuleOp> module;
  std::vector<ParamInfo> params;
  TensorMap values;
  std::unique_ptr<JitModule> jit;
  Seed(int64_t threads, bool bf16) {
    auto file =
        llvm::MemoryBuffer::getFile(MHA_EXAMPLES_DIR "/seed_classifier.mlir");
    module = parseSourceString<ModuleOp>((*file)->getBuffer(), &context());
    for (ParamOp p : module->getOps<ParamOp>())
      params.push_back({p.getSymName().str(), p.getTensorType(), p.getInit()});
    values = initializeParams(params, 1);
    PassManager pm(&context());
    pm.addPass(createMHABuildTrainStepPass());
    if (failed(pm.run(*module)))
      std::abort();
    CompileOptions options;
    options.threads = threads;
    options.bf16Matmuls = bf16;
    jit = compile(*module, options);
  }
};

/// One compiled seed classifier per thread count and precision.
Seed &seed(int64_t threads, bool bf16 = false) {
  static std::map<std::pair<int64_t, bool>, Seed *> compiled;
  Seed *&s = compiled[{threads, bf16}];
  if (!s)
    s = new Seed(threads, bf16);
  return *s;
}

/// Multiply-adds of the seed classifier's forward pass for a batch.
double seedForwardFlops(int64_t b, int64_t s) {
  double rows = double(b * s);
  double projections = 2 * rows * 16 * 512 * 3 + 2 * rows * 512 * 512;
  double attention = 2.0 * 2 * b * 8 * s * s * 64;
  double head = 2.0 * b * 512 * 1024 + 2.0 * b * 1024;
  return projections + attention + head;
}

void BM_SeedForward(benchmark::State &state) {
  int64_t s = state.range(0);
  Seed &m = seed(state.range(1));
  Dataset d = makeMarkedTokenDataset(32, s, 1);
  std::vector<const HostTensor *> args = {&d.inputs[0]};
  for (const ParamInfo &p : m.params)
    args.push_back(&m.values.at(p.name));
  timeCalls(state, *m.jit, "forward", args, seedForwardFlops(32, s));
}
BENCHMARK(BM_SeedForward)
    ->ArgNames({"S", "threads"})
    ->ArgsProduct({{16, 64, 256}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void seedTrainStep(benchmark::State &state, bool bf16) {
  int64_t s = state.range(0);
  Seed &m = seed(state.range(1), bf16);
  Dataset d = makeMarkedTokenDataset(32, s, 1);
  HostTensor step(DType::F32, {});
  step.f32()[0] = 1;
  TensorMap moments;
  for (const ParamInfo &p : m.params)
    moments[p.name] = HostTensor(DType::F32, m.values.at(p.name).shape);
  std::vector<const HostTensor *> args = {&d.inputs[0], &d.labels, &step};
  for (int k = 0; k < 2; ++k)
    for (const ParamInfo &p : m.params)
      args.push_back(&moments.at(p.name));
  for (const ParamInfo &p : m.params)
    args.push_back(&m.values.at(p.name));
  // Backward is about twice the forward's work.
  timeCalls(state, *m.jit, "__mha_train_step", args,
            3 * seedForwardFlops(32, s));
}
void BM_SeedTrainStep(benchmark::State &state) { seedTrainStep(state, false); }
/// Mixed precision: bf16 matrix products, f32 parameters and Adam state.
void BM_SeedTrainStepBF16(benchmark::State &state) {
  seedTrainStep(state, true);
}
BENCHMARK(BM_SeedTrainStep)
    ->ArgNames({"S", "threads"})
    ->ArgsProduct({{16, 64, 256}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SeedTrainStepBF16)
    ->ArgNames({"S", "threads"})
    ->ArgsProduct({{16, 64, 256}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
} // namespace

BENCHMARK_MAIN();
