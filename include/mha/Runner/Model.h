//===- Model.h - A parsed model file ----------------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares Model: a verified model file with what drivers need to
// know about it: its functions and their argument names as written, its
// trainable parameters and its training configuration.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_MODEL_H
#define MHA_RUNNER_MODEL_H

#include "mha/Dialect/MHA/IR/MHAOps.h"
#include "mha/Runtime/HostTensor.h"
#include "mha/Runtime/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir {
namespace mha {

/// A trainable parameter declared with mha.param.
struct ParamInfo {
  std::string name;
  RankedTensorType type;
  InitializerAttr init;
};

/// A function of the model file.
struct FunctionInfo {
  std::string name;
  /// Private functions (layers a model calls) are not picked as the entry
  /// unless named.
  bool isPublic = true;
  /// Argument names as written in the file (without '%').
  std::vector<std::string> argNames;
  std::vector<RankedTensorType> argTypes;
  std::vector<RankedTensorType> resultTypes;
  /// Per argument: for integer arguments read directly as the ids of an
  /// mha.embedding whose table has a static row count, the smallest such
  /// count (ids must lie below it); 0 otherwise. The host checks data files
  /// against it, naming the file and the id.
  std::vector<int64_t> idBounds;
};

/// The parameters read from the safetensors file `path` (checked against
/// `params`), or, with an empty path, initialized from `seed`.
llvm::Expected<TensorMap> loadOrInitializeParams(llvm::ArrayRef<ParamInfo> params,
                                                 llvm::StringRef path,
                                                 uint64_t seed);

/// The type as MLIR prints it ("tensor<?x16xf32>").
std::string typeText(Type type);

/// Parses `bindings` of `fn`'s arguments to files: each "NAME=FILE", or a
/// plain "FILE" when `fn` has one argument. Returns one path per argument,
/// empty where none is bound. Errors (naming `flag`, e.g. "--data") for a
/// malformed binding, an argument `fn` does not have (listing its
/// arguments), or one bound twice.
llvm::Expected<std::vector<std::string>>
bindArgumentFiles(const FunctionInfo &fn, llvm::ArrayRef<std::string> bindings,
                  llvm::StringRef flag);

/// Checks `data` as argument `index` of `fn`: the element type and rank must
/// be the argument's, and so must every static dimension (except the first
/// when `batched`: the data holds N examples of which batches are taken);
/// integer ids are checked against `fn.idBounds`. Messages name `source`.
llvm::Error checkArgumentData(const FunctionInfo &fn, unsigned index,
                              const HostTensor &data, llvm::StringRef source,
                              bool batched);

/// Reads the .npy file `path` as argument `index` of `fn` (f32 data for a
/// bf16 argument is rounded to bf16: NumPy has no bfloat16) and checks it
/// with checkArgumentData.
llvm::Expected<HostTensor> readArgumentFile(const FunctionInfo &fn,
                                            unsigned index,
                                            llvm::StringRef path,
                                            bool batched);

/// Checks that every element of the integer tensor `ids` lies in
/// [0, bound); the error names `source` (a file), the example (first
/// dimension) and the id.
llvm::Error checkIdsInRange(const HostTensor &ids, int64_t bound,
                            llvm::StringRef source);

/// A parsed and verified model file.
class Model {
public:
  /// Parses and verifies `path`. Diagnostics (file:line:col) go to the
  /// context's handler; returns null on failure. Functions must take and
  /// return ranked tensors only.
  static std::unique_ptr<Model> load(llvm::StringRef path, MLIRContext &context,
                                     llvm::SourceMgr &sourceMgr);

  ModuleOp getModule() { return *module; }
  const std::vector<ParamInfo> &getParams() const { return params; }
  const std::vector<FunctionInfo> &getFunctions() const { return functions; }
  /// The module's training configuration, or null.
  TrainingOp getTraining() { return training; }

  /// The function named `name`, or null.
  const FunctionInfo *lookupFunction(llvm::StringRef name) const;

  /// Picks the entry function: `requested` when given; otherwise the training
  /// configuration's model, else the only function. Fails with a message
  /// listing the functions.
  llvm::Expected<const FunctionInfo *>
  selectEntry(llvm::StringRef requested) const;

private:
  OwningOpRef<ModuleOp> module;
  std::vector<ParamInfo> params;
  std::vector<FunctionInfo> functions;
  TrainingOp training;
};

/// Values of every parameter drawn from its declared initializer. Each
/// parameter's stream is seeded by `seed` and its name, so adding a parameter
/// does not change the others. Deterministic across platforms.
TensorMap initializeParams(llvm::ArrayRef<ParamInfo> params, uint64_t seed);

/// Checks that `loaded` holds exactly the parameters `params` declares, with
/// their shapes and element types (training checkpoints' optimizer state,
/// named "__opt.*", is ignored). The error lists every mismatch.
llvm::Error checkParams(llvm::ArrayRef<ParamInfo> params,
                        const TensorMap &loaded, llvm::StringRef source);

/// The HostTensor element type of an MLIR element type, if supported.
std::optional<DType> dtypeOf(Type elementType);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_MODEL_H
