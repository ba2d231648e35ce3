//===- JitModule.cpp - JIT-compiled model functions -----------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements JitModule. Functions are called through their C
// interface (`llvm.emit_c_interface`): each tensor argument is passed as a
// pointer to a ranked memref descriptor {allocated, aligned, offset,
// sizes[rank], strides[rank]}, and results come back through a pointer to a
// struct of such descriptors. Returned buffers are fresh allocations (the
// pipeline's ownership-based deallocation guarantees it); their data is
// copied into HostTensors and the buffers freed.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/JitModule.h"

#include "EmulatedDevice.h"

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Runner/Model.h"
#include "mha/Support/ArgumentNames.h"
#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mha/Runtime/FileIO.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/CompileUtils.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"
#include "llvm/Support/Format.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Transforms/Utils/SplitModule.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <csetjmp>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include <cstdio>
#include <dlfcn.h>
#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
#include <unistd.h>
#endif
#include <optional>
#include <tuple>
#include <cstdlib>
#include <cstring>
#include <set>

using namespace mlir;
using namespace mlir::mha;

namespace {
/// Where mha_runtime_error returns to: set around each call into the JIT.
thread_local std::jmp_buf *activeCall = nullptr;
thread_local std::string runtimeErrorMessage;

/// A check that failed on a worker thread of a parallel loop (OpenMP),
/// which cannot unwind to the host: the first message, reported when the
/// call returns.
std::mutex workerErrorMutex;
std::optional<std::string> workerError;

/// Called by compiled code when a run-time check fails (see
/// mha-asserts-to-runtime-errors): records the message and unwinds to the
/// host's call site. Buffers the compiled code had allocated are leaked; the
/// driver reports the error and exits. On a worker thread (no call site of
/// its own) the message is recorded and the thread goes on; the lowerings
/// emit their size checks before parallel loops, so that a failed check
/// there is reported but never followed by work on wrong sizes.
extern "C" void mhaRuntimeError(const char *message) {
  if (activeCall) {
    runtimeErrorMessage = message;
    std::longjmp(*activeCall, 1);
  }
  std::lock_guard<std::mutex> lock(workerErrorMutex);
  if (!workerError)
    workerError = message;
}

/// A failed allocation in compiled code: an error for the host's call site,
/// or, on a worker thread, which has none and cannot go on without the
/// memory, a message and exit (never a null pointer dereferenced).
[[noreturn]] void reportOutOfMemory(size_t bytes) {
  std::string message =
      llvm::formatv("out of memory: compiled code could not allocate {0} "
                    "bytes",
                    bytes)
          .str();
  if (activeCall) {
    runtimeErrorMessage = message;
    std::longjmp(*activeCall, 1);
  }
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::_Exit(1);
}

/// The allocation functions compiled code calls (bound in place of the C
/// library's).
extern "C" void *mhaMalloc(size_t bytes) {
  void *p = std::malloc(bytes);
  if (!p && bytes != 0)
    reportOutOfMemory(bytes);
  return p;
}
extern "C" void *mhaAlignedAlloc(size_t alignment, size_t bytes) {
  void *p = std::aligned_alloc(alignment, bytes);
  if (!p && bytes != 0)
    reportOutOfMemory(bytes);
  return p;
}

/// f32 -> bf16, rounded to nearest even: the compiler-runtime function LLVM
/// calls for such a conversion on targets without AVX-512 BF16, which
/// Debian 12's libgcc lacks.
extern "C" __bf16 mhaTruncSFBF2(float value) {
  return __builtin_bit_cast(__bf16, floatToBF16(value));
}
} // namespace

namespace {
/// Sets the x86 MXCSR's flush-to-zero (FTZ, results) and denormals-are-zero
/// (DAZ, inputs) bits while it lives, when asked to.
class FloatingPointMode {
public:
  explicit FloatingPointMode(bool flush) {
#if defined(__x86_64__) || defined(__i386__)
    saved = _mm_getcsr();
    if (flush)
      _mm_setcsr(saved | kFlushToZero | kDenormalsAreZero);
#else
    (void)flush;
#endif
  }
  ~FloatingPointMode() { restore(); }
  void restore() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(saved);
#endif
  }

private:
  static constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
  unsigned saved = 0;
};
} // namespace

namespace {
/// The persistent cache's file: a magic line, then the number of object
/// files and each one as its size (8 bytes, little-endian) and its bytes.
constexpr llvm::StringLiteral kObjectsMagic = "mha-objects-1\n";

std::string packObjects(llvm::ArrayRef<std::string> objects) {
  std::string out(kObjectsMagic);
  auto putSize = [&](uint64_t n) {
    for (int i = 0; i < 8; ++i)
      out.push_back(char((n >> (8 * i)) & 0xff));
  };
  putSize(objects.size());
  for (const std::string &object : objects) {
    putSize(object.size());
    out += object;
  }
  return out;
}

/// The object files of a cache entry; std::nullopt when it is damaged.
std::optional<std::vector<std::string>> unpackObjects(llvm::StringRef data) {
  if (!data.consume_front(kObjectsMagic))
    return std::nullopt;
  auto getSize = [&](uint64_t &n) {
    if (data.size() < 8)
      return false;
    n = 0;
    for (int i = 0; i < 8; ++i)
      n |= uint64_t(uint8_t(data[i])) << (8 * i);
    data = data.drop_front(8);
    return true;
  };
  uint64_t count;
  if (!getSize(count) || count == 0 || count > 1024)
    return std::nullopt;
  std::vector<std::string> objects;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t size;
    if (!getSize(size) || size > data.size())
      return std::nullopt;
    objects.push_back(data.take_front(size).str());
    data = data.drop_front(size);
  }
  if (!data.empty())
    return std::nullopt;
  return objects;
}
} // namespace

