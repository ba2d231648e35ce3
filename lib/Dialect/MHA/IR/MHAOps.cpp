//===- MHAOps.cpp - MHA dialect operations --------------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the mha operations: result-type inference (which also
// carries the cross-operand shape checks of the inferred ops), verifiers,
// folders and canonicalization patterns.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Dialect/MHA/IR/ShapeUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::mha;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {
/// Emits type-inference errors in the same form as op verifier errors
/// ("'mha.dense' op ..."), at the op's location when one is known.
struct InferError {
  std::optional<Location> loc;
  StringRef opName;

  template <typename... Args>
  LogicalResult operator()(Args &&...args) const {
    return emitOptionalError(loc, "'", opName, "' op ",
                             std::forward<Args>(args)...);
  }
};
} // namespace

static RankedTensorType rankedType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Checks that `value` has the element type `expected`.
static LogicalResult checkElementType(const InferError &error, StringRef name,
                                      Value value, Type expected,
                                      StringRef expectedFrom) {
  Type actual = rankedType(value).getElementType();
  if (actual == expected)
    return success();
  return error("expects '", name, "' to have the element type of '",
               expectedFrom, "' (", expected, "), got ", value.getType());
}

/// Joins the leading (batch) dimensions of `types`, which all have the same
/// rank; the last `trailing` dimensions are left out.
static FailureOr<SmallVector<int64_t>>
joinBatchDims(const InferError &error, ArrayRef<StringRef> names,
              ArrayRef<RankedTensorType> types, int64_t trailing) {
  SmallVector<int64_t> batch(types[0].getShape().drop_back(trailing));
  for (size_t t = 1; t < types.size(); ++t) {
    for (size_t i = 0; i < batch.size(); ++i) {
      std::optional<int64_t> dim = joinDims(batch[i], types[t].getDimSize(i));
      if (!dim)
        return error("batch dimension ", i, " of '", names[t], "' (",
                     types[t], ") does not match that of '", names[0], "' (",
                     types[0], ")");
      batch[i] = *dim;
    }
  }
  return batch;
}

/// True when `value` is a constant whose elements all equal `expected`.
static bool isSplatConstant(Attribute attr, double expected) {
  auto splat = dyn_cast_if_present<SplatElementsAttr>(attr);
  if (!splat || !isa<FloatType>(splat.getElementType()))
    return false;
  return splat.getSplatValue<APFloat>().convertToDouble() == expected;
}

/// Folds a commutative binary op whose one operand is the splat `neutral` and
/// whose other operand already has the result type.
static OpFoldResult foldNeutralOperand(Operation *op, ArrayRef<Attribute> cst,
                                       double neutral) {
  Type resultType = op->getResult(0).getType();
  for (unsigned i = 0; i < 2; ++i) {
    Value other = op->getOperand(1 - i);
    if (isSplatConstant(cst[i], neutral) && other.getType() == resultType)
      return other;
  }
  return {};
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  RankedTensorType type = getTensorType();
  if (!type.hasStaticShape())
    return emitOpError("expects a static shape for parameter ")
           << getSymNameAttr() << ", got " << type;
  InitKind kind = getInit().getKind();
  if ((kind == InitKind::GlorotUniform || kind == InitKind::GlorotNormal) &&
      type.getRank() < 2)
    return emitOpError("initializer '")
           << stringifyInitKind(kind)
           << "' needs a parameter of rank >= 2 (fan_in, fan_out), got "
           << type;
  return success();
}

//===----------------------------------------------------------------------===//
// GetParamOp
//===----------------------------------------------------------------------===//

LogicalResult
GetParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto param =
      symbolTable.lookupNearestSymbolFrom<ParamOp>(*this, getNameAttr());
  if (!param)
    return emitOpError("'") << getName()
                            << "' does not name an mha.param in this module";
  if (param.getType() != getType())
    return emitOpError("result type ")
           << getType() << " does not match the declared type "
           << param.getType() << " of @" << getName();
  return success();
}

//===----------------------------------------------------------------------===//
// TrainingOp
//===----------------------------------------------------------------------===//

/// Metric names `mha.training` accepts.
static constexpr StringLiteral kKnownMetrics[] = {"accuracy", "mae"};

