//===- MHAToLinalg.h - Lower mha to linalg ----------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the patterns lowering mha compute ops to linalg, one
// entry point per op family (lib/Conversion/MHAToLinalg/<Family>ToLinalg.cpp)
// and one for all of them.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_CONVERSION_MHATOLINALG_MHATOLINALG_H
#define MHA_CONVERSION_MHATOLINALG_MHATOLINALG_H

#include <cstdint>

namespace mlir {
class RewritePatternSet;

namespace mha {

/// The attribute the flash lowering sets on its block loops, whose last
/// iteration may be partial: mha-tile-and-vectorize peels them so that full
/// blocks have static shapes.
constexpr const char *kPeelAttrName = "mha.peel";

/// Tiling of the flash lowering of attention. A size of 0 is derived per op
/// from the head depth D and the L1 data cache: key blocks the largest power
/// of two whose K tile (blockKeys · D floats) fits L1, in [64, 256] (so a
/// multiple of the matmul register tiles' 32 columns); query blocks of 128
/// rows (sixteen 8-row register blocks).
struct FlashAttentionOptions {
  int64_t blockQueries = 0;
  int64_t blockKeys = 0;
  int64_t l1CacheBytes = 32 * 1024;
};

/// Adds the flash (fused, tiled) lowering of mha.attention and
/// mha.attention_with_lse (loops over batch elements, query blocks and key
/// blocks with online softmax) and of mha.attention_grad (key blocks outer,
/// the query blocks that see them inner, probabilities recomputed from the
/// log-sum-exp), never materializing Sq × Sk scores; causal attention does
/// not visit fully masked blocks. Its patterns take precedence over the
/// decomposed ones of populateMHAAttentionToLinalgPatterns.
void populateMHAFlashAttentionToLinalgPatterns(
    RewritePatternSet &patterns, const FlashAttentionOptions &options);

/// Adds the lowering of mha.online_attention, the tiled form of attention
/// (a tile whose batch dimensions are 1): the block's product, masked
/// scores and online-softmax update as linalg ops on its matrices. The
/// flash lowering's key loops are made of such tiles.
void populateMHAOnlineAttentionToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the patterns lowering dense, matmul, scaled_matmul and
/// dense_weight_grad: named linalg matmuls (batch dimensions collapsed), with
/// f32 accumulation.
void populateMHALinearAlgebraToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the patterns lowering split_heads, merge_heads, transpose, broadcast_to
/// and reduce_to: reshapes, linalg.transpose, broadcasts and their adjoint
/// sums.
void populateMHAShapesToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the patterns lowering add, sub, mul (NumPy broadcasting), relu, gelu,
/// sigmoid, tanh, relu_grad and gelu_grad: linalg.generic bodies computed in
/// f32.
void populateMHAElementwiseToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the patterns lowering softmax (max-subtracted), reduce (sum, mean,
/// max), layer_norm and the gradients layer_norm_grad and reduce_max_grad.
void populateMHANormalizationToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the patterns lowering apply_mask, attention, attention_with_lse and
/// attention_grad, through their decomposition into scores, softmax and
/// products (Sq x Sk matrices materialized).
void populateMHAAttentionToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the patterns lowering bce_loss, mse_loss, cross_entropy and their _grad
/// ops: means of per-element terms, the stable log-sum-exp for cross entropy.
void populateMHALossesToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the patterns lowering embedding (a gather of table rows by id) and
/// embedding_grad (a scatter-add of gradient rows into a zero table), ids
/// checked against the table's row count at run time.
void populateMHAEmbeddingToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the patterns lowering optimizer_update (SGD with momentum, Adam,
/// AdamW): one linalg.generic per parameter producing the new parameter and
/// optimizer state.
void populateMHAOptimizerToLinalgPatterns(RewritePatternSet &patterns);

/// Adds all of the above: the conversion patterns from mha compute ops (all but mha.param,
/// mha.get_param and mha.training) to linalg, tensor, arith and math. The
/// patterns produce tensors of the same types as the ops they replace.
void populateMHAToLinalgConversionPatterns(RewritePatternSet &patterns);

} // namespace mha
} // namespace mlir

#endif // MHA_CONVERSION_MHATOLINALG_MHATOLINALG_H