/// Keeps the buffers compiled code allocates and frees on every call in
/// glibc's heap. By default glibc serves blocks of 128 KiB and more with
/// mmap and gives them back with munmap, so each call of a model page-faults
/// every large buffer (outputs, packed panels, intermediates) in anew:
/// measured, a 512^3 matmul ran at 150 GFLOP/s that way and at 227 from
/// reused heap memory, a seed training step at 79 and 111. glibc's own
/// dynamic threshold reaches the same after a large block happens to be
/// freed, which made timings depend on what ran before. Blocks up to 1 GiB
/// now come from the heap, which is trimmed only beyond 1 GiB free.
static void keepLargeBuffersInHeap() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr int kBytes = 1 << 30;
    mallopt(M_MMAP_THRESHOLD, kBytes);
    mallopt(M_TRIM_THRESHOLD, kBytes);
  });
#endif
}

/// LLVM's -O2 pipeline for `tm`'s target, without loop unrolling. The code
/// mha generates unrolls what needs unrolling itself (register blocks are
/// vectors; remainder tiles masked vectors), and the unrolling the host's
/// cost model asks for multiplied every small loop: without the partial
/// and runtime unrolling the seed classifier's training step compiled 20-30 %
/// sooner (6.4-7.7 s -> 5.2-5.5 s), and once remainder tiles became masked
/// vectors, without full unrolling another 15-20 % sooner (one thread:
/// 4.6-5.0 s -> 3.9-4.1 s), at the same speed (epochs of the seed task at
/// S = 64 within the run-to-run spread).
static void optimizeModule(llvm::Module &module, llvm::TargetMachine *tm,
                           int level) {
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager sccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  llvm::PassBuilder builder(tm, tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(sccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, sccs, modules);
  llvm::ModulePassManager passes =
      builder.buildPerModuleDefaultPipeline(
          level >= 3 ? llvm::OptimizationLevel::O3 : llvm::OptimizationLevel::O2);
  passes.run(module, modules);
}

/// Whether the GPU pipeline gives f32 products to its tiled kernel: as
/// asked, else on a GPU and not emulated.
static bool f32MatmulKernel(const CompileOptions &options) {
  return options.gpuF32MatmulKernel.value_or(options.device == Device::GPU);
}

static llvm::Error jitError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

namespace {
/// The GPU runtime library's own entry points (lib/Runtime/CUDA), and the
/// device it set up.
struct GPURuntime {
  int (*initialize)(int, char *, size_t) = nullptr;
  int (*deviceInfo)(int *, int *, char *, size_t) = nullptr;
  int (*takeError)(char *, size_t) = nullptr;
  void (*timeKernels)(int) = nullptr;
  double (*takeKernelTime)(int *) = nullptr;
  void (*takeTraffic)(uint64_t *) = nullptr;
  void *(*allocate)(uint64_t) = nullptr;
  void (*release)(void *) = nullptr;
  void (*copy)(void *, const void *, uint64_t) = nullptr;
  /// The device's architecture, e.g. "sm_90".
  std::string chip;
};

/// The functions the lowered code's global constructors and destructors
/// (each GPU binary's loading and unloading) become: JITLink without ORC's
/// own runtime library does not run an object's .init_array, so the host
/// calls these itself.
constexpr llvm::StringLiteral kGPUInitFunction = "__mha_gpu_initialize";
constexpr llvm::StringLiteral kGPUFiniFunction = "__mha_gpu_finalize";
} // namespace

/// Loads the GPU runtime library (once per process) and sets up the first
/// GPU; an error says why --device gpu cannot run here.
static llvm::Expected<const GPURuntime *> loadGPURuntime() {
#ifndef MHA_CUDA_RUNTIME_PATH
  return jitError("--device gpu: this mha was built without the CUDA "
                  "toolkit, so it has no GPU runtime (rebuild with the CUDA "
                  "toolkit installed)");
#else
  static std::mutex mutex;
  static std::optional<GPURuntime> loaded;
  static std::string failure;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded)
    return &*loaded;
  if (!failure.empty())
    return jitError(failure);
  // Installed: <prefix>/<libdir> beside the tools' <prefix>/bin; else the
  // build tree's library.
  std::string path = MHA_CUDA_RUNTIME_PATH;
  std::string self = llvm::sys::fs::getMainExecutable(
      nullptr, reinterpret_cast<void *>(&loadGPURuntime));
  if (!self.empty()) {
    llvm::SmallString<256> installed(llvm::sys::path::parent_path(
        llvm::sys::path::parent_path(self)));
    llvm::sys::path::append(installed, MHA_INSTALL_LIBDIR,
                            "libmha_cuda_runtime.so");
    if (llvm::sys::fs::exists(installed))
      path = std::string(installed);
  }
  std::string loadError;
  if (llvm::sys::DynamicLibrary::LoadLibraryPermanently(path.c_str(),
                                                        &loadError)) {
    failure = "--device gpu: cannot load the GPU runtime " + path + ": " +
              loadError + " (it needs the CUDA driver, libcuda.so.1)";
    return jitError(failure);
  }
  GPURuntime runtime;
  runtime.initialize = reinterpret_cast<int (*)(int, char *, size_t)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol("mhaGpuInitialize"));
  runtime.deviceInfo = reinterpret_cast<int (*)(int *, int *, char *, size_t)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol("mhaGpuDeviceInfo"));
  runtime.takeError = reinterpret_cast<int (*)(char *, size_t)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol("mhaGpuTakeError"));
  runtime.timeKernels = reinterpret_cast<void (*)(int)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol(
          "mhaGpuTimeKernels"));
  runtime.takeKernelTime = reinterpret_cast<double (*)(int *)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol(
          "mhaGpuTakeKernelTime"));
  runtime.takeTraffic = reinterpret_cast<void (*)(uint64_t *)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol("mhaGpuTakeTraffic"));
  runtime.allocate = reinterpret_cast<void *(*)(uint64_t)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol("mhaGpuAllocate"));
  runtime.release = reinterpret_cast<void (*)(void *)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol("mhaGpuRelease"));
  runtime.copy = reinterpret_cast<void (*)(void *, const void *, uint64_t)>(
      llvm::sys::DynamicLibrary::SearchForAddressOfSymbol("mhaGpuCopy"));
  if (!runtime.initialize || !runtime.deviceInfo || !runtime.takeError ||
      !runtime.timeKernels || !runtime.takeKernelTime || !runtime.takeTraffic ||
      !runtime.allocate || !runtime.release || !runtime.copy) {
    failure = "--device gpu: " + path + " is not mha's GPU runtime";
    return jitError(failure);
  }
  char message[512] = {0};
  int major = 0, minor = 0;
  if (runtime.initialize(0, message, sizeof(message)) ||
      runtime.deviceInfo(&major, &minor, message, sizeof(message))) {
    if (runtime.takeError(message, sizeof(message)) == 0 && !message[0])
      std::snprintf(message, sizeof(message), "unknown error");
    failure = std::string("--device gpu: no usable GPU: ") + message;
    return jitError(failure);
  }
  runtime.chip = llvm::formatv("sm_{0}{1}", major, minor).str();
  loaded = runtime;
  return &*loaded;