LogicalResult TrainingOp::verify() {
  // The accessors return unsigned values; read the attributes as signed.
  int64_t epochs = getEpochsAttr().getInt();
  int64_t batchSize = getBatchSizeAttr().getInt();
  if (epochs <= 0)
    return emitOpError("expects a positive 'epochs', got ") << epochs;
  if (batchSize <= 0)
    return emitOpError("expects a positive 'batch_size', got ") << batchSize;
  if (std::optional<ArrayAttr> metrics = getMetrics()) {
    for (Attribute attr : *metrics) {
      StringRef name = cast<StringAttr>(attr).getValue();
      if (!llvm::is_contained(kKnownMetrics, name))
        return emitOpError("unknown metric '")
               << name << "'; expected one of: accuracy, mae";
    }
  }
  if (getIgnoreIndex() && getLoss() != LossKind::CrossEntropy)
    return emitOpError("'ignore_index' needs the loss 'cross_entropy', got '")
           << stringifyLossKind(getLoss()) << "'";
  auto module = cast<ModuleOp>((*this)->getParentOp());
  auto configs = module.getOps<TrainingOp>();
  if (std::next(configs.begin()) != configs.end())
    return emitOpError("expects at most one mha.training per module");
  return success();
}

LogicalResult
TrainingOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *symbol =
      symbolTable.lookupNearestSymbolFrom(*this, getModelAttr());
  auto model = dyn_cast_if_present<FunctionOpInterface>(symbol);
  if (!model)
    return emitOpError("'model' @")
           << getModel() << " does not name a function in this module";
  ArrayRef<Type> results = model.getResultTypes();
  auto output =
      results.size() == 1 ? dyn_cast<RankedTensorType>(results[0]) : nullptr;
  if (!output || !isa<FloatType>(output.getElementType()))
    return emitOpError("'model' @")
           << getModel()
           << " must return exactly one ranked float tensor (the "
              "predictions), got "
           << results.size() << " result(s)";
  if (getLoss() == LossKind::CrossEntropy && output.getRank() < 2)
    return emitOpError("loss 'cross_entropy' expects the model to return "
                       "logits of rank >= 2 [..., classes], got ")
           << output;
  return success();
}

//===----------------------------------------------------------------------===//
// DenseOp
//===----------------------------------------------------------------------===//

LogicalResult DenseOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto input = rankedType(adaptor.getInput());
  auto weight = rankedType(adaptor.getWeight());
  if (input.getRank() < 1)
    return error("expects 'input' of rank >= 1, got ", input);
  if (weight.getRank() != 2)
    return error("expects 'weight' of rank 2 [in, out], got ", weight);
  if (!joinDims(input.getShape().back(), weight.getDimSize(0)))
    return error("'input' feature size ", input.getShape().back(),
                 " does not match the input size ", weight.getDimSize(0),
                 " of 'weight' (", input, " vs ", weight, ")");
  Type elementType = input.getElementType();
  if (failed(checkElementType(error, "weight", adaptor.getWeight(),
                              elementType, "input")))
    return failure();
  if (Value bias = adaptor.getBias()) {
    auto biasType = rankedType(bias);
    if (biasType.getRank() != 1 ||
        !joinDims(biasType.getDimSize(0), weight.getDimSize(1)))
      return error("expects 'bias' of shape [", weight.getDimSize(1),
                   "] matching the output size of 'weight' (", weight,
                   "), got ", biasType);
    if (failed(checkElementType(error, "bias", bias, elementType, "input")))
      return failure();
  }
  SmallVector<int64_t> shape(input.getShape().drop_back());
  shape.push_back(weight.getDimSize(1));
  results.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp / EmbeddingGradOp
//===----------------------------------------------------------------------===//

/// The type of an embedding's result: the ids' shape with the table's row
/// size D appended, in the table's element type; an error for a table that
/// is not [V, D].
static FailureOr<RankedTensorType> embeddingResultType(const InferError &error,
                                                       Value table,
                                                       Value ids) {
  auto tableType = rankedType(table);
  if (tableType.getRank() != 2)
    return error("expects 'table' of rank 2 [vocabulary, features], got ",
                 tableType);
  SmallVector<int64_t> shape(rankedType(ids).getShape());
  shape.push_back(tableType.getDimSize(1));
  return RankedTensorType::get(shape, tableType.getElementType());
}

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  FailureOr<RankedTensorType> type =
      embeddingResultType(InferError{loc, getOperationName()},
                          adaptor.getTable(), adaptor.getIds());
  if (failed(type))
    return failure();
  results.push_back(*type);
  return success();
}

