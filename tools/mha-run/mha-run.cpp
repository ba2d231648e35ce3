//===- mha-run.cpp - Compile and run mha models with the JIT --------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Command-line front end: parses flags and hands them to the runner library.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Communicator.h"
#include "mha/Runner/Driver.h"
#include "mha/Runner/Generation.h"
#include "mha/Runner/Inference.h"
#include "mha/Runner/Registration.h"
#include "mha/Runner/Training.h"
#include "mha/Support/Version.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

#ifdef MHA_HAVE_MPI
#include "mha/Runner/MPICommunicator.h"
#endif

#include <memory>
#include <thread>

#include <sched.h>

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
    paramsPath("params", cl::desc("Parameters from a safetensors file (default: the "
                       "initializers of the mha.param declarations)"),
               cl::cat(category));
static cl::opt<std::string> saveParams(
    "save-params",
    cl::desc("Write the parameters used to a safetensors file"),
    cl::cat(category));
static cl::opt<uint64_t>
    seed("seed", cl::desc("Seed of parameter initialization, random inputs, "
                         "data split and batch order (default 0; a resumed "
                         "run keeps its checkpoint's)"),
         cl::init(0), cl::cat(category));
static cl::opt<std::string>
    outputDir("output", cl::desc("Write the results as DIR/result<i>.npy"),
              cl::cat(category));
static cl::opt<unsigned>
    repeat("repeat", cl::desc("Run N times and report the median time "
                         "(default 1)"),
           cl::init(1), cl::cat(category));
static cl::opt<int64_t> dynamicSize(
    "dynamic-size",
    cl::desc("Size of every dynamic dimension of random inputs "
             "(default 4)"), cl::init(4),
    cl::cat(category));
/// Options that only inference reads.
static const cl::Option *const inferenceOnly[] = {
    &entry,     std::addressof(inputs), &saveParams,
    &outputDir, &repeat,                                   &dynamicSize};

static cl::opt<mlir::mha::Device> device(
    "device", cl::desc("Where the model runs (default: cpu)"),
    cl::values(clEnumValN(mlir::mha::Device::CPU, "cpu", "the host CPU"),
               clEnumValN(mlir::mha::Device::GPU, "gpu",
                          "the first NVIDIA GPU (needs the CUDA driver; "
                          "kernels compiled for its architecture)"),
               clEnumValN(mlir::mha::Device::GPUEmulation, "gpu-emulated",
                          "the GPU pipeline's kernels run sequentially on the "
                          "host CPU (checks the GPU mapping without a GPU; "
                          "slow)")),
    cl::init(mlir::mha::Device::CPU), cl::cat(category));
static cl::opt<mlir::mha::Precision> precision(
    "precision",
    cl::desc("Precision of the model's matrix products (default: "
             "mha.training's precision when training, else f32)"),
    cl::values(clEnumValN(mlir::mha::Precision::F32, "f32", "f32 throughout"),
               clEnumValN(mlir::mha::Precision::BF16, "bf16",
                          "mixed precision: bf16 operands, f32 accumulation "
                          "(matrix products and attention); parameters, "
                          "gradients and optimizer state f32")),
    cl::init(mlir::mha::Precision::F32), cl::cat(category));
static cl::opt<bool> noVectorize("no-vectorize",
                                 cl::desc("Scalar loops, no tiling (default: tiled, "
                                          "vectorized matmuls)"),
                                 cl::cat(category));
static cl::opt<bool> decomposedAttention(
    "decomposed-attention",
    cl::desc("Attention through its decomposition (Sq x Sk scores) instead "
             "of the fused, tiled flash lowering"),
    cl::cat(category));
static cl::opt<bool> gpuTensorCores(
    "gpu-tensor-cores",
    cl::desc("With --device gpu: attention on f16/bf16 operands (static "
             "depth a multiple of 16; masks too) by the tensor-core "
             "flash-attention kernel (mma.sync; sm_80 and later)"),
    cl::cat(category));