#endif
}

/// Replaces `module`'s global constructors and destructors with the two
/// functions kGPUInitFunction and kGPUFiniFunction, which call them in
/// order (destructors in reverse).
static void exposeInitializers(llvm::Module &module) {
  llvm::LLVMContext &context = module.getContext();
  auto *type =
      llvm::FunctionType::get(llvm::Type::getVoidTy(context), false);
  for (auto [list, name, reverse] :
       {std::make_tuple("llvm.global_ctors", kGPUInitFunction, false),
        std::make_tuple("llvm.global_dtors", kGPUFiniFunction, true)}) {
    auto *function = llvm::Function::Create(
        type, llvm::GlobalValue::ExternalLinkage, name, module);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", function));
    std::vector<llvm::Function *> calls;
    if (llvm::GlobalVariable *global = module.getNamedGlobal(list)) {
      if (auto *array =
              llvm::dyn_cast<llvm::ConstantArray>(global->getInitializer()))
        for (llvm::Value *entry : array->operands())
          if (auto *fields = llvm::dyn_cast<llvm::ConstantStruct>(entry))
            if (auto *callee =
                    llvm::dyn_cast<llvm::Function>(fields->getOperand(1)))
              calls.push_back(callee);
      global->eraseFromParent();
    }
    if (reverse)
      std::reverse(calls.begin(), calls.end());
    for (llvm::Function *callee : calls)
      b.CreateCall(callee);
    b.CreateRetVoid();
  }
}

JitModule::~JitModule() {
  if (gpuFinalize)
    gpuFinalize();
}

llvm::Error JitModule::takeGPUError() {
  if (!gpuTakeError)
    return llvm::Error::success();
  char message[1024] = {0};
  if (gpuTakeError(message, sizeof(message)))
    return jitError(llvm::Twine("GPU: ") + message);
  return llvm::Error::success();
}

void JitModule::timeGPUKernels(bool on) {
  if (gpuTimeKernels)
    gpuTimeKernels(on);
}

std::optional<DeviceUse> JitModule::takeDeviceUse() {
  DeviceUse use;
  if (device == Device::GPUEmulation) {
    use.traffic = emulated_device::ledger().take();
    use.allocatedBytes = emulated_device::ledger().allocatedBytes();
    return use;
  }
  if (!gpuTakeTraffic)
    return std::nullopt;
  uint64_t words[4] = {0, 0, 0, 0};
  gpuTakeTraffic(words);
  use.traffic.hostToDevice = words[0];
  use.traffic.deviceToHost = words[1];
  use.traffic.deviceToDevice = words[2];
  use.allocatedBytes = words[3];
  return use;
}

std::optional<GPUKernelTime> JitModule::takeGPUKernelTime() {
  if (!gpuTakeKernelTime)
    return std::nullopt;
  GPUKernelTime time;
  time.milliseconds = gpuTakeKernelTime(&time.launches);
  return time;
}

/// Optimizes `module` and compiles it to object code in up to `parts`
/// parts at once: llvm::SplitModule partitions its functions (balanced by
/// size), and each part is optimized and compiled in its own LLVMContext on
/// LLVM's thread pool, as LLVM's own parallel code generation does. The
/// outlined kernels and OpenMP regions are functions of their own, so a
/// model's code divides well.
static llvm::Expected<std::vector<std::string>>
compileInParts(std::unique_ptr<llvm::Module> module,
               llvm::orc::JITTargetMachineBuilder &builder, int level,
               unsigned parts) {
  std::vector<llvm::SmallString<0>> bitcodes;
  auto keep = [&](std::unique_ptr<llvm::Module> part) {
    llvm::SmallString<0> bitcode;
    llvm::raw_svector_ostream os(bitcode);
    llvm::WriteBitcodeToFile(*part, os);
    bitcodes.push_back(std::move(bitcode));
  };
  if (parts > 1)
    llvm::SplitModule(*module, parts, keep);
  else
    keep(std::move(module));

  std::vector<std::unique_ptr<llvm::TargetMachine>> machines;
  for (size_t i = 0; i < bitcodes.size(); ++i) {
    auto tm = builder.createTargetMachine();
    if (!tm)
      return tm.takeError();
    machines.push_back(std::move(*tm));
  }
  std::vector<std::string> objects(bitcodes.size()), errors(bitcodes.size());
  auto compilePart = [&](size_t i) {
    llvm::LLVMContext context;
    auto part = llvm::parseBitcodeFile(
        llvm::MemoryBufferRef(bitcodes[i].str(), "mha-part"), context);
    if (!part) {
      errors[i] = llvm::toString(part.takeError());
      return;
    }
    optimizeModule(**part, machines[i].get(), level);
    llvm::orc::SimpleCompiler compiler(*machines[i]);
    auto object = compiler(**part);
    if (!object) {
      errors[i] = llvm::toString(object.takeError());
      return;
    }
    objects[i] = (*object)->getBuffer().str();
  };
  if (bitcodes.size() == 1) {
    compilePart(0);
  } else {
    llvm::DefaultThreadPool pool(
        llvm::hardware_concurrency(unsigned(bitcodes.size())));
    for (size_t i = 0; i < bitcodes.size(); ++i)
      pool.async(compilePart, i);
    pool.wait();
  }
  for (const std::string &error : errors)
    if (!error.empty())
      return jitError("code generation failed: " + error);
  return objects;
}