/// The dimension of `input` that `dimAttr` names, or an error (the shared
/// check of mha.positions and mha.sinusoidal_positions).
static FailureOr<int64_t> positionDim(const InferError &error,
                                      RankedTensorType input,
                                      Attribute dimAttr) {
  auto attr = dyn_cast_if_present<IntegerAttr>(dimAttr);
  if (!attr)
    return error("expects a 'dim' attribute");
  int64_t dim = attr.getInt();
  if (dim < 0 || dim >= input.getRank())
    return error("'dim' ", dim, " is not a dimension of 'input' (rank ",
                 input.getRank(), ")");
  return dim;
}

LogicalResult PositionsOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto input = rankedType(adaptor.getInput());
  FailureOr<int64_t> dim =
      positionDim(InferError{loc, getOperationName()}, input,
                  adaptor.getProperties().dim);
  if (failed(dim))
    return failure();
  results.push_back(RankedTensorType::get({input.getDimSize(*dim)},
                                          IntegerType::get(context, 64)));
  return success();
}

LogicalResult SinusoidalPositionsOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto input = rankedType(adaptor.getInput());
  FailureOr<int64_t> dim = positionDim(error, input, adaptor.getProperties().dim);
  if (failed(dim))
    return failure();
  auto featuresAttr =
      dyn_cast_if_present<IntegerAttr>(adaptor.getProperties().features);
  if (!featuresAttr)
    return error("expects a 'features' attribute");
  int64_t features = featuresAttr.getInt();
  if (features <= 0 || features % 2 != 0)
    return error("expects an even, positive 'features' (sin and cos "
                 "pairs), got ",
                 features);
  results.push_back(RankedTensorType::get({input.getDimSize(*dim), features},
                                          Float32Type::get(context)));
  return success();
}

LogicalResult EmbeddingGradOp::verify() {
  FailureOr<RankedTensorType> expected = embeddingResultType(
      InferError{getLoc(), getOperationName()}, getTable(), getIds());
  if (failed(expected))
    return failure();
  auto grad = getResultGrad().getType();
  bool matches = grad.getRank() == expected->getRank() &&
                 grad.getElementType() == expected->getElementType();
  for (int64_t d = 0; matches && d < grad.getRank(); ++d)
    matches = joinDims(grad.getDimSize(d), expected->getDimSize(d)).has_value();
  if (!matches)
    return emitOpError("expects 'result_grad' of the embedding's result type ")
           << *expected << " (the ids' shape, then the table's row size), got "
           << grad;
  return success();
}

//===----------------------------------------------------------------------===//
// SplitHeadsOp / MergeHeadsOp
//===----------------------------------------------------------------------===//

LogicalResult SplitHeadsOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto input = rankedType(adaptor.getInput());
  if (input.getRank() != 3)
    return error("expects 'input' of rank 3 [batch, seq, model], got ", input);
  auto headsAttr =
      dyn_cast_if_present<IntegerAttr>(adaptor.getProperties().num_heads);
  if (!headsAttr || headsAttr.getInt() <= 0)
    return error("expects a positive 'num_heads'");
  int64_t heads = headsAttr.getInt();
  int64_t model = input.getDimSize(2);
  int64_t depth = ShapedType::kDynamic;
  if (!ShapedType::isDynamic(model)) {
    if (model % heads != 0)
      return error("num_heads = ", heads,
                   " does not divide the model dimension ", model,
                   " of 'input' (", input, ")");
    depth = model / heads;
  }
  results.push_back(RankedTensorType::get(
      {input.getDimSize(0), heads, input.getDimSize(1), depth},
      input.getElementType()));
  return success();
}

OpFoldResult SplitHeadsOp::fold(FoldAdaptor) {
  // split_heads(merge_heads(x)) -> x, when the head count round-trips.
  auto merge = getInput().getDefiningOp<MergeHeadsOp>();
  if (merge && merge.getInput().getType() == getType())
    return merge.getInput();
  return {};
}

