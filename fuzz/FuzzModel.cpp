//===- FuzzModel.cpp - Fuzz target: model files through mha's passes ------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// A libFuzzer target: the input is a model file. It is parsed and verified
// as mha-run and mha-opt do; a model that verifies goes through each of
// mha's pass pipelines on its own copy (fusion, decomposition, inlining and
// autodiff, the train-step builder, the whole CPU lowering, the GPU lowering
// emulated on the host and to PTX), and every
// result that a pipeline reports as a success must print as text that
// parses and verifies again. Diagnostics are expected; crashes, LLVM fatal
// errors and output that does not re-parse are bugs.
//
// With MHA_FUZZ_STRICT=1 in the environment, a model (mha ops on tensors)
// that verifies but fails to lower also counts as a bug (every op the verifier accepts must
// lower): used to hunt for such models, not in CI.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/Transforms/Passes.h"
#include "mha/Pipelines/Pipelines.h"
#include "mha/Runner/Registration.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <functional>

using namespace mlir;

namespace {
MLIRContext &fuzzContext() {
  static MLIRContext *context = [] {
    DialectRegistry registry;
    mha::registerRunnerDialects(registry);
    auto *ctx = new MLIRContext(registry, MLIRContext::Threading::DISABLED);
    ctx->loadAllAvailableDialects();
    return ctx;
  }();
  return *context;
}

[[noreturn]] void fail(const char *what, const std::string &text) {
  std::fprintf(stderr, "mha-fuzz-model: %s\n%s\n", what, text.c_str());
  std::abort();
}

std::string print(Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  op->print(os);
  return text;
}

/// The printed form of `module` must parse and verify again.
void checkReparses(ModuleOp module, const char *pipeline) {
  std::string text = print(module);
  OwningOpRef<ModuleOp> again =
      parseSourceString<ModuleOp>(text, &fuzzContext());
  if (!again)
    fail((std::string("the output of ") + pipeline + " does not re-parse")
             .c_str(),
         text);
}
/// Whether `module` is a model as users write them: mha ops on tensors in
/// functions (the strict oracle does not hold for arbitrary upstream IR).
bool isModel(ModuleOp module) {
  bool model = true;
  module.walk([&](Operation *op) {
    if (op == module.getOperation())
      return;
    llvm::StringRef dialect = op->getName().getDialectNamespace();
    if (dialect != "mha" && dialect != "func" && !isa<arith::ConstantOp>(op))
      model = false;
    // A declaration has no code to lower (and the JIT could not call it).
    if (auto func = dyn_cast<func::FuncOp>(op); func && func.isExternal())
      model = false;
    for (Type type : op->getResultTypes())
      if (!isa<RankedTensorType>(type))
        model = false;
  });
  return model;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  MLIRContext &context = fuzzContext();
  // Diagnostics are the expected outcome for most inputs: keep them quiet.
  ScopedDiagnosticHandler quiet(&context, [](Diagnostic &) { return success(); });
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  if (!module || failed(verify(*module)))
    return 0;
  static const bool strict = std::getenv("MHA_FUZZ_STRICT") != nullptr;

  struct Pipeline {
    const char *name;
    std::function<void(PassManager &)> build;
    bool mustLower;
  };
  const Pipeline pipelines[] = {
      {"mha-fuse-attention",
       [](PassManager &pm) { pm.addPass(mha::createMHAFuseAttentionPass()); },
       false},
      {"mha-decompose-attention",
       [](PassManager &pm) {
         pm.addPass(mha::createMHADecomposeAttentionPass());
       },
       false},
      {"inline,mha-autodiff,canonicalize",
       [](PassManager &pm) {
         pm.addPass(createInlinerPass());
         pm.addPass(mha::createMHAAutodiffPass());
         pm.addPass(createCanonicalizerPass());
       },
       false},
      {"mha-build-train-step",
       [](PassManager &pm) { pm.addPass(mha::createMHABuildTrainStepPass()); },
       false},
      {"mha-lower-to-cpu",
       [](PassManager &pm) {
         mha::CPUPipelineOptions options;
         options.threads = 1;
         mha::buildMHALowerToCPUPipeline(pm, options);
       },
       true},
      // The GPU pipeline's mapped loop nests as host code, and its kernels
      // as PTX (LLVM's NVPTX back end; no CUDA toolkit needed).
      {"mha-lower-to-gpu{emulate}",
       [](PassManager &pm) {
         mha::GPUPipelineOptions options;
         options.emulate = true;
         mha::buildMHALowerToGPUPipeline(pm, options);
       },
       true},
      {"mha-lower-to-gpu{format=isa}",
       [](PassManager &pm) {
         mha::GPUPipelineOptions options;
         options.format = mha::GPUBinaryFormat::PTX;
         mha::buildMHALowerToGPUPipeline(pm, options);
       },
       false},
  };
  for (const Pipeline &pipeline : pipelines) {
    OwningOpRef<ModuleOp> copy = module->clone();
    PassManager pm(&context);
    pipeline.build(pm);
    if (failed(pm.run(*copy))) {
      if (strict && pipeline.mustLower && isModel(*module))
        fail("a model that verifies does not lower", std::string(text));
      continue;
    }
    checkReparses(*copy, pipeline.name);
  }
  return 0;
}
