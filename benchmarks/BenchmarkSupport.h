//===- BenchmarkSupport.h - Shared helpers of mha-benchmarks ----*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The MLIR context, compilation and timing helpers the benchmark files share,
// and the FMA peak every GFLOP/s figure is compared with.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_BENCHMARKS_BENCHMARKSUPPORT_H
#define MHA_BENCHMARKS_BENCHMARKSUPPORT_H

#include "mha/Runner/JitModule.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <benchmark/benchmark.h>
#include <vector>

namespace mha_bench {

/// The context every benchmark parses into (dialects of the JIT loaded).
mlir::MLIRContext &context();

/// Compiles `module` for the host, aborting with the error if it fails.
std::unique_ptr<mlir::mha::JitModule>
compile(mlir::ModuleOp module,
        mlir::mha::CompileOptions options = mlir::mha::CompileOptions());

/// A tensor of `shape` filled with a small repeating pattern times `value`
/// (rounded to `dtype`).
mlir::mha::HostTensor filled(std::vector<int64_t> shape, float value,
                             mlir::mha::DType dtype = mlir::mha::DType::F32);

/// Times `jit`'s `name` on `args` (after one untimed call, in which the JIT
/// generates the code) and reports `flopsPerCall` as GFLOP/s, and as the
/// fraction `peak_frac` of the single-core FMA peak measured in this process.
void timeCalls(benchmark::State &state, mlir::mha::JitModule &jit,
               llvm::StringRef name,
               const std::vector<const mlir::mha::HostTensor *> &args,
               double flopsPerCall);

/// The single-core fp32 FMA peak in GFLOP/s, measured once per process with
/// the loop of BM_PeakFMA (about 0.3 s).
double measuredPeakGflops();

} // namespace mha_bench

#endif // MHA_BENCHMARKS_BENCHMARKSUPPORT_H
