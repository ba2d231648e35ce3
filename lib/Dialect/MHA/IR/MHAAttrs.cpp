//===- MHAAttrs.cpp - MHA enums and attributes ----------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the mha dialect's attributes: their registration and
// the verifiers of initializers, optimizers and datasets.
//
//===----------------------------------------------------------------------===//

#include "mha/Dialect/MHA/IR/MHAAttrs.h"
#include "mha/Dialect/MHA/IR/MHADialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::mha;

#include "mha/Dialect/MHA/IR/MHAEnums.cpp.inc"

FailureOr<FloatAttr> mha::detail::parseF64(AsmParser &parser) {
  double value;
  if (failed(parser.parseFloat(value)))
    return failure();
  return FloatAttr::get(Float64Type::get(parser.getContext()), value);
}

void mha::detail::printF64(AsmPrinter &printer, FloatAttr attr) {
  double value = attr.getValueAsDouble();
  // The shortest %g form that reads back exactly; 17 digits always do.
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (strtod(buffer, nullptr) == value)
      break;
  }
  // MLIR reads "1" and "1e-08" as integer literals, which a float
  // parameter refuses: print "1.0" and "1.0e-08".
  llvm::StringRef text(buffer);
  size_t mantissaEnd = text.find_first_of("eE");
  llvm::StringRef mantissa = text.take_front(mantissaEnd);
  if (mantissa.find_first_not_of("-0123456789") == llvm::StringRef::npos)
    printer.getStream() << mantissa << ".0" << text.drop_front(mantissa.size());
  else
    printer.getStream() << text;
}

#define GET_ATTRDEF_CLASSES
#include "mha/Dialect/MHA/IR/MHAAttrs.cpp.inc"

void MHADialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "mha/Dialect/MHA/IR/MHAAttrs.cpp.inc"
      >();
}

/// The value of an optional float parameter.
static std::optional<double> valueOf(FloatAttr attr) {
  if (!attr)
    return std::nullopt;
  return attr.getValueAsDouble();
}

//===----------------------------------------------------------------------===//
// InitializerAttr
//===----------------------------------------------------------------------===//

LogicalResult
InitializerAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        InitKind kind, FloatAttr stdAttr,
                        FloatAttr limitAttr) {
  std::optional<double> std = valueOf(stdAttr), limit = valueOf(limitAttr);
  StringRef name = stringifyInitKind(kind);
  if (kind == InitKind::Normal) {
    if (!std || !(*std > 0.0))
      return emitError() << "initializer 'normal' expects a positive 'std'";
  } else if (std) {
    return emitError() << "initializer '" << name << "' takes no 'std'";
  }
  if (kind == InitKind::Uniform) {
    if (!limit || !(*limit > 0.0))
      return emitError() << "initializer 'uniform' expects a positive 'limit'";
  } else if (limit) {
    return emitError() << "initializer '" << name << "' takes no 'limit'";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// OptimizerAttr
//===----------------------------------------------------------------------===//

LogicalResult OptimizerAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, OptimizerKind kind,
    FloatAttr learningRateAttr, FloatAttr momentumAttr, FloatAttr beta1Attr,
    FloatAttr beta2Attr, FloatAttr epsilonAttr, FloatAttr weightDecayAttr) {
  std::optional<double> learningRate = valueOf(learningRateAttr),
                        momentum = valueOf(momentumAttr),
                        beta1 = valueOf(beta1Attr), beta2 = valueOf(beta2Attr),
                        epsilon = valueOf(epsilonAttr),
                        weightDecay = valueOf(weightDecayAttr);
  StringRef name = stringifyOptimizerKind(kind);
  if (!learningRate || !(*learningRate > 0.0))
    return emitError() << "optimizer '" << name
                       << "' expects a positive 'learning_rate'";
  bool isAdam = kind == OptimizerKind::Adam || kind == OptimizerKind::AdamW;
  if (momentum && isAdam)
    return emitError() << "optimizer '" << name
                       << "' takes no 'momentum' (use beta1)";
  for (auto [value, what] : {std::pair{beta1, "beta1"}, {beta2, "beta2"},
                             {epsilon, "epsilon"}})
    if (value && !isAdam)
      return emitError() << "optimizer '" << name << "' takes no '" << what
                         << "'";
  auto inUnitInterval = [](std::optional<double> v) {
    return !v || (*v >= 0.0 && *v < 1.0);
  };
  if (!inUnitInterval(momentum))
    return emitError() << "'momentum' must lie in [0, 1)";
  if (!inUnitInterval(beta1) || !inUnitInterval(beta2))
    return emitError() << "'beta1' and 'beta2' must lie in [0, 1)";
  if (epsilon && !(*epsilon > 0.0))
    return emitError() << "'epsilon' must be positive";
  if (weightDecay && !(*weightDecay >= 0.0))
    return emitError() << "'weight_decay' must be non-negative";
  return success();
}

//===----------------------------------------------------------------------===//
// DatasetAttr
//===----------------------------------------------------------------------===//

LogicalResult DatasetAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  DatasetKind kind,
                                  std::optional<int64_t> samples,
                                  std::optional<int64_t> seqLen,
                                  std::optional<int64_t> seed,
                                  FloatAttr validationSplitAttr,
                                  Attribute data,
                                  StringAttr labels) {
  std::optional<double> validationSplit = valueOf(validationSplitAttr);
  if (kind == DatasetKind::Text) {
    if (!isa_and_present<StringAttr>(data) || labels)
      return emitError() << "a 'text' dataset takes one text file as 'data' "
                            "and no 'labels' (the next bytes are the labels)";
    if (samples)
      return emitError() << "a 'text' dataset takes its size from its file, "
                            "not 'samples'";
  } else if (kind != DatasetKind::Npy) {
    if (data || labels)
      return emitError() << "a '" << stringifyDatasetKind(kind)
                         << "' dataset takes no 'data' or 'labels' files";
  } else {
    if (!data || !labels)
      return emitError()
             << "an 'npy' dataset expects both 'data' and 'labels' files";
    auto files = dyn_cast<DictionaryAttr>(data);
    if (!isa<StringAttr>(data) && !files)
      return emitError() << "'data' must be a file name or a dictionary of "
                            "input names to file names, got "
                         << data;
    if (files && files.empty())
      return emitError() << "'data' names no inputs";
    if (files)
      for (NamedAttribute file : files)
        if (!isa<StringAttr>(file.getValue()))
          return emitError() << "the file of input '" << file.getName().strref()
                             << "' must be a string, got " << file.getValue();
    if (samples || seqLen)
      return emitError() << "an 'npy' dataset takes its sizes from its "
                            "files, not 'samples' or 'seq_len'";
  }
  if ((samples && *samples <= 0) || (seqLen && *seqLen <= 0))
    return emitError() << "'samples' and 'seq_len' must be positive";
  if (validationSplit && !(*validationSplit >= 0.0 && *validationSplit < 1.0))
    return emitError() << "'validation_split' must lie in [0, 1), got "
                       << *validationSplit;
  (void)seed;
  return success();
}