/// What identifies this build of the compiler in the object cache: the
/// file holding this code (mha-run, or a library linking the runner) with
/// its size and modification time, so that a rebuilt or upgraded mha never
/// loads code an older build cached. Empty where it cannot be told.
static std::string buildIdentity() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&buildIdentity), &info) ||
      !info.dli_fname)
    return "";
  llvm::sys::fs::file_status status;
  if (llvm::sys::fs::status(info.dli_fname, status))
    return "";
  return llvm::formatv("{0} {1} {2}", info.dli_fname, status.getSize(),
                       status.getLastModificationTime()
                           .time_since_epoch()
                           .count())
      .str();
}

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compile(ModuleOp module, const CompileOptions &options) {
  keepLargeBuffersInHeap();
  auto jit = std::unique_ptr<JitModule>(new JitModule());
  jit->flushDenormals = options.flushDenormals;
  std::vector<RankedTensorType> paramTypes;
  for (ParamOp param : module.getOps<ParamOp>())
    paramTypes.push_back(param.getTensorType());

  OwningOpRef<ModuleOp> lowered = module.clone();
  // The training configuration is no code (mha-build-train-step has read
  // it): without it, runs that differ in epochs, batch size or data share
  // their compiled code.
  for (TrainingOp config : llvm::make_early_inc_range(lowered->getOps<TrainingOp>()))
    config.erase();
  if (!options.entryPoints.empty()) {
    // Other functions become private; those nothing calls are dropped.
    for (auto func : lowered->getOps<func::FuncOp>())
      if (!llvm::is_contained(options.entryPoints, func.getSymName()))
        func.setPrivate();
    PassManager dce(module.getContext());
    dce.addPass(createSymbolDCEPass());
    if (failed(dce.run(*lowered)))
      return jitError("removing the functions not compiled failed");
  }
  for (auto func : lowered->getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    Signature sig;
    for (Type t : func.getArgumentTypes())
      sig.args.push_back(cast<RankedTensorType>(t));
    sig.args.insert(sig.args.end(), paramTypes.begin(), paramTypes.end());
    for (Type t : func.getResultTypes())
      sig.results.push_back(cast<RankedTensorType>(t));
    sig.residentArgs.assign(sig.args.size(), false);
    sig.residentResults.assign(sig.results.size(), false);
    auto resident = options.deviceResident.find(func.getSymName().str());
    if (resident != options.deviceResident.end() &&
        options.device != Device::CPU) {
      // mha-gpu-device-buffers reads the positions (and checks them).
      for (auto [positions, flags] :
           {std::pair(&resident->second.arguments, &sig.residentArgs),
            std::pair(&resident->second.results, &sig.residentResults)})
        for (int64_t position : *positions) {
          if (position < 0 || size_t(position) >= flags->size())
            return jitError(llvm::formatv(
                "@{0} has no argument or result #{1} to keep on the device",
                func.getSymName(), position));
          (*flags)[position] = true;
        }
      func->setAttr(kDeviceResidentArgumentsAttr,
                    DenseI64ArrayAttr::get(module.getContext(),
                                           resident->second.arguments));
      func->setAttr(kDeviceResidentResultsAttr,
                    DenseI64ArrayAttr::get(module.getContext(),
                                           resident->second.results));
    }
    jit->signatures[func.getSymName().str()] = std::move(sig);
    func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  UnitAttr::get(module.getContext()));
    // Argument names matter to the driver only; LLVM has no use for them.
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      func.removeArgAttr(i, kArgumentNameAttr);
  }

  MLIRContext *context = module.getContext();
  jit->device = options.device;
  std::string gpuChip;
  if (options.device == Device::GPU) {
    auto runtime = loadGPURuntime();
    if (!runtime)
      return runtime.takeError();
    gpuChip = (*runtime)->chip;
    jit->gpuTakeError = (*runtime)->takeError;
    jit->gpuTimeKernels = (*runtime)->timeKernels;
    jit->gpuTakeKernelTime = (*runtime)->takeKernelTime;
    jit->gpuTakeTraffic = (*runtime)->takeTraffic;
    jit->deviceAllocate = (*runtime)->allocate;
    jit->deviceRelease = (*runtime)->release;
    jit->deviceCopy = (*runtime)->copy;
  } else if (options.device == Device::GPUEmulation) {
    jit->gpuTakeError = &emulated_device::takeError;
    jit->deviceAllocate = &emulated_device::allocate;
    jit->deviceRelease = &emulated_device::release;
    jit->deviceCopy = &emulated_device::copy;
  }
  CPUPipelineOptions pipeline;
  pipeline.vectorize = options.vectorize;
  pipeline.flashAttention = options.flashAttention;
  pipeline.outlineKernels = options.outlineKernels;
  pipeline.bf16Matmuls = options.bf16Matmuls;
  if (options.threads < 0)
    return jitError("threads must be >= 0 (0: every core), got " +
                    llvm::Twine(options.threads));
  pipeline.threads = unsigned(options.threads);

  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    return builder.takeError();
  // "+feature" / "-feature" adjustments of the host's features, e.g.
  // "-avx512f" for AVX2 code on an AVX-512 host (disabling a feature also
  // disables those that imply it).
  for (llvm::StringRef item :
       llvm::split(llvm::StringRef(options.targetFeatures), ',')) {
    item = item.trim();
    if (item.empty())
      continue;
    if (item.size() < 2 || (item[0] != '+' && item[0] != '-'))
      return jitError("target feature '" + item +
                      "' must be +name or -name (e.g. -avx512f)");
    builder->getFeatures().AddFeature(item.drop_front(), item[0] == '+');
  }
  // -O2: on the seed classifier's training step it runs as fast as -O3 and
  // compiles 4-5 s sooner (measured: 1.7 s per epoch either way).
  constexpr int level = 2;
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);

  std::vector<std::string> names;
  for (const auto &entry : jit->signatures)
    names.push_back(entry.first);

  // The persistent cache: object code keyed by everything it depends on.
  std::string cachePath;
  std::string build = buildIdentity();
  if (!options.cacheDir.empty() && !options.printIRAfterAll &&
      !build.empty()) {
    std::string key;
    llvm::raw_string_ostream os(key);
    // The format's revision, and the compiler's build: no run loads code
    // another build of mha compiled.
    os << "mha-object-cache-5\n"
       << build << "\n"
       << LLVM_VERSION_STRING << "\n"
       << builder->getTargetTriple().str() << "\n"
       << builder->getCPU() << "\n"
       << builder->getFeatures().getString() << "\n"
       << "vectorize=" << options.vectorize
       << " flash=" << options.flashAttention
       << " outline=" << options.outlineKernels
       << " bf16-matmuls=" << options.bf16Matmuls
       << " tensor-cores=" << options.gpuTensorCores
       << " f32-matmul-kernel=" << f32MatmulKernel(options)
       << " tf32-matmuls=" << options.gpuTf32Matmuls
       << " threads=" << options.threads << " level=" << level << "\n"
       << "device=" << int(options.device) << " " << gpuChip << "\n";
    // Locations are part of the code (run-time error messages name them).
    lowered->print(os, OpPrintingFlags().enableDebugInfo());
    llvm::SmallString<256> path(options.cacheDir);
    llvm::sys::path::append(
        path, llvm::toHex(llvm::SHA256::hash(llvm::arrayRefFromStringRef(key)),
                          /*LowerCase=*/true) +
                  ".o");
    cachePath = std::string(path);
    if (llvm::sys::fs::exists(cachePath)) {
      auto data = readInputFile(cachePath);
      std::optional<std::vector<std::string>> objects;
      if (data)
        objects = unpackObjects((*data)->getBuffer());
      else
        llvm::consumeError(data.takeError());
      if (objects) {
        llvm::Error loaded = jit->link(*builder, *objects, names);
        if (!loaded) {
          jit->cachedObject = true;
          return jit;
        }
        llvm::consumeError(std::move(loaded));
      }
      // A damaged entry is compiled anew and replaced.
      jit->lljit.reset();
      jit->entries.clear();
    }
  }

  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
  };
  Clock::time_point start = Clock::now();
  // bf16 matmuls on AVX-512 BF16 dot products where the target has them
  // (else widened to f32: correct, slower); asked only when compiling (the
  // cache key holds the features it follows from). The subtarget resolves
  // implications ("-avx512f" also removes avx512bf16), so ask it rather
  // than the list of changes.
  {
    auto machine = builder->createTargetMachine();
    if (!machine)
      return machine.takeError();
    pipeline.avx512BF16 =
        (*machine)->getMCSubtargetInfo()->checkFeatures("+avx512bf16");
  }
  PassManager pm(context);
  if (options.printIRAfterAll) {
    context->disableMultithreading();
    pm.enableIRPrinting(
        /*shouldPrintBeforePass=*/[](Pass *, Operation *) { return false; },
        /*shouldPrintAfterPass=*/[](Pass *, Operation *) { return true; },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false);
  }
  const char *pipelineName = "mha-lower-to-cpu";
  if (options.device != Device::CPU) {
    GPUPipelineOptions gpuPipeline;
    if (options.device == Device::GPU)
      gpuPipeline.chip = gpuChip;
    gpuPipeline.emulate = options.device == Device::GPUEmulation;
    gpuPipeline.tensorCores = options.gpuTensorCores;
    gpuPipeline.f32MatmulKernel = f32MatmulKernel(options);
    gpuPipeline.tf32Matmuls = options.gpuTf32Matmuls;
    // Mixed precision on the GPU as on the CPU: every matrix product, and
    // attention, on bf16 operands (the tensor-core kernels take them).
    gpuPipeline.bf16Attention = options.bf16Matmuls;
    gpuPipeline.bf16Matmuls = options.bf16Matmuls;
    buildMHALowerToGPUPipeline(pm, gpuPipeline);
    pipelineName = "mha-lower-to-gpu";
  } else {
    buildMHALowerToCPUPipeline(pm, pipeline);
  }
  if (failed(pm.run(*lowered)))
    return jitError(llvm::Twine("lowering with ") + pipelineName + " failed");

  // LLVM IR, optimized, with a packed entry point per function.
  auto llvmContext = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(*lowered, *llvmContext);
  if (!llvmModule)
    return jitError("translation of the lowered module to LLVM IR failed");
  auto targetMachine = builder->createTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  ExecutionEngine::setupTargetTripleAndDataLayout(llvmModule.get(),
                                                  targetMachine->get());
  for (const std::string &name : names)
    if (llvm::Error err = addPackedEntry(*llvmModule, name))
      return std::move(err);
  if (options.device == Device::GPU)
    exposeInitializers(*llvmModule);
  Clock::time_point translated = Clock::now();

  // Optimized and compiled now, not at the first call (so that a training
  // epoch's time is the epoch's), on as many threads as the compiled code
  // may use.
  unsigned parts = options.threads > 0
                       ? unsigned(options.threads)
                       : llvm::hardware_concurrency().compute_thread_count();
  parts = std::clamp(parts, 1u, 16u);
  auto objects =
      compileInParts(std::move(llvmModule), *builder, level, parts);
  if (!objects)
    return objects.takeError();
  Clock::time_point compiled = Clock::now();
  if (llvm::Error err = jit->link(*builder, *objects, names))
    return std::move(err);
  if (options.reportTimes) {
    size_t bytes = 0;
    for (const std::string &object : *objects)
      bytes += object.size();
    std::string parts = objects->size() == 1
                            ? std::string("in 1 part")
                            : llvm::formatv("in {0} parts at once",
                                            objects->size())
                                  .str();
    llvm::errs() << llvm::formatv(
        "compilation: MLIR lowering and translation {0:F2} s, LLVM "
        "optimization and machine code {1:F2} s ({2}, {3} bytes of "
        "objects), linking {4:F2} s\n",
        seconds(start, translated), seconds(translated, compiled), parts,
        bytes, seconds(compiled, Clock::now()));
  }
  if (!cachePath.empty()) {
    std::error_code ec = llvm::sys::fs::create_directories(options.cacheDir);
    llvm::Error saved =
        ec ? jitError(options.cacheDir + ": " + ec.message())
           : writeFileAtomically(cachePath, packObjects(*objects));
    // The cache only saves time: a failure to fill it is a note.
    if (saved)
      llvm::errs() << "note: compiled code not cached: "
                   << llvm::toString(std::move(saved)) << "\n";
  }
  return jit;
}