namespace {
/// --gpu-f32-matmuls: which code runs the GPU's f32 matrix products.
enum class F32Matmuls { Auto, Tiled, TF32, Loops };
} // namespace
static cl::opt<F32Matmuls> gpuF32Matmuls(
    "gpu-f32-matmuls",
    cl::desc("With --device gpu or gpu-emulated: what computes f32 matrix "
             "products (rows and N multiples of 4)"),
    cl::values(clEnumValN(F32Matmuls::Auto, "auto",
                          "tiled on a GPU, loops emulated (the tiled "
                          "kernel's emulation compiles for seconds a "
                          "kernel; default)"),
               clEnumValN(F32Matmuls::Tiled, "tiled",
                          "the shared-memory tiled kernel on CUDA cores"),
               clEnumValN(F32Matmuls::TF32, "tf32",
                          "the tensor-core kernel on TF32 roundings of the "
                          "operands (10 bits of mantissa, as PyTorch's "
                          "allow_tf32; sm_80 and later), and f32 attention "
                          "(forward and backward) by the tensor-core "
                          "kernels, likewise rounded"),
               clEnumValN(F32Matmuls::Loops, "loops",
                          "one thread per output element")),
    cl::init(F32Matmuls::Auto), cl::cat(category));
static cl::opt<bool> inlineKernels(
    "inline-kernels",
    cl::desc("Compile every matmul's register-block kernel in place instead "
             "of once per distinct kernel (slower compilation; for "
             "comparisons)"),
    cl::Hidden, cl::cat(category));
static cl::opt<bool> timeCompilation(
    "time-compilation",
    cl::desc("Print how long each phase of compilation takes (MLIR "
             "lowering, LLVM optimization, machine code) and the size of "
             "the code"),
    cl::cat(category));
static cl::opt<std::string> targetFeatures(
    "target-features",
    cl::desc("Changes to the host CPU's features, e.g. -avx512f for AVX2 "
             "code (comma-separated +name / -name)"),
    cl::cat(category));
static cl::opt<bool> keepDenormals(
    "keep-denormals",
    cl::desc("Compute with denormal floats (default: flushed to zero, as "
             "TensorFlow and XLA do; denormal arithmetic is up to 100x "
             "slower)"),
    cl::cat(category));
static cl::opt<bool> noCache(
    "no-cache",
    cl::desc("Compile anew, without the cache of compiled code "
             "($MHA_CACHE_DIR, else ~/.cache/mha; MHA_CACHE_DIR=off also "
             "disables it)"),
    cl::cat(category));
static cl::OptionCategory trainCategory("mha-run --train options");
static cl::opt<bool> train("train",
                           cl::desc("Train the model as its mha.training says"),
                           cl::cat(trainCategory));
static cl::opt<int64_t> epochs("epochs", cl::desc("Override the epochs (default: "
                                        "mha.training's)"),
                               cl::cat(trainCategory));
static cl::opt<int64_t> batchSize("batch-size",
                                  cl::desc("Override the batch size "
                                           "(default: mha.training's)"),
                                  cl::cat(trainCategory));
static cl::opt<double> learningRate("learning-rate",
                                    cl::desc("Override the learning rate "
                                             "(default: mha.training's)"),
                                    cl::cat(trainCategory));
static cl::opt<std::string>
    optimizer("optimizer", cl::desc("Override the optimizer: sgd, adam, "
                                 "adamw (default: mha.training's)"),
              cl::cat(trainCategory));
static cl::list<std::string>
    data("data",
         cl::desc("Training inputs: NAME=FILE.npy ([N, ...]) per model input, "
                  "or FILE.npy for a model with one (repeatable; default: "
                  "mha.training's dataset)"),
         cl::cat(trainCategory));