LogicalResult MergeHeadsOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto input = rankedType(adaptor.getInput());
  if (input.getRank() != 4)
    return error("expects 'input' of rank 4 [batch, heads, seq, depth], got ",
                 input);
  int64_t heads = input.getDimSize(1), depth = input.getDimSize(3);
  if (heads == 0)
    return error("expects at least one head (dimension 1 of 'input'), got ",
                 input);
  int64_t model = ShapedType::isDynamic(heads) || ShapedType::isDynamic(depth)
                      ? ShapedType::kDynamic
                      : heads * depth;
  results.push_back(RankedTensorType::get(
      {input.getDimSize(0), input.getDimSize(2), model},
      input.getElementType()));
  return success();
}

OpFoldResult MergeHeadsOp::fold(FoldAdaptor) {
  // merge_heads(split_heads(x)) -> x.
  auto split = getInput().getDefiningOp<SplitHeadsOp>();
  if (split && split.getInput().getType() == getType())
    return split.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// ScaledMatmulOp / MatmulOp
//===----------------------------------------------------------------------===//

/// Infers [..., M, N] for lhs [..., M, K] and rhs [..., N, K] (transposed) or
/// [..., K, N].
static LogicalResult inferMatmul(const InferError &error, Value lhsValue,
                                 Value rhsValue, bool transposeRhs,
                                 SmallVectorImpl<Type> &results) {
  auto lhs = rankedType(lhsValue), rhs = rankedType(rhsValue);
  if (lhs.getRank() < 2 || lhs.getRank() != rhs.getRank())
    return error("expects 'lhs' and 'rhs' of the same rank >= 2, got ", lhs,
                 " and ", rhs);
  if (failed(checkElementType(error, "rhs", rhsValue, lhs.getElementType(),
                              "lhs")))
    return failure();
  FailureOr<SmallVector<int64_t>> batch =
      joinBatchDims(error, {"lhs", "rhs"}, {lhs, rhs}, 2);
  if (failed(batch))
    return failure();
  int64_t rank = lhs.getRank();
  int64_t rhsK = rhs.getDimSize(transposeRhs ? rank - 1 : rank - 2);
  int64_t n = rhs.getDimSize(transposeRhs ? rank - 2 : rank - 1);
  if (!joinDims(lhs.getDimSize(rank - 1), rhsK))
    return error("contraction size ", lhs.getDimSize(rank - 1),
                 " of 'lhs' does not match ", rhsK, " of 'rhs' (", lhs,
                 transposeRhs ? " vs transposed " : " vs ", rhs, ")");
  batch->push_back(lhs.getDimSize(rank - 2));
  batch->push_back(n);
  results.push_back(RankedTensorType::get(*batch, lhs.getElementType()));
  return success();
}

LogicalResult ScaledMatmulOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  return inferMatmul(InferError{loc, getOperationName()}, adaptor.getLhs(),
                     adaptor.getRhs(),
                     /*transposeRhs=*/!adaptor.getProperties().untransposed,
                     results);
}

namespace {
#include "MHACanonicalization.inc"
} // namespace

void ScaledMatmulOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                                 MLIRContext *context) {
  patterns.add<ScaledMatmulWithUnitScaleToMatmul>(context);
}

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  return inferMatmul(InferError{loc, getOperationName()}, adaptor.getLhs(),
                     adaptor.getRhs(), /*transposeRhs=*/false, results);
}

//===----------------------------------------------------------------------===//
// SoftmaxOp
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  int64_t rank = getType().getRank();
  if (rank < 1)
    return emitOpError("expects 'input' of rank >= 1, got ") << getType();
  // getAxis() returns the attribute's bits as unsigned; read them as signed.
  auto axis = static_cast<int64_t>(getAxis());
  if (!normalizeAxis(axis, rank))
    return emitOpError("axis ") << axis << " is out of range for "
                                << getType() << " (expected in [" << -rank
                                << ", " << rank << "))";
  return success();
}

int64_t SoftmaxOp::getNormalizedAxis() {
  return *normalizeAxis(static_cast<int64_t>(getAxis()), getType().getRank());
}

