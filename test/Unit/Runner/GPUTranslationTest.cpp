//===- GPUTranslationTest.cpp - mha-lower-to-gpu down to LLVM IR ----------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// mha-run compiles --device gpu code with the registry every runner uses
// (registerRunnerDialects) and translates it to LLVM IR itself. That path
// needs no GPU up to the JIT, so it is checked here, on machines without
// one: a model lowered with mha-lower-to-gpu (kernels as PTX, which needs no
// CUDA toolkit) translates, with the kernels embedded and loaded by global
// constructors and launched through MLIR's GPU runtime calls.
//
//===----------------------------------------------------------------------===//

#include "mha/Pipelines/Pipelines.h"
#include "mha/Runner/Registration.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "gtest/gtest.h"

using namespace mlir;

TEST(GPUPipeline, TranslatesToLLVMIRWithTheRunnersRegistry) {
  DialectRegistry registry;
  mha::registerRunnerDialects(registry);
  MLIRContext context(registry);
  const char *model = R"mlir(
    mha.param @w : tensor<16x32xf32> init <glorot_uniform>
    mha.param @b : tensor<32xf32> init <zeros>
    func.func @forward(%x: tensor<?x16xf32>) -> tensor<?x32xf32> {
      %w = mha.get_param @w : tensor<16x32xf32>
      %b = mha.get_param @b : tensor<32xf32>
      %h = mha.dense %x, %w, %b : tensor<?x16xf32>, tensor<16x32xf32>, tensor<32xf32>
      %r = mha.relu %h : tensor<?x32xf32>
      return %r : tensor<?x32xf32>
    }
  )mlir";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(model, &context);
  ASSERT_TRUE(module);

  PassManager pm(&context);
  mha::GPUPipelineOptions options;
  options.format = mha::GPUBinaryFormat::PTX;
  mha::buildMHALowerToGPUPipeline(pm, options);
  ASSERT_TRUE(succeeded(pm.run(*module)));

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> translated =
      translateModuleToLLVMIR(*module, llvmContext);
  ASSERT_TRUE(translated);
  EXPECT_TRUE(translated->getFunction("forward"));
  EXPECT_TRUE(translated->getFunction("mgpuLaunchKernel"));
  // PTX is compiled by the driver when the constructors load it.
  EXPECT_TRUE(translated->getFunction("mgpuModuleLoadJIT"));
  EXPECT_TRUE(translated->getNamedGlobal("llvm.global_ctors"));
  EXPECT_TRUE(translated->getNamedGlobal("llvm.global_dtors"));
}
