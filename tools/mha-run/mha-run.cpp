//===- mha-run.cpp - Compile and run mha models with the JIT --------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Command-line front end: parses flags and hands them to the runner library.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Inference.h"
#include "mha/Runner/Registration.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

using namespace llvm;

static cl::OptionCategory category("mha-run options");

static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("MODEL.mlir"),
                                      cl::cat(category));
static cl::opt<std::string> entry("entry",
                                  cl::desc("Function to run (default: the "
                                           "training model or the only one)"),
                                  cl::cat(category));
static cl::list<std::string>
    inputs("input", cl::desc("Bind an argument: NAME=FILE.npy (repeatable)"),
           cl::cat(category));
static cl::opt<std::string>
    paramsPath("params", cl::desc("Parameters from a safetensors file"),
               cl::cat(category));
static cl::opt<std::string> saveParams(
    "save-params",
    cl::desc("Write the parameters used to a safetensors file"),
    cl::cat(category));
static cl::opt<uint64_t>
    seed("seed", cl::desc("Seed of parameter initialization and random inputs"),
         cl::init(0), cl::cat(category));
static cl::opt<std::string>
    outputDir("output", cl::desc("Write the results as DIR/result<i>.npy"),
              cl::cat(category));
static cl::opt<unsigned>
    repeat("repeat", cl::desc("Run N times and report the median time"),
           cl::init(1), cl::cat(category));
static cl::opt<int64_t> dynamicSize(
    "dynamic-size",
    cl::desc("Size of every dynamic dimension of random inputs"), cl::init(4),
    cl::cat(category));
static cl::opt<bool> noVectorize("no-vectorize",
                                 cl::desc("Scalar loops, no tiling"),
                                 cl::cat(category));
static cl::opt<bool> printIRAfterAll(
    "print-ir-after-all",
    cl::desc("Print the IR after every pass of the pipeline (stderr)"),
    cl::cat(category));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "mha-run: compile an mha model with the JIT and run it forward\n");
  mlir::mha::initializeNativeTarget();

  mlir::mha::InferenceOptions options;
  options.modelPath = modelPath;
  options.entry = entry;
  options.inputs.assign(inputs.begin(), inputs.end());
  options.paramsPath = paramsPath;
  options.saveParamsPath = saveParams;
  options.seed = seed;
  options.outputDir = outputDir;
  options.repeat = repeat;
  options.dynamicSize = dynamicSize;
  options.compile.vectorize = !noVectorize;
  options.compile.printIRAfterAll = printIRAfterAll;
  return mlir::mha::runInference(options);
}
