//===- MHAToLinalg.cpp - Lower mha compute ops to linalg ------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements convert-mha-to-linalg: one conversion pattern per mha
// compute op, producing linalg named ops where they exist and linalg.generic
// elsewhere, on tensors. Dynamic sizes are read with tensor.dim. Arithmetic is
// done in f32: f16/bf16 operands are extended first and results truncated.
// The patterns live in one file per op family (*ToLinalg.cpp), their shared
// helpers in LoweringUtils.h.
//
//===----------------------------------------------------------------------===//

#include "mha/Conversion/MHAToLinalg/MHAToLinalg.h"
#include "mha/Conversion/Passes.h"
#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_CONVERTMHATOLINALGPASS
#include "mha/Conversion/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;
using namespace mlir::mha;

void mha::populateMHAToLinalgConversionPatterns(RewritePatternSet &patterns) {
  populateMHALinearAlgebraToLinalgPatterns(patterns);
  populateMHAShapesToLinalgPatterns(patterns);
  populateMHAElementwiseToLinalgPatterns(patterns);
  populateMHANormalizationToLinalgPatterns(patterns);
  populateMHAAttentionToLinalgPatterns(patterns);
  populateMHAOnlineAttentionToLinalgPatterns(patterns);
  populateMHALossesToLinalgPatterns(patterns);
  populateMHAEmbeddingToLinalgPatterns(patterns);
  populateMHAOptimizerToLinalgPatterns(patterns);
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

namespace {
struct ConvertMHAToLinalgPass final
    : mha::impl::ConvertMHAToLinalgPassBase<ConvertMHAToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    WalkResult unlowered = module.walk([](GetParamOp op) {
      op.emitOpError("must be turned into a function argument by "
                     "mha-params-to-arguments before convert-mha-to-linalg");
      return WalkResult::interrupt();
    });
    if (unlowered.wasInterrupted())
      return signalPassFailure();

    ConversionTarget target(getContext());
    target.addLegalDialect<affine::AffineDialect, arith::ArithDialect,
                           cf::ControlFlowDialect,
                           linalg::LinalgDialect, math::MathDialect,
                           scf::SCFDialect, tensor::TensorDialect>();
    target.addIllegalDialect<MHADialect>();
    // mha.gpu_attention(_grad) is already on buffers: the GPU pipeline lowers
    // it after bufferization (mha-gpu-lower-tensor-core-kernels).
    target
        .addLegalOp<ParamOp, TrainingOp, GPUAttentionOp, GPUAttentionGradOp>();
    RewritePatternSet patterns(&getContext());
    populateMHAToLinalgConversionPatterns(patterns);
    if (flashAttention) {
      // Blocks are unrolled into vector code: bound them like matmul tiles.
      constexpr int64_t kMaxBlock = 1024;
      if (attentionBlockQ < 0 || attentionBlockK < 0 ||
          attentionBlockQ > kMaxBlock || attentionBlockK > kMaxBlock ||
          l1CacheBytes <= 0) {
        module.emitError("convert-mha-to-linalg: attention block sizes must "
                         "lie in [0, ")
            << kMaxBlock << "] (0: derived) and l1-cache-bytes be > 0";
        return signalPassFailure();
      }
      FlashAttentionOptions flash;
      flash.blockQueries = attentionBlockQ;
      flash.blockKeys = attentionBlockK;
      flash.l1CacheBytes = l1CacheBytes;
      populateMHAFlashAttentionToLinalgPatterns(patterns, flash);
    }
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();

    // Declarations consumed by drivers have no lowering; drop them and the
    // argument tags that name them.
    for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
      if (isa<ParamOp, TrainingOp>(op))
        op.erase();
    for (auto func : module.getOps<func::FuncOp>())
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        func.removeArgAttr(i, "mha.param");
  }
};
} // namespace
