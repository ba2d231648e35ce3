//===- ArgumentNames.h - Function arguments named as written ----*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The parser forgets SSA names, so `%x` in a model file prints back as
// `%arg0`, and `mha-run --input x=...` would not match `mha-opt`'s output.
// The tools therefore record each function argument's written name in the
// `mha.name` argument attribute, which survives printing and every pass.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_SUPPORT_ARGUMENTNAMES_H
#define MHA_SUPPORT_ARGUMENTNAMES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <map>
#include <string>
#include <utility>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class AsmParserState;

namespace mha {

/// The argument attribute that names a function argument (a StringAttr).
constexpr llvm::StringLiteral kArgumentNameAttr = "mha.name";

/// Block-argument names as the parser saw them (without '%'), keyed by the
/// (line, column) of their definition in the main source buffer.
using SourceArgumentNames =
    std::map<std::pair<unsigned, unsigned>, std::string>;

/// Collects the block-argument names `state` recorded while parsing the
/// main buffer of `sourceMgr`.
SourceArgumentNames collectArgumentNames(const AsmParserState &state,
                                         const llvm::SourceMgr &sourceMgr);

/// Sets `mha.name` on each argument of the functions in `module` that has
/// none, from `names`, matched by the argument's file location.
void nameArgumentsFromSource(ModuleOp module, const SourceArgumentNames &names);

/// The name of argument `index` of `func`: its `mha.name`, else "arg<index>".
std::string argumentName(FunctionOpInterface func, unsigned index);

} // namespace mha
} // namespace mlir

#endif // MHA_SUPPORT_ARGUMENTNAMES_H