std::vector<int64_t>
mha::withParameterPositions(func::FuncOp fn, size_t numParams,
                            std::vector<int64_t> positions) {
  for (size_t i = 0; i < numParams; ++i)
    positions.push_back(int64_t(fn.getNumArguments() + i));
  return positions;
}

std::string mha::defaultCacheDirectory() {
  if (const char *dir = std::getenv("MHA_CACHE_DIR"))
    return llvm::StringRef(dir) == "off" ? std::string() : std::string(dir);
  llvm::SmallString<256> path;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    path = xdg;
  else if (const char *home = std::getenv("HOME"); home && *home)
    llvm::sys::path::append(path, home, ".cache");
  else
    return {};
  llvm::sys::path::append(path, "mha");
  return std::string(path);
}

/// The packed entry point of `name`: `void _mlir_packed_<name>(void **args)`
/// calls the C interface `_mlir_ciface_<name>` with the pointers args[i]
/// point to (the result struct's address first when there are results).
llvm::Error JitModule::addPackedEntry(llvm::Module &module,
                                      llvm::StringRef name) {
  llvm::Function *target = module.getFunction(("_mlir_ciface_" + name).str());
  if (!target)
    return jitError("no C interface for @" + name + " in the compiled module");
  llvm::LLVMContext &ctx = module.getContext();
  auto *ptr = llvm::PointerType::getUnqual(ctx);
  auto *type =
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false);
  auto *entry =
      llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage,
                             ("_mlir_packed_" + name).str(), module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", entry));
  llvm::SmallVector<llvm::Value *> args;
  for (llvm::Argument &arg : target->args()) {
    llvm::Value *slot =
        b.CreateGEP(ptr, entry->getArg(0), b.getInt64(arg.getArgNo()));
    args.push_back(b.CreateLoad(arg.getType(), b.CreateLoad(ptr, slot)));
  }
  b.CreateCall(target, args);
  b.CreateRetVoid();
  return llvm::Error::success();
}

