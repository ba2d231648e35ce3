//===- JitModule.h - JIT-compiled model functions ---------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares JitModule: a model lowered with mha-lower-to-cpu and
// compiled by mlir::ExecutionEngine, whose functions are called on
// HostTensors.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_JITMODULE_H
#define MHA_RUNNER_JITMODULE_H

#include "mha/Pipelines/Pipelines.h"
#include "mha/Runtime/HostTensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ExecutionEngine/ObjectCache.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace mha {

/// Where compiled code runs.
enum class Device {
  /// The host CPU (mha-lower-to-cpu).
  CPU,
  /// The first NVIDIA GPU (mha-lower-to-gpu, kernels for its architecture,
  /// run through the GPU runtime library over the CUDA driver).
  GPU,
  /// The GPU pipeline's block/thread-mapped loop nests run sequentially on
  /// the host CPU (mha-lower-to-gpu{emulate}): the GPU mapping's numerics,
  /// checked without a GPU.
  GPUEmulation,
};

/// How a model is compiled.
struct CompileOptions {
  /// Where the code runs.
  Device device = Device::CPU;
  /// Pipeline options; `vectorize` etc.
  bool vectorize = true;
  /// The flash lowering of attention (else its decomposition).
  bool flashAttention = true;
  /// One function per distinct register-block kernel (mha-outline-kernels).
  bool outlineKernels = true;
  /// Threads of parallel loops: 0 = every core (OpenMP's default), 1 =
  /// sequential code.
  int64_t threads = 0;
  /// Mixed precision: on the CPU the model's matrix products take bf16
  /// operands and accumulate in f32 (mha-bf16-matmuls); on the GPU its
  /// attention, forward and backward, is computed in bf16
  /// (mha-lower-to-gpu{bf16-attention}: the tensor-core kernels' with
  /// gpuTensorCores), the other products in f32.
  bool bf16Matmuls = false;
  /// --device gpu: f16/bf16 attention (static depth a multiple of 16, no
  /// mask) by the tensor-core kernel (mha-lower-to-gpu{tensor-cores}).
  bool gpuTensorCores = false;
  /// Comma-separated "+feature" / "-feature" changes to the host CPU's
  /// features, e.g. "-avx512f" to generate AVX2 code on an AVX-512 host.
  std::string targetFeatures;
  /// Print the IR after every pass of the pipeline to stderr.
  bool printIRAfterAll = false;
  /// Run compiled code with denormal floats flushed to zero (the x86
  /// MXCSR's FTZ and DAZ bits, set on the calling thread for each call and
  /// inherited by OpenMP's workers), as TensorFlow and XLA do on CPUs:
  /// arithmetic on denormals is up to 100x slower and training reaches them
  /// once the loss is near zero.
  bool flushDenormals = true;
  /// Where compiled code is cached between runs, keyed by the model text
  /// (with locations), these options, the host CPU and its features, and
  /// the LLVM version; empty: no cache (see defaultCacheDirectory).
  std::string cacheDir;
  /// When not empty, only these functions (and the functions they call) are
  /// compiled: training needs its step and evaluation, not the model's other
  /// functions, and code generation time grows with the code.
  std::vector<std::string> entryPoints;
  /// Print how long each phase of compilation took (MLIR lowering, LLVM
  /// optimization, machine code) to stderr.
  bool reportTimes = false;
};

/// The cache directory mha-run uses: $MHA_CACHE_DIR ("off" disables the
/// cache), else $XDG_CACHE_HOME/mha, else $HOME/.cache/mha; empty when none
/// is set.
std::string defaultCacheDirectory();

/// A model's functions, compiled for the host CPU.
/// What the GPU's kernels took since the last look (JitModule::
/// takeGPUKernelTime).
struct GPUKernelTime {
  double milliseconds = 0;
  int launches = 0;
};

class JitModule {
public:
  /// Lowers a clone of `module` (which is left untouched) and JIT-compiles
  /// it. Every function with a body becomes callable; its arguments are its
  /// declared ones followed by the module's parameters in declaration order
  /// (see mha-params-to-arguments). Diagnostics of a failing lowering go to
  /// the context's handler.
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(ModuleOp module, const CompileOptions &options);

  /// Calls `name` on `args` and returns its results, which the caller owns.
  /// Checks the number of arguments and each one's element type, rank and
  /// static sizes against the signature, naming the argument at fault.
  llvm::Expected<std::vector<HostTensor>>
  call(llvm::StringRef name, llvm::ArrayRef<const HostTensor *> args,
       llvm::ArrayRef<std::string> argNames = {});

  /// On the GPU: times each kernel launch from now on (events on its
  /// stream), or stops. Does nothing on the CPU.
  void timeGPUKernels(bool on);
  /// On the GPU: the time the kernels launched since the last call took on
  /// the device (waiting for them), without the copies between host and
  /// device; std::nullopt on the CPU.
  std::optional<GPUKernelTime> takeGPUKernelTime();

  /// Whether the code came from the persistent cache (no code generation).
  bool isFromCache() const { return cachedObject; }

  /// Unloads the GPU kernels, when the code runs on a GPU.
  ~JitModule();

private:
  struct Signature {
    std::vector<RankedTensorType> args, results;
  };
  JitModule() = default;
  static llvm::Error addPackedEntry(llvm::Module &module, llvm::StringRef name);
  llvm::Error link(llvm::orc::JITTargetMachineBuilder builder,
                   llvm::ArrayRef<std::string> objects,
                   llvm::ArrayRef<std::string> names);
  /// The GPU runtime's first error since the last check, if any.
  llvm::Error takeGPUError();

  std::unique_ptr<llvm::orc::LLJIT> lljit;
  /// The packed entry point of each function: void(void **args).
  std::map<std::string, void (*)(void **)> entries;
  std::map<std::string, Signature> signatures;
  bool flushDenormals = true;
  bool cachedObject = false;
  Device device = Device::CPU;
  /// Unloads the GPU kernel modules (the lowered code's destructors).
  void (*gpuFinalize)() = nullptr;
  /// The GPU runtime's first failure since the last call (mhaGpuTakeError).
  int (*gpuTakeError)(char *, size_t) = nullptr;
  void (*gpuTimeKernels)(int) = nullptr;
  double (*gpuTakeKernelTime)(int *) = nullptr;
};

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_JITMODULE_H