//===----------------------------------------------------------------------===//
// ReduceOp
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto input = rankedType(adaptor.getInput());
  int64_t rank = input.getRank();
  auto dimsAttr =
      dyn_cast_if_present<DenseI64ArrayAttr>(adaptor.getProperties().dims);
  ArrayRef<int64_t> dims = dimsAttr ? dimsAttr.asArrayRef() : ArrayRef<int64_t>();
  if (dims.empty())
    return error("expects at least one dimension in 'dims'");
  SmallVector<bool> reduced(rank, false);
  for (int64_t dim : dims) {
    std::optional<int64_t> axis = normalizeAxis(dim, rank);
    if (!axis)
      return error("dimension ", dim, " in 'dims' is out of range for ",
                   input, " (expected in [", -rank, ", ", rank, "))");
    if (reduced[*axis])
      return error("dimension ", *axis, " appears twice in 'dims'");
    reduced[*axis] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i])
      shape.push_back(input.getDimSize(i));
    else if (adaptor.getProperties().keep_dims)
      shape.push_back(1);
  }
  results.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

OpFoldResult ReduceOp::fold(FoldAdaptor) {
  // Reducing only size-1 dimensions while keeping them is the identity for
  // sum, mean and max alike.
  if (getInput().getType() != getType())
    return {};
  auto input = rankedType(getInput());
  for (int64_t dim : getDims())
    if (input.getDimSize(*normalizeAxis(dim, input.getRank())) != 1)
      return {};
  return getInput();
}

//===----------------------------------------------------------------------===//
// LayerNormOp
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::verify() {
  auto input = getInput().getType();
  if (input.getRank() < 1)
    return emitOpError("expects 'input' of rank >= 1, got ") << input;
  int64_t features = input.getShape().back();
  for (auto [name, value] : {std::pair{"gamma", getGamma()}, {"beta", getBeta()}}) {
    auto type = value.getType();
    if (type.getRank() != 1 || !joinDims(type.getDimSize(0), features))
      return emitOpError("expects '")
             << name << "' of shape [" << shapeToString({features})
             << "] matching the last dimension of 'input' (" << input
             << "), got " << type;
    if (type.getElementType() != input.getElementType())
      return emitOpError("expects '")
             << name << "' to have the element type of 'input' ("
             << input.getElementType() << "), got " << type;
  }
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError("expects a positive 'epsilon', got ")
           << getEpsilon().convertToDouble();
  return success();
}

//===----------------------------------------------------------------------===//
// AddOp / MulOp
//===----------------------------------------------------------------------===//

static LogicalResult inferBroadcast(const InferError &error, Value lhsValue,
                                    Value rhsValue,
                                    SmallVectorImpl<Type> &results) {
  auto lhs = rankedType(lhsValue), rhs = rankedType(rhsValue);
  if (failed(checkElementType(error, "rhs", rhsValue, lhs.getElementType(),
                              "lhs")))
    return failure();
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes(lhs.getShape(), rhs.getShape());
  if (!shape)
    return error("cannot broadcast 'lhs' (", lhs, ") and 'rhs' (", rhs,
                 ") together: sizes must be equal or 1 when aligned at the "
                 "last dimension");
  results.push_back(RankedTensorType::get(*shape, lhs.getElementType()));
  return success();
}

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  return foldNeutralOperand(*this, adaptor.getOperands(), 0.0);
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  // Only x - 0 (not 0 - x).
  if (isSplatConstant(adaptor.getRhs(), 0.0) &&
      getLhs().getType() == getType())
    return getLhs();
  return {};
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  return foldNeutralOperand(*this, adaptor.getOperands(), 1.0);
}

//===----------------------------------------------------------------------===//
// ApplyMaskOp / AttentionOp
//===----------------------------------------------------------------------===//

/// Checks that `mask` broadcasts to `scoresShape` [..., Sq, Sk] and, when it is
/// additive, has the element type of the scores.
static LogicalResult checkMask(const InferError &error, Value mask,
                               ArrayRef<int64_t> scoresShape,
                               Type elementType) {
  auto maskType = rankedType(mask);
  if (!broadcastsTo(maskType.getShape(), scoresShape))
    return error("'mask' (", maskType, ") does not broadcast to the scores' "
                 "shape [", shapeToString(scoresShape), "]");
  Type maskElement = maskType.getElementType();
  if (!maskElement.isInteger(1) && maskElement != elementType)
    return error("expects an additive 'mask' of element type ", elementType,
                 " or a boolean (i1) one, got ", maskType);
  return success();
}