namespace {
/// With MHA_PERF_MAP set, the JIT appends the address, size and name of
/// every named function it links to /tmp/perf-<pid>.map, the file `perf
/// report` reads to name JIT-compiled code. (JITLink keeps no names of an
/// object's local symbols: the register-block kernels, internal functions,
/// are named only when the code is compiled in several parts, whose
/// splitting makes them global.)
class PerfMapPlugin final : public llvm::orc::ObjectLinkingLayer::Plugin {
public:
  void modifyPassConfig(llvm::orc::MaterializationResponsibility &,
                        llvm::jitlink::LinkGraph &,
                        llvm::jitlink::PassConfiguration &config) override {
    config.PostFixupPasses.push_back(
        [](llvm::jitlink::LinkGraph &graph) -> llvm::Error {
          static std::mutex mutex;
          std::lock_guard<std::mutex> lock(mutex);
          std::string path =
              llvm::formatv("/tmp/perf-{0}.map", ::getpid()).str();
          std::error_code ec;
          llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Append);
          if (ec)
            return llvm::Error::success(); // A profiling aid only.
          for (llvm::jitlink::Symbol *symbol : graph.defined_symbols())
            if (symbol->hasName() && symbol->getSize() > 0)
              os << llvm::format_hex_no_prefix(
                        symbol->getAddress().getValue(), 1)
                 << " " << llvm::format_hex_no_prefix(symbol->getSize(), 1)
                 << " " << *symbol->getName() << "\n";
          return llvm::Error::success();
        });
  }
  llvm::Error notifyFailed(llvm::orc::MaterializationResponsibility &) override {
    return llvm::Error::success();
  }
  llvm::Error notifyRemovingResources(llvm::orc::JITDylib &,
                                      llvm::orc::ResourceKey) override {
    return llvm::Error::success();
  }
  void notifyTransferringResources(llvm::orc::JITDylib &,
                                   llvm::orc::ResourceKey,
                                   llvm::orc::ResourceKey) override {}
};
} // namespace

/// Creates the JIT, binds the host functions compiled code calls, adds
/// the object files and looks up every packed entry point, which links
/// them.
llvm::Error JitModule::link(llvm::orc::JITTargetMachineBuilder builder,
                            llvm::ArrayRef<std::string> objects,
                            llvm::ArrayRef<std::string> names) {
  auto created =
      llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(builder).create();
  if (!created)
    return created.takeError();
  lljit = std::move(*created);
  if (std::getenv("MHA_PERF_MAP"))
    if (auto *linker = llvm::dyn_cast<llvm::orc::ObjectLinkingLayer>(
            &lljit->getObjLinkingLayer()))
      linker->addPlugin(std::make_unique<PerfMapPlugin>());
  llvm::orc::JITDylib &main = lljit->getMainJITDylib();
  // libm, libomp and the rest of the process (libomp loaded first: a
  // program that calls no OpenMP function itself may not have it)...
  // (By the path it was built with; else by its name, as when mha-run
  // and its libraries were moved to another machine.)
  std::string loadError, nameError;
  if (llvm::sys::DynamicLibrary::LoadLibraryPermanently(MHA_LIBOMP_PATH,
                                                        &loadError) &&
      llvm::sys::DynamicLibrary::LoadLibraryPermanently("libomp.so.5",
                                                        &nameError))
    return jitError(llvm::Twine("cannot load the OpenMP runtime ") +
                    MHA_LIBOMP_PATH + ": " + loadError);
  auto process =
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          lljit->getDataLayout().getGlobalPrefix());
  if (!process)
    return process.takeError();
  main.addGenerator(std::move(*process));
  // ...except what mha provides: run-time errors and checked allocation.
  llvm::orc::SymbolMap symbols;
  auto bind = [&](llvm::StringRef symbol, auto *function) {
    symbols[lljit->mangleAndIntern(symbol)] = {
        llvm::orc::ExecutorAddr::fromPtr(function),
        llvm::JITSymbolFlags::Exported};
  };
  bind(kRuntimeErrorFunction, &mhaRuntimeError);
  bind("malloc", &mhaMalloc);
  bind("aligned_alloc", &mhaAlignedAlloc);
  bind("__truncsfbf2", &mhaTruncSFBF2);
  // Emulated, the GPU runtime's calls over host memory.
  if (device == Device::GPUEmulation)
    emulated_device::forEachFunction([&](llvm::StringRef name, void *address) {
      symbols[lljit->mangleAndIntern(name)] = {
          llvm::orc::ExecutorAddr::fromPtr(address),
          llvm::JITSymbolFlags::Exported};
    });
  if (llvm::Error err =
          main.define(llvm::orc::absoluteSymbols(std::move(symbols))))
    return err;
  for (const std::string &object : objects)
    if (llvm::Error err = lljit->addObjectFile(
            llvm::MemoryBuffer::getMemBufferCopy(object, "mha-jit-object")))
      return err;
  for (const std::string &name : names) {
    auto address = lljit->lookup("_mlir_packed_" + name);
    if (!address)
      return address.takeError();
    entries[name] = address->toPtr<void (*)(void **)>();
  }
  if (device == Device::GPU) {
    auto init = lljit->lookup(kGPUInitFunction);
    if (!init)
      return init.takeError();
    auto fini = lljit->lookup(kGPUFiniFunction);
    if (!fini)
      return fini.takeError();
    // The kernels' binaries loaded onto the device (and unloaded with the
    // JitModule).
    init->toPtr<void (*)()>()();
    gpuFinalize = fini->toPtr<void (*)()>();
    if (llvm::Error err = takeGPUError())
      return err;
  }
  return llvm::Error::success();
}

