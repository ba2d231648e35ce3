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
#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Runner/Model.h"
#include "mha/Support/ArgumentNames.h"
#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/FormatVariadic.h"

#include <csetjmp>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include <cstdio>
#include <mutex>
#include <optional>
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

static llvm::Error jitError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compile(ModuleOp module, const CompileOptions &options) {
  auto jit = std::unique_ptr<JitModule>(new JitModule());
  jit->flushDenormals = options.flushDenormals;
  std::vector<RankedTensorType> paramTypes;
  for (ParamOp param : module.getOps<ParamOp>())
    paramTypes.push_back(param.getTensorType());

  OwningOpRef<ModuleOp> lowered = module.clone();
  for (auto func : lowered->getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    Signature sig;
    for (Type t : func.getArgumentTypes())
      sig.args.push_back(cast<RankedTensorType>(t));
    sig.args.insert(sig.args.end(), paramTypes.begin(), paramTypes.end());
    for (Type t : func.getResultTypes())
      sig.results.push_back(cast<RankedTensorType>(t));
    jit->signatures[func.getSymName().str()] = std::move(sig);
    func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  UnitAttr::get(module.getContext()));
    // Argument names matter to the driver only; LLVM has no use for them.
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      func.removeArgAttr(i, kArgumentNameAttr);
  }

  MLIRContext *context = module.getContext();
  PassManager pm(context);
  if (options.printIRAfterAll) {
    context->disableMultithreading();
    pm.enableIRPrinting(
        /*shouldPrintBeforePass=*/[](Pass *, Operation *) { return false; },
        /*shouldPrintAfterPass=*/[](Pass *, Operation *) { return true; },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false);
  }
  CPUPipelineOptions pipeline;
  pipeline.vectorize = options.vectorize;
  pipeline.flashAttention = options.flashAttention;
  if (options.threads < 0)
    return jitError("threads must be >= 0 (0: every core), got " +
                    llvm::Twine(options.threads));
  pipeline.threads = unsigned(options.threads);
  buildMHALowerToCPUPipeline(pm, pipeline);
  if (failed(pm.run(*lowered)))
    return jitError("lowering with mha-lower-to-cpu failed");

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
  constexpr auto codeGenLevel = llvm::CodeGenOptLevel::Default;
  builder->setCodeGenOptLevel(codeGenLevel);
  auto targetMachine = builder->createTargetMachine();
  if (!targetMachine)
    return targetMachine.takeError();
  auto transformer =
      makeOptimizingTransformer(/*optLevel=*/level,
                                /*sizeLevel=*/0, targetMachine->get());
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = codeGenLevel;
  auto engine = ExecutionEngine::create(*lowered, engineOptions,
                                        std::move(*targetMachine));
  if (!engine)
    return engine.takeError();
  jit->engine = std::move(*engine);
  jit->engine->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    symbols[interner(kRuntimeErrorFunction)] = {
        llvm::orc::ExecutorAddr::fromPtr(&mhaRuntimeError),
        llvm::JITSymbolFlags::Exported};
    symbols[interner("malloc")] = {
        llvm::orc::ExecutorAddr::fromPtr(&mhaMalloc),
        llvm::JITSymbolFlags::Exported};
    symbols[interner("aligned_alloc")] = {
        llvm::orc::ExecutorAddr::fromPtr(&mhaAlignedAlloc),
        llvm::JITSymbolFlags::Exported};
    return symbols;
  });
  return jit;
}

namespace {
/// Words of a ranked memref descriptor of rank `rank`.
size_t descriptorWords(int64_t rank) { return 3 + 2 * size_t(rank); }
} // namespace

llvm::Expected<std::vector<HostTensor>>
JitModule::call(llvm::StringRef name, llvm::ArrayRef<const HostTensor *> args,
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
    const HostTensor &t = *args[i];
    RankedTensorType type = sig.args[i];
    std::string what = i < argNames.size() ? "'" + argNames[i] + "'"
                                           : "argument #" + std::to_string(i);
    std::optional<DType> dtype = dtypeOf(type.getElementType());
    bool ok =
        dtype && *dtype == t.dtype && int64_t(t.shape.size()) == type.getRank();
    for (int64_t d = 0; ok && d < type.getRank(); ++d)
      ok = type.isDynamicDim(d) || type.getDimSize(d) == t.shape[d];
    if (!ok) {
      std::string expected;
      llvm::raw_string_ostream os(expected);
      os << type;
      return jitError(llvm::formatv("@{0}: {1} expects {2}, got {3}", name,
                                    what, expected, t.typeString()));
    }
    std::vector<int64_t> &desc = descriptors[i];
    desc.assign(descriptorWords(type.getRank()), 0);
    auto *data = const_cast<uint8_t *>(t.data.data());
    // An empty tensor still needs a non-null base pointer.
    static uint64_t emptyStorage = 0;
    void *base = data ? static_cast<void *>(data) : &emptyStorage;
    std::memcpy(&desc[0], &base, sizeof(void *));
    std::memcpy(&desc[1], &base, sizeof(void *));
    desc[2] = 0;
    int64_t stride = 1;
    for (int64_t d = type.getRank() - 1; d >= 0; --d) {
      desc[3 + d] = t.shape[d];
      desc[3 + type.getRank() + d] = stride;
      stride *= t.shape[d];
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
  std::string symbol = ("_mlir_ciface_" + name).str();
  // Denormals flushed for the call (libomp's workers inherit the caller's
  // MXCSR at each parallel region: KMP_INHERIT_FP_CONTROL, on by default);
  // the host's own mode is restored on every way out.
  FloatingPointMode fpMode(flushDenormals);
  std::jmp_buf callSite;
  activeCall = &callSite;
  if (setjmp(callSite) != 0) {
    activeCall = nullptr;
    fpMode.restore();
    return jitError(runtimeErrorMessage);
  }
  llvm::Error err = engine->invokePacked(symbol, packed);
  activeCall = nullptr;
  fpMode.restore();
  if (err)
    return std::move(err);
  {
    std::lock_guard<std::mutex> lock(workerErrorMutex);
    if (workerError) {
      std::string message = std::move(*workerError);
      workerError.reset();
      return jitError(message);
    }
  }

  // Copy the results out and free their buffers.
  std::set<void *> inputs, owned;
  for (const HostTensor *t : args)
    inputs.insert(const_cast<uint8_t *>(t->data.data()));
  std::vector<HostTensor> results;
  size_t word = 0;
  for (RankedTensorType type : sig.results) {
    int64_t rank = type.getRank();
    const int64_t *desc = resultStorage.data() + word;
    word += descriptorWords(rank);
    void *allocated, *aligned;
    std::memcpy(&allocated, &desc[0], sizeof(void *));
    std::memcpy(&aligned, &desc[1], sizeof(void *));
    std::vector<int64_t> shape(desc + 3, desc + 3 + rank);
    HostTensor out(*dtypeOf(type.getElementType()), shape);
    size_t esize = dtypeSize(out.dtype);
    const auto *src = static_cast<const uint8_t *>(aligned) + desc[2] * esize;
    // Strided copy (buffers are normally contiguous, but do not assume it).
    int64_t n = out.numElements();
    std::vector<int64_t> index(rank, 0);
    for (int64_t e = 0; e < n; ++e) {
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
    results.push_back(std::move(out));
  }
  // Free only once every result is copied: several results may share one
  // buffer (a value returned twice, or two that CSE merged).
  for (void *allocated : owned)
    std::free(allocated);
  return results;
}
