//===- FuzzSafetensors.cpp - Fuzz target: the safetensors reader ----------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// A libFuzzer target: the input is a safetensors file. Whatever the reader
// accepts must survive a write and a re-read unchanged (tensors and
// metadata).
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/Safetensors.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir::mha;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  std::map<std::string, std::string> metadata;
  llvm::Expected<TensorMap> tensors =
      parseSafetensors(bytes, "fuzz.safetensors", &metadata);
  if (!tensors) {
    llvm::consumeError(tensors.takeError());
    return 0;
  }
  std::map<std::string, std::string> metadataAgain;
  llvm::Expected<TensorMap> again = parseSafetensors(
      serializeSafetensors(*tensors, metadata), "again", &metadataAgain);
  if (!again) {
    std::fprintf(stderr, "re-reading what was written failed: %s\n",
                 llvm::toString(again.takeError()).c_str());
    std::abort();
  }
  bool same = again->size() == tensors->size() && metadataAgain == metadata;
  for (const auto &[name, t] : *tensors) {
    auto it = again->find(name);
    same = same && it != again->end() && it->second.shape == t.shape &&
           it->second.dtype == t.dtype && it->second.data == t.data;
  }
  if (!same) {
    std::fprintf(stderr, "tensors did not survive a write and a re-read\n");
    std::abort();
  }
  return 0;
}
