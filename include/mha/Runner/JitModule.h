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
#include "mha/Runtime/DeviceLedger.h"
#include "mha/Runtime/HostTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ExecutionEngine/ObjectCache.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
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
  /// f32 matrix products by the GPU's shared-memory tiled kernel
  /// (mha-lower-to-gpu{f32-matmul-kernel}) rather than one thread per
  /// output; unset: on --device gpu, not emulated (its emulation compiles
  /// for seconds a kernel: tests of whole models ask for it explicitly).
  std::optional<bool> gpuF32MatmulKernel;
  /// f32 matrix products by the GPU's tensor-core kernel on TF32 roundings
  /// of their operands (mha-lower-to-gpu{tf32-matmuls}): an opt-in, as
  /// PyTorch's allow_tf32.
  bool gpuTf32Matmuls = false;
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
  /// On a GPU (or emulated; ignored on the CPU): per function, the
  /// positions of the arguments and results that stay in device memory,
  /// passed to and returned by `callOnDevice` as DeviceTensors (positions
  /// after the module's parameters are appended to the arguments).
  struct DeviceResidence {
    std::vector<int64_t> arguments, results;
  };
  std::map<std::string, DeviceResidence> deviceResident;
  /// When not empty, only these functions (and the functions they call) are
  /// compiled: training needs its step and evaluation, not the model's other
  /// functions, and code generation time grows with the code.
  std::vector<std::string> entryPoints;
  /// Print how long each phase of compilation took (MLIR lowering, LLVM
  /// optimization, machine code) to stderr.
  bool reportTimes = false;
};

/// `positions` followed by the positions the module's `numParams`
/// parameters take among `fn`'s arguments once mha-params-to-arguments has
/// appended them after its declared ones (for DeviceResidence).
std::vector<int64_t>
withParameterPositions(func::FuncOp fn, size_t numParams,
                       std::vector<int64_t> positions = {});

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

/// A tensor in the GPU's memory (or the emulated device's), made by a
/// JitModule (toDevice, callOnDevice) and freed when destroyed, through
/// that JitModule's runtime; move-only.
class DeviceTensor {
public:
  DeviceTensor() = default;
  DeviceTensor(DeviceTensor &&other) { *this = std::move(other); }
  DeviceTensor &operator=(DeviceTensor &&other);
  DeviceTensor(const DeviceTensor &) = delete;
  DeviceTensor &operator=(const DeviceTensor &) = delete;
  ~DeviceTensor() { reset(); }

  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// The device address of the first element (null when empty).
  void *data() const { return pointer; }
  int64_t numElements() const;

private:
  friend class JitModule;
  void reset();
  void *pointer = nullptr;
  void (*release)(void *) = nullptr;
};

/// An argument of JitModule::callOnDevice: a host tensor, or a device
/// tensor for an argument the function keeps on the device.
struct CallArgument {
  CallArgument(const HostTensor *host) : host(host) {}
  CallArgument(const DeviceTensor *device) : device(device) {}
  const HostTensor *host = nullptr;
  const DeviceTensor *device = nullptr;
};

/// The results of JitModule::callOnDevice: those left on the device
/// (CompileOptions::deviceResident) in `device`, the others in `host`, each
/// in the function's order.
struct CallResults {
  std::vector<HostTensor> host;
  std::vector<DeviceTensor> device;
};

/// What crossed between host and device since the last look, and the
/// device memory in use (JitModule::takeDeviceUse).
struct DeviceUse {
  DeviceTraffic traffic;
  uint64_t allocatedBytes = 0;
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
  /// As `call`, for a function with device-resident arguments or results
  /// (CompileOptions::deviceResident): those arguments are DeviceTensors,
  /// those results come back as DeviceTensors the caller owns.
  llvm::Expected<CallResults>
  callOnDevice(llvm::StringRef name, llvm::ArrayRef<CallArgument> args,
               llvm::ArrayRef<std::string> argNames = {});

  /// On a GPU (or emulated): a device copy of `tensor`, and a host copy of
  /// a device tensor. An error on the CPU.
  llvm::Expected<DeviceTensor> toDevice(const HostTensor &tensor);
  llvm::Expected<HostTensor> toHost(const DeviceTensor &tensor);
  /// `tensors` as call arguments kept where the code runs (a model's
  /// parameters across calls): on the CPU the host tensors themselves; on
  /// a GPU (or emulated) device copies, made here once and owned by
  /// `copies` (replaced), which must outlive the arguments.
  llvm::Expected<std::vector<CallArgument>>
  residentArguments(llvm::ArrayRef<const HostTensor *> tensors,
                    std::vector<DeviceTensor> &copies);

  /// On the GPU: times each kernel launch from now on (events on its
  /// stream), or stops. Does nothing on the CPU.
  void timeGPUKernels(bool on);
  /// On the GPU: the time the kernels launched since the last call took on
  /// the device (waiting for them), without the copies between host and
  /// device; std::nullopt on the CPU.
  std::optional<GPUKernelTime> takeGPUKernelTime();
  /// On the GPU (or emulated): the bytes copied between host and device
  /// since the last look, and the device memory allocated now;
  /// std::nullopt on the CPU.
  std::optional<DeviceUse> takeDeviceUse();

  /// Whether the code came from the persistent cache (no code generation).
  bool isFromCache() const { return cachedObject; }

  /// Unloads the GPU kernels, when the code runs on a GPU.
  ~JitModule();

private:
  struct Signature {
    std::vector<RankedTensorType> args, results;
    /// Which arguments and results stay on the device.
    std::vector<bool> residentArgs, residentResults;
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
  void (*gpuTakeTraffic)(uint64_t *) = nullptr;
  /// Device memory outside compiled code (DeviceTensor), synchronous.
  void *(*deviceAllocate)(uint64_t) = nullptr;
  void (*deviceRelease)(void *) = nullptr;
  void (*deviceCopy)(void *, const void *, uint64_t) = nullptr;
};

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_JITMODULE_H