static cl::opt<std::string>
    text("text",
         cl::desc("Train a byte-level language model on a text file "
                  "(next-byte prediction in --seq-len windows; default: "
                  "mha.training's dataset)"),
         cl::cat(trainCategory));
static cl::opt<std::string> labels("labels",
                                   cl::desc("Training labels (.npy, [N, ...])"),
                                   cl::cat(trainCategory));
static cl::list<std::string>
    valData("val-data",
            cl::desc("Validation inputs, bound like --data (repeatable)"),
            cl::cat(trainCategory));
static cl::opt<std::string> valLabels("val-labels",
                                      cl::desc("Validation labels (.npy)"),
                                      cl::cat(trainCategory));
static cl::opt<double> validationSplit(
    "validation-split",
    cl::desc("Fraction of the data held out for validation "
             "(default: the dataset's, else 0.2)"),
    cl::cat(trainCategory));
static cl::opt<int64_t> samples("samples",
                                cl::desc("Synthetic dataset: sequences "
                                         "(default 2048)"),
                                cl::cat(trainCategory));
static cl::opt<int64_t> seqLen("seq-len",
                               cl::desc("Generated datasets: tokens each "
                                        "(default 16); text: window length "
                                        "(default 64)"),
                               cl::cat(trainCategory));
static cl::opt<std::string>
    savePath("save", cl::desc("Where to save the trained parameters "
                             "(default trained.safetensors)"),
             cl::init("trained.safetensors"), cl::cat(trainCategory));
static cl::opt<int64_t> checkpointEvery(
    "checkpoint-every", cl::desc("Also save every N epochs (default 0: "
                                   "only at the end)"), cl::init(0),
    cl::cat(trainCategory));
static cl::opt<std::string> resume("resume",
                                   cl::desc("Continue from a checkpoint"),
                                   cl::cat(trainCategory));
static cl::opt<std::string> logPath("log",
                                    cl::desc("Per-epoch figures as CSV"),
                                    cl::cat(trainCategory));
static cl::opt<std::string> plotPath("plot",
                                     cl::desc("Loss and accuracy curves (SVG)"),
                                     cl::cat(trainCategory));

static cl::OptionCategory generateCategory("mha-run --generate options");
static cl::opt<bool>
    generate("generate",
             cl::desc("Generate text with a byte-level language model "
                      "(tokens [B, S] -> logits [B, S, 256]), one byte at a "
                      "time with a key/value cache"),
             cl::cat(generateCategory));
static cl::opt<std::string> prompt("prompt",
                                   cl::desc("The text to continue"),
                                   cl::cat(generateCategory));
static cl::opt<int64_t> maxTokens("max-tokens",
                                  cl::desc("Bytes to generate (default 200)"),
                                  cl::init(200), cl::cat(generateCategory));
static cl::opt<double> temperature(
    "temperature",
    cl::desc("Divide the logits by T before sampling (default 1; 0: always "
             "the most likely byte)"),
    cl::init(1.0), cl::cat(generateCategory));
static cl::opt<int64_t> topK("top-k",
                             cl::desc("Sample among the K most likely bytes "
                                      "(default 0: all)"),
                             cl::init(0), cl::cat(generateCategory));
static cl::opt<bool> noKVCache(
    "no-kv-cache",
    cl::desc("Recompute the whole prefix for every byte (the reference the "
             "cache is measured against)"),
    cl::cat(generateCategory));