namespace {
/// Words of a ranked memref descriptor of rank `rank`.
size_t descriptorWords(int64_t rank) { return 3 + 2 * size_t(rank); }
} // namespace

int64_t DeviceTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

void DeviceTensor::reset() {
  if (pointer && release)
    release(pointer);
  pointer = nullptr;
  release = nullptr;
}

DeviceTensor &DeviceTensor::operator=(DeviceTensor &&other) {
  if (this != &other) {
    reset();
    dtype = other.dtype;
    shape = std::move(other.shape);
    pointer = std::exchange(other.pointer, nullptr);
    release = std::exchange(other.release, nullptr);
  }
  return *this;
}

llvm::Expected<DeviceTensor> JitModule::toDevice(const HostTensor &tensor) {
  if (!deviceAllocate)
    return jitError("no device: the code was compiled for the CPU");
  DeviceTensor device;
  device.dtype = tensor.dtype;
  device.shape = tensor.shape;
  size_t bytes = tensor.data.size();
  device.pointer = deviceAllocate(bytes);
  device.release = deviceRelease;
  if (bytes)
    deviceCopy(device.pointer, tensor.data.data(), bytes);
  if (llvm::Error err = takeGPUError())
    return std::move(err);
  return device;
}

llvm::Expected<std::vector<CallArgument>>
JitModule::residentArguments(llvm::ArrayRef<const HostTensor *> tensors,
                             std::vector<DeviceTensor> &copies) {
  std::vector<CallArgument> arguments(tensors.begin(), tensors.end());
  copies.clear();
  if (device == Device::CPU)
    return arguments;
  // (All copies first: the arguments point into the vector.)
  for (const HostTensor *tensor : tensors) {
    auto copy = toDevice(*tensor);
    if (!copy)
      return copy.takeError();
    copies.push_back(std::move(*copy));
  }
  for (auto [argument, copy] : llvm::zip(arguments, copies))
    argument = CallArgument(&copy);
  return arguments;
}

llvm::Expected<HostTensor> JitModule::toHost(const DeviceTensor &tensor) {
  if (!deviceCopy)
    return jitError("no device: the code was compiled for the CPU");
  HostTensor host(tensor.dtype, tensor.shape);
  if (!host.data.empty())
    deviceCopy(host.data.data(), tensor.data(), host.data.size());
  if (llvm::Error err = takeGPUError())
    return std::move(err);
  return host;
}

llvm::Expected<std::vector<HostTensor>>
JitModule::call(llvm::StringRef name, llvm::ArrayRef<const HostTensor *> args,
                llvm::ArrayRef<std::string> argNames) {
  std::vector<CallArgument> arguments(args.begin(), args.end());
  auto results = callOnDevice(name, arguments, argNames);
  if (!results)
    return results.takeError();
  if (!results->device.empty())
    return jitError("@" + name +
                    " leaves results on the device: call it with "
                    "callOnDevice");
  return std::move(results->host);
}

