//===- ArgumentNames.cpp - Function arguments named as written ------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "mha/Support/ArgumentNames.h"

#include "mlir/AsmParser/AsmParserState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

mha::SourceArgumentNames
mha::collectArgumentNames(const AsmParserState &state,
                          const llvm::SourceMgr &sourceMgr) {
  SourceArgumentNames names;
  unsigned mainBuffer = sourceMgr.getMainFileID();
  for (const AsmParserState::BlockDefinition &block : state.getBlockDefs()) {
    for (const AsmParserState::SMDefinition &arg : block.arguments) {
      llvm::SMRange range = arg.loc;
      if (!range.isValid() ||
          sourceMgr.FindBufferContainingLoc(range.Start) != mainBuffer)
        continue;
      llvm::StringRef text(range.Start.getPointer(),
                           range.End.getPointer() - range.Start.getPointer());
      if (!text.consume_front("%") || text.empty())
        continue;
      names[sourceMgr.getLineAndColumn(range.Start, mainBuffer)] = text.str();
    }
  }
  return names;
}

void mha::nameArgumentsFromSource(ModuleOp module,
                                  const SourceArgumentNames &names) {
  if (names.empty())
    return;
  module.walk([&](FunctionOpInterface func) {
    if (func.isExternal())
      return;
    for (BlockArgument arg : func.getArguments()) {
      unsigned i = arg.getArgNumber();
      if (func.getArgAttr(i, kArgumentNameAttr))
        continue;
      auto loc = dyn_cast<FileLineColLoc>(arg.getLoc());
      if (!loc)
        continue;
      auto it = names.find({loc.getLine(), loc.getColumn()});
      if (it != names.end())
        func.setArgAttr(i, kArgumentNameAttr,
                        StringAttr::get(func.getContext(), it->second));
    }
  });
}

std::string mha::argumentName(FunctionOpInterface func, unsigned index) {
  if (auto name = func.getArgAttrOfType<StringAttr>(index, kArgumentNameAttr))
    return name.str();
  return "arg" + std::to_string(index);
}