static cl::opt<bool> printIRAfterAll(
    "print-ir-after-all",
    cl::desc("Print the IR after every pass of the pipeline (stderr)"),
    cl::cat(category));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // libLLVM registers an (unrelated, hidden) option named "threads"; take
  // the name over before registering ours.
  if (auto it = cl::getRegisteredOptions().find("threads");
      it != cl::getRegisteredOptions().end())
    it->second->removeArgument();
  static cl::opt<int64_t> threads(
      "threads",
      cl::desc("Threads for parallel loops (default 0: every core; 1: "
               "sequential code)"),
      cl::init(0), cl::cat(category));
  cl::HideUnrelatedOptions({&category, &trainCategory, &generateCategory});
  cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { mlir::mha::printVersion(os, "mha-run"); });
  cl::ParseCommandLineOptions(
      argc, argv,
      "mha-run: compile an mha model with the JIT and run it forward, or "
      "train it (--train)\n\n"
      "Examples:\n"
      "  mha-run examples/seed_classifier.mlir --train --epochs 5 "
      "--save w.safetensors\n"
      "  mha-run examples/seed_classifier.mlir --params w.safetensors "
      "--input x=x.npy --output out/\n"
      "  mha-run examples/gpt.mlir --params gpt.safetensors --generate "
      "--prompt \"This License\" --max-tokens 100\n");
  mlir::mha::initializeNativeTarget();
  if (threads < 0) {
    llvm::errs() << "mha-run: error: --threads must be >= 0 (0: every core), "
                    "got "
                 << threads << "\n";
    return 1;
  }

  // An option of the other mode is a mistake to report, not to ignore
  // (--data without --train would otherwise run inference on random data).
  if (train && generate) {
    llvm::errs() << "mha-run: error: --train and --generate are two modes: "
                    "train first (--save), then generate (--params)\n";
    return 1;
  }
  for (auto &registered : cl::getRegisteredOptions()) {
    cl::Option *option = registered.second;
    if (!option->getNumOccurrences() || option == &train ||
        option == &generate)
      continue;
    bool trainOnly = llvm::is_contained(option->Categories, &trainCategory);
    if (trainOnly && !train) {
      llvm::errs() << "mha-run: error: --" << option->ArgStr
                   << " is a training option: add --train, or drop it\n";
      return 1;
    }
    bool generateOnly =
        llvm::is_contained(option->Categories, &generateCategory);
    if (generateOnly && !generate) {
      llvm::errs() << "mha-run: error: --" << option->ArgStr
                   << " is a generation option: add --generate, or drop it\n";
      return 1;
    }
    bool inferenceOption = llvm::is_contained(
        llvm::ArrayRef(inferenceOnly), static_cast<const cl::Option *>(option));
    // --entry also picks the language model to generate with.
    if (inferenceOption && (train || (generate && option != &::entry))) {
      llvm::errs() << "mha-run: error: --" << option->ArgStr
                   << " applies to inference, not to --"
                   << (train ? "train" : "generate") << "\n";
      return 1;
    }
  }

  if (gpuTensorCores && device == mlir::mha::Device::CPU) {
    llvm::errs() << "mha-run: error: --gpu-tensor-cores is a GPU option: add "
                    "--device gpu (or gpu-emulated), or drop it\n";
    return 1;
  }
  if (gpuF32Matmuls != F32Matmuls::Auto && device == mlir::mha::Device::CPU) {
    llvm::errs() << "mha-run: error: --gpu-f32-matmuls is a GPU option: add "
                    "--device gpu (or gpu-emulated), or drop it\n";
    return 1;
  }

  // Started by mpirun: data-parallel training, one process per rank.
  std::unique_ptr<mlir::mha::Communicator> world;
  if (std::optional<int> ranks = mlir::mha::launcherWorldSize()) {
    if (*ranks > 1 && !train) {
      llvm::errs() << "mha-run: error: only --train runs on several MPI "
                      "ranks; run inference and generation as one process\n";
      return 1;
    }
#ifdef MHA_HAVE_MPI
    world = mlir::mha::createMPICommunicator(&argc, &argv);
    if (world->size() > 1)
      mlir::mha::setErrorPrefix("rank " + std::to_string(world->rank()) +
                                " of " + std::to_string(world->size()) + ": ");
    // Ranks sharing a machine share its cores (unless the launcher bound
    // each to its own, which OpenMP then follows).
    if (threads == 0 && world->localSize() > 1) {
      unsigned cores = std::thread::hardware_concurrency();
      cpu_set_t affinity;
      CPU_ZERO(&affinity);
      unsigned usable = sched_getaffinity(0, sizeof affinity, &affinity) == 0
                            ? unsigned(CPU_COUNT(&affinity))
                            : cores;
      if (usable >= cores)
        threads = std::max<int64_t>(1, int64_t(cores) / world->localSize());
    }
#else
    if (*ranks > 1) {
      llvm::errs() << "mha-run: error: this mha-run was built without MPI, so "
                      "it cannot train on "
                   << *ranks
                   << " ranks; install Open MPI (libopenmpi-dev) and "
                      "rebuild, or run one process\n";
      return 1;
    }
#endif
  }

  // Code generation options, the same in every mode.
  mlir::mha::CompileOptions compileOptions;
  compileOptions.device = device;
  compileOptions.vectorize = !noVectorize;
  compileOptions.flashAttention = !decomposedAttention;
  compileOptions.outlineKernels = !inlineKernels;
  compileOptions.bf16Matmuls = precision == mlir::mha::Precision::BF16;
  compileOptions.gpuTensorCores = gpuTensorCores;
  if (gpuF32Matmuls != F32Matmuls::Auto)
    compileOptions.gpuF32MatmulKernel = gpuF32Matmuls == F32Matmuls::Tiled;
  compileOptions.gpuTf32Matmuls = gpuF32Matmuls == F32Matmuls::TF32;
  compileOptions.threads = threads;
  compileOptions.targetFeatures = targetFeatures;
  compileOptions.printIRAfterAll = printIRAfterAll;
  compileOptions.flushDenormals = !keepDenormals;
  compileOptions.reportTimes = timeCompilation;
  if (!noCache)
    compileOptions.cacheDir = mlir::mha::defaultCacheDirectory();

  if (generate) {
    mlir::mha::GenerationOptions options;
    options.modelPath = modelPath;
    options.entry = entry;
    options.paramsPath = paramsPath;
    options.prompt = prompt;
    options.maxTokens = maxTokens;
    options.temperature = temperature;
    options.topK = topK;
    options.seed = seed;
    options.useCache = !noKVCache;
    options.compile = compileOptions;
    return mlir::mha::runGeneration(options);
  }

  if (train) {
    mlir::mha::TrainingOptions options;
    options.modelPath = modelPath;
    if (epochs.getNumOccurrences())
      options.epochs = epochs;
    if (batchSize.getNumOccurrences())
      options.batchSize = batchSize;
    if (learningRate.getNumOccurrences())
      options.learningRate = learningRate;
    if (optimizer.getNumOccurrences())
      options.optimizer = optimizer;
    if (precision.getNumOccurrences())
      options.precision = precision;
    if (validationSplit.getNumOccurrences())
      options.validationSplit = validationSplit;
    if (samples.getNumOccurrences())
      options.samples = samples;
    if (seqLen.getNumOccurrences())
      options.seqLen = seqLen;
    if (seed.getNumOccurrences())
      options.seed = seed;
    options.data.assign(data.begin(), data.end());
    options.labelsPath = labels;
    options.textPath = text;
    options.valData.assign(valData.begin(), valData.end());
    options.valLabelsPath = valLabels;
    options.savePath = savePath;
    options.checkpointEvery = checkpointEvery;
    options.resumePath = resume;
    options.paramsPath = paramsPath;
    options.logPath = logPath;
    options.plotPath = plotPath;
    options.compile = compileOptions;
    options.communicator = world.get();
    int rc = mlir::mha::runTraining(options);
    // A rank that fails stops the run: the others would wait for it.
    if (rc != 0 && world && world->size() > 1)
      world->abort(rc);
    return rc;
  }

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
  options.compile = compileOptions;
  return mlir::mha::runInference(options);
}