llvm::Expected<CallResults>
JitModule::callOnDevice(llvm::StringRef name, llvm::ArrayRef<CallArgument> args,
                        llvm::ArrayRef<std::string> argNames) {
  auto it = signatures.find(name.str());
  if (it == signatures.end())
    return jitError("no compiled function @" + name);
  const Signature &sig = it->second;
  if (args.size() != sig.args.size())
    return jitError(llvm::formatv("@{0} takes {1} arguments (inputs and "
                                  "parameters), got {2}",
                                  name, sig.args.size(), args.size()));

  // Argument descriptors.
  std::vector<std::vector<int64_t>> descriptors(args.size());
  std::vector<void *> descriptorPtrs(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    RankedTensorType type = sig.args[i];
    std::string what = i < argNames.size() ? "'" + argNames[i] + "'"
                                           : "argument #" + std::to_string(i);
    if (bool(args[i].device) != sig.residentArgs[i])
      return jitError(llvm::formatv("@{0}: {1} must be a tensor in {2} memory",
                                    name, what,
                                    sig.residentArgs[i] ? "device" : "host"));
    DType argDType =
        args[i].device ? args[i].device->dtype : args[i].host->dtype;
    const std::vector<int64_t> &shape =
        args[i].device ? args[i].device->shape : args[i].host->shape;
    std::optional<DType> dtype = dtypeOf(type.getElementType());
    bool ok =
        dtype && *dtype == argDType && int64_t(shape.size()) == type.getRank();
    for (int64_t d = 0; ok && d < type.getRank(); ++d)
      ok = type.isDynamicDim(d) || type.getDimSize(d) == shape[d];
    if (!ok) {
      std::string expected;
      llvm::raw_string_ostream os(expected);
      os << type;
      return jitError(llvm::formatv("@{0}: {1} expects {2}, got {3}", name,
                                    what, expected,
                                    HostTensor::typeString(argDType, shape)));
    }
    std::vector<int64_t> &desc = descriptors[i];
    desc.assign(descriptorWords(type.getRank()), 0);
    auto *data = args[i].device
                     ? static_cast<uint8_t *>(args[i].device->data())
                     : const_cast<uint8_t *>(args[i].host->data.data());
    // An empty tensor still needs a non-null base pointer.
    static uint64_t emptyStorage = 0;
    void *base = data ? static_cast<void *>(data) : &emptyStorage;
    std::memcpy(&desc[0], &base, sizeof(void *));
    std::memcpy(&desc[1], &base, sizeof(void *));
    desc[2] = 0;
    int64_t stride = 1;
    for (int64_t d = type.getRank() - 1; d >= 0; --d) {
      desc[3 + d] = shape[d];
      desc[3 + type.getRank() + d] = stride;
      stride *= shape[d];
    }
    descriptorPtrs[i] = desc.data();
  }

  // Result storage: a struct of descriptors.
  size_t resultWords = 0;
  for (RankedTensorType type : sig.results)
    resultWords += descriptorWords(type.getRank());
  std::vector<int64_t> resultStorage(std::max<size_t>(resultWords, 1), 0);
  void *resultPtr = resultStorage.data();

  std::vector<void *> packed;
  if (!sig.results.empty())
    packed.push_back(&resultPtr);
  for (void *&p : descriptorPtrs)
    packed.push_back(&p);
  // Denormals flushed for the call (libomp's workers inherit the caller's
  // MXCSR at each parallel region: KMP_INHERIT_FP_CONTROL, on by default);
  // the host's own mode is restored on every way out.
  FloatingPointMode fpMode(flushDenormals);
  // Emulated, what the call leaves on the device is checked.
  uint64_t deviceBytes = device == Device::GPUEmulation
                             ? emulated_device::ledger().allocatedBytes()
                             : 0;
  std::jmp_buf callSite;
  activeCall = &callSite;
  if (setjmp(callSite) != 0) {
    activeCall = nullptr;
    fpMode.restore();
    return jitError(runtimeErrorMessage);
  }
  entries.at(name.str())(packed.data());
  activeCall = nullptr;
  fpMode.restore();
  {
    std::lock_guard<std::mutex> lock(workerErrorMutex);
    if (workerError) {
      std::string message = std::move(*workerError);
      workerError.reset();
      return jitError(message);
    }
  }
  if (llvm::Error err = takeGPUError())
    return jitError(llvm::formatv("@{0}: {1}", name,
                                  llvm::toString(std::move(err))));

  // Copy the results out and free their buffers; those left on the device
  // are the caller's.
  std::set<void *> inputs, owned;
  for (const CallArgument &arg : args)
    if (arg.host)
      inputs.insert(const_cast<uint8_t *>(arg.host->data.data()));
  CallResults results;
  std::vector<HostTensor> &hostResults = results.host;
  size_t word = 0;
  uint64_t residentBytes = 0;
  for (auto [position, type] : llvm::enumerate(sig.results)) {
    int64_t rank = type.getRank();
    const int64_t *desc = resultStorage.data() + word;
    word += descriptorWords(rank);
    void *allocated, *aligned;
    std::memcpy(&allocated, &desc[0], sizeof(void *));
    std::memcpy(&aligned, &desc[1], sizeof(void *));
    std::vector<int64_t> shape(desc + 3, desc + 3 + rank);
    if (sig.residentResults[position]) {
      // mha-gpu-device-buffers returns a fresh, contiguous allocation.
      DeviceTensor out;
      out.dtype = *dtypeOf(type.getElementType());
      out.shape = shape;
      out.pointer = aligned;
      out.release = deviceRelease;
      if (device == Device::GPUEmulation)
        residentBytes += emulated_device::ledger().sizeOf(aligned);
      results.device.push_back(std::move(out));
      continue;
    }
    HostTensor out(*dtypeOf(type.getElementType()), shape);
    size_t esize = dtypeSize(out.dtype);
    const auto *src = static_cast<const uint8_t *>(aligned) + desc[2] * esize;
    // Buffers are normally contiguous (row-major strides): one memcpy.
    // Otherwise an element-by-element strided copy.
    int64_t n = out.numElements();
    bool contiguous = true;
    for (int64_t d = rank - 1, expected = 1; d >= 0 && contiguous; --d) {
      contiguous = shape[d] == 1 || desc[3 + rank + d] == expected;
      expected *= shape[d];
    }
    if (contiguous && n > 0)
      std::memcpy(out.data.data(), src, size_t(n) * esize);
    std::vector<int64_t> index(rank, 0);
    for (int64_t e = 0; !contiguous && e < n; ++e) {
      int64_t offset = 0;
      for (int64_t d = 0; d < rank; ++d)
        offset += index[d] * desc[3 + rank + d];
      std::memcpy(out.data.data() + e * esize, src + offset * esize, esize);
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++index[d] < shape[d])
          break;
        index[d] = 0;
      }
    }
    if (allocated && !inputs.count(allocated))
      owned.insert(allocated);
    hostResults.push_back(std::move(out));
  }
  // Free only once every result is copied: several results may share one
  // buffer (a value returned twice, or two that CSE merged).
  for (void *allocated : owned)
    std::free(allocated);
  // Emulated, the device memory the call leaves allocated is checked: its
  // results kept on the device, nothing else.
  if (device == Device::GPUEmulation) {
    uint64_t left = emulated_device::ledger().allocatedBytes();
    if (left != deviceBytes + residentBytes)
      return jitError(llvm::formatv(
          "@{0}: GPU (emulated): the call left {1} bytes of device memory "
          "allocated besides the {2} of its results kept there",
          name, int64_t(left - deviceBytes - residentBytes), residentBytes));
  }
  return results;
}
