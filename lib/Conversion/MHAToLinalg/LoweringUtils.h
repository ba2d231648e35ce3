//===- LoweringUtils.h - convert-mha-to-linalg helpers ----------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Helpers the per-family pattern files of convert-mha-to-linalg share: sizes
// and run-time size checks, linalg builders (generic, reductions, matmuls),
// element-type conversions and the f32 softmax. Private to this library.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_LIB_CONVERSION_MHATOLINALG_LOWERINGUTILS_H
#define MHA_LIB_CONVERSION_MHATOLINALG_LOWERINGUTILS_H

#include "mha/Dialect/MHA/IR/MHAOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/DialectConversion.h"

#include <string>
#include <utility>

namespace mlir {
namespace mha {
namespace detail {

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

RankedTensorType tensorType(Value v);

inline Type f32(OpBuilder &b) { return b.getF32Type(); }

Value f32Const(OpBuilder &b, Location loc, double value);

/// The sizes of `v`, static ones as attributes, dynamic ones as tensor.dim.
SmallVector<OpFoldResult> sizesOf(OpBuilder &b, Location loc, Value v);

/// A size taken from dimension `dim` of `v`.
OpFoldResult sizeOf(OpBuilder &b, Location loc, Value v, int64_t dim);

/// "file:line:col" of `loc`, or its printed form.
std::string locationText(Location loc);

/// Emits a run-time check (cf.assert) that dimension `dx` of `x` equals
/// dimension `dy` of `y`. The verifier has already compared static sizes, so
/// nothing is emitted unless one of them is dynamic.
void checkSameSize(OpBuilder &b, Operation *op, Value x, int64_t dx,
                   StringRef xName, Value y, int64_t dy, StringRef yName);

/// Checks at run time that the aligned dimensions of broadcast operands that
/// are not a static 1 agree (dynamic dimensions are never broadcast).
void checkBroadcast(OpBuilder &b, Operation *op, int64_t rank,
                    ArrayRef<std::pair<Value, StringRef>> operands);

/// Emits a run-time check that every element of the integer tensor
/// `indices` lies in [0, bound): the check data-dependent indices (class
/// labels, token ids) get before any load uses them. `what` names them in
/// the message, which also gives the op's location and, when static, the
/// bound. `allowed` is one more accepted value (an ignore index).
void checkIndicesInRange(OpBuilder &b, Operation *op, Value indices,
                         OpFoldResult bound, StringRef what,
                         StringRef boundName,
                         std::optional<int64_t> allowed = std::nullopt);

/// The number of elements in dimensions `dims` of `v`, as an f32 value.
Value countAsF32(OpBuilder &b, Location loc, Value v, ArrayRef<int64_t> dims);

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType);

Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, Value value);

/// Builds an all-parallel linalg.generic over `sizes` producing an
/// `elementType` tensor; input `i` is read through `maps[i]`.
Value buildGeneric(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, ValueRange inputs,
                   ArrayRef<AffineMap> maps, BodyFn body);

/// Element-wise map over same-shaped inputs.
Value mapElements(OpBuilder &b, Location loc, ValueRange inputs,
                  Type elementType, BodyFn body);

/// Converts the elements of `v` to `elementType` (extf/truncf); a no-op when
/// they already have it.
Value castElements(OpBuilder &b, Location loc, Value v, Type elementType);

Value toF32(OpBuilder &b, Location loc, Value v);

/// The map reading an operand of shape `shape` while iterating over a result
/// of rank `rank` under the NumPy broadcasting rule: trailing alignment, and
/// static size-1 dimensions broadcast (read at index 0).
AffineMap broadcastMap(OpBuilder &b, ArrayRef<int64_t> shape,
                       ArrayRef<int64_t> resultShape);

/// The sizes of a broadcast result of type `resultType`: static sizes from the
/// type, dynamic ones from an operand whose aligned size is not a static 1.
SmallVector<OpFoldResult> broadcastSizes(OpBuilder &b, Location loc,
                                         RankedTensorType resultType,
                                         ValueRange operands);

/// Reduces `input` over `dims` with `combine`, starting from `init`; the
/// result drops the reduced dimensions. The input is f32.
Value reduceF32(
    OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> dims,
    double initValue,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine);

/// Reshapes `reduced` (the result of reducing the dimensions flagged in
/// `isReduced` away) to `resultType`, where those dimensions have size 1:
/// each kept dimension is grouped with the unit dimensions that follow it
/// (leading unit dimensions go with the first kept one).
Value expandReducedDims(OpBuilder &b, Location loc, Value reduced,
                        RankedTensorType resultType, ArrayRef<bool> isReduced,
                        ArrayRef<OpFoldResult> keptSizes);

Value addF(OpBuilder &b, Location loc, Value x, Value y);

Value maxF(OpBuilder &b, Location loc, Value x, Value y);

/// Sum of all elements of `input` (f32) as a rank-0 tensor.
Value sumAll(OpBuilder &b, Location loc, Value input);

/// The map that reads a tensor with dimension `dropped` removed while
/// iterating over the full rank.
AffineMap droppedDimMap(OpBuilder &b, int64_t rank, int64_t dropped);

/// Divides a rank-0 f32 tensor by the element count of `of`, returning the
/// mean cast to `elementType`.
Value meanOfSum(OpBuilder &b, Location loc, Value sum, Value of,
                Type elementType);

/// Divides a rank-0 f32 tensor by the f32 scalar `count`, returning the
/// result in `elementType` (meanOfSum with the count given).
Value divideScalarTensor(OpBuilder &b, Location loc, Value sum, Value count,
                         Type elementType);

/// Batched matmul lhs [..., M, K] x rhs [..., K, N] -> f32 [..., M, N] with
/// named linalg ops: matmul for rank 2, batch_matmul for rank 3, and batch
/// dimensions collapsed into one above that.
Value buildMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs,
                  RankedTensorType resultType);

