//===- FileIO.h - Bounded reads and atomic writes ---------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the one place mha's tools read and write files:
// - reads accept regular files (and stdin where a tool takes "-") up to a
//   stated size, so `/dev/zero` or a FIFO cannot make a tool read forever;
// - writes go to a temporary file next to the destination, are checked at
//   every write, flushed to disk (fsync) and renamed over the destination,
//   so the destination holds either its old or its new content, never a
//   part, whatever fails (full disk, I/O error, SIGKILL).
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNTIME_FILEIO_H
#define MHA_RUNTIME_FILEIO_H

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>

namespace mlir {
namespace mha {

/// The largest file any reader accepts by default: 64 GiB.
constexpr uint64_t kMaxInputFileBytes = uint64_t(64) << 30;

/// The largest model (.mlir) file the tools read: 1 GiB.
constexpr uint64_t kMaxModelFileBytes = uint64_t(1) << 30;

/// Reads the regular file at `path` (or stdin when `path` is "-" and
/// `allowStdin`) if it holds at most `maxBytes`. Fails, naming the path, for
/// a missing file, a directory, a device, a FIFO or socket, a larger file,
/// or stdin longer than `maxBytes`. Text for the MLIR parser needs
/// `nullTerminated`.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readInputFile(llvm::StringRef path, uint64_t maxBytes = kMaxInputFileBytes,
              bool allowStdin = false, bool nullTerminated = false);

/// The temporary file writeFileAtomically uses for `path`: a hidden file in
/// the same directory, ".<name>.mha-tmp".
std::string temporaryPathFor(llvm::StringRef path);

/// Writes `bytes` to `path` atomically: to temporaryPathFor(path), checking
/// every write, fsync, then rename over `path` (and fsync of the directory).
/// On any failure the temporary is removed, `path` is left as it was, and
/// the error names the path and the cause.
llvm::Error writeFileAtomically(llvm::StringRef path, llvm::StringRef bytes);

/// Checks, before long work, that writeFileAtomically(path, ...) can
/// succeed as far as can be known in advance: `path` is not a directory or
/// other non-regular file, and its directory exists and takes new files.
/// Removes a temporary left behind for `path` by a killed run.
llvm::Error checkWritable(llvm::StringRef path);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNTIME_FILEIO_H
