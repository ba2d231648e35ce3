//===- VerifyLLVMLowering.cpp - Check a module is ready for the JIT -------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-verify-llvm-lowering, the last stage of
// mha-lower-to-cpu. A pipeline that leaves unconverted ops, stack
// allocations inside loops or calls to functions nobody defines would
// otherwise fail far from the cause (LLVM translation, the JIT linker) or,
// worse, at run time (a stack overflow that grows with the problem size).
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "llvm/ADT/StringSet.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAVERIFYLLVMLOWERINGPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

bool mha::isHostRuntimeFunction(llvm::StringRef name) {
  // The C math library in double and float forms: what math-to-libm emits.
  static const char *const libm[] = {
      "acos",  "acosh", "asin", "asinh", "atan",      "atan2",    "atanh",
      "cbrt",  "ceil",  "cos",  "cosh",  "erf",       "erfc",     "exp",
      "exp2",  "expm1", "fabs", "floor", "fmod",      "log",      "log10",
      "log1p", "log2",  "pow",  "round", "roundeven", "sin",      "sinh",
      "sqrt",  "tan",   "tanh", "trunc", "rint",      "nearbyint"};
  static const llvm::StringSet<> known = [] {
    llvm::StringSet<> set;
    for (const char *f : libm) {
      set.insert(f);
      set.insert((llvm::Twine(f) + "f").str());
    }
    for (const char *f : {"malloc", "free", "aligned_alloc"})
      set.insert(f);
    set.insert(kRuntimeErrorFunction);
    return set;
  }();
  // MLIR's GPU runtime calls (mha-lower-to-gpu's host code), which mha-run
  // provides over the CUDA driver when it runs on a GPU.
  return known.contains(name) || name.starts_with(kGPURuntimePrefix);
}

namespace {
struct MHAVerifyLLVMLoweringPass final
    : mha::impl::MHAVerifyLLVMLoweringPassBase<MHAVerifyLLVMLoweringPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool failed = false;
    // Pre-order, so that an unconverted op is reported without its body.
    module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op == module.getOperation())
        return WalkResult::advance();
      // OpenMP ops stay: LLVM's OpenMPIRBuilder translates them (parallel
      // regions become outlined functions and libomp calls).
      // So do a GPU pipeline's kernel binaries and their launches, which the
      // GPU dialect's translation turns into globals and mgpu* calls.
      if (isa<gpu::BinaryOp, gpu::LaunchFuncOp>(op))
        return WalkResult::skip();
      if (!isa_and_present<LLVM::LLVMDialect, omp::OpenMPDialect>(
              op->getDialect())) {
        op->emitError("mha-verify-llvm-lowering: '")
            << op->getName()
            << "' was not converted to the LLVM dialect (a lowering stage "
               "of the pipeline does not handle it)";
        failed = true;
        return WalkResult::skip();
      }
      if (auto alloca = dyn_cast<LLVM::AllocaOp>(op)) {
        // The entry block of the function, or of an OpenMP region (an
        // outlined function once translated).
        Region *region = alloca->getParentRegion();
        Operation *owner = region->getParentOp();
        bool inEntry = alloca->getBlock() == &region->front() &&
                       (isa<LLVM::LLVMFuncOp>(owner) ||
                        isa<omp::OpenMPDialect>(owner->getDialect()));
        if (!inEntry || !matchPattern(alloca.getArraySize(), m_Constant())) {
          alloca.emitError("mha-verify-llvm-lowering: stack allocation ")
              << (inEntry ? "of a non-constant size"
                          : "outside the function's entry block")
              << ": its stack use would grow with the problem size";
          failed = true;
        }
        return WalkResult::advance();
      }
      if (auto func = dyn_cast<LLVM::LLVMFuncOp>(op)) {
        if (func.isExternal() && !mha::isHostRuntimeFunction(func.getName())) {
          func.emitError("mha-verify-llvm-lowering: the lowered code calls '")
              << func.getName()
              << "', which the host does not provide to the JIT";
          failed = true;
        }
      }
      return WalkResult::advance();
    });
    if (failed)
      signalPassFailure();
  }
};
} // namespace