/// Run-time checks of lhs [..., M, K] x rhs [..., K, N]: batch and K sizes.
void checkMatmulSizes(OpBuilder &b, Operation *op, Value lhs, Value rhs);

/// The permutation of `rank` dimensions that swaps the last two.
SmallVector<int64_t> lastTwoSwapped(int64_t rank);

/// Transposes the last two dimensions of `v`.
Value transposeLastTwo(OpBuilder &b, Location loc, Value v);

/// softmax along `axis` of an f32 tensor: exp(x - max) / sum, with rows of
/// -inf giving zeros.
Value buildSoftmax(OpBuilder &b, Location loc, Value x, int64_t axis);

/// The scale of a product with `lhs` [..., K] contracted over its last
/// dimension (scaled_matmul, attention's Q·Kᵀ): `scale` when given, else
/// 1/√K, a constant when K is static and read at run time otherwise. The one
/// place the lowerings compute attention's default scale.
Value defaultScaleOr(OpBuilder &b, Location loc, Value lhs, FloatAttr scale);

/// The run-time size checks of attention's operands (query, key, value,
/// optional mask broadcastable to the scores), emitted before any loop (and
/// so never on a worker thread): depths of Q and K, lengths of K and V,
/// batch dimensions, and the mask's non-unit dimensions. Static sizes are
/// the verifier's; nothing is emitted for them.
void checkAttentionSizes(OpBuilder &b, Operation *op, Value q, Value k,
                         Value v, Value mask);

/// The run-time size checks of mha.attention_grad: attention's
/// (checkAttentionSizes), then the result, result_grad and lse against the
/// query's rows and batch and the value's depth.
void checkAttentionGradSizes(OpBuilder &b, AttentionGradOp op);

/// Whether one of `values` (tensors) has a dimension of static size 0. The
/// tiled lowerings of attention leave such ops to the decomposition: their
/// slices at constant offsets into an empty dimension do not verify.
bool hasStaticEmptyDim(ValueRange values);

/// One attention score (already scaled) masked: a boolean `maskElement`
/// (i1, or a nonzero integer) keeps it, else -inf; a float one is added;
/// with `causal`, -inf when position `key` comes after `query`. The one
/// place attention's masks are applied to a score (the fused lowerings'
/// tiles and the per-row loops alike); `maskElement` may be null.
Value maskScore(OpBuilder &b, Location loc, Value score, Value maskElement,
                Value query, Value key, bool causal);

/// exp(x - shift), or 0 when `guard` is -inf (a row that has seen no key
/// yet): the online softmax's rescaling factor and probabilities.
Value guardedExp(OpBuilder &b, Location loc, Value x, Value shift,
                 Value guard);

/// The run-time checks of mha.online_attention's dynamic sizes (depths,
/// lengths, the running state's rows and columns, the mask's non-unit
/// dimensions), emitted where `b` is.
void checkOnlineAttentionSizes(OpBuilder &b, OnlineAttentionOp op);

/// Attention's output from the online-softmax state acc [..., Sq, Dv], max
/// and sum [..., Sq] (f32) after every key: O = acc / sum, and with
/// `withLse` also lse = max + log(sum); a row that saw no key (sum = 0)
/// gives zeros and lse = -inf, never NaN. Returns {O} or {O, lse}. The one
/// place the flash lowerings finish the online softmax.
SmallVector<Value> finishOnlineSoftmax(OpBuilder &b, Location loc, Value acc,
                                       Value max, Value sum, bool withLse);

/// Base of the conversion patterns: one per mha op.
/// Replaces `op` with `values`. A value whose type is compatible with the
/// op's result type but more or less static (a lowering computing sizes
/// from one operand where the op's type took a static size from another,
/// e.g. a batch of ? and 5) is cast to the result type first (tensor.cast).
void replaceOpCasting(ConversionPatternRewriter &rewriter, Operation *op,
                      ValueRange values);
void replaceOpCasting(ConversionPatternRewriter &rewriter, Operation *op,
                      Operation *replacement);

template <typename OpTy> struct MHAPattern : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpConversionPattern<OpTy>::OpAdaptor;
};

} // namespace detail
} // namespace mha
} // namespace mlir

#endif // MHA_LIB_CONVERSION_MHATOLINALG_LOWERINGUTILS_H