LogicalResult ApplyMaskOp::verify() {
  InferError error{getLoc(), getOperationName()};
  auto scores = getScores().getType();
  if (scores.getRank() < 2)
    return error("expects 'scores' of rank >= 2 [..., Sq, Sk], got ", scores);
  if (Value mask = getMask())
    return checkMask(error, mask, scores.getShape(), scores.getElementType());
  return success();
}

OpFoldResult ApplyMaskOp::fold(FoldAdaptor) {
  if (!getMask() && !getCausal())
    return getScores();
  return {};
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto query = rankedType(adaptor.getQuery());
  auto key = rankedType(adaptor.getKey());
  auto value = rankedType(adaptor.getValue());
  int64_t rank = query.getRank();
  if (rank < 2 || key.getRank() != rank || value.getRank() != rank)
    return error("expects 'query', 'key' and 'value' of the same rank >= 2 "
                 "([..., seq, depth]), got ",
                 query, ", ", key, " and ", value);
  Type elementType = query.getElementType();
  if (failed(checkElementType(error, "key", adaptor.getKey(), elementType,
                              "query")) ||
      failed(checkElementType(error, "value", adaptor.getValue(), elementType,
                              "query")))
    return failure();
  FailureOr<SmallVector<int64_t>> batch = joinBatchDims(
      error, {"query", "key", "value"}, {query, key, value}, 2);
  if (failed(batch))
    return failure();
  if (!joinDims(query.getDimSize(rank - 1), key.getDimSize(rank - 1)))
    return error("depth ", query.getDimSize(rank - 1),
                 " of 'query' does not match depth ", key.getDimSize(rank - 1),
                 " of 'key' (", query, " vs ", key, ")");
  std::optional<int64_t> keys =
      joinDims(key.getDimSize(rank - 2), value.getDimSize(rank - 2));
  if (!keys)
    return error("'key' and 'value' disagree on the key sequence length (",
                 key, " vs ", value, ")");
  if (Value mask = adaptor.getMask()) {
    SmallVector<int64_t> scores(*batch);
    scores.push_back(query.getDimSize(rank - 2));
    scores.push_back(*keys);
    if (failed(checkMask(error, mask, scores, elementType)))
      return failure();
  }
  SmallVector<int64_t> shape(*batch);
  shape.push_back(query.getDimSize(rank - 2));
  shape.push_back(value.getDimSize(rank - 1));
  results.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

/// Checks that `target` has the shape and element type of `input`, and infers
/// the rank-0 loss type.
static LogicalResult inferPairwiseLoss(const InferError &error, Value input,
                                       Value target,
                                       SmallVectorImpl<Type> &results) {
  auto inputType = rankedType(input), targetType = rankedType(target);
  bool sameShape = inputType.getRank() == targetType.getRank() &&
                   llvm::all_of(llvm::seq<int64_t>(0, inputType.getRank()),
                                [&](int64_t i) {
                                  return joinDims(inputType.getDimSize(i),
                                                  targetType.getDimSize(i))
                                      .has_value();
                                });
  if (!sameShape)
    return error("expects 'target' of the shape of 'input' (", inputType,
                 "), got ", targetType);
  if (failed(checkElementType(error, "target", target,
                              inputType.getElementType(), "input")))
    return failure();
  results.push_back(RankedTensorType::get({}, inputType.getElementType()));
  return success();
}

LogicalResult BCELossOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  return inferPairwiseLoss(InferError{loc, getOperationName()},
                           adaptor.getInput(), adaptor.getTarget(), results);
}

LogicalResult MSELossOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  return inferPairwiseLoss(InferError{loc, getOperationName()},
                           adaptor.getInput(), adaptor.getTarget(), results);
}

