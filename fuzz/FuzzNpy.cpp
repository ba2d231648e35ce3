//===- FuzzNpy.cpp - Fuzz target: the .npy reader -------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// A libFuzzer target: the input is a .npy file. Whatever the reader
// accepts must be self-consistent (its data size matches its shape) and
// survive a write and a re-read unchanged.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/Npy.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir::mha;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  llvm::Expected<HostTensor> tensor = parseNpy(bytes, "fuzz.npy");
  if (!tensor) {
    llvm::consumeError(tensor.takeError());
    return 0;
  }
  std::optional<uint64_t> expected = tensorByteSize(tensor->dtype, tensor->shape);
  if (!expected || *expected != tensor->data.size()) {
    std::fprintf(stderr, "accepted a tensor whose data disagrees with its shape\n");
    std::abort();
  }
  llvm::Expected<HostTensor> again = parseNpy(serializeNpy(*tensor), "again.npy");
  if (!again || again->shape != tensor->shape || again->data != tensor->data) {
    std::fprintf(stderr, "a tensor did not survive a write and a re-read\n");
    std::abort();
  }
  return 0;
}
