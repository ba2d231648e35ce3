//===- Safetensors.h - safetensors weight files -----------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the reader and writer of the safetensors format: an
// 8-byte little-endian header size, a JSON header mapping names to dtype,
// shape and data offsets, then the tensors' bytes.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNTIME_SAFETENSORS_H
#define MHA_RUNTIME_SAFETENSORS_H

#include "mha/Runtime/HostTensor.h"

#include "llvm/Support/Error.h"

#include <map>
#include <string>

namespace mlir {
namespace mha {

/// Named tensors, ordered by name.
using TensorMap = std::map<std::string, HostTensor>;

/// Parses the bytes of a safetensors file; `name` prefixes error messages.
/// Supports F32, F16, BF16, I32, I64 and BOOL. Refuses what the format's
/// reference reader refuses: a truncated or oversized header, a header not
/// starting with '{', invalid UTF-8 or JSON, duplicate names, non-integer or
/// negative shapes and offsets, non-string metadata, and tensors whose
/// offsets, taken in order, do not tile the data exactly (gaps, overlaps,
/// trailing bytes); also JSON nested deeper than the format's three levels.
/// The `__metadata__` strings go to `metadata` when given.
llvm::Expected<TensorMap>
parseSafetensors(llvm::StringRef bytes, llvm::StringRef name,
                 std::map<std::string, std::string> *metadata = nullptr);

/// Reads a safetensors file (see parseSafetensors).
llvm::Expected<TensorMap>
readSafetensors(llvm::StringRef path,
                std::map<std::string, std::string> *metadata = nullptr);

/// Serializes `tensors`, with optional string `metadata` in `__metadata__`.
std::string serializeSafetensors(
    const TensorMap &tensors,
    const std::map<std::string, std::string> &metadata = {});

/// Writes `tensors` to `path` atomically (temporary file, then rename), so an
/// existing file is never left half-written.
llvm::Error writeSafetensors(
    llvm::StringRef path, const TensorMap &tensors,
    const std::map<std::string, std::string> &metadata = {});

} // namespace mha
} // namespace mlir

#endif // MHA_RUNTIME_SAFETENSORS_H