LogicalResult CrossEntropyOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto logits = rankedType(adaptor.getLogits());
  auto labels = rankedType(adaptor.getLabels());
  if (logits.getRank() < 1)
    return error("expects 'logits' of rank >= 1 [..., classes], got ", logits);
  bool matches = labels.getRank() == logits.getRank() - 1 &&
                 llvm::all_of(llvm::seq<int64_t>(0, labels.getRank()),
                              [&](int64_t i) {
                                return joinDims(labels.getDimSize(i),
                                                logits.getDimSize(i))
                                    .has_value();
                              });
  if (!matches)
    return error("expects 'labels' of shape [",
                 shapeToString(logits.getShape().drop_back()),
                 "] (the logits without their class dimension), got ",
                 labels);
  results.push_back(RankedTensorType::get({}, logits.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// TransposeOp / BroadcastToOp / ReduceToOp
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto input = rankedType(adaptor.getInput());
  auto permAttr = dyn_cast_if_present<DenseI64ArrayAttr>(
      adaptor.getProperties().permutation);
  ArrayRef<int64_t> perm =
      permAttr ? permAttr.asArrayRef() : ArrayRef<int64_t>();
  SmallVector<bool> seen(input.getRank(), false);
  bool valid = int64_t(perm.size()) == input.getRank();
  for (int64_t p : perm) {
    valid = valid && p >= 0 && p < input.getRank() && !seen[p];
    if (valid)
      seen[p] = true;
  }
  if (!valid)
    return error("'permutation' must be a permutation of [0, ",
                 input.getRank(), ") for ", input);
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(input.getDimSize(p));
  results.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  for (auto [i, p] : llvm::enumerate(getPermutation()))
    if (int64_t(i) != p)
      return {};
  return getInput();
}

LogicalResult BroadcastToOp::verify() {
  auto input = getInput().getType(), like = getLike().getType();
  ArrayRef<int64_t> dims = getDims();
  if (input.getRank() + int64_t(dims.size()) != like.getRank())
    return emitOpError("expects 'input' (")
           << input << ") to have the rank of 'like' (" << like
           << ") minus the " << dims.size() << " inserted dimension(s)";
  SmallVector<int64_t> expanded;
  for (int64_t d = 0, i = 0; d < like.getRank(); ++d) {
    if (llvm::is_contained(dims, d))
      expanded.push_back(1);
    else if (i < input.getRank())
      expanded.push_back(input.getDimSize(i++));
  }
  for (auto [k, d] : llvm::enumerate(dims))
    if (d < 0 || d >= like.getRank() || (k > 0 && dims[k - 1] >= d))
      return emitOpError("expects sorted, distinct 'dims' in [0, ")
             << like.getRank() << ")";
  if (!broadcastsTo(expanded, like.getShape()))
    return emitOpError("cannot broadcast 'input' (")
           << input << ") to the shape of 'like' (" << like << ")";
  return success();
}

LogicalResult ReduceToOp::verify() {
  auto input = getInput().getType(), like = getLike().getType();
  if (!broadcastsTo(like.getShape(), input.getShape()))
    return emitOpError("expects 'like' (")
           << like << ") to broadcast to the shape of 'input' (" << input
           << ")";
  return success();
}

OpFoldResult ReduceToOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// Gradient ops
//===----------------------------------------------------------------------===//

LogicalResult DenseWeightGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  InferError error{loc, getOperationName()};
  auto input = rankedType(adaptor.getInput());
  auto grad = rankedType(adaptor.getResultGrad());
  bool ok = input.getRank() >= 1 && input.getRank() == grad.getRank();
  for (int64_t d = 0; ok && d < input.getRank() - 1; ++d)
    ok = joinDims(input.getDimSize(d), grad.getDimSize(d)).has_value();
  if (!ok)
    return error("expects 'input' [..., in] and 'result_grad' [..., out] "
                 "with the same leading dimensions, got ",
                 input, " and ", grad);
  if (failed(checkElementType(error, "result_grad", adaptor.getResultGrad(),
                              input.getElementType(), "input")))
    return failure();
  results.push_back(RankedTensorType::get(
      {input.getShape().back(), grad.getShape().back()},
      input.getElementType()));
  return success();
}

LogicalResult AttentionWithLSEOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  // Same rules as mha.attention, plus the [..., Sq] log-sum-exp.
  AttentionOp::Adaptor attention(adaptor.getOperands(),
                                 adaptor.getAttributes());
  if (failed(AttentionOp::inferReturnTypes(context, loc, attention, results)))
    return failure();
  auto out = cast<RankedTensorType>(results.front());
  results.push_back(RankedTensorType::get(out.getShape().drop_back(),
                                          Float32Type::get(context)));
  return success();
}

void AttentionGradOp::build(OpBuilder &b, OperationState &state, Value query,
                            Value key, Value value, Value result, Value lse,
                            Value resultGrad, Value mask, FloatAttr scale,
                            UnitAttr causal, bool withMaskGrad) {
  SmallVector<Type> types = {query.getType(), key.getType(), value.getType()};
  if (withMaskGrad)
    types.push_back(mask.getType());
  build(b, state, types, query, key, value, result, lse, resultGrad, mask,
        scale, causal);
}

