//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the reader and writer of NumPy's .npy format (versions
// 1.0, 2.0 and 3.0), for little-endian C-ordered f32, f16, i32, i64 and bool
// arrays.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNTIME_NPY_H
#define MHA_RUNTIME_NPY_H

#include "mha/Runtime/HostTensor.h"

#include "llvm/Support/Error.h"

namespace mlir {
namespace mha {

/// Parses the bytes of a .npy file; `name` prefixes error messages. Fails
/// with a message naming the file for a bad magic string, a truncated or
/// oversized header, Fortran order, an unsupported or big-endian dtype, or a
/// data section whose size does not match the shape.
llvm::Expected<HostTensor> parseNpy(llvm::StringRef bytes,
                                    llvm::StringRef name);

/// Reads a .npy file (see parseNpy).
llvm::Expected<HostTensor> readNpy(llvm::StringRef path);

/// Serializes `tensor` as a version 1.0 .npy file. bf16 has no NumPy dtype
/// and is written as f32.
std::string serializeNpy(const HostTensor &tensor);

/// Writes `tensor` to `path` atomically (temporary file, then rename).
llvm::Error writeNpy(llvm::StringRef path, const HostTensor &tensor);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNTIME_NPY_H
