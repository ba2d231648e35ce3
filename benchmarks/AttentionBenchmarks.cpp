//===- AttentionBenchmarks.cpp - Speed of the attention core --------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The attention core (mha.attention, and mha.attention_with_lse followed by
// mha.attention_grad) compiled by mha-lower-to-cpu, flash (fused, tiled)
// and decomposed, on [B, H = 8, S, D] f32 with B·S = 8192. FLOPs follow the
// FlashAttention convention: forward 4·B·H·S²·D (halved when causal),
// forward + backward 3.5 times that. Each reports GFLOP/s and peak_frac, the
// fraction of the single-core FMA peak measured in the same process.
//
//   BM_Attention/S/D/causal/flash/threads          forward
//   BM_AttentionTrain/S/D/causal/flash/threads     forward + backward
//
// threads = 1 is sequential code, 0 every core (OpenMP); peak_frac always
// divides by the single-core peak, so with threads = 0 it can pass 1.
//
// scripts/bench_attention.py runs these next to PyTorch.
//
//===----------------------------------------------------------------------===//

#include "BenchmarkSupport.h"

#include "mlir/Parser/Parser.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::mha;
using namespace mha_bench;

namespace {
constexpr int64_t kHeads = 8;
constexpr int64_t kTokens = 8192; // B·S

struct AttentionCase {
  int64_t batch, seq, depth;
  bool causal, flash;
  int64_t threads;
  explicit AttentionCase(const benchmark::State &state)
      : batch(std::max<int64_t>(1, kTokens / state.range(0))),
        seq(state.range(0)), depth(state.range(1)), causal(state.range(2)),
        flash(state.range(3)), threads(state.range(4)) {}
  double forwardFlops() const {
    double flops = 4.0 * batch * kHeads * seq * seq * depth;
    return causal ? flops / 2 : flops;
  }
};

void run(benchmark::State &state, bool train) {
  AttentionCase c(state);
  std::string type = llvm::formatv("tensor<{0}x{1}x{2}x{3}xf32>", c.batch,
                                   kHeads, c.seq, c.depth)
                         .str();
  std::string lse =
      llvm::formatv("tensor<{0}x{1}x{2}xf32>", c.batch, kHeads, c.seq).str();
  std::string causal = c.causal ? " causal" : "";
  std::string source = train ? llvm::formatv(R"(
    func.func @f(%q: {0}, %k: {0}, %v: {0}, %do: {0}) -> ({0}, {0}, {0}) {{
      %o, %l = mha.attention_with_lse %q, %k, %v{1} : {0}, {0}, {0}
      %dq, %dk, %dv = mha.attention_grad %q, %k, %v, %o, %l, %do{1} : {0}, {0}, {0}, {0}, {2}
      return %dq, %dk, %dv : {0}, {0}, {0}
    })",
                                             type, causal, lse)
                                   .str()
                             : llvm::formatv(R"(
    func.func @f(%q: {0}, %k: {0}, %v: {0}) -> {0} {{
      %o = mha.attention %q, %k, %v{1} : {0}, {0}, {0}
      return %o : {0}
    })",
                                             type, causal)
                                   .str();
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(source, &context());
  CompileOptions options;
  options.flashAttention = c.flash;
  options.threads = c.threads;
  auto jit = compile(*module, options);
  std::vector<int64_t> shape = {c.batch, kHeads, c.seq, c.depth};
  HostTensor q = filled(shape, 0.01f), k = filled(shape, 0.02f),
             v = filled(shape, 0.03f), dO = filled(shape, 0.04f);
  std::vector<const HostTensor *> args = {&q, &k, &v};
  if (train)
    args.push_back(&dO);
  timeCalls(state, *jit, "f", args,
            train ? 3.5 * c.forwardFlops() : c.forwardFlops());
}

void BM_Attention(benchmark::State &state) { run(state, false); }
void BM_AttentionTrain(benchmark::State &state) { run(state, true); }

/// S in 512 ... 8192, D in {64, 128}, causal or not, flash or decomposed,
/// one thread (sequential code) or every core (threads = 0).
void attentionArgs(benchmark::internal::Benchmark *b) {
  b->ArgNames({"S", "D", "causal", "flash", "threads"});
  for (int64_t seq : {512, 1024, 2048, 4096, 8192})
    for (int64_t depth : {64, 128})
      for (int64_t causal : {0, 1})
        for (int64_t flash : {1, 0})
          for (int64_t threads : {1, 0})
            b->Args({seq, depth, causal, flash, threads});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_Attention)->Apply(attentionArgs);
BENCHMARK(BM_AttentionTrain)->Apply(attentionArgs);
} // namespace
