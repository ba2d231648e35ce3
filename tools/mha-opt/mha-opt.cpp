//===- mha-opt.cpp - The mha optimizer driver -----------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt for mha: parses, verifies and transforms model files with the mha
// dialect and passes plus every upstream dialect, extension and pass the
// lowerings use.
//
// Unlike mlir-opt, it keeps the names a model gives its function arguments:
// the printer would turn `%x` into `%arg0`, and `mha-run --input x=...` would
// no longer match mha-opt's output. Before the pipeline runs, each argument
// gets an `mha.name` attribute with the name the input file wrote.
//
//===----------------------------------------------------------------------===//

#include "mha/InitAll.h"
#include "mha/Runtime/FileIO.h"
#include "mha/Support/ArgumentNames.h"
#include "mha/Support/Version.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/AsmParser/AsmParserState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

namespace {
/// Records the names in `names` as `mha.name` argument attributes. Internal
/// to mha-opt (it carries what a separate parse of the input saw), so not
/// registered; test/Tools/mha-opt-argument-names.mlir tests it.
struct NameArgumentsPass final
    : PassWrapper<NameArgumentsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(NameArgumentsPass)

  explicit NameArgumentsPass(const mha::SourceArgumentNames &names)
      : names(names) {}
  StringRef getArgument() const override { return "mha-name-arguments"; }
  void runOnOperation() override {
    mha::nameArgumentsFromSource(getOperation(), names);
  }

  const mha::SourceArgumentNames &names;
};

/// The argument names written in `buffer`, from a parse of it in a scratch
/// context (MlirOptMain's own parse keeps no parser state). Empty when the
/// input does not parse as a whole (MlirOptMain then reports why) or is split
/// into several inputs, whose locations are relative to each part.
mha::SourceArgumentNames argumentNamesOf(const llvm::MemoryBuffer &buffer,
                                         DialectRegistry &registry,
                                         const MlirOptMainConfig &config) {
  if (!config.inputSplitMarker().empty())
    return {};
  MLIRContext context(registry);
  context.allowUnregisteredDialects(config.shouldAllowUnregisteredDialects());
  // Parse errors are MlirOptMain's to report, once.
  ScopedDiagnosticHandler silence(&context,
                                  [](Diagnostic &) { return success(); });
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBuffer(buffer.getBuffer(),
                                       buffer.getBufferIdentifier(),
                                       /*RequiresNullTerminator=*/false),
      llvm::SMLoc());
  Block block;
  AsmParserState state;
  ParserConfig parserConfig(&context, /*verifyAfterParse=*/false);
  if (failed(parseAsmSourceFile(sourceMgr, &block, parserConfig, &state)))
    return {};
  return mha::collectArgumentNames(state, sourceMgr);
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  registerAllPasses();
  mha::registerAllMHAPasses();

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  mha::registerAllMHADialects(registry);
  mha::registerAllMHATranslations(registry);

  llvm::cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { mha::printVersion(os, "mha-opt"); });
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv, "mha optimizer driver: the mha dialect and its passes\n",
      registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects() || config.shouldListPasses())
    return asMainReturnCode(
        MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  // Regular files and stdin only, bounded: `mha-opt /dev/zero` must not
  // read until memory runs out.
  auto input = mha::readInputFile(inputFilename, mha::kMaxModelFileBytes,
                                  /*allowStdin=*/true,
                                  /*nullTerminated=*/true);
  if (!input) {
    llvm::errs() << "mha-opt: error: " << llvm::toString(input.takeError())
                 << "\n";
    return 1;
  }
  std::unique_ptr<llvm::MemoryBuffer> file = std::move(*input);
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << "mha-opt: error: " << error << "\n";
    return 1;
  }

  mha::SourceArgumentNames names = argumentNamesOf(*file, registry, config);
  MlirOptMainConfig withNames = config;
  withNames.setPassPipelineSetupFn([&](PassManager &pm) {
    if (!names.empty() && pm.getOpName() == ModuleOp::getOperationName())
      pm.addPass(std::make_unique<NameArgumentsPass>(names));
    return config.setupPassPipeline(pm);
  });
  if (failed(MlirOptMain(output->os(), std::move(file), registry, withNames)))
    return 1;
  output->keep();
  return 0;
}