LogicalResult AttentionGradOp::verify() {
  auto out = getResult().getType();
  auto lse = getLse().getType();
  if (lse.getShape() != out.getShape().drop_back())
    return emitOpError("expects 'lse' of shape [")
           << shapeToString(out.getShape().drop_back())
           << "] (the output without its last dimension), got " << lse;
  if (Value maskGrad = getMaskGrad()) {
    Value mask = getMask();
    if (!mask || rankedType(mask).getElementType().isInteger(1))
      return emitOpError("has a 'mask_grad' result but no additive (float) "
                         "mask to differentiate");
    if (maskGrad.getType() != mask.getType())
      return emitOpError("expects 'mask_grad' of the mask's type ")
             << mask.getType() << ", got " << maskGrad.getType();
  }
  return success();
}

namespace {
/// Drops an unused `mask_grad` (the mask was a constant or an input nobody
/// differentiates): the decomposed lowering then skips its reduction.
struct DropUnusedMaskGrad final : OpRewritePattern<AttentionGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    Value maskGrad = op.getMaskGrad();
    if (!maskGrad || !maskGrad.use_empty())
      return failure();
    auto replacement = AttentionGradOp::create(
        rewriter, op.getLoc(), op.getQuery(), op.getKey(), op.getValue(),
        op.getResult(), op.getLse(), op.getResultGrad(), op.getMask(),
        op.getScaleAttr(), op.getCausalAttr(), /*withMaskGrad=*/false);
    rewriter.replaceOp(op, {replacement.getQueryGrad(),
                            replacement.getKeyGrad(),
                            replacement.getValueGrad(), Value()});
    return success();
  }
};
} // namespace

void AttentionGradOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                                  MLIRContext *context) {
  patterns.add<DropUnusedMaskGrad>(context);
}

//===----------------------------------------------------------------------===//
// Attention's semantics
//===----------------------------------------------------------------------===//

Value mha::buildAttentionScores(OpBuilder &builder, Location loc, Value query,
                                Value key, Value mask, FloatAttr scale,
                                bool causal) {
  Value scores = ScaledMatmulOp::create(builder, loc, query, key,
                                        /*untransposed=*/nullptr, scale);
  if (mask || causal)
    scores = ApplyMaskOp::create(builder, loc, scores.getType(), scores, mask,
                                 causal);
  return scores;
}

// softmax over the keys of the scores, times the values.
FailureOr<SmallVector<Value>> AttentionOp::decomposeOperation(OpBuilder &b) {
  Location loc = getLoc();
  Value scores = buildAttentionScores(b, loc, getQuery(), getKey(), getMask(),
                                      getScaleAttr(), getCausal());
  Value probs = SoftmaxOp::create(b, loc, scores, /*axis=*/-1);
  return SmallVector<Value>{MatmulOp::create(b, loc, probs, getValue())};
}

//===----------------------------------------------------------------------===//
// TableGen'd op definitions
//===----------------------------------------------------------------------===//

#define GET_OP_CLASSES
#include "mha/Dialect/MHA/IR/MHAOps.cpp.inc"

//===----------------------------------------------------------------------===//
// DropoutOp
//===----------------------------------------------------------------------===//

LogicalResult DropoutOp::verify() {
  double rate = getRate().convertToDouble();
  if (!(rate >= 0.0 && rate < 1.0))
    return emitOpError("'rate' must lie in [0, 1), got ") << rate;
  return success();
}

OpFoldResult DropoutOp::fold(FoldAdaptor) {
  // Inactive (no key) or dropping nothing: the identity.
  if (!getKey() || getRate().isZero())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// RotaryOp
//===----------------------------------------------------------------------===//

LogicalResult RotaryOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  if (type.getRank() < 2)
    return emitOpError("expects [..., seq, features], got rank ")
           << type.getRank();
  int64_t features = type.getShape().back();
  if (ShapedType::isDynamic(features) || features % 2 != 0)
    return emitOpError("expects a static, even feature size (rotated in "
                       "pairs), got ")
           << type;
  if (!(getBase().convertToDouble() > 0.0))
    return emitOpError("'base' must be positive");
  return success();
}
